// The HTTP/1.1 side of the client port (and of the metrics and
// --listen-client-http-urls listeners): what a handler sees of a request,
// how it answers, and the router that picks a handler by path.
//
// The listener (rpc/client_listener) parses requests with Boost.Beast and
// hands each one to a Handler on its I/O thread. A handler must not block
// that thread: work that waits (a gRPC call, a raft round) runs elsewhere
// and answers through the Responder, which may be used from any thread.
//
//   connection ──Beast──▶ Request ──▶ Router ──▶ Handler::handle(req, responder)
//                                                        │ (any thread)
//                          ◀── respond() / start_stream() + write()* + finish()
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etcd::rpc::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/health?exclude=NOSPACE"
  std::string path;    // target without the query: "/health"
  std::string query;   // after '?', without it ("" if none)
  Headers headers;     // names lower-cased
  std::string body;
  std::string remote;  // "127.0.0.1:40000", or the socket path
  bool tls = false;
  std::string cn;  // CN of the client certificate ("" without one)

  // The first header of that (lower-case) name, or "".
  std::string header(std::string_view name) const;
  // A query parameter, percent-decoded; nullopt if absent ("?verbose" is
  // present with the value "").
  std::optional<std::string> query_param(std::string_view name) const;
  // Every value of a repeated query parameter ("?exclude=a&exclude=b").
  std::vector<std::string> query_params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;  // extra headers
  std::string body;
};

// How a handler answers: once with respond(), or as a chunked stream
// (start_stream, then write() any number of times, then finish()). Every
// method may be called from any thread; calls after the answer is complete
// or the client has gone are ignored.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(Response r) = 0;
  virtual void start_stream(int status, std::string content_type, Headers headers = {}) = 0;
  // Queues a chunk. Returns false (and drops the connection) once more than
  // the connection's bound is queued unsent: a client too slow to read a
  // stream is cut off rather than buffered without end.
  virtual bool write(std::string chunk) = 0;
  virtual void finish() = 0;
  // f runs once, on the connection's I/O thread, if the client goes away
  // before the answer is complete (a watch stream's cancellation). If it
  // has already gone, f runs at once on the calling thread.
  virtual void on_cancel(std::function<void()> f) = 0;
  virtual bool cancelled() const = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs on the listener's I/O thread: must not block.
  virtual void handle(Request req, std::shared_ptr<Responder> responder) = 0;
};

// Picks a handler: an exact path first, then the longest registered prefix
// (a prefix ends in '/'). Unknown paths get 404 "404 page not found\n" as
// Go's mux answers. Set up before the listener starts; read-only after.
class Router : public Handler {
 public:
  // Not owned: h outlives the router's listeners.
  void add_exact(std::string path, Handler* h);
  void add_prefix(std::string prefix, Handler* h);
  void handle(Request req, std::shared_ptr<Responder> responder) override;
  bool empty() const { return exact_.empty() && prefix_.empty(); }

 private:
  std::vector<std::pair<std::string, Handler*>> exact_;
  std::vector<std::pair<std::string, Handler*>> prefix_;
};

// A Handler from a function (for small endpoints).
class FunctionHandler : public Handler {
 public:
  explicit FunctionHandler(std::function<void(Request, std::shared_ptr<Responder>)> f)
      : f_(std::move(f)) {}
  void handle(Request req, std::shared_ptr<Responder> responder) override {
    f_(std::move(req), std::move(responder));
  }

 private:
  std::function<void(Request, std::shared_ptr<Responder>)> f_;
};

// Go's http.Error: the text and a newline, text/plain, nosniff.
Response text_error(int status, std::string text);

// Percent-decoding of a query component ('+' is a space).
std::string url_decode(std::string_view s);

}  // namespace etcd::rpc::http
