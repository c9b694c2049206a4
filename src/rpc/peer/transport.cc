#include "rpc/peer/transport.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/beast.hpp>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>

#include "base/encoding.h"
#include "base/version.h"
#include "metrics/metrics.h"
#include "rpc/peer/codec.h"
#include "rpc/peer/http_client.h"
#include "rpc/peer/peer_stream.h"

namespace etcd::rpc::peer {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

// etcd's ConnReadTimeout / ConnWriteTimeout, and its link heartbeat period.
constexpr auto kConnTimeout = std::chrono::seconds(5);
constexpr auto kHeartbeat = std::chrono::milliseconds(5000 / 3);
constexpr auto kDialTimeout = std::chrono::seconds(1);
constexpr auto kProbeInterval = std::chrono::seconds(5);
constexpr auto kSnapshotWriteTimeout = std::chrono::seconds(30);
constexpr const char* kMinClusterVersion = "3.0.0";

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool is_msg_app(const raftpb::Message& m) { return m.type() == raftpb::MsgApp; }

std::string path_of(std::string_view target) {
  auto q = target.find('?');
  return std::string(q == std::string_view::npos ? target : target.substr(0, q));
}

}  // namespace

// One of the peer's GETs on our port, kept open: we write the messages
// addressed to that peer on it, as chunks. I/O thread.
struct PeerTransport::OutStream : std::enable_shared_from_this<OutStream> {
  OutStream(PeerStream s, bool app)
      : stream(std::move(s)), msgapp(app), heartbeat(stream.get_executor()) {}
  PeerStream stream;
  const bool msgapp;
  MsgAppV2Encoder encoder;
  std::deque<std::string> queue;
  bool writing = false;
  bool closed = false;
  bool wrote_since_tick = false;
  prometheus::Counter* sent_bytes = nullptr;  // the peer's, once handed over
  asio::steady_timer heartbeat;
  std::function<void()> on_close;

  bool enqueue(const raftpb::Message& m) {
    if (closed) return false;
    if (queue.size() >= kStreamQueue) return false;
    std::string out;
    if (msgapp) {
      encoder.encode(m, &out);
    } else {
      encode_message(m, &out);
    }
    queue.push_back(std::move(out));
    if (!writing) write_next();
    return true;
  }

  void write_next() {
    if (closed || queue.empty()) {
      writing = false;
      return;
    }
    writing = true;
    wrote_since_tick = true;
    stream.expires_after(kConnTimeout);
    auto self = shared_from_this();
    asio::async_write(
        stream, http::make_chunk(asio::buffer(queue.front())),
        [self](beast::error_code ec, size_t) {
          // close() empties the queue while a write is in
          // flight: nothing is left to pop then.
          if (ec || self->closed) {
            self->close();
            return;
          }
          if (self->sent_bytes != nullptr) {
            self->sent_bytes->Increment(static_cast<double>(self->queue.front().size()));
          }
          self->queue.pop_front();
          self->write_next();
        });
  }

  void tick() {
    if (closed) return;
    heartbeat.expires_after(kHeartbeat);
    auto self = shared_from_this();
    heartbeat.async_wait([self](beast::error_code ec) {
      if (ec || self->closed) return;
      if (!self->wrote_since_tick) self->enqueue(link_heartbeat());
      self->wrote_since_tick = false;
      self->tick();
    });
  }

  void close() {
    if (closed) return;
    // on_close may drop the peer's reference to this stream.
    auto self = shared_from_this();
    closed = true;
    heartbeat.cancel();
    stream.close();
    // The chunk being written stays alive until its handler runs.
    if (writing && !queue.empty()) {
      queue.erase(queue.begin() + 1, queue.end());
    } else {
      queue.clear();
    }
    if (on_close) on_close();
  }
};

// One remote member, as the I/O thread knows it.
struct PeerTransport::Peer {
  uint64_t id = 0;
  std::string hex;
  std::vector<std::string> urls;
  size_t url_next = 0;                   // the URL the readers try next
  bool alive = true;                     // false once removed: its coroutines end
  std::shared_ptr<OutStream> writer[2];  // [0] message, [1] msgappv2
  std::shared_ptr<PeerStream> reader[2];
  bool reading[2] = {false, false};
  bool active = false;
  std::deque<raftpb::Message> pipeline;
  bool pipelining = false;
  std::string last_error;
  int64_t rtt_ns = 0;
  metrics::PeerMetrics m;  // this peer's series (labels To/From = hex)

  const std::string& url() { return urls[url_next % urls.size()]; }
};

PeerTransport::PeerTransport(Options options)
    : options_(std::move(options)),
      local_(options_.context.local.value()),
      local_hex_(to_hex(options_.context.local)),
      cluster_hex_(to_hex(MemberId(options_.context.cluster_id))),
      host_(*options_.context.host),
      logger_(*options_.logger) {}

