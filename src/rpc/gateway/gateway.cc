#include "rpc/gateway/gateway.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/client_callback.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <limits>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/assert.h"
#include "base/mutex.h"
#include "etcdserverpb/rpc.pb.h"
#include "rpc/gateway/go_json.h"
#include "v3electionpb/v3election.pb.h"
#include "v3lockpb/v3lock.pb.h"

namespace etcd::rpc::gateway {

namespace pb = google::protobuf;

namespace {

// grpc-gateway's paths for etcd's services (the google.api.http options of
// rpc.proto, v3lock.proto and v3election.proto), with etcd 3.5's additions
// (hashkv, downgrade, auth/status).
struct RouteSpec {
  const char* path;
  const char* method;  // full name of the gRPC method
};
constexpr RouteSpec kRoutes[] = {
    {"/v3/kv/range", "etcdserverpb.KV.Range"},
    {"/v3/kv/put", "etcdserverpb.KV.Put"},
    {"/v3/kv/deleterange", "etcdserverpb.KV.DeleteRange"},
    {"/v3/kv/txn", "etcdserverpb.KV.Txn"},
    {"/v3/kv/compaction", "etcdserverpb.KV.Compact"},
    {"/v3/watch", "etcdserverpb.Watch.Watch"},
    {"/v3/lease/grant", "etcdserverpb.Lease.LeaseGrant"},
    {"/v3/lease/revoke", "etcdserverpb.Lease.LeaseRevoke"},
    {"/v3/kv/lease/revoke", "etcdserverpb.Lease.LeaseRevoke"},
    {"/v3/lease/keepalive", "etcdserverpb.Lease.LeaseKeepAlive"},
    {"/v3/lease/timetolive", "etcdserverpb.Lease.LeaseTimeToLive"},
    {"/v3/kv/lease/timetolive", "etcdserverpb.Lease.LeaseTimeToLive"},
    {"/v3/lease/leases", "etcdserverpb.Lease.LeaseLeases"},
    {"/v3/kv/lease/leases", "etcdserverpb.Lease.LeaseLeases"},
    {"/v3/cluster/member/add", "etcdserverpb.Cluster.MemberAdd"},
    {"/v3/cluster/member/remove", "etcdserverpb.Cluster.MemberRemove"},
    {"/v3/cluster/member/update", "etcdserverpb.Cluster.MemberUpdate"},
    {"/v3/cluster/member/list", "etcdserverpb.Cluster.MemberList"},
    {"/v3/cluster/member/promote", "etcdserverpb.Cluster.MemberPromote"},
    {"/v3/maintenance/alarm", "etcdserverpb.Maintenance.Alarm"},
    {"/v3/maintenance/status", "etcdserverpb.Maintenance.Status"},
    {"/v3/maintenance/defragment", "etcdserverpb.Maintenance.Defragment"},
    // etcd 3.4 also maps HashKV to /hash, where Hash (registered first)
    // wins; 3.5 gives HashKV its own path.
    {"/v3/maintenance/hash", "etcdserverpb.Maintenance.Hash"},
    {"/v3/maintenance/hashkv", "etcdserverpb.Maintenance.HashKV"},
    {"/v3/maintenance/snapshot", "etcdserverpb.Maintenance.Snapshot"},
    {"/v3/maintenance/transfer-leadership", "etcdserverpb.Maintenance.MoveLeader"},
    {"/v3/maintenance/downgrade", "etcdserverpb.Maintenance.Downgrade"},
    {"/v3/auth/enable", "etcdserverpb.Auth.AuthEnable"},
    {"/v3/auth/disable", "etcdserverpb.Auth.AuthDisable"},
    {"/v3/auth/status", "etcdserverpb.Auth.AuthStatus"},
    {"/v3/auth/authenticate", "etcdserverpb.Auth.Authenticate"},
    {"/v3/auth/user/add", "etcdserverpb.Auth.UserAdd"},
    {"/v3/auth/user/get", "etcdserverpb.Auth.UserGet"},
    {"/v3/auth/user/list", "etcdserverpb.Auth.UserList"},
    {"/v3/auth/user/delete", "etcdserverpb.Auth.UserDelete"},
    {"/v3/auth/user/changepw", "etcdserverpb.Auth.UserChangePassword"},
    {"/v3/auth/user/grant", "etcdserverpb.Auth.UserGrantRole"},
    {"/v3/auth/user/revoke", "etcdserverpb.Auth.UserRevokeRole"},
    {"/v3/auth/role/add", "etcdserverpb.Auth.RoleAdd"},
    {"/v3/auth/role/get", "etcdserverpb.Auth.RoleGet"},
    {"/v3/auth/role/list", "etcdserverpb.Auth.RoleList"},
    {"/v3/auth/role/delete", "etcdserverpb.Auth.RoleDelete"},
    {"/v3/auth/role/grant", "etcdserverpb.Auth.RoleGrantPermission"},
    {"/v3/auth/role/revoke", "etcdserverpb.Auth.RoleRevokePermission"},
    {"/v3/lock/lock", "v3lockpb.Lock.Lock"},
    {"/v3/lock/unlock", "v3lockpb.Lock.Unlock"},
    {"/v3/election/campaign", "v3electionpb.Election.Campaign"},
    {"/v3/election/proclaim", "v3electionpb.Election.Proclaim"},
    {"/v3/election/leader", "v3electionpb.Election.Leader"},
    {"/v3/election/observe", "v3electionpb.Election.Observe"},
    {"/v3/election/resign", "v3electionpb.Election.Resign"},
};

const char* status_text(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 429:
      return "Too Many Requests";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Internal Server Error";
  }
}

// Go's http.Error: a plain-text answer.
http::Response plain_error(int status) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.body = std::string(status_text(status)) + "\n";
  return r;
}

