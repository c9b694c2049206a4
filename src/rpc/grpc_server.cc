#include "rpc/grpc_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "rpc/auth_context.h"
#include "rpc/auth_service.h"
#include "rpc/election_service.h"
#include "rpc/gateway/gateway.h"
#include "rpc/lease_service.h"
#include "rpc/lock_service.h"
#include "rpc/watch_service.h"

namespace etcd::rpc {
namespace {

template <typename Resp>
grpc::Status reply(Result<Resp> r, Resp* out) {
  if (!r.is_ok()) return to_grpc(r.status());
  *out = std::move(r).value();
  return grpc::Status::OK;
}

// Identifies the caller first (a bad token fails the call), then answers
// with call(caller).
template <typename Resp, typename Call>
grpc::Status reply_as(const grpc::ServerContextBase* ctx, server::EtcdServer& s, Resp* out,
                      Call&& call) {
  auto who = caller_of(*ctx, s);
  if (!who.is_ok()) return to_grpc(who.status());
  return reply(call(*who), out);
}

// The same for Defragment, Hash, HashKV and Snapshot, whose credential
// errors etcd passes on unconverted (gRPC Unknown, "auth: ...").
template <typename Resp, typename Call>
grpc::Status reply_as_admin(const grpc::ServerContextBase* ctx, server::EtcdServer& s, Resp* out,
                            Call&& call) {
  auto who = caller_of(*ctx, s);
  if (!who.is_ok()) return to_grpc(server::unconverted_auth_error(who.status()));
  return reply(call(*who), out);
}

class KvService final : public etcdserverpb::KV::Service {
 public:
  explicit KvService(server::EtcdServer& s) : s_(s) {}
  grpc::Status Range(grpc::ServerContext* ctx, const etcdserverpb::RangeRequest* req,
                     etcdserverpb::RangeResponse* resp) override {
    if (s_.is_learner() && !req->serializable()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.kv().range(who, *req); });
  }
  grpc::Status Put(grpc::ServerContext* ctx, const etcdserverpb::PutRequest* req,
                   etcdserverpb::PutResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.kv().put(who, *req); });
  }
  grpc::Status DeleteRange(grpc::ServerContext* ctx, const etcdserverpb::DeleteRangeRequest* req,
                           etcdserverpb::DeleteRangeResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.kv().delete_range(who, *req); });
  }
  grpc::Status Txn(grpc::ServerContext* ctx, const etcdserverpb::TxnRequest* req,
                   etcdserverpb::TxnResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.kv().txn(who, *req); });
  }
  grpc::Status Compact(grpc::ServerContext* ctx, const etcdserverpb::CompactionRequest* req,
                       etcdserverpb::CompactionResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.kv().compact(who, *req); });
  }

 private:
  server::EtcdServer& s_;
};

class ClusterService final : public etcdserverpb::Cluster::Service {
 public:
  explicit ClusterService(server::EtcdServer& s) : s_(s) {}
  grpc::Status MemberList(grpc::ServerContext*, const etcdserverpb::MemberListRequest* req,
                          etcdserverpb::MemberListResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply(s_.cluster().member_list(*req), resp);
  }
  grpc::Status MemberAdd(grpc::ServerContext* ctx, const etcdserverpb::MemberAddRequest* req,
                         etcdserverpb::MemberAddResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.cluster().member_add(who, *req); });
  }
  grpc::Status MemberRemove(grpc::ServerContext* ctx, const etcdserverpb::MemberRemoveRequest* req,
                            etcdserverpb::MemberRemoveResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp, [&](const server::Caller& who) {
      return s_.cluster().member_remove(who, *req);
    });
  }
  grpc::Status MemberUpdate(grpc::ServerContext* ctx, const etcdserverpb::MemberUpdateRequest* req,
                            etcdserverpb::MemberUpdateResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp, [&](const server::Caller& who) {
      return s_.cluster().member_update(who, *req);
    });
  }
  grpc::Status MemberPromote(grpc::ServerContext* ctx,
                             const etcdserverpb::MemberPromoteRequest* req,
                             etcdserverpb::MemberPromoteResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp, [&](const server::Caller& who) {
      return s_.cluster().member_promote(who, *req);
    });
  }

 private:
  server::EtcdServer& s_;
};

