#include "client/client.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace etcd::client {
namespace {

// How long one endpoint gets to connect before the next is tried.
constexpr auto kPerEndpointConnect = std::chrono::milliseconds(500);
constexpr std::chrono::milliseconds kMinKeepaliveTime{10000};
// Retries of a read whose endpoint was unavailable, and the pause between
// rounds (etcd's clientv3: 100 retries, 25 ms per quorum of endpoints).
constexpr unsigned kMaxReadRetries = 100;
constexpr auto kRetryBackoff = std::chrono::milliseconds(25);

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::string endpoint_address(const std::string& endpoint) {
  std::string e = endpoint;
  for (const char* scheme : {"http://", "https://", "unix://", "unixs://"}) {
    if (starts_with(e, scheme)) {
      e = e.substr(std::string(scheme).size());
      break;
    }
  }
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

grpc::Status deadline_exceeded() {
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "context deadline exceeded");
}

bool is_invalid_token(const grpc::Status& s) {
  const std::string& m = s.error_message();
  return (s.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
          m == "etcdserver: invalid auth token") ||
         (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
          m == "etcdserver: revision of auth store is old") ||
         (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
          m == "etcdserver: user name is empty");
}

bool is_auth_not_enabled(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
         s.error_message() == "etcdserver: authentication is not enabled";
}

Client::Client(Options options) : options_(std::move(options)) {
  bool tls = options_.tls.has_value();
  for (const auto& e : options_.endpoints) {
    if (starts_with(e, "https://") || starts_with(e, "unixs://")) tls = true;
    addresses_.push_back(endpoint_address(e));
  }
  if (tls) {
    const TlsOptions t = options_.tls.value_or(TlsOptions{});
    if (t.insecure_skip_verify) {
      grpc::experimental::TlsChannelCredentialsOptions o;
      o.set_verify_server_certs(false);
      o.set_check_call_host(false);
      if (!t.ca_file.empty()) {
        o.set_certificate_provider(
            std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
                read_file(t.ca_file)));
        o.watch_root_certs();
      }
      if (!t.cert_file.empty()) {
        std::vector<grpc::experimental::IdentityKeyCertPair> pairs{
            {read_file(t.key_file), read_file(t.cert_file)}};
        o.set_certificate_provider(
            std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
                t.ca_file.empty() ? std::string() : read_file(t.ca_file), pairs));
        o.watch_identity_key_cert_pairs();
      }
      credentials_ = grpc::experimental::TlsCredentials(o);
    } else {
      grpc::SslCredentialsOptions o;
      if (!t.ca_file.empty()) o.pem_root_certs = read_file(t.ca_file);
      if (!t.cert_file.empty()) o.pem_cert_chain = read_file(t.cert_file);
      if (!t.key_file.empty()) o.pem_private_key = read_file(t.key_file);
      credentials_ = grpc::SslCredentials(o);
    }
  } else {
    credentials_ = grpc::InsecureChannelCredentials();
  }
  MutexLock l(&mu_);
  conns_.resize(addresses_.size());
  // The first call goes to a random endpoint, as etcd's Go client's balancer
  // (its endpoint order comes from a map), so that many short-lived clients
  // spread over the endpoints.
  if (!addresses_.empty() && options_.round_robin) {
    current_ = std::random_device{}() % addresses_.size();
  }
}

Client::~Client() = default;

std::shared_ptr<Connection> Client::connection_at(size_t i) {
  MutexLock l(&mu_);
  if (conns_[i]) return conns_[i];
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // As grpc-go (and so etcd's Go client) does, keepalive pings are never
  // more frequent than every 10 s: etcd's server sends away clients that
  // ping more often than --grpc-keepalive-min-time (5 s).
  const auto keepalive_time = std::max(options_.keepalive_time, kMinKeepaliveTime);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options_.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Reconnect promptly after an endpoint comes back.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  auto c =
      make_connection(addresses_[i], grpc::CreateCustomChannel(addresses_[i], credentials_, args));
  conns_[i] = c;
  return c;
}