// grpc-gateway's error body for a failed call.
http::Response error_response(int code, const std::string& message) {
  http::Response r;
  r.status = Gateway::http_status(code);
  std::string m = go_json_string(message);
  r.body = "{\"error\":" + m + ",\"message\":" + m + ",\"code\":" + std::to_string(code) + "}";
  return r;
}

// grpc-gateway's error object in a stream (its fields at their defaults
// omitted, as jsonpb writes them).
std::string stream_error(int code, const std::string& message) {
  int status = Gateway::http_status(code);
  std::string body = "{\"error\":{";
  if (code != 0) body += "\"grpc_code\":" + std::to_string(code) + ",";
  body += "\"http_code\":" + std::to_string(status);
  if (!message.empty()) body += ",\"message\":" + go_json_string(message);
  body += ",\"http_status\":" + go_json_string(status_text(status)) + "}}";
  return body;
}

// A call's error text; the gateway's own deadline and cancellation read
// as Go's context errors, as etcd's gateway reports them.
std::string go_message(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      s.error_message() == "Deadline Exceeded") {
    return "context deadline exceeded";
  }
  if (s.error_code() == grpc::StatusCode::CANCELLED && s.error_message() == "Cancelled") {
    return "context canceled";
  }
  return s.error_message();
}

// The server's header metadata, as grpc-gateway forwards it.
http::Headers metadata_headers() { return {{"Grpc-Metadata-Content-Type", "application/grpc"}}; }

std::unique_ptr<pb::Message> new_message(const pb::Descriptor* d) {
  const pb::Message* proto = pb::MessageFactory::generated_factory()->GetPrototype(d);
  return std::unique_ptr<pb::Message>(proto->New());
}