class MaintenanceService final : public etcdserverpb::Maintenance::Service {
 public:
  explicit MaintenanceService(server::EtcdServer& s) : s_(s) {}
  grpc::Status Status(grpc::ServerContext*, const etcdserverpb::StatusRequest*,
                      etcdserverpb::StatusResponse* resp) override {
    return reply(s_.maintenance().status(), resp);
  }
  grpc::Status Alarm(grpc::ServerContext* ctx, const etcdserverpb::AlarmRequest* req,
                     etcdserverpb::AlarmResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as(ctx, s_, resp,
                    [&](const server::Caller& who) { return s_.maintenance().alarm(who, *req); });
  }
  grpc::Status Defragment(grpc::ServerContext* ctx, const etcdserverpb::DefragmentRequest*,
                          etcdserverpb::DefragmentResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as_admin(
        ctx, s_, resp, [&](const server::Caller& who) { return s_.maintenance().defragment(who); });
  }
  grpc::Status Hash(grpc::ServerContext* ctx, const etcdserverpb::HashRequest*,
                    etcdserverpb::HashResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as_admin(ctx, s_, resp,
                          [&](const server::Caller& who) { return s_.maintenance().hash(who); });
  }
  grpc::Status HashKV(grpc::ServerContext* ctx, const etcdserverpb::HashKVRequest* req,
                      etcdserverpb::HashKVResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply_as_admin(ctx, s_, resp, [&](const server::Caller& who) {
      return s_.maintenance().hash_kv(who, *req);
    });
  }
  grpc::Status Snapshot(grpc::ServerContext* ctx, const etcdserverpb::SnapshotRequest*,
                        grpc::ServerWriter<etcdserverpb::SnapshotResponse>* writer) override {
    if (s_.is_learner()) return learner_unsupported();
    auto who = caller_of(*ctx, s_);
    if (!who.is_ok()) return to_grpc(server::unconverted_auth_error(who.status()));
    return to_grpc(s_.maintenance().snapshot(*who, [&](const etcdserverpb::SnapshotResponse& r) {
      if (ctx->IsCancelled() || !writer->Write(r)) {
        return etcd::Status(Code::kCancelled, "context canceled");
      }
      return etcd::Status::ok();
    }));
  }
  grpc::Status MoveLeader(grpc::ServerContext*, const etcdserverpb::MoveLeaderRequest* req,
                          etcdserverpb::MoveLeaderResponse* resp) override {
    if (s_.is_learner()) return learner_unsupported();
    return reply(s_.maintenance().move_leader(*req), resp);
  }

 private:
  server::EtcdServer& s_;
};

}  // namespace

Result<server::Caller> caller_of(const grpc::ServerContextBase& ctx, server::EtcdServer& s) {
  auto who = caller(ctx, s.auth_store());
  if (!who.is_ok()) return who.status();
  return server::Caller::client(std::move(who).value());
}

grpc::Status to_grpc(const Status& s) {
  if (s.is_ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

Result<std::string> listen_address(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return invalid_argument("invalid URL " + url);
  std::string scheme = url.substr(0, sep);
  std::string host = url.substr(sep + 3);
  if (!host.empty() && host.back() == '/') host.pop_back();
  if (scheme == "http" || scheme == "https") return host;
  if (scheme == "unix" || scheme == "unixs") return "unix:" + host;
  return invalid_argument("listen URL " + url + ": unknown scheme " + scheme);
}

bool is_secure_url(const std::string& url) {
  return url.rfind("https://", 0) == 0 || url.rfind("unixs://", 0) == 0;
}

Status check_listen(const std::string& url) {
  auto addr = listen_address(url);
  if (!addr.is_ok()) return addr.status();
  if (addr->rfind("unix:", 0) == 0) return Status::ok();
  auto colon = addr->rfind(':');
  std::string host = addr->substr(0, colon);
  std::string port = addr->substr(colon + 1);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
      rc != 0) {
    return invalid_argument("listen tcp " + *addr + ": lookup " + host + ": " + gai_strerror(rc));
  }
  Status result;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0;
    int err = errno;
    close(fd);
    if (!ok) {
      result = Status(Code::kUnavailable, "listen tcp " + *addr + ": bind: " + std::strerror(err));
      // strerror says "Address already in use"; Go prints it in lower case.
      std::string msg = result.message();
      if (auto p = msg.find("Address already in use"); p != std::string::npos) {
        msg.replace(p, 1, "a");
      }
      result = Status(Code::kUnavailable, msg);
      break;
    }
  }
  freeaddrinfo(res);
  return result;
}

