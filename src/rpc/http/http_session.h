// One HTTP/1.1 connection of the client port (or of a metrics or
// --listen-client-http-urls listener): Boost.Beast parses each request,
// the Handler answers through a Responder, and the connection is kept
// alive between requests as the client asks.
//
// Threads: everything here runs on the listener's I/O thread, except the
// Responder's methods, which post to it. One request is handled at a time
// (no pipelining); a streamed answer is chunked and keeps the connection
// alive as a whole one does (a v2 long poll's client sends its next wait on
// it); while it streams a read is kept pending so that a client that goes
// away cancels it, and what that read gets is the start of the next
// request.
//
// Bounds: the request's header and body (SessionLimits), the unsent
// chunks of a stream (a client too slow to read is cut off), an idle
// keep-alive connection (closed after idle_timeout).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/mutex.h"
#include "rpc/http/http.h"

namespace etcd::rpc::http {

struct SessionLimits {
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_queued_bytes = 16 * 1024 * 1024;  // unsent chunks of a stream
  std::chrono::milliseconds idle_timeout{10 * 60 * 1000};
};

// Where connections register, so that the listener can close them all at
// stop. I/O thread only.
class ConnectionTable {
 public:
  virtual ~ConnectionTable() = default;
  virtual uint64_t add(std::function<void()> close) = 0;
  virtual void remove(uint64_t id) = 0;
};

// Go's http.Date format: "Mon, 02 Jan 2006 15:04:05 GMT".
std::string http_date(std::chrono::system_clock::time_point t);

// The I/O-thread side of a session that a responder drives.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void post(std::function<void()> fn) = 0;
  virtual void do_respond(uint64_t request, Response r) = 0;
  virtual void do_start_stream(uint64_t request, int status, std::string content_type,
                               Headers headers) = 0;
  virtual void do_write(uint64_t request, std::string chunk) = 0;
  virtual void do_finish(uint64_t request) = 0;
  virtual void do_abort(uint64_t request) = 0;  // a stream cut off: close
};

// The Responder of one request. Thread-safe; the session is kept alive
// while a handler holds it.
class SessionResponder final : public Responder {
 public:
  SessionResponder(std::shared_ptr<SessionBase> session, uint64_t request, size_t max_queued)
      : session_(std::move(session)), request_(request), max_queued_(max_queued) {}

  void respond(Response r) override;
  void start_stream(int status, std::string content_type, Headers headers) override;
  bool write(std::string chunk) override;
  void finish() override;
  void on_cancel(std::function<void()> f) override;
  bool cancelled() const override { return cancelled_.load(); }

  // I/O thread: the client went away before the answer was complete.
  void fire_cancel();
  // I/O thread: `n` bytes of queued chunks were sent.
  void sent(size_t n) { queued_.fetch_sub(n); }

 private:
  const std::shared_ptr<SessionBase> session_;
  const uint64_t request_;
  const size_t max_queued_;
  std::atomic<bool> done_{false};  // respond() or finish() called
  std::atomic<bool> streaming_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<size_t> queued_{0};
  Mutex mu_;
  std::function<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
};