grpc::ByteBuffer to_buffer(const pb::Message& m) {
  std::string bytes = m.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// The response message of a call as JSON; nullopt if it does not parse.
std::optional<std::string> buffer_to_json(const grpc::ByteBuffer& buf, const pb::Descriptor* d) {
  std::vector<grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return std::nullopt;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  auto m = new_message(d);
  if (!m->ParseFromString(bytes)) return std::nullopt;
  return message_to_json(*m);
}

// grpc-gateway's Grpc-Timeout header ("<integer><unit>", unit one of
// H M S m u n): the call's deadline. nullopt if malformed; 0 is none.
std::optional<std::chrono::nanoseconds> parse_timeout(const std::string& s) {
  if (s.size() < 2) return std::nullopt;
  int64_t unit_ns;
  switch (s.back()) {
    case 'H':
      unit_ns = 3600'000'000'000;
      break;
    case 'M':
      unit_ns = 60'000'000'000;
      break;
    case 'S':
      unit_ns = 1'000'000'000;
      break;
    case 'm':
      unit_ns = 1'000'000;
      break;
    case 'u':
      unit_ns = 1'000;
      break;
    case 'n':
      unit_ns = 1;
      break;
    default:
      return std::nullopt;
  }
  std::string digits = s.substr(0, s.size() - 1);
  size_t i = (digits[0] == '+' || digits[0] == '-') ? 1 : 0;
  if (i == digits.size()) return std::nullopt;
  for (size_t k = i; k < digits.size(); ++k) {
    if (digits[k] < '0' || digits[k] > '9') return std::nullopt;
  }
  errno = 0;
  long long n = std::strtoll(digits.c_str(), nullptr, 10);
  if (errno != 0) return std::nullopt;
  // Go multiplies in int64 nanoseconds; far deadlines are as good as none.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (n > kMax / unit_ns) n = kMax / unit_ns;
  if (n < -(kMax / unit_ns)) n = -(kMax / unit_ns);
  return std::chrono::nanoseconds(n * unit_ns);
}

// What every call takes from the request's headers: the token (the
// Authorization header, as etcd's gateway passes it) and the deadline.
void prepare_context(const http::Request& req, grpc::ClientContext* ctx) {
  std::string token = req.header("authorization");
  bool legal = !token.empty();
  for (char c : token) {
    if (c < 0x20 || c > 0x7e) legal = false;  // not a legal metadata value
  }
  if (legal) ctx->AddMetadata("token", token);
  std::string tm = req.header("grpc-timeout");
  if (tm.empty()) return;
  std::optional<std::chrono::nanoseconds> timeout = parse_timeout(tm);
  if (timeout && timeout->count() != 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(*timeout));
  }
}

// Lets Responder::on_cancel cancel a call that may have finished (and its
// context gone) by the time the client leaves.
class Canceller {
 public:
  explicit Canceller(grpc::ClientContext* ctx) : ctx_(ctx) {}
  void cancel() {
    MutexLock l(&mu_);
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  void done() {
    MutexLock l(&mu_);
    ctx_ = nullptr;
  }

 private:
  Mutex mu_;
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

// The calls in flight: ~Gateway cancels them and waits until each is gone.
class LiveCalls {
 public:
  void add(Canceller* c) {
    MutexLock l(&mu_);
    calls_.insert(c);
  }
  void remove(Canceller* c) {
    MutexLock l(&mu_);
    calls_.erase(c);
    if (calls_.empty()) cv_.notify_all();
  }
  void cancel_all() {
    MutexLock l(&mu_);
    for (Canceller* c : calls_) c->cancel();
  }
  // True if every call finished within the timeout.
  bool cancel_and_wait(std::chrono::milliseconds timeout) {
    MutexLock l(&mu_);
    for (Canceller* c : calls_) c->cancel();
    return l.wait_for(cv_, timeout,
                      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return calls_.empty(); });
  }

 private:
  Mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<Canceller*> calls_ ABSL_GUARDED_BY(mu_);
};

namespace {

// A call's entry in LiveCalls, for its whole life: the first member of a
// call, so the last destroyed (after its ClientContext).
class CallSlot {
 public:
  CallSlot(std::shared_ptr<LiveCalls> live, grpc::ClientContext* ctx)
      : live_(std::move(live)), canceller_(std::make_shared<Canceller>(ctx)) {
    live_->add(canceller_.get());
  }
  ~CallSlot() { live_->remove(canceller_.get()); }
  CallSlot(const CallSlot&) = delete;
  CallSlot& operator=(const CallSlot&) = delete;
  const std::shared_ptr<Canceller>& canceller() const { return canceller_; }

 private:
  std::shared_ptr<LiveCalls> live_;
  std::shared_ptr<Canceller> canceller_;
};

struct UnaryCall {
  explicit UnaryCall(std::shared_ptr<LiveCalls> live) : slot(std::move(live), &ctx) {}
  CallSlot slot;  // first: destroyed last
  grpc::ClientContext ctx;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  const pb::Descriptor* response_type = nullptr;
  std::shared_ptr<http::Responder> responder;
};

// A streamed call (client, server or both streaming): the decoded requests
// are written in order, then the send side is closed; each response is a
// line of the HTTP answer. Deletes itself when the call is done.
class StreamCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamCall(std::shared_ptr<LiveCalls> live, std::deque<grpc::ByteBuffer> requests,
             const pb::Descriptor* response_type, std::shared_ptr<http::Responder> responder)
      : slot_(std::move(live), &ctx_),
        canceller_(slot_.canceller()),
        requests_(std::move(requests)),
        response_type_(response_type),
        responder_(std::move(responder)) {}