namespace {

// The log line etcd writes for each client listener.
void log_serving(log::Logger& logger, const std::string& url, const std::string& address,
                 bool metrics) {
  if (metrics) {
    logger.info("serving metrics", {{"address", url}});
  } else if (is_secure_url(url)) {
    logger.info("serving client traffic securely", {{"address", address}});
  } else {
    logger.info("serving client traffic insecurely; this is strongly discouraged!",
                {{"address", address}});
  }
}

}  // namespace

Result<std::unique_ptr<ClientServer>> ClientServer::start(server::EtcdServer& server,
                                                          const ClientServerOptions& options,
                                                          log::Logger& logger) {
  for (const auto* urls : {&options.urls, &options.http_urls, &options.metrics_urls}) {
    for (const auto& url : *urls) {
      if (is_secure_url(url) && options.tls == nullptr) {
        return invalid_argument(
            "TLS key/cert (--cert-file, --key-file) must be provided for client url " + url +
            " with HTTPS scheme");
      }
    }
  }
  for (const auto& url : options.http_urls) {
    for (const auto& u : options.urls) {
      auto a = listen_address(u);
      auto b = listen_address(url);
      if (a.is_ok() && b.is_ok() && *a == *b) {
        return invalid_argument(
            "cannot bind both --client-listen-urls and --client-listen-http-urls on the same "
            "url " +
            url);
      }
    }
  }
  std::unique_ptr<ClientServer> cs(new ClientServer());
  cs->services_.push_back(std::make_unique<KvService>(server));
  cs->services_.push_back(std::make_unique<ClusterService>(server));
  cs->services_.push_back(std::make_unique<MaintenanceService>(server));
  cs->services_.push_back(make_lease_service(server));
  cs->services_.push_back(make_auth_service(server));
  auto watch = make_watch_service(server, options.max_request_bytes);
  cs->watch_ = watch.get();
  cs->services_.push_back(std::move(watch));
  auto self = std::make_shared<SelfClient>();  // Lock and Election run through it
  cs->services_.push_back(make_lock_service(server, self));
  cs->services_.push_back(make_election_service(server, self));

  grpc::ServerBuilder builder;
  // etcd allows requests up to --max-request-bytes plus gRPC's framing.
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_request_bytes + 512 * 1024));
  builder.SetMaxSendMessageSize(std::numeric_limits<int>::max());
  // etcd's keepalive policy (--grpc-keepalive-*): pings closer together than
  // min_time count as abuse (gRPC sends GOAWAY after a few), none are
  // allowed without a stream open, and the server probes idle connections.
  auto ms = [](int64_t ns) {
    return static_cast<int>(std::min<int64_t>(ns / 1000000, std::numeric_limits<int>::max()));
  };
  const auto& keepalive = options.keepalive;
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(keepalive.min_time_ns));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  if (keepalive.interval_ns > 0) {
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(keepalive.interval_ns));
  }
  if (keepalive.timeout_ns > 0) {
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(keepalive.timeout_ns));
  }
  // Handlers block for a raft round: keep a pool of polling threads alive
  // instead of letting gRPC create and retire one per burst of requests.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 8);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  for (auto& s : cs->services_) builder.RegisterService(s.get());
  // etcd's gRPC metrics: every method of the services served starts at
  // zero; --metrics extensive adds the handling-time histogram.
  cs->grpc_metrics_ = std::make_unique<metrics::GrpcServerMetrics>(
      metrics::Metrics::global(),
      std::vector<std::string>{"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease",
                               "etcdserverpb.Cluster", "etcdserverpb.Maintenance",
                               "etcdserverpb.Auth"},
      options.extensive_metrics);
  {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(cs->grpc_metrics_->factory());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  // Every connection reaches gRPC through our listeners (see
  // add_hidden_port).
  auto hidden = add_hidden_port(builder);
  if (!hidden.is_ok()) return hidden.status();
  cs->server_ = builder.BuildAndStart();
  remove_hidden_port(*hidden);
  if (!cs->server_) return Status(Code::kUnavailable, "failed to start the gRPC server");
  cs->self_client_ = self->attach_to(*cs->server_);

  cs->http_ = std::make_unique<ClientHttp>(server, logger);
  // The JSON gateway calls the services through the server's in-process
  // channel: auth, errors and interceptors as for gRPC clients.
  grpc::ChannelArguments gateway_args;
  gateway_args.SetMaxReceiveMessageSize(-1);
  bool client_cert_auth = options.tls != nullptr && options.tls->options().client_cert_auth;
  cs->gateway_ = std::make_unique<gateway::Gateway>(
      cs->server_->InProcessChannel(gateway_args), [&server, client_cert_auth] {
        // etcd refuses a client certificate's CN on the gateway when it
        // would be the caller (client certificate auth with auth on).
        return client_cert_auth && server.auth_store().enabled();
      });
  cs->http_->client_router().add_prefix("/v3/", cs->gateway_.get());
  cs->http_->client_router().add_prefix("/v3beta/", cs->gateway_.get());
  cs->metrics_handler_ = std::make_unique<metrics::MetricsHandler>(metrics::Metrics::global());
  cs->http_->client_router().add_exact("/metrics", cs->metrics_handler_.get());
  cs->http_->metrics_router().add_exact("/metrics", cs->metrics_handler_.get());

  // etcd's access controller (CORS, host whitelist) in front of the client
  // URLs' HTTP side; not of the metrics URLs'.
  cs->access_ = std::make_unique<http::AccessHandler>(
      cs->http_->client_router(), options.access, [&logger](const std::string& host) {
        logger.warn("rejecting HTTP request to prevent DNS rebinding attacks", {{"host", host}});
      });
  struct Group {
    const std::vector<std::string>* urls;
    ClientListener::Serve serve;
    http::Handler* router;
    bool metrics;
  };
  const Group groups[] = {
      {&options.urls,
       options.http_urls.empty() ? ClientListener::Serve::kGrpcAndHttp
                                 : ClientListener::Serve::kGrpcOnly,
       cs->access_.get(), false},
      {&options.http_urls, ClientListener::Serve::kHttpOnly, cs->access_.get(), false},
      {&options.metrics_urls, ClientListener::Serve::kHttpOnly, &cs->http_->metrics_router(), true},
  };
  for (const auto& g : groups) {
    if (g.urls->empty()) continue;
    ClientListener::Options o;
    o.urls = *g.urls;
    o.serve = g.serve;
    o.tls = options.tls;
    o.server = cs->server_.get();
    o.http = g.router;
    o.http_limits.max_body_bytes = options.max_request_bytes + 512 * 1024;
    o.logger = &logger;
    auto l = ClientListener::start(std::move(o));
    if (!l.is_ok()) {
      cs->shutdown();
      return l.status();
    }
    for (size_t i = 0; i < g.urls->size(); ++i) {
      log_serving(logger, (*g.urls)[i], (*l)->addresses()[i], g.metrics);
    }
    cs->listeners_.push_back(std::move(l).value());
  }
  return cs;
}

std::vector<std::string> ClientServer::client_addresses() const {
  return listeners_.empty() ? std::vector<std::string>{} : listeners_.front()->addresses();
}

ClientServer::~ClientServer() { shutdown(); }

void ClientServer::shutdown() {
  if (server_) {
    // No new connections; those up keep pumping while calls finish.
    for (auto& l : listeners_) l->stop_accepting();
    // Health checks in progress finish; no new ones start.
    if (http_) http_->stop();
    // Watch streams, locks and elections never end on their own: end them,
    // then give unary calls up to 2 s to finish.
    if (self_client_ != nullptr) self_client_->stop();
    if (watch_ != nullptr) watch_->cancel_all();
    if (gateway_) gateway_->cancel_all();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    for (auto& l : listeners_) l->stop();
    listeners_.clear();
    gateway_.reset();
    http_.reset();
    server_.reset();
  }
}

}  // namespace etcd::rpc