Result<std::unique_ptr<PeerTransport>> PeerTransport::create(Options options) {
  std::unique_ptr<PeerTransport> t(new PeerTransport(std::move(options)));
  for (const auto& url : t->options_.listen_urls) {
    auto u = parse_http_url(url);
    if (!u.is_ok()) return u.status();
    beast::error_code ec;
    auto addr = asio::ip::make_address(u->host == "localhost" ? "127.0.0.1" : u->host, ec);
    if (ec) return invalid_argument("cannot listen on " + url + ": " + ec.message());
    tcp::endpoint ep(addr, static_cast<uint16_t>(std::stoi(u->port)));
    auto acc = std::make_unique<tcp::acceptor>(t->io_);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(Code::kUnavailable,
                    "listen tcp " + u->host + ":" + u->port + ": bind: " + ec.message());
    }
    // The bound port (a test may listen on port 0).
    t->addresses_.push_back(u->host + ":" + std::to_string(acc->local_endpoint(ec).port()));
    if (u->scheme == "https" && !t->options_.server_tls) {
      return invalid_argument("cannot listen on TLS for " + t->addresses_.back() +
                              ": KeyFile and CertFile are not presented");
    }
    t->acceptors_.push_back(std::move(acc));
    t->acceptor_tls_.push_back(u->scheme == "https");
  }
  return t;
}

PeerTransport::~PeerTransport() { stop(); }

void PeerTransport::start() {
  app_pool_ = std::make_unique<asio::thread_pool>(2);
  for (size_t i = 0; i < acceptors_.size(); ++i) {
    logger_.info("serving peer traffic", {{"address", addresses_[i]}});
    accept(i);
  }
  thread_ = std::thread([this] { io_.run(); });
}

void PeerTransport::stop() {
  if (stopping_.exchange(true)) return;
  const bool served = thread_.joinable();
  if (served) {
    for (const auto& a : addresses_)
      logger_.info("stopping serving peer traffic", {{"address", a}});
    std::promise<void> closed;
    asio::post(io_, [this, &closed] {
      stopped_ = true;
      for (auto& a : acceptors_) {
        beast::error_code ec;
        a->close(ec);
      }
      for (auto& [id, p] : peers_) {
        p->alive = false;
        for (auto w : p->writer) {
          if (w) w->close();
        }
        for (auto& r : p->reader) {
          if (r) r->close();
        }
      }
      closed.set_value();
    });
    closed.get_future().wait();
    io_.stop();
    thread_.join();
  }
  if (app_pool_) app_pool_->join();
  if (served) {
    for (const auto& a : addresses_) logger_.info("stopped serving peer traffic", {{"address", a}});
  }
  std::vector<std::thread> snaps;
  {
    MutexLock lock(&snap_mu_);
    snaps.swap(snap_threads_);
  }
  for (auto& t : snaps) t.join();
  peers_.clear();
  acceptors_.clear();
}

bool PeerTransport::partitioned() const {
  if (options_.partition_file.empty()) return false;
  return ::access(options_.partition_file.c_str(), F_OK) == 0;
}

std::vector<std::pair<std::string, std::string>> PeerTransport::request_headers(uint64_t to) const {
  return {{"X-Server-From", local_hex_},
          {"X-Server-Version", kEtcdVersion},
          {"X-Min-Cluster-Version", kMinClusterVersion},
          {"X-Etcd-Cluster-ID", cluster_hex_},
          {"X-Raft-To", to_hex(MemberId(to))},
          {"X-PeerURLs", join(options_.advertise_urls, ",")}};
}

void PeerTransport::add_peer(MemberId id, const std::vector<std::string>& urls) {
  if (id.value() == local_ || urls.empty()) return;
  asio::post(io_, [this, id, urls] {
    if (stopped_ || peers_.count(id.value())) return;
    auto p = std::make_shared<Peer>();
    p->id = id.value();
    p->hex = to_hex(id);
    p->m = metrics::Metrics::global().peer(p->hex);
    p->urls = urls;
    peers_[p->id] = p;
    logger_.info(
        "added remote peer",
        {{"local-member-id", local_hex_}, {"remote-peer-id", p->hex}, {"remote-peer-urls", urls}});
    asio::co_spawn(io_, read_stream(p, true), asio::detached);
    asio::co_spawn(io_, read_stream(p, false), asio::detached);
    asio::co_spawn(io_, probe(p), asio::detached);
  });
}

void PeerTransport::remove_peer(MemberId id) {
  asio::post(io_, [this, id] {
    auto it = peers_.find(id.value());
    if (it == peers_.end()) return;
    auto p = it->second;
    peers_.erase(it);
    p->alive = false;
    for (auto w : p->writer) {
      if (w) w->close();
    }
    for (auto& r : p->reader) {
      if (r) r->close();
    }
    {
      MutexLock lock(&active_mu_);
      active_.erase(p->id);
    }
    logger_.info("removed remote peer",
                 {{"local-member-id", local_hex_}, {"removed-remote-peer-id", p->hex}});
  });
}

