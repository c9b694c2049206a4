#include "rpc/self_client.h"

#include <cstdio>
#include <random>
#include <vector>

#include "rpc/client_listener.h"

namespace etcd::rpc {
namespace {

// The caller's credentials as its metadata carries them (etcd reads "token",
// or "authorization" from the gateway).
std::string token_of(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  for (const char* key : {"token", "authorization"}) {
    auto it = md.find(key);
    if (it != md.end()) return std::string(it->second.data(), it->second.size());
  }
  return "";
}

}  // namespace

const std::string& self_call_secret() {
  static const std::string secret = [] {
    std::random_device rd;  // getrandom(2)
    std::string s;
    for (int i = 0; i < 8; ++i) {
      char buf[9];
      std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
      s += buf;
    }
    return s;
  }();
  return secret;
}

std::optional<std::string> self_caller_cn(const grpc::ServerContextBase& ctx) {
  const auto& md = ctx.client_metadata();
  auto cn = md.find(kSelfCallerCnMetadata);
  auto secret = md.find(kSelfCallSecretMetadata);
  if (cn == md.end() || secret == md.end()) return std::nullopt;
  const std::string& want = self_call_secret();
  if (secret->second.size() != want.size()) return std::nullopt;
  unsigned char diff = 0;  // constant time: no early exit on a mismatch
  for (size_t i = 0; i < want.size(); ++i) {
    diff |= static_cast<unsigned char>(secret->second.data()[i] ^ want[i]);
  }
  if (diff != 0) return std::nullopt;
  return std::string(cn->second.data(), cn->second.size());
}

SelfCall::~SelfCall() { owner_.end(this); }

grpc::Status SelfCall::result(const grpc::Status& s) const {
  if (!s.ok() && stopped_.load()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: server stopped");
  }
  return self_client_error(s);
}

SelfClient::SelfClient(size_t max_calls) : max_calls_(max_calls) {
  poller_.start([this](Worker& self) {
    while (true) {
      bool busy;
      {
        MutexLock l(&mu_);
        busy = !calls_.empty();
      }
      if (!self.sleep_for(busy ? kPollInterval : std::chrono::seconds(1))) return;
      poll();
    }
  });
}

SelfClient::~SelfClient() { stop(std::chrono::milliseconds(0)); }

void SelfClient::attach(std::shared_ptr<grpc::Channel> channel) {
  MutexLock l(&mu_);
  if (!stopped_) channel_ = std::move(channel);
}

std::shared_ptr<SelfClient> SelfClient::attach_to(grpc::Server& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  attach(server.InProcessChannel(args));
  return shared_from_this();
}

Result<std::unique_ptr<SelfCall>> SelfClient::begin(grpc::ServerContext& server_ctx) {
  std::shared_ptr<grpc::Channel> channel;
  {
    MutexLock l(&mu_);
    if (stopped_ || channel_ == nullptr) {
      return Status(Code::kUnavailable, "etcdserver: server stopped");
    }
    if (calls_.size() >= max_calls_) {
      return Status(Code::kResourceExhausted, "etcdserver: too many requests");
    }
    channel = channel_;
  }
  // The caller's credentials: its token, else its certificate's CN.
  std::string token = token_of(server_ctx);
  client::Client::Metadata md;
  if (token.empty()) {
    std::string cn = client_cert_common_name(server_ctx);
    if (!cn.empty()) {
      md.emplace_back(kSelfCallerCnMetadata, std::move(cn));
      md.emplace_back(kSelfCallSecretMetadata, self_call_secret());
    }
  }
  auto client = client::Client::over_channel(std::move(channel), "in-process", std::move(token),
                                             std::move(md));
  std::unique_ptr<SelfCall> call(new SelfCall(*this, server_ctx, std::move(client)));
  bool stopped;
  {
    MutexLock l(&mu_);
    stopped = stopped_;
    calls_.insert(call.get());
  }
  if (stopped) {  // stop() came in between
    call->stopped_ = true;
    call->ctx_.cancel();
  }
  poller_.kick();
  return call;
}

void SelfClient::end(SelfCall* call) {
  {
    MutexLock l(&mu_);
    calls_.erase(call);
  }
  ended_.notify_all();
}

void SelfClient::poll() {
  // Under mu_: a call deregisters (under mu_) before its ServerContext goes
  // away. Cancelling runs the Context's callbacks (gRPC TryCancel, watcher
  // cancel), none of which comes back here.
  MutexLock l(&mu_);
  const auto now = std::chrono::system_clock::now();
  for (SelfCall* call : calls_) {
    if (call->ctx_.cancelled()) continue;
    if (call->server_ctx_.IsCancelled() || call->server_ctx_.deadline() <= now) {
      call->ctx_.cancel();
    }
  }
}

void SelfClient::stop(std::chrono::milliseconds grace) {
  {
    MutexLock l(&mu_);
    stopped_ = true;
    for (SelfCall* call : calls_) {
      call->stopped_ = true;
      call->ctx_.cancel();
    }
    l.wait_for(ended_, grace, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return calls_.empty(); });
    // Calls still running keep their own reference to the channel.
    channel_.reset();
  }
  poller_.stop();
}

size_t SelfClient::running() const {
  MutexLock l(&mu_);
  return calls_.size();
}

grpc::Status self_client_error(const grpc::Status& s) {
  if (s.ok()) return s;
  if (s.error_message().rfind("etcdserver: ", 0) == 0) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, s.error_message());
  }
  return s;
}

}  // namespace etcd::rpc