  grpc::ClientContext* context() { return &ctx_; }

  void start() {
    std::weak_ptr<Canceller> weak = canceller_;
    responder_->on_cancel([weak] {
      if (auto c = weak.lock()) c->cancel();
    });
    StartRead(&read_);
    if (requests_.empty()) {
      StartWritesDone();
    } else {
      StartWrite(&requests_.front());
    }
    StartCall();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // the call is over; OnDone follows
    requests_.pop_front();
    if (requests_.empty()) {
      StartWritesDone();
    } else {
      StartWrite(&requests_.front());
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::optional<std::string> json = buffer_to_json(read_, response_type_);
    if (!json) {
      canceller_->cancel();
      return;
    }
    if (!started_) {
      started_ = true;
      responder_->start_stream(200, "application/json", metadata_headers());
    }
    // A client that does not keep up is cut off, its call cancelled.
    if (!responder_->write("{\"result\":" + *json + "}\n")) {
      canceller_->cancel();
      return;
    }
    StartRead(&read_);
  }

  void OnDone(const grpc::Status& s) override {
    canceller_->done();
    if (s.ok()) {
      if (started_) {
        responder_->finish();
      } else {
        http::Response r;
        r.headers = metadata_headers();
        responder_->respond(std::move(r));
      }
    } else {
      int code = static_cast<int>(s.error_code());
      if (started_) {
        responder_->write(stream_error(code, go_message(s)));
        responder_->finish();
      } else {
        http::Response r;
        r.status = Gateway::http_status(code);
        r.body = stream_error(code, go_message(s));
        responder_->respond(std::move(r));
      }
    }
    delete this;
  }

 private:
  CallSlot slot_;  // first: destroyed last
  std::shared_ptr<Canceller> canceller_;
  grpc::ClientContext ctx_;
  std::deque<grpc::ByteBuffer> requests_;
  grpc::ByteBuffer read_;
  const pb::Descriptor* response_type_;
  std::shared_ptr<http::Responder> responder_;
  bool started_ = false;  // only OnReadDone and then OnDone touch it
};

}  // namespace

Gateway::Gateway(std::shared_ptr<grpc::Channel> channel, std::function<bool()> refuse_cn)
    : channel_(std::move(channel)),
      refuse_cn_(std::move(refuse_cn)),
      stub_(channel_),
      live_(std::make_shared<LiveCalls>()) {
  // Referencing one message of each file links its descriptors in.
  const pb::FileDescriptor* files[] = {
      etcdserverpb::RangeRequest::descriptor()->file(),
      v3lockpb::LockRequest::descriptor()->file(),
      v3electionpb::CampaignRequest::descriptor()->file(),
  };
  (void)files;
  const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
  for (const RouteSpec& r : kRoutes) {
    const pb::MethodDescriptor* m = pool->FindMethodByName(r.method);
    ASSERT(m != nullptr);
    routes_.emplace(r.path, m);
  }
}

Gateway::~Gateway() {
  // Calls finish on gRPC's threads; none may outlive the gateway's users.
  constexpr std::chrono::seconds kDrain{10};
  bool drained = live_->cancel_and_wait(kDrain);
  ASSERT(drained);
}

void Gateway::cancel_all() { live_->cancel_all(); }

int Gateway::http_status(int grpc_code) {
  switch (grpc_code) {
    case 0:
      return 200;
    case 1:
      return 408;  // CANCELLED
    case 2:
      return 500;  // UNKNOWN
    case 3:
      return 400;  // INVALID_ARGUMENT
    case 4:
      return 504;  // DEADLINE_EXCEEDED
    case 5:
      return 404;  // NOT_FOUND
    case 6:
      return 409;  // ALREADY_EXISTS
    case 7:
      return 403;  // PERMISSION_DENIED
    case 8:
      return 429;  // RESOURCE_EXHAUSTED
    case 9:
      return 412;  // FAILED_PRECONDITION
    case 10:
      return 409;  // ABORTED
    case 11:
      return 400;  // OUT_OF_RANGE
    case 12:
      return 501;  // UNIMPLEMENTED
    case 13:
      return 500;  // INTERNAL
    case 14:
      return 503;  // UNAVAILABLE
    case 15:
      return 500;  // DATA_LOSS
    case 16:
      return 401;  // UNAUTHENTICATED
    default:
      return 500;
  }
}

void Gateway::handle(http::Request req, std::shared_ptr<http::Responder> responder) {
  std::string path = req.path;
  // etcd rewrites /v3beta/ to /v3/ before its gateway sees the request.
  constexpr std::string_view kBeta = "/v3beta/";
  if (path.rfind(kBeta, 0) == 0) path = "/v3/" + path.substr(kBeta.size());
  if (req.tls && !req.cn.empty() && refuse_cn_ && path.rfind("/v3/", 0) == 0 && refuse_cn_()) {
    http::Response r = plain_error(400);
    r.body =
        "CommonName of client sending a request against gateway will be ignored and not used as "
        "expected\n";
    return responder->respond(std::move(r));
  }
  auto it = routes_.find(path);
  if (it == routes_.end()) return responder->respond(plain_error(404));
  if (req.method != "POST") return responder->respond(plain_error(405));
  std::string tm = req.header("grpc-timeout");
  if (!tm.empty() && !parse_timeout(tm)) {
    return responder->respond(error_response(3, "invalid grpc-timeout: " + tm));
  }
  const pb::MethodDescriptor* m = it->second;
  if (m->client_streaming() || m->server_streaming()) {
    stream(m, std::move(req), std::move(responder));
  } else {
    unary(m, std::move(req), std::move(responder));
  }
}

void Gateway::unary(const pb::MethodDescriptor* m, http::Request req,
                    std::shared_ptr<http::Responder> responder) {
  auto msg = new_message(m->input_type());
  std::string error;
  // An empty body is an empty request; only the first JSON value counts.
  if (JsonBodyDecoder(req.body).next(msg.get(), &error) == DecodeResult::kError) {
    return responder->respond(error_response(3, error));
  }
  auto call = std::make_shared<UnaryCall>(live_);
  call->request = to_buffer(*msg);
  call->response_type = m->output_type();
  call->responder = responder;
  prepare_context(req, &call->ctx);
  std::weak_ptr<Canceller> weak = call->slot.canceller();
  responder->on_cancel([weak] {
    if (auto c = weak.lock()) c->cancel();
  });
  std::string name = "/" + m->service()->full_name() + "/" + m->name();
  stub_.UnaryCall(
      &call->ctx, name, grpc::StubOptions(), &call->request, &call->response,
      [call](grpc::Status s) {
        call->slot.canceller()->done();
        if (!s.ok()) {
          return call->responder->respond(
              error_response(static_cast<int>(s.error_code()), go_message(s)));
        }
        std::optional<std::string> json = buffer_to_json(call->response, call->response_type);
        if (!json) {
          return call->responder->respond(error_response(13, "failed to parse the response"));
        }
        http::Response r;
        r.headers = metadata_headers();
        r.body = std::move(*json);
        call->responder->respond(std::move(r));
      });
}

void Gateway::stream(const pb::MethodDescriptor* m, http::Request req,
                     std::shared_ptr<http::Responder> responder) {
  std::deque<grpc::ByteBuffer> requests;
  JsonBodyDecoder decoder(req.body);
  std::string error;
  if (m->client_streaming()) {
    // Every request of the body is sent; the first that fails to decode
    // ends the sending (the very first one fails the call with UNKNOWN,
    // as etcd's gateway answers).
    while (true) {
      auto msg = new_message(m->input_type());
      DecodeResult r = decoder.next(msg.get(), &error);
      if (r == DecodeResult::kEof) break;
      if (r == DecodeResult::kError) {
        if (requests.empty()) return responder->respond(error_response(2, error));
        break;
      }
      requests.push_back(to_buffer(*msg));
    }
  } else {
    auto msg = new_message(m->input_type());
    if (decoder.next(msg.get(), &error) == DecodeResult::kError) {
      return responder->respond(error_response(3, error));
    }
    requests.push_back(to_buffer(*msg));
  }
  auto* call = new StreamCall(live_, std::move(requests), m->output_type(), std::move(responder));
  prepare_context(req, call->context());
  std::string name = "/" + m->service()->full_name() + "/" + m->name();
  stub_.PrepareBidiStreamingCall(call->context(), name, grpc::StubOptions(), call);
  call->start();
}

}  // namespace etcd::rpc::gateway