void PeerTransport::update_peer(MemberId id, const std::vector<std::string>& urls) {
  asio::post(io_, [this, id, urls] {
    auto it = peers_.find(id.value());
    if (it == peers_.end() || urls.empty()) return;
    it->second->urls = urls;
    for (auto& r : it->second->reader) {
      if (r) r->close();  // reconnect to the new address
    }
    logger_.info("updated remote peer", {{"local-member-id", local_hex_},
                                         {"updated-remote-peer-id", it->second->hex},
                                         {"updated-remote-peer-urls", urls}});
  });
}

std::optional<std::chrono::steady_clock::time_point> PeerTransport::active_since(MemberId id) {
  MutexLock lock(&active_mu_);
  auto it = active_.find(id.value());
  if (it == active_.end()) return std::nullopt;
  return it->second;
}

void PeerTransport::set_active(Peer& p, bool active, const std::string& why) {
  if (p.active == active) return;
  p.active = active;
  {
    MutexLock lock(&active_mu_);
    if (active) {
      active_[p.id] = std::chrono::steady_clock::now();
    } else {
      active_.erase(p.id);
    }
  }
  if (active) {
    logger_.info("peer became active", {{"peer-id", p.hex}});
  } else {
    logger_.warn("peer became inactive (message send to peer failed)",
                 {{"peer-id", p.hex}, {"error", why}});
  }
}

void PeerTransport::send(std::vector<raftpb::Message> msgs) {
  if (msgs.empty() || stopping_) return;
  asio::post(io_, [this, msgs = std::move(msgs)]() mutable {
    for (auto& m : msgs) dispatch(std::move(m));
  });
}

void PeerTransport::dispatch(raftpb::Message m) {
  if (stopped_) return;
  auto it = peers_.find(m.to());
  if (it == peers_.end()) return;  // not (or no longer) a member
  Peer& p = *it->second;
  if (partitioned()) {
    host_.report_unreachable(MemberId(m.to()));
    if (m.type() == raftpb::MsgSnap) host_.report_snapshot(MemberId(m.to()), true);
    return;
  }
  if (m.type() == raftpb::MsgSnap) {
    send_snapshot(std::move(m), p.urls);
    return;
  }
  auto& app = p.writer[1];
  auto& msg = p.writer[0];
  bool sent = false;
  bool queued_full = false;
  if (is_msg_app(m) && app && !app->closed) {
    sent = app->enqueue(m);
    queued_full = !sent;
  } else if (msg && !msg->closed) {
    sent = msg->enqueue(m);
    queued_full = !sent;
  } else if (p.pipeline.size() < kPipelineQueue) {
    p.pipeline.push_back(m);
    sent = true;
    if (!p.pipelining) {
      p.pipelining = true;
      asio::co_spawn(io_, run_pipeline(it->second), asio::detached);
    }
  } else {
    queued_full = true;
  }
  if (!sent) {
    p.m.sent_failures->Increment();
    if (queued_full) {
      logger_.debug("dropped internal Raft message since sending buffer is full",
                    {{"message-type", raftpb::MessageType_Name(m.type())},
                     {"local-member-id", local_hex_},
                     {"remote-peer-id", p.hex}});
    }
    host_.report_unreachable(MemberId(m.to()));
  }
}

void PeerTransport::accept(size_t i) {
  acceptors_[i]->async_accept([this, i](beast::error_code ec, tcp::socket sock) {
    if (ec) {
      if (!stopped_ && ec != asio::error::operation_aborted) accept(i);
      return;
    }
    asio::co_spawn(io_, serve(std::move(sock), acceptor_tls_[i]), asio::detached);
    accept(i);
  });
}

bool PeerTransport::verify_servers() const {
  return !options_.client_tls || !options_.client_tls->options().insecure_skip_verify;
}

PeerStream PeerTransport::new_stream(const HttpUrl& u, const asio::any_io_executor& ex) {
  if (u.scheme != "https") return PeerStream(ex, nullptr);
  return PeerStream(
      ex, options_.client_tls ? options_.client_tls->context() : default_client_context());
}

