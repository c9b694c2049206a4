#include "rpc/client_http.h"

#include <nlohmann/json.hpp>
#include <set>

#include "base/version.h"

namespace etcd::rpc {

namespace {

constexpr size_t kCheckThreads = 2;
constexpr size_t kMaxQueuedChecks = 64;

bool only_get(const http::Request& req, const std::shared_ptr<http::Responder>& r) {
  if (req.method == "GET") return true;
  auto resp = http::text_error(405, "Method Not Allowed");
  resp.headers.emplace_back("Allow", "GET");
  r->respond(std::move(resp));
  return false;
}

std::set<std::string> query_set(const http::Request& req, std::string_view name) {
  std::set<std::string> out;
  for (auto& v : req.query_params(name)) {
    if (!v.empty()) out.insert(std::move(v));
  }
  return out;
}

}  // namespace

ClientHttp::ClientHttp(server::EtcdServer& server, log::Logger& logger)
    : server_(server), logger_(logger), checker_(server), pool_(kCheckThreads, kMaxQueuedChecks) {
  auto add = [this](std::function<void(http::Request, std::shared_ptr<http::Responder>)> f) {
    handlers_.push_back(std::make_unique<http::FunctionHandler>(std::move(f)));
    return handlers_.back().get();
  };
  auto* health = add([this](http::Request q, std::shared_ptr<http::Responder> r) {
    this->health(std::move(q), std::move(r));
  });
  auto* version = add([this](http::Request q, std::shared_ptr<http::Responder> r) {
    this->version(std::move(q), std::move(r));
  });
  client_.add_exact("/health", health);
  client_.add_exact("/version", version);
  if (server.v2_enabled()) {
    v2_cluster_ = std::make_unique<v2http::ServerV2Cluster>(server);
    v2_ = std::make_unique<v2http::V2Routes>(server.v2(), *v2_cluster_);
    v2_->register_routes(client_);
  }
  metrics_.add_exact("/health", health);
  for (const auto& [type, names] :
       {std::pair{std::string("livez"), &server::HealthChecker::livez_checks()},
        std::pair{std::string("readyz"), &server::HealthChecker::readyz_checks()}}) {
    const std::string t = type;
    const std::vector<std::string>* all = names;
    client_.add_exact("/" + t,
                      add([this, all](http::Request q, std::shared_ptr<http::Responder> r) {
                        // The root runs every check but those excluded.
                        std::set<std::string> excluded = query_set(q, "exclude");
                        std::vector<std::string> run;
                        for (const auto& n : *all) {
                          if (excluded.erase(n) == 0) run.push_back(n);
                        }
                        if (!excluded.empty()) {
                          std::string missing;
                          for (const auto& n : excluded)
                            missing += (missing.empty() ? "\"" : ",\"") + n + "\"";
                          logger_.warn("some health checks cannot be excluded",
                                       {{"missing-health-checks", missing}});
                        }
                        checks(run, std::move(q), std::move(r));
                      }));
    for (const auto& n : *all) {
      const std::string name = n;
      client_.add_exact("/" + t + "/" + name,
                        add([this, name](http::Request q, std::shared_ptr<http::Responder> r) {
                          checks({name}, std::move(q), std::move(r));
                        }));
    }
  }
}

ClientHttp::~ClientHttp() { stop(); }

void ClientHttp::off_thread(const std::shared_ptr<http::Responder>& r, std::function<void()> fn) {
  if (!pool_.try_post(std::move(fn))) {
    r->respond(http::text_error(503, "too many health checks in progress"));
  }
}

void ClientHttp::health(http::Request req, std::shared_ptr<http::Responder> r) {
  if (!only_get(req, r)) {
    logger_.warn("/health error", {{"status-code", 405}});
    return;
  }
  auto excluded = query_set(req, "exclude");
  bool serializable = req.query_param("serializable").value_or("") == "true";
  off_thread(r, [this, r, excluded = std::move(excluded), serializable] {
    server::Health h = checker_.health(excluded, serializable);
    nlohmann::ordered_json j;
    j["health"] = h.healthy ? "true" : "false";
    j["reason"] = h.reason;
    std::string body = j.dump();
    if (!h.healthy) {
      logger_.warn("/health error", {{"output", body}, {"status-code", 503}});
      r->respond(http::text_error(503, body));
      return;
    }
    http::Response resp;
    resp.content_type = "text/plain; charset=utf-8";  // what Go sniffs for it
    resp.body = std::move(body);
    r->respond(std::move(resp));
  });
}

void ClientHttp::checks(const std::vector<std::string>& names, http::Request req,
                        std::shared_ptr<http::Responder> r) {
  if (!only_get(req, r)) {
    logger_.warn("Health request error", {{"path", req.path}, {"status-code", 405}});
    return;
  }
  bool verbose = req.query_param("verbose").has_value();
  off_thread(r, [this, r, names, verbose, p = req.path] {
    bool ok = true;
    std::string detail;
    for (const auto& n : names) {
      server::CheckResult c = checker_.run(n);
      if (c.ok) {
        detail += "[+]" + n + " ok\n";
      } else {
        ok = false;
        detail += "[-]" + n + " failed: " + c.error + "\n";
      }
    }
    if (!ok) {
      logger_.error("Health check error", {{"path", p}, {"reason", detail}, {"status-code", 503}});
      // Go's http.Error adds a newline after the detail's own.
      r->respond(http::text_error(503, detail));
      return;
    }
    http::Response resp;
    resp.content_type = "text/plain; charset=utf-8";
    resp.headers.emplace_back("X-Content-Type-Options", "nosniff");
    resp.body = (verbose ? detail : "") + "ok\n";
    r->respond(std::move(resp));
  });
}

void ClientHttp::version(http::Request req, std::shared_ptr<http::Responder> r) {
  if (!only_get(req, r)) return;
  std::string cluster = server_.cluster_version();
  nlohmann::ordered_json j;
  j["etcdserver"] = kEtcdVersion;
  j["etcdcluster"] = cluster.empty() ? "not_decided" : cluster;
  http::Response resp;
  resp.body = j.dump();
  r->respond(std::move(resp));
}

}  // namespace etcd::rpc
