#include "rpc/v2http/keys.h"

#include <utility>
#include <vector>

#include "base/mutex.h"
#include "rpc/v2http/form.h"

namespace etcd::rpc::v2http {

namespace {

constexpr std::string_view kKeysPrefix = "/v2/keys";

v2store::Error request_error(int code, std::string cause) {
  return v2store::Error{code, std::move(cause), 0};
}

std::string hex(uint64_t v) {
  char buf[17];
  snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The cause of a store error names the stored key: the client sees it
// without the "/1" (etcd's trimErrorPrefix).
v2store::Error trim_error(v2store::Error e) {
  if (e.cause.rfind(server::kV2KeysPrefix, 0) == 0) {
    e.cause = e.cause.substr(server::kV2KeysPrefix.size());
  }
  return e;
}

bool drops_value(const std::string& action) {
  return action == "set" || action == "compareAndSwap" || action == "create" || action == "update";
}

// Go's path.Join("/1", p).
std::string join_keys(std::string_view p) {
  return v2store::clean_path(std::string(server::kV2KeysPrefix) + "/" + std::string(p));
}

http::Response event_response(const v2store::Event& ev, uint64_t raft_index, uint64_t raft_term,
                              bool head, bool no_value_on_success, http::Headers base) {
  http::Response resp;
  resp.status = ev.is_created() ? 201 : 200;
  resp.headers = std::move(base);
  resp.headers.emplace_back("X-Etcd-Index", std::to_string(ev.etcd_index));
  resp.headers.emplace_back("X-Raft-Index", std::to_string(raft_index));
  resp.headers.emplace_back("X-Raft-Term", std::to_string(raft_term));
  if (!head) {
    v2store::Event out = ev.trim_prefix(server::kV2KeysPrefix);
    if (no_value_on_success && drops_value(out.action)) {
      out.node.reset();
      out.prev_node.reset();
    }
    resp.body = out.to_json() + "\n";
  }
  return resp;
}

http::Response error_response(const v2store::Error& e, bool head, http::Headers base) {
  http::Response resp = key_error_response(e);
  http::Headers h = std::move(base);
  h.insert(h.end(), resp.headers.begin(), resp.headers.end());
  resp.headers = std::move(h);
  if (head) resp.body.clear();
  return resp;
}

// The shared state of one wait: events that arrive before the stream's
// header is out are held (at most one: a wait's first event comes from
// the history while watch() runs).
//
// The responder is dropped when the wait ends: the store's watcher holds
// the sink, the sink this state, and the responder the cancel hook that
// holds the watch, a cycle while the wait runs.
struct WaitState {
  Mutex mu;
  std::shared_ptr<http::Responder> r ABSL_GUARDED_BY(mu);
  bool started ABSL_GUARDED_BY(mu) = false;
  bool done ABSL_GUARDED_BY(mu) = false;
  std::vector<std::string> pending ABSL_GUARDED_BY(mu);
};

}  // namespace

http::Response key_error_response(const v2store::Error& e) {
  http::Response resp;
  resp.status = e.http_status();
  resp.headers.emplace_back("X-Etcd-Index", std::to_string(e.index));
  resp.body = e.to_json() + "\n";
  return resp;
}

std::variant<KeyRequest, v2store::Error> parse_key_request(const http::Request& r, int64_t now_ns) {
  std::string ferr;
  auto form_or = parse_form(r, &ferr);
  if (!form_or) return request_error(v2store::kInvalidForm, ferr);
  const Form& form = *form_or;
  if (r.path.rfind(kKeysPrefix, 0) != 0) {
    return request_error(v2store::kInvalidForm, "incorrect key prefix");
  }
  auto decoded = unescape_path(r.path);
  if (!decoded) return request_error(v2store::kInvalidForm, "incorrect key prefix");
  const std::string path = join_keys(std::string_view(*decoded).substr(kKeysPrefix.size()));

  auto get_uint = [&](const std::string& name, uint64_t* out) {
    auto it = form.values.find(name);
    if (it == form.values.end()) return true;
    auto v = parse_go_uint64(it->second.front());
    if (!v) return false;
    *out = *v;
    return true;
  };
  auto get_bool = [&](const std::string& name, bool* out) {
    auto it = form.values.find(name);
    if (it == form.values.end()) return true;
    auto v = parse_go_bool(it->second.front());
    if (!v) return false;
    *out = *v;
    return true;
  };
  auto invalid = [](const std::string& name) {
    return request_error(v2store::kInvalidField, "invalid value for \"" + name + "\"");
  };

  uint64_t prev_index = 0, wait_index = 0;
  if (!get_uint("prevIndex", &prev_index)) {
    return request_error(v2store::kIndexNaN, "invalid value for \"prevIndex\"");
  }
  if (!get_uint("waitIndex", &wait_index)) {
    return request_error(v2store::kIndexNaN, "invalid value for \"waitIndex\"");
  }
  bool recursive = false, sorted = false, wait = false, dir = false, quorum = false, stream = false;
  for (auto [name, out] :
       {std::pair{"recursive", &recursive}, std::pair{"sorted", &sorted}, std::pair{"wait", &wait},
        std::pair{"dir", &dir}, std::pair{"quorum", &quorum}, std::pair{"stream", &stream}}) {
    if (!get_bool(name, out)) return invalid(name);
  }
  if (wait && r.method != "GET") {
    return request_error(v2store::kInvalidField, "\"wait\" can only be used with GET requests");
  }
  const std::string prev_value = form.value("prevValue");
  if (form.has("prevValue") && prev_value.empty()) {
    return request_error(v2store::kPrevValueRequired, "\"prevValue\" cannot be empty");
  }
  bool no_value = false;
  if (!get_bool("noValueOnSuccess", &no_value)) return invalid("noValueOnSuccess");
  // An empty ttl is no ttl.
  std::optional<uint64_t> ttl;
  if (!form.value("ttl").empty()) {
    uint64_t t = 0;
    if (!get_uint("ttl", &t)) {
      return request_error(v2store::kTTLNaN, "invalid value for \"ttl\"");
    }
    ttl = t;
  }
  std::optional<bool> prev_exist;
  if (form.has("prevExist")) {
    bool b = false;
    if (!get_bool("prevExist", &b)) {
      return request_error(v2store::kInvalidField, "invalid value for prevExist");
    }
    prev_exist = b;
  }
  std::optional<bool> refresh;
  if (form.has("refresh")) {
    bool b = false;
    if (!get_bool("refresh", &b)) {
      return request_error(v2store::kInvalidField, "invalid value for refresh");
    }
    refresh = b;
    if (b) {
      if (form.has("value") && !form.value("value").empty()) {
        return request_error(v2store::kRefreshValue, "A value was provided on a refresh");
      }
      if (!ttl) return request_error(v2store::kRefreshTTLRequired, "No TTL value set");
    }
  }

  KeyRequest kr;
  kr.no_value_on_success = no_value;
  etcdserverpb::Request& q = kr.req;
  // Every field Go's encoder always writes is set; prevExist and refresh
  // only when given (they are pointers there).
  q.set_method(r.method);
  q.set_path(path);
  q.set_val(form.value("value"));
  q.set_dir(dir);
  q.set_prev_value(prev_value);
  q.set_prev_index(prev_index);
  if (prev_exist) q.set_prev_exist(*prev_exist);
  q.set_wait(wait);
  q.set_since(wait_index);
  q.set_recursive(recursive);
  q.set_sorted(sorted);
  q.set_quorum(quorum);
  q.set_stream(stream);
  if (refresh) q.set_refresh(*refresh);
  // Go: now + ttl seconds (a Duration: wraps past ~292 years as Go's does).
  q.set_expiration(ttl ? static_cast<int64_t>(static_cast<uint64_t>(now_ns) + *ttl * 1000000000ULL)
                       : 0);
  q.set_time(0);
  return kr;
}

KeysHandler::KeysHandler(server::V2Api& api, TaskPool& pool, std::function<uint64_t()> cluster_id,
                         std::function<int64_t()> now_ns)
    : api_(api), pool_(pool), cluster_id_(std::move(cluster_id)), now_ns_(std::move(now_ns)) {}

void KeysHandler::handle(http::Request req, std::shared_ptr<http::Responder> r) {
  auto decoded = unescape_path(req.path);
  if (!decoded) return r->respond(bad_request());
  if (auto redirect = redirect_unclean(*decoded, req.query, req.method)) {
    return r->respond(std::move(*redirect));
  }
  const std::string& m = req.method;
  if (m != "HEAD" && m != "GET" && m != "PUT" && m != "POST" && m != "DELETE") {
    auto resp = http::text_error(405, "Method Not Allowed");
    resp.headers.emplace_back("Allow", "HEAD,GET,PUT,POST,DELETE");
    return r->respond(std::move(resp));
  }
  http::Headers base{{"X-Etcd-Cluster-Id", hex(cluster_id_())}};
  const bool head = m == "HEAD";
  auto parsed = parse_key_request(req, now_ns_());
  if (auto* e = std::get_if<v2store::Error>(&parsed)) {
    return r->respond(error_response(*e, head, std::move(base)));
  }
  KeyRequest kr = std::move(std::get<KeyRequest>(parsed));
  const etcdserverpb::Request& q = kr.req;
  // etcd turns a GET with quorum into a QGET before it looks at wait; a
  // HEAD reads the local store, quorum or not.
  if (m == "HEAD" || (m == "GET" && !q.quorum())) {
    if (m == "GET" && q.wait()) return watch(kr, std::move(base), std::move(r));
    // A local read: no waiting, so it is answered here.
    auto got = api_.store().get(q.path(), q.recursive(), q.sorted());
    server::V2Outcome o;
    o.raft_term = api_.raft_term();
    o.raft_index = api_.raft_index();
    if (auto* ev = std::get_if<v2store::Event>(&got)) {
      o.result = std::move(*ev);
    } else {
      o.result = std::get<v2store::Error>(std::move(got));
    }
    return answer(o, head, kr.no_value_on_success, std::move(base), r);
  }
  auto task = [this, kr = std::move(kr), base, r, head]() mutable {
    auto out = api_.do_request(std::move(kr.req));
    if (!out.is_ok()) {
      v2store::Error e{v2store::kRaftInternal, std::string(out.status().message()), 0};
      return r->respond(error_response(e, head, std::move(base)));
    }
    answer(*out, head, kr.no_value_on_success, std::move(base), r);
  };
  if (!pool_.try_post(std::move(task))) {
    v2store::Error e{v2store::kRaftInternal, "etcdserver: too many requests", 0};
    r->respond(error_response(e, head, std::move(base)));
  }
}

void KeysHandler::answer(const server::V2Outcome& o, bool head, bool no_value_on_success,
                         http::Headers base, const std::shared_ptr<http::Responder>& r) {
  if (const auto* e = std::get_if<v2store::Error>(&o.result)) {
    return r->respond(error_response(trim_error(*e), head, std::move(base)));
  }
  r->respond(event_response(std::get<v2store::Event>(o.result), o.raft_index, o.raft_term, head,
                            no_value_on_success, std::move(base)));
}

void KeysHandler::watch(const KeyRequest& kr, http::Headers base,
                        std::shared_ptr<http::Responder> r) {
  const etcdserverpb::Request& q = kr.req;
  auto st = std::make_shared<WaitState>();
  {
    MutexLock l(&st->mu);
    st->r = r;
  }
  const bool stream = q.stream();
  v2store::WatchSink sink = [st, stream](const v2store::Event& ev) {
    std::string chunk = ev.trim_prefix(server::kV2KeysPrefix).to_json() + "\n";
    MutexLock l(&st->mu);
    if (st->done) return false;
    if (!st->started) {
      st->pending.push_back(std::move(chunk));
      if (!stream) st->done = true;
      return stream;
    }
    const bool ok = st->r->write(std::move(chunk));
    if (!ok || !stream) {
      st->done = true;
      if (ok) st->r->finish();
      st->r.reset();
      return false;
    }
    return true;
  };
  auto w = api_.store().watch(q.path(), q.recursive(), stream, q.since(), std::move(sink));
  if (auto* e = std::get_if<v2store::Error>(&w)) {
    {
      MutexLock l(&st->mu);
      st->r.reset();
    }
    return r->respond(error_response(trim_error(*e), false, std::move(base)));
  }
  std::shared_ptr<v2store::Watch> watch = std::get<std::shared_ptr<v2store::Watch>>(w);
  http::Headers h = std::move(base);
  h.emplace_back("X-Etcd-Index", std::to_string(watch->start_index()));
  h.emplace_back("X-Raft-Index", std::to_string(api_.raft_index()));
  h.emplace_back("X-Raft-Term", std::to_string(api_.raft_term()));
  bool ended = false;
  {
    MutexLock l(&st->mu);
    st->started = true;
    r->start_stream(200, "application/json", std::move(h));
    bool ok = true;
    for (auto& chunk : st->pending) ok = ok && r->write(std::move(chunk));
    st->pending.clear();
    if (!ok) st->done = true;
    if (st->done) {
      if (ok) r->finish();
      st->r.reset();
      ended = true;
    }
  }
  if (ended) {
    watch->cancel();
    return;
  }
  // The store's lock is taken by cancel(): not under st->mu (the sink
  // takes st->mu under the store's lock).
  r->on_cancel([watch, st] {
    watch->cancel();
    MutexLock l(&st->mu);
    st->done = true;
    st->r.reset();
  });
}

}  // namespace etcd::rpc::v2http