awaitable<bool> PeerTransport::accept_tls(PeerStream& stream) {
  const std::string remote = stream.remote_address();
  beast::error_code ec;
  stream.keep_peer_cert();
  stream.expires_after(kConnTimeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
  std::string error;
  if (ec) {
    error = ec.message();
    // Why the certificate was refused, when it was (Go's x509 errors say
    // as much: "certificate signed by unknown authority", ...).
    if (const long v = SSL_get_verify_result(stream.ssl()); v != X509_V_OK) {
      error += ": " + std::string(X509_verify_cert_error_string(v));
    }
  } else if (auto cn = options_.server_tls->check_peer(stream.ssl()); !cn.is_ok()) {
    error = cn.status().message();
  } else if (!options_.server_tls->options().client_cert_auth) {
    co_return true;
  } else if (!options_.skip_client_san_verify) {
    auto at = remote.rfind(':');
    std::string ip = remote.substr(0, at);
    if (ip.size() > 1 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    if (auto st = check_cert_san(peer_cert_info(stream.peer_cert()), ip); !st.is_ok()) {
      error = st.message();
    }
  }
  if (error.empty()) co_return true;
  // etcd's line for a refused TLS connection, with what the certificate
  // says when the peer sent one.
  const char* sni =
      stream.ssl() ? SSL_get_servername(stream.ssl(), TLSEXT_NAMETYPE_host_name) : nullptr;
  PeerCertInfo cert = peer_cert_info(stream.peer_cert());
  if (!cert.subject.empty()) {
    logger_.warn("rejected connection", {{"remote-addr", remote},
                                         {"server-name", sni ? sni : ""},
                                         {"subject", cert.subject},
                                         {"common-name", cert.cn},
                                         {"ip-addresses", cert.ip_addresses},
                                         {"dns-names", cert.dns_names},
                                         {"error", error}});
  } else {
    logger_.warn("rejected connection",
                 {{"remote-addr", remote}, {"server-name", sni ? sni : ""}, {"error", error}});
  }
  stream.close();
  co_return false;
}

awaitable<void> PeerTransport::serve(tcp::socket sock, bool tls) {
  PeerStream stream(std::move(sock), tls ? options_.server_tls->context() : nullptr);
  if (tls && !co_await accept_tls(stream)) co_return;
  beast::flat_buffer buf;
  beast::error_code ec;
  while (!stopped_) {
    http::request_parser<http::empty_body> head;
    head.body_limit(std::numeric_limits<uint64_t>::max());
    stream.expires_after(std::chrono::minutes(2));
    co_await http::async_read_header(stream, buf, head, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const auto method = head.get().method();
    const std::string target(head.get().target());
    const std::string path = path_of(target);
    const bool keep_alive = head.get().keep_alive();
    // A copy: the parser moves into a body parser below.
    const http::request_header<> fields = head.get();
    auto header = [&fields](const char* name) { return std::string(fields[name]); };

    http::response<http::string_body> res{http::status::ok, 11};
    res.set("X-Etcd-Cluster-ID", cluster_hex_);
    res.keep_alive(keep_alive);
    auto fail = [&](http::status st, const std::string& text) {
      res.result(st);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = text + "\n";
    };
    // etcd's checks on Raft traffic: versions, then the cluster id.
    auto compatible = [&]() {
      const std::string cid = header("X-Etcd-Cluster-ID");
      if (cid != cluster_hex_) {
        logger_.warn("request cluster ID mismatch",
                     {{"local-member-id", local_hex_},
                      {"local-member-cluster-id", cluster_hex_},
                      {"local-member-server-version", kEtcdVersion},
                      {"remote-peer-server-name", header("X-Server-From")},
                      {"remote-peer-server-version", header("X-Server-Version")},
                      {"remote-peer-cluster-id", cid}});
        fail(http::status::precondition_failed, "cluster ID mismatch");
        return false;
      }
      return true;
    };

    if (path.rfind("/raft/stream/", 0) == 0) {
      res.set("X-Server-Version", kEtcdVersion);
      if (method != http::verb::get) {
        res.set(http::field::allow, "GET");
        fail(http::status::method_not_allowed, "Method Not Allowed");
      } else if (compatible()) {
        const auto slash = path.rfind('/');
        const std::string dir = path.substr(0, slash);
        const std::string from_s = path.substr(slash + 1);
        uint64_t from = 0;
        const bool app = dir == "/raft/stream/msgappv2";
        if (!app && dir != "/raft/stream/message") {
          fail(http::status::not_found, "invalid path");
        } else if (!parse_hex_u64(from_s, &from)) {
          fail(http::status::not_found, "invalid from");
        } else if (host_.is_removed(MemberId(from))) {
          logger_.warn("rejected stream from remote peer because it was removed",
                       {{"local-member-id", local_hex_}, {"remote-peer-id-from", from_s}});
          fail(http::status::gone, "removed member");
        } else if (!peers_.count(from)) {
          // etcd learns the sender's URLs from X-PeerURLs here; ours are
          // learnt when its conf change is applied.
          logger_.warn("failed to find remote peer in cluster", {{"local-member-id", local_hex_},
                                                                 {"remote-peer-id-from", from_s},
                                                                 {"cluster-id", cluster_hex_}});
          fail(http::status::not_found, "error sender not found");
        } else if (header("X-Raft-To") != local_hex_) {
          logger_.warn("ignored streaming request; ID mismatch",
                       {{"local-member-id", local_hex_},
                        {"remote-peer-id-header", header("X-Raft-To")},
                        {"remote-peer-id-from", from_s},
                        {"cluster-id", cluster_hex_}});
          fail(http::status::precondition_failed, "to field mismatch");
        } else {
          // Hand the connection over to the peer's writer.
          auto p = peers_[from];
          http::response<http::empty_body> ok{http::status::ok, 11};
          ok.set("X-Etcd-Cluster-ID", cluster_hex_);
          ok.set("X-Server-Version", kEtcdVersion);
          ok.chunked(true);
          stream.expires_after(kConnTimeout);
          http::response_serializer<http::empty_body> sr{ok};
          co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
          if (ec || stopped_ || !p->alive) co_return;
          stream.expires_never();
          auto out = std::make_shared<OutStream>(std::move(stream), app);
          out->sent_bytes = p->m.sent_bytes;
          const int slot = app ? 1 : 0;
          if (auto old = p->writer[slot]) old->close();
          p->writer[slot] = out;
          std::weak_ptr<Peer> weak = p;
          std::weak_ptr<OutStream> wout = out;
          out->on_close = [this, weak, wout, app] {
            auto peer = weak.lock();
            if (!peer) return;
            const int s = app ? 1 : 0;
            if (peer->writer[s] == wout.lock()) peer->writer[s].reset();
            if (peer->alive && !stopped_) {
              logger_.warn("lost TCP streaming connection with remote peer",
                           {{"stream-writer-type", app ? "stream MsgApp v2" : "stream Message"},
                            {"local-member-id", local_hex_},
                            {"remote-peer-id", peer->hex}});
            }
          };
          out->tick();
          logger_.info("established TCP streaming connection with remote peer",
                       {{"stream-writer-type", app ? "stream MsgApp v2" : "stream Message"},
                        {"local-member-id", local_hex_},
                        {"remote-peer-id", p->hex}});
          set_active(*p, true, "");
          co_return;
        }
      }
    } else if (path == "/raft/snapshot") {
      if (method != http::verb::post) {
        res.set(http::field::allow, "POST");
        fail(http::status::method_not_allowed, "Method Not Allowed");
      } else if (compatible()) {
        // The MsgSnap, then the db image: streamed into its file.
        http::request_parser<http::buffer_body> body{std::move(head)};
        std::string pending;
        std::optional<raftpb::Message> msg;
        std::ofstream file;
        std::string file_path;
        char chunk[64 * 1024];
        uint64_t written = 0;
        bool bad = false;
        while (!body.is_done()) {
          body.get().body().data = chunk;
          body.get().body().size = sizeof(chunk);
          stream.expires_after(kConnTimeout);
          co_await http::async_read(stream, buf, body, asio::redirect_error(use_awaitable, ec));
          if (ec == http::error::need_buffer) ec = {};
          if (ec) break;
          const size_t got = sizeof(chunk) - body.get().body().size;
          std::string_view data(chunk, got);
          if (!msg) {
            pending.append(data);
            std::string_view in(pending);
            auto d = decode_message(&in, uint64_t{1} << 62);
            if (!d.is_ok() || (d->has_value() && (*d)->type() != raftpb::MsgSnap)) {
              bad = true;
              break;
            }
            if (!d->has_value()) continue;
            msg = std::move(**d);
            file_path = host_.snapshot_db_path(msg->snapshot().metadata().index());
            file.open(file_path + ".part", std::ios::binary | std::ios::trunc);
            if (!file) {
              bad = true;
              break;
            }
            logger_.info("receiving database snapshot",
                         {{"local-member-id", local_hex_},
                          {"remote-snapshot-sender-id", to_hex(MemberId(msg->from()))},
                          {"incoming-snapshot-index", msg->snapshot().metadata().index()}});
            data = in;
          }
          file.write(data.data(), static_cast<std::streamsize>(data.size()));
          written += data.size();
        }
        if (ec) co_return;
        if (bad || !msg) {
          fail(http::status::bad_request, "error reading raft message");
        } else {
          file.flush();
          file.close();
          if (!file || std::rename((file_path + ".part").c_str(), file_path.c_str()) != 0) {
            fail(http::status::internal_server_error, "error saving snapshot");
          } else {
            logger_.info("received and saved database snapshot",
                         {{"local-member-id", local_hex_},
                          {"remote-snapshot-sender-id", to_hex(MemberId(msg->from()))},
                          {"incoming-snapshot-index", msg->snapshot().metadata().index()},
                          {"incoming-snapshot-size-bytes", written}});
            host_.process(std::move(*msg));
            res.result(http::status::no_content);
          }
        }
        res.prepare_payload();
        stream.expires_after(kConnTimeout);
        co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
        co_return;
      }
    } else if (path == "/raft") {
      http::request_parser<http::string_body> body{std::move(head)};
      body.body_limit(std::numeric_limits<uint64_t>::max());
      stream.expires_after(kConnTimeout);
      co_await http::async_read(stream, buf, body, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      if (method != http::verb::post) {
        res.set(http::field::allow, "POST");
        fail(http::status::method_not_allowed, "Method Not Allowed");
      } else if (compatible()) {
        raftpb::Message m;
        if (!m.ParseFromString(body.get().body())) {
          fail(http::status::bad_request, "error unmarshalling raft message");
        } else if (host_.is_removed(MemberId(m.from()))) {
          fail(http::status::forbidden, "the member has been permanently removed from the cluster");
        } else {
          metrics::Metrics::global()
              .peer(to_hex(MemberId(m.from())))
              .received_bytes->Increment(static_cast<double>(body.get().body().size()));
          if (!partitioned()) host_.process(std::move(m));
          res.result(http::status::no_content);
        }
      }
      res.prepare_payload();
      stream.expires_after(kConnTimeout);
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      if (ec || !keep_alive) co_return;
      continue;
    } else if (path == "/raft/probing") {
      // xiang90/probing's answer.
      char now[64];
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      tm t{};
      gmtime_r(&ts.tv_sec, &t);
      size_t n = strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S", &t);
      snprintf(now + n, sizeof(now) - n, ".%09ldZ", ts.tv_nsec);
      res.set(http::field::content_type, "application/json");
      res.body() = std::string("{\"OK\":true,\"Now\":\"") + now + "\"}\n";
    } else {
      // The member's own endpoints, answered off the I/O thread.
      http::request_parser<http::string_body> body{std::move(head)};
      body.body_limit(64 << 20);
      stream.expires_after(kConnTimeout);
      co_await http::async_read(stream, buf, body, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      const std::string verb(http::to_string(method));
      std::string req_body = std::move(body.get().body());
      // The answer may wait for Raft (a promotion, a lease renewal): it is
      // computed on the pool while this coroutine waits on a timer, so the
      // I/O thread goes on carrying Raft's messages meanwhile.
      auto reply = std::make_shared<server::PeerHttpReply>();
      auto done = std::make_shared<asio::steady_timer>(io_);
      done->expires_at(asio::steady_timer::time_point::max());
      asio::post(*app_pool_, [this, reply, done, verb, target, req_body = std::move(req_body)] {
        *reply = host_.http(verb, target, req_body);
        asio::post(io_, [done] { done->cancel(); });
      });
      co_await done->async_wait(asio::redirect_error(use_awaitable, ec));
      if (stopped_) co_return;
      res.result(static_cast<http::status>(reply->status));
      res.set(http::field::content_type, reply->content_type);
      res.set("X-Server-Version", kEtcdVersion);
      res.body() = std::move(reply->body);
    }
    res.prepare_payload();
    stream.expires_after(kConnTimeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !keep_alive) co_return;
  }
}

awaitable<void> PeerTransport::read_stream(std::shared_ptr<Peer> p, bool msgapp) {
  const int slot = msgapp ? 1 : 0;
  const char* type = msgapp ? "stream MsgApp v2" : "stream Message";
  const std::string kind = msgapp ? "msgappv2" : "message";
  auto backoff = std::chrono::milliseconds(100);
  asio::steady_timer wait(io_);
  beast::error_code ec;
  while (p->alive && !stopped_) {
    if (partitioned()) {
      wait.expires_after(std::chrono::milliseconds(100));
      co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    const std::string url = p->url();
    auto u = parse_http_url(url);
    bool connected = false;
    if (u.is_ok()) {
      auto stream = std::make_shared<PeerStream>(new_stream(*u, io_.get_executor()));
      p->reader[slot] = stream;
      ec = co_await dial(*stream, *u, verify_servers(), kDialTimeout);
      if (!ec) {
        http::request<http::empty_body> req{http::verb::get,
                                            "/raft/stream/" + kind + "/" + local_hex_, 11};
        req.set(http::field::host, u->host + ":" + u->port);
        for (const auto& [k, v] : request_headers(p->id)) req.set(k, v);
        stream->expires_after(kConnTimeout);
        co_await http::async_write(*stream, req, asio::redirect_error(use_awaitable, ec));
      }
      beast::flat_buffer buf;
      http::response_parser<http::buffer_body> parser;
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      if (!ec) {
        co_await http::async_read_header(*stream, buf, parser,
                                         asio::redirect_error(use_awaitable, ec));
      }
      if (!ec) {
        const int status = static_cast<int>(parser.get().result_int());
        if (status == 410) {
          logger_.error("the member has been permanently removed from the cluster",
                        {{"local-member-id", local_hex_}, {"remote-peer-id", p->hex}});
          host_.removed_from_cluster();
          co_return;
        }
        if (status != 200) {
          p->last_error = "unexpected http status " + std::to_string(status) + " " +
                          std::string(parser.get().reason());
          if (status == 412) {
            logger_.warn(
                "request sent was ignored by remote peer due to cluster ID mismatch",
                {{"remote-peer-id", p->hex},
                 {"remote-peer-cluster-id", std::string(parser.get()["X-Etcd-Cluster-ID"])},
                 {"local-member-id", local_hex_},
                 {"local-member-cluster-id", cluster_hex_}});
          }
        } else {
          connected = true;
          p->reading[slot] = true;
          backoff = std::chrono::milliseconds(100);
          logger_.info("established TCP streaming connection with remote peer",
                       {{"stream-reader-type", type},
                        {"local-member-id", local_hex_},
                        {"remote-peer-id", p->hex}});
          set_active(*p, true, "");
          MsgAppV2Decoder decoder(local_, p->id);
          std::string pending;
          char chunk[64 * 1024];
          while (p->alive && !stopped_ && !parser.is_done()) {
            parser.get().body().data = chunk;
            parser.get().body().size = sizeof(chunk);
            stream->expires_after(kConnTimeout);
            // read_some: a stream's chunks are small and come when they come.
            co_await http::async_read_some(*stream, buf, parser,
                                           asio::redirect_error(use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec) break;
            p->m.received_bytes->Increment(
                static_cast<double>(sizeof(chunk) - parser.get().body().size));
            pending.append(chunk, sizeof(chunk) - parser.get().body().size);
            std::string_view in(pending);
            bool bad = false;
            while (!in.empty()) {
              auto d = msgapp ? decoder.decode(&in) : decode_message(&in);
              if (!d.is_ok()) {
                ec = asio::error::invalid_argument;
                p->last_error = d.status().message();
                bad = true;
                break;
              }
              if (!d->has_value()) break;
              raftpb::Message m = std::move(**d);
              if (is_link_heartbeat(m) || partitioned()) continue;
              host_.process(std::move(m));
            }
            if (bad) break;
            pending.erase(0, pending.size() - in.size());
          }
          if (!ec) ec = asio::error::eof;
          p->reading[slot] = false;
          if (p->alive && !stopped_) {
            logger_.warn("lost TCP streaming connection with remote peer",
                         {{"stream-reader-type", type},
                          {"local-member-id", local_hex_},
                          {"remote-peer-id", p->hex},
                          {"error", ec.message()}});
          }
        }
      }
      if (ec && p->last_error.empty()) p->last_error = ec.message();
      if (ec) p->last_error = ec.message();
      stream->close();
      p->reader[slot].reset();
    }
    if (!p->alive || stopped_) co_return;
    if (!p->reading[0] && !p->reading[1] && !p->writer[0] && !p->writer[1]) {
      set_active(*p, false, p->last_error);
    }
    if (!connected) {
      ++p->url_next;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    wait.expires_after(connected ? std::chrono::milliseconds(100) : backoff);
    co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

awaitable<void> PeerTransport::run_pipeline(std::shared_ptr<Peer> p) {
  beast::error_code ec;
  std::shared_ptr<PeerStream> stream;
  beast::flat_buffer buf;
  while (p->alive && !stopped_ && !p->pipeline.empty()) {
    raftpb::Message m = std::move(p->pipeline.front());
    p->pipeline.pop_front();
    const std::string url = p->url();
    auto u = parse_http_url(url);
    if (!u.is_ok()) break;
    ec = {};
    if (!stream) {
      stream = std::make_shared<PeerStream>(new_stream(*u, io_.get_executor()));
      ec = co_await dial(*stream, *u, verify_servers(), kDialTimeout);
    }
    if (!ec) {
      http::request<http::string_body> req{http::verb::post, "/raft", 11};
      req.set(http::field::host, u->host + ":" + u->port);
      for (const auto& [k, v] : request_headers(p->id)) req.set(k, v);
      req.set(http::field::content_type, "application/protobuf");
      req.body() = m.SerializeAsString();
      req.prepare_payload();
      stream->expires_after(kConnTimeout);
      co_await http::async_write(*stream, req, asio::redirect_error(use_awaitable, ec));
    }
    http::response<http::string_body> res;
    if (!ec) {
      co_await http::async_read(*stream, buf, res, asio::redirect_error(use_awaitable, ec));
    }
    if (!ec && res.result_int() == 403) {
      logger_.error("the member has been permanently removed from the cluster",
                    {{"local-member-id", local_hex_}, {"remote-peer-id", p->hex}});
      host_.removed_from_cluster();
    }
    if (ec || res.result_int() != 204) {
      p->m.sent_failures->Increment();
      host_.report_unreachable(MemberId(p->id));
      if (ec) ++p->url_next;
      if (stream) stream->close();
      stream.reset();
      buf.clear();
      if (ec) {
        // The peer is down: drop what waits for it; Raft sends again.
        for (auto& q : p->pipeline) {
          (void)q;
          host_.report_unreachable(MemberId(p->id));
        }
        p->pipeline.clear();
      }
    } else {
      p->m.sent_bytes->Increment(static_cast<double>(m.ByteSizeLong()));
      if (!res.keep_alive()) stream.reset();
    }
  }
  p->pipelining = false;
  if (stream) stream->close();
}

awaitable<void> PeerTransport::probe(std::shared_ptr<Peer> p) {
  asio::steady_timer wait(io_);
  beast::error_code ec;
  auto warned = std::chrono::steady_clock::time_point{};
  while (p->alive && !stopped_) {
    wait.expires_after(kProbeInterval);
    co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!p->alive || stopped_) co_return;
    auto u = parse_http_url(p->url());
    if (!u.is_ok()) continue;
    const auto start = std::chrono::steady_clock::now();
    PeerStream stream = new_stream(*u, io_.get_executor());
    ec = {};
    if (!partitioned()) {
      ec = co_await dial(stream, *u, verify_servers(), kDialTimeout);
      if (!ec) {
        http::request<http::empty_body> req{http::verb::get, "/raft/probing", 11};
        req.set(http::field::host, u->host + ":" + u->port);
        stream.expires_after(kConnTimeout);
        co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
      }
      if (!ec) {
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        co_await http::async_read(stream, buf, res, asio::redirect_error(use_awaitable, ec));
        if (!ec && res.result_int() != 200) ec = asio::error::connection_refused;
      }
    } else {
      ec = asio::error::host_unreachable;
    }
    stream.close();
    if (!ec) {
      p->rtt_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      p->m.round_trip_time->Observe(static_cast<double>(p->rtt_ns) / 1e9);
      continue;
    }
    // Periodically, for as long as the peer cannot be reached (etcd's
    // prober does the same every 30 s).
    if (auto now = std::chrono::steady_clock::now(); now - warned >= kProbeInterval) {
      warned = now;
      logger_.warn("prober detected unhealthy status",
                   {{"round-tripper-name", "ROUND_TRIPPER_RAFT_MESSAGE"},
                    {"remote-peer-id", p->hex},
                    {"remote-peer-urls", p->urls},
                    {"error", ec.message()}});
    }
  }
}

void PeerTransport::send_snapshot(raftpb::Message m, std::vector<std::string> urls) {
  MutexLock lock(&snap_mu_);
  if (stopping_) return;
  snap_threads_.emplace_back([this, m = std::move(m), urls = std::move(urls)] {
    const MemberId to(m.to());
    const std::string to_s = to_hex(to);
    logger_.info("sending database snapshot",
                 {{"snapshot-index", m.snapshot().metadata().index()}, {"remote-peer-id", to_s}});
    bool ok = false;
    auto source = host_.open_snapshot();
    std::string error = source.is_ok() ? "" : source.status().message();
    uint64_t sent = 0;
    for (size_t i = 0; source.is_ok() && i < urls.size() && !ok && !stopping_; ++i) {
      auto u = parse_http_url(urls[i]);
      if (!u.is_ok()) continue;
      // On a retry the image is read again from the start.
      if (i > 0) {
        source = host_.open_snapshot();
        if (!source.is_ok()) {
          error = source.status().message();
          break;
        }
      }
      // This thread's own loop: the image is read and written here, the
      // I/O thread goes on with Raft's messages.
      asio::io_context io;
      PeerStream stream = new_stream(*u, io.get_executor());
      beast::error_code ec;
      auto post_snapshot = [&]() -> awaitable<void> {
        ec = co_await dial(stream, *u, verify_servers(), kDialTimeout);
        if (ec) co_return;
        http::request<http::empty_body> req{http::verb::post, "/raft/snapshot", 11};
        req.set(http::field::host, u->host + ":" + u->port);
        for (const auto& [k, v] : request_headers(to.value())) req.set(k, v);
        req.set(http::field::content_type, "application/octet-stream");
        req.chunked(true);
        http::request_serializer<http::empty_body> sr{req};
        // Each write bounded, so a stuck peer cannot hold this thread (and
        // stop()) forever.
        stream.expires_after(kSnapshotWriteTimeout);
        co_await http::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
        std::string head;
        encode_message(m, &head);
        stream.expires_after(kSnapshotWriteTimeout);
        co_await asio::async_write(stream, http::make_chunk(asio::buffer(head)),
                                   asio::redirect_error(use_awaitable, ec));
        sent = 0;
        while (!ec && !stopping_) {
          auto piece = (*source)->next();
          if (!piece.is_ok()) {
            error = piece.status().message();
            co_return;
          }
          if (piece->empty()) break;
          stream.expires_after(kSnapshotWriteTimeout);
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(*piece)),
                                     asio::redirect_error(use_awaitable, ec));
          sent += piece->size();
        }
        if (ec || stopping_) co_return;
        stream.expires_after(kSnapshotWriteTimeout);
        co_await asio::async_write(stream, http::make_chunk_last(),
                                   asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
        beast::flat_buffer buf;
        http::response<http::string_body> res;
        stream.expires_after(kSnapshotWriteTimeout);
        co_await http::async_read(stream, buf, res, asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
        ok = res.result_int() == 204;
        if (!ok) error = "unexpected http status " + std::to_string(res.result_int());
      };
      error.clear();
      asio::co_spawn(io, post_snapshot(), asio::detached);
      io.run();
      stream.close();
      if (ec) error = ec.message();
      if (!ok && error.empty()) error = stopping_ ? "stopped" : "snapshot not sent";
    }
    auto pm = metrics::Metrics::global().peer(to_s);
    if (ok) {
      pm.sent_bytes->Increment(static_cast<double>(sent));
      logger_.info("sent database snapshot to writer", {{"bytes", sent}, {"remote-peer-id", to_s}});
    } else {
      pm.sent_failures->Increment();
      logger_.warn("failed to send database snapshot",
                   {{"remote-peer-id", to_s}, {"error", error}});
      host_.report_unreachable(to);
    }
    host_.report_snapshot(to, !ok);
  });
}

}  // namespace etcd::rpc::peer