template <typename Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `initial` holds bytes already read from the stream (the protocol
  // sniffer's); `keep` is anything the stream needs alive (its TLS
  // context).
  Session(boost::asio::io_context& io, ConnectionTable& table, Handler& handler,
          const SessionLimits& limits, std::unique_ptr<Stream> stream, std::string_view initial,
          std::string remote, bool tls, std::string cn, std::shared_ptr<void> keep)
      : io_(io),
        table_(table),
        handler_(handler),
        limits_(limits),
        stream_(std::move(stream)),
        timer_(io),
        remote_(std::move(remote)),
        tls_(tls),
        cn_(std::move(cn)),
        keep_(std::move(keep)) {
    if (!initial.empty()) {
      auto b = buf_.prepare(initial.size());
      std::memcpy(b.data(), initial.data(), initial.size());
      buf_.commit(initial.size());
    }
  }

  void start() {
    auto self = this->shared_from_this();
    id_ = table_.add([self] { self->close(); });
    read_request();
  }

  void post(std::function<void()> fn) override { boost::asio::post(io_, std::move(fn)); }

  void do_respond(uint64_t request, Response r) override {
    if (closed_ || request != request_ || state_ != State::kHandling) return;
    state_ = State::kWriting;
    namespace bhttp = boost::beast::http;
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(r.status), version_);
    msg->set(bhttp::field::date, http_date(std::chrono::system_clock::now()));
    if (!r.content_type.empty()) msg->set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) msg->set(k, v);
    msg->body() = std::move(r.body);
    msg->keep_alive(keep_alive_);
    // As Go's server answers a handler that set no length: a body that
    // fits its 2 KiB buffer gets a Content-Length, a longer one is chunked
    // (HTTP/1.1 only).
    if (version_ >= 11 && msg->body().size() > kGoChunkingThreshold &&
        msg->find(bhttp::field::content_length) == msg->end()) {
      msg->chunked(true);
    } else {
      msg->prepare_payload();
    }
    auto self = this->shared_from_this();
    bhttp::async_write(*stream_, *msg, [self, msg](boost::system::error_code ec, size_t) {
      if (ec || self->closed_) return self->close();
      self->responder_.reset();
      if (!self->keep_alive_) return self->close();
      self->read_request();
    });
  }

  void do_start_stream(uint64_t request, int status, std::string content_type,
                       Headers headers) override {
    if (closed_ || request != request_ || state_ != State::kHandling) return;
    state_ = State::kStreaming;
    namespace bhttp = boost::beast::http;
    header_ = std::make_shared<bhttp::response<bhttp::empty_body>>(
        static_cast<bhttp::status>(status), version_);
    header_->set(bhttp::field::date, http_date(std::chrono::system_clock::now()));
    if (!content_type.empty()) header_->set(bhttp::field::content_type, content_type);
    for (auto& [k, v] : headers) header_->set(k, v);
    header_->keep_alive(keep_alive_);
    header_->chunked(true);
    serializer_ = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*header_);
    queue_.push_back({Item::kHeader, {}});
    pump();
    watch_disconnect();
  }

  void do_write(uint64_t request, std::string chunk) override {
    if (closed_ || request != request_ || state_ != State::kStreaming || chunk.empty()) {
      if (responder_ && request == request_) responder_->sent(chunk.size());
      return;
    }
    queue_.push_back({Item::kChunk, std::move(chunk)});
    pump();
  }

  void do_finish(uint64_t request) override {
    if (closed_ || request != request_ || state_ != State::kStreaming) return;
    queue_.push_back({Item::kLast, {}});
    pump();
  }

  void do_abort(uint64_t request) override {
    if (request == request_) close();
  }

 private:
  enum class State { kReading, kHandling, kWriting, kStreaming };
  struct Item {
    enum Kind { kHeader, kChunk, kLast } kind;
    std::string data;
  };

  void arm_idle_timer() {
    timer_.expires_after(limits_.idle_timeout);
    auto self = this->shared_from_this();
    timer_.async_wait([self](boost::system::error_code ec) {
      if (!ec && self->state_ == State::kReading) self->close();
    });
  }

  void read_request() {
    namespace bhttp = boost::beast::http;
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    arm_idle_timer();
    auto self = this->shared_from_this();
    bhttp::async_read_header(*stream_, buf_, *parser_,
                             [self](boost::system::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(boost::system::error_code ec) {
    namespace bhttp = boost::beast::http;
    if (closed_) return;
    if (ec) return fail_read(ec);
    auto self = this->shared_from_this();
    auto read_body = [self] {
      bhttp::async_read(*self->stream_, self->buf_, *self->parser_,
                        [self](boost::system::error_code ec, size_t) { self->on_request(ec); });
    };
    if (boost::beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      // curl waits for this before sending a body over 1 KiB.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      boost::asio::async_write(*stream_, boost::asio::buffer(kContinue),
                               [self, read_body](boost::system::error_code ec, size_t) {
                                 if (ec || self->closed_) return self->close();
                                 read_body();
                               });
      return;
    }
    read_body();
  }

  // A request that cannot be read: answered as Go's server answers, then
  // the connection ends.
  void fail_read(boost::system::error_code ec) {
    namespace bhttp = boost::beast::http;
    int status = 0;
    std::string text;
    if (ec == bhttp::error::body_limit) {
      status = 413, text = "413 Request Entity Too Large";
    } else if (ec == bhttp::error::header_limit) {
      status = 431, text = "431 Request Header Fields Too Large";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      status = 400, text = "400 Bad Request";
    }
    if (status == 0) return close();
    state_ = State::kWriting;
    auto raw = std::make_shared<std::string>(
        "HTTP/1.1 " + text +
        "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + text);
    auto self = this->shared_from_this();
    boost::asio::async_write(*stream_, boost::asio::buffer(*raw),
                             [self, raw](boost::system::error_code, size_t) { self->close(); });
  }

  void on_request(boost::system::error_code ec) {
    if (closed_) return;
    if (ec) return fail_read(ec);
    timer_.cancel();
    auto msg = parser_->release();
    parser_.reset();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    req.body = std::move(msg.body());
    req.remote = remote_;
    req.tls = tls_;
    req.cn = cn_;
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    ++request_;
    state_ = State::kHandling;
    responder_ = std::make_shared<SessionResponder>(this->shared_from_this(), request_,
                                                    limits_.max_queued_bytes);
    handler_.handle(std::move(req), responder_);
  }

  void pump() {
    namespace bhttp = boost::beast::http;
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    auto item = std::make_shared<Item>(std::move(queue_.front()));
    queue_.pop_front();
    auto self = this->shared_from_this();
    auto done = [self, item](boost::system::error_code ec, size_t) {
      self->writing_ = false;
      if (self->responder_) self->responder_->sent(item->data.size());
      if (ec || self->closed_) return self->close();
      if (item->kind == Item::kLast) {
        self->responder_.reset();  // complete: no cancel
        if (!self->keep_alive_) return self->close();
        // The next request: once the pending read (if any) is back, as
        // two reads may not be in flight at once.
        if (!self->watching_) return self->read_request();
        self->state_ = State::kReading;
        self->stream_ended_ = true;
        if (self->buf_.size() == 0) return self->arm_idle_timer();
        // The next request is in already (sent with this one): the read
        // would wait for bytes that never come. Nothing is written now.
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(*self->stream_).cancel(ignored);
        return;
      }
      self->pump();
    };
    switch (item->kind) {
      case Item::kHeader:
        bhttp::async_write_header(*stream_, *serializer_, done);
        break;
      case Item::kChunk:
        boost::asio::async_write(*stream_, bhttp::make_chunk(boost::asio::buffer(item->data)),
                                 done);
        break;
      case Item::kLast:
        boost::asio::async_write(*stream_, bhttp::make_chunk_last(), done);
        break;
    }
  }

  // While a stream is sent, a pending read notices the client leaving;
  // bytes it gets are kept for the next request (bounded by the header
  // limit: a client does not send a body before its answer).
  void watch_disconnect() {
    auto self = this->shared_from_this();
    watching_ = true;
    stream_->async_read_some(
        buf_.prepare(kWatchReadBytes), [self](boost::system::error_code ec, size_t n) {
          self->watching_ = false;
          if (self->closed_) return;
          if (ec == boost::asio::error::operation_aborted && self->stream_ended_) {
            self->stream_ended_ = false;
            return self->read_request();
          }
          if (ec) return self->close();
          self->buf_.commit(n);
          if (self->stream_ended_) {
            self->stream_ended_ = false;
            return self->read_request();
          }
          if (self->buf_.size() > self->limits_.max_header_bytes) {
            return self->close();
          }
          self->watch_disconnect();
        });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    if (responder_) {
      auto r = std::move(responder_);
      r->fire_cancel();
    }
    boost::system::error_code ignored;
    auto& sock = boost::beast::get_lowest_layer(*stream_);
    sock.shutdown(boost::asio::socket_base::shutdown_both, ignored);
    sock.close(ignored);
    table_.remove(id_);
  }

  boost::asio::io_context& io_;
  ConnectionTable& table_;
  Handler& handler_;
  const SessionLimits limits_;
  std::unique_ptr<Stream> stream_;
  boost::asio::steady_timer timer_;
  const std::string remote_;
  const bool tls_;
  const std::string cn_;
  std::shared_ptr<void> keep_;
  uint64_t id_ = 0;
  boost::beast::flat_buffer buf_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  State state_ = State::kReading;
  uint64_t request_ = 0;  // sequence of the request being answered
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool writing_ = false;
  std::shared_ptr<SessionResponder> responder_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> header_;
  std::shared_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
      serializer_;
  std::deque<Item> queue_;
  static constexpr size_t kWatchReadBytes = 512;
  static constexpr size_t kGoChunkingThreshold = 2048;
  bool watching_ = false;      // watch_disconnect's read is in flight
  bool stream_ended_ = false;  // a kept-alive stream ended under that read
};

}  // namespace etcd::rpc::http