std::shared_ptr<Connection> make_connection(const std::string& endpoint,
                                            std::shared_ptr<grpc::Channel> channel) {
  auto c = std::make_shared<Connection>();
  c->endpoint = endpoint;
  c->channel = std::move(channel);
  c->kv = etcdserverpb::KV::NewStub(c->channel);
  c->watch = etcdserverpb::Watch::NewStub(c->channel);
  c->lease = etcdserverpb::Lease::NewStub(c->channel);
  c->cluster = etcdserverpb::Cluster::NewStub(c->channel);
  c->maintenance = etcdserverpb::Maintenance::NewStub(c->channel);
  c->auth = etcdserverpb::Auth::NewStub(c->channel);
  c->lock = v3lockpb::Lock::NewStub(c->channel);
  c->election = v3electionpb::Election::NewStub(c->channel);
  return c;
}

std::unique_ptr<Client> Client::over_channel(std::shared_ptr<grpc::Channel> channel,
                                             const std::string& name, std::string token,
                                             Metadata metadata) {
  Options o;
  o.endpoints = {name};
  o.round_robin = false;
  auto client = std::make_unique<Client>(std::move(o));
  MutexLock l(&client->mu_);
  client->conns_[0] = make_connection(client->addresses_[0], std::move(channel));
  client->token_ = std::move(token);
  client->authenticated_ = true;
  client->given_channel_ = true;
  client->metadata_ = std::move(metadata);
  return client;
}

std::shared_ptr<Connection> Client::connection(Deadline deadline) {
  if (addresses_.empty()) return nullptr;
  if (given_channel_) {
    // An in-process channel has no connectivity state to ask (gRPC
    // asserts): it is always there.
    MutexLock l(&mu_);
    return conns_[0];
  }
  const size_t n_endpoints = addresses_.size();
  size_t start;
  {
    MutexLock l(&mu_);
    start = current_;
  }
  // Calls go round the endpoints, as etcd's Go client balances them: the
  // next call starts after the endpoint this one used.
  auto chosen = [&](size_t i, std::shared_ptr<Connection> c) {
    MutexLock l(&mu_);
    current_ = options_.round_robin ? (i + 1) % n_endpoints : i;
    return c;
  };
  // First an endpoint that is connected already, so that a dead one costs
  // nothing while others answer.
  for (size_t n = 0; n < n_endpoints; ++n) {
    const size_t i = (start + n) % n_endpoints;
    std::shared_ptr<Connection> c;
    {
      MutexLock l(&mu_);
      c = conns_[i];
    }
    if (c && c->channel->GetState(false) == GRPC_CHANNEL_READY) return chosen(i, c);
  }
  // Then round after round over the endpoints, each given a short while to
  // connect, until one is connected or the deadline passes.
  for (size_t n = 0;; ++n) {
    const size_t i = (start + n) % n_endpoints;
    auto c = connection_at(i);
    const auto now = std::chrono::system_clock::now();
    if (now >= deadline) return nullptr;
    const auto until = std::min(deadline, now + kPerEndpointConnect);
    if (c->channel->GetState(true) == GRPC_CHANNEL_READY || c->channel->WaitForConnected(until)) {
      return chosen(i, c);
    }
  }
}

void Client::mark_failed(const Connection& c) {
  // The next call starts after the failed endpoint (connection() already
  // moved on from it unless another call came between).
  MutexLock l(&mu_);
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i] && conns_[i]->endpoint == c.endpoint) {
      if (current_ == i) current_ = (i + 1) % conns_.size();
      return;
    }
  }
}

bool Client::authenticated() const {
  MutexLock l(&mu_);
  return authenticated_;
}

std::string Client::token() const {
  MutexLock l(&mu_);
  return token_;
}

void Client::prepare(grpc::ClientContext& ctx, Deadline deadline) {
  if (deadline != Deadline::max()) ctx.set_deadline(deadline);
  const std::string t = token();
  if (!t.empty()) ctx.AddMetadata("token", t);
  for (const auto& [k, v] : metadata_) ctx.AddMetadata(k, v);
}

grpc::Status Client::authenticate(Connection& c, Deadline deadline) {
  etcdserverpb::AuthenticateRequest req;
  req.set_name(options_.user);
  req.set_password(options_.password);
  etcdserverpb::AuthenticateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  grpc::Status s = c.auth->Authenticate(&ctx, req, &resp);
  if (!s.ok() && options_.on_attempt_failed) options_.on_attempt_failed(0, s, "");
  if (s.ok() || is_auth_not_enabled(s)) {
    // Without auth on the server, calls go without a token (etcd's client
    // ignores this error at dial time too).
    MutexLock l(&mu_);
    token_ = resp.token();
    authenticated_ = true;
    return grpc::Status::OK;
  }
  return s;
}

grpc::Status Client::ensure_authenticated(Connection& c, Deadline deadline) {
  if (!uses_auth() || authenticated()) return grpc::Status::OK;
  return authenticate(c, deadline);
}

grpc::Status Client::connect(Deadline deadline) {
  auto c = connection(deadline);
  if (!c) {
    if (uses_auth() && options_.on_attempt_failed) {  // the Authenticate that could not go
      options_.on_attempt_failed(
          0, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, kNoConnection), "");
    }
    return deadline_exceeded();
  }
  if (uses_auth()) return authenticate(*c, deadline);
  return grpc::Status::OK;
}

grpc::Status Client::invoke(const Invocation& fn, Deadline deadline, Idempotent idem) {
  bool reauthenticated = false;
  bool need_token = uses_auth() && !authenticated();
  unsigned attempt = 0;
  while (true) {
    auto c = connection(deadline);
    if (!c) {
      if (options_.on_attempt_failed) {
        options_.on_attempt_failed(
            attempt, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, kNoConnection), "");
      }
      return deadline_exceeded();
    }
    if (need_token) {
      grpc::Status s = authenticate(*c, deadline);
      if (!s.ok()) return s;
      need_token = false;
    }
    grpc::ClientContext ctx;
    prepare(ctx, deadline);
    grpc::Status s = fn(*c, ctx);
    if (s.ok()) return s;
    if (options_.on_attempt_failed) options_.on_attempt_failed(attempt, s, "");
    ++attempt;
    if (is_invalid_token(s) && uses_auth() && !reauthenticated) {
      reauthenticated = true;  // refused before it was applied: safe to send again
      need_token = true;
      continue;
    }
    // A read that met an unavailable endpoint (or a learner's "rpc not
    // supported for learner") goes to the next endpoint, up to
    // kMaxReadRetries times as etcd's Go client does, pausing 25 ms once per
    // quorum of endpoints tried; after that, the last error is the answer.
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE && idem == Idempotent::kYes &&
        attempt <= kMaxReadRetries && std::chrono::system_clock::now() < deadline) {
      mark_failed(*c);
      const size_t quorum = addresses_.size() / 2 + 1;
      if (attempt % quorum == 0) std::this_thread::sleep_for(kRetryBackoff);
      continue;
    }
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return deadline_exceeded();
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) mark_failed(*c);
    return s;
  }
}

grpc::Status Client::invoke_on(const std::string& endpoint, const Invocation& fn,
                               Deadline deadline) {
  const std::string addr = endpoint_address(endpoint);
  size_t i = 0;
  while (i < addresses_.size() && addresses_[i] != addr) ++i;
  std::shared_ptr<Connection> c;
  if (i < addresses_.size()) {
    c = connection_at(i);
  } else {
    // An endpoint outside the list (e.g. from MemberList with --cluster).
    Options o = options_;
    o.endpoints = {endpoint};
    Client one(o);
    return one.invoke(fn, deadline, Idempotent::kNo);
  }
  for (int attempt = 0;; ++attempt) {
    if (uses_auth() && (!authenticated() || attempt > 0)) {
      grpc::Status s = authenticate(*c, deadline);
      if (!s.ok()) return s;
    }
    grpc::ClientContext ctx;
    prepare(ctx, deadline);
    ctx.set_wait_for_ready(true);
    grpc::Status s = fn(*c, ctx);
    if (!s.ok() && options_.on_attempt_failed) {
      options_.on_attempt_failed(static_cast<unsigned>(attempt), s, addr);
    }
    // A token the server no longer knows: a new one, and the call once more
    // (it was refused unapplied), as invoke() does.
    if (attempt == 0 && uses_auth() && is_invalid_token(s)) continue;
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) return deadline_exceeded();
    return s;
  }
}

}  // namespace etcd::client
