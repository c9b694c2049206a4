// etcdctl make-mirror: copies the keys under --prefix (every key without
// it) at one revision to the destination cluster, then follows a watch from
// the next revision and replays each revision's events there as one
// transaction; every 30 s it prints how many keys it has put or deleted so
// far. It runs until killed or until an error (then "Error: ..." and exit 1),
// as etcdctl's does.
#include <atomic>
#include <iostream>
#include <thread>

#include "client/concurrency.h"
#include "client/watcher.h"
#include "etcdctl/global.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using client::Idempotent;

constexpr int64_t kBatchLimit = 1000;  // clientv3/mirror's batch
constexpr auto kProgressEvery = std::chrono::seconds(30);

struct MirrorOptions {
  std::string prefix;
  std::string dest_prefix;
};

// Go's strings.Replace(key, prefix, dest, 1): the first occurrence (with an
// empty prefix, `dest` goes in front).
std::string modify_prefix(const MirrorOptions& o, const std::string& key) {
  const size_t at = key.find(o.prefix);
  if (at == std::string::npos) return key;
  return key.substr(0, at) + o.dest_prefix + key.substr(at + o.prefix.size());
}

[[noreturn]] void fail(const grpc::Status& s) { exit_with_status(s, kExitError); }

std::unique_ptr<client::Client> dest_client(const Invocation& inv, const std::string& endpoint) {
  client::Options o;
  o.endpoints = {endpoint};
  o.dial_timeout = std::chrono::milliseconds(inv.get_duration_ns("dial-timeout") / 1000000);
  o.keepalive_time = std::chrono::milliseconds(inv.get_duration_ns("keepalive-time") / 1000000);
  o.keepalive_timeout =
      std::chrono::milliseconds(inv.get_duration_ns("keepalive-timeout") / 1000000);
  const std::string cert = inv.get_string("dest-cert");
  const std::string key = inv.get_string("dest-key");
  const std::string cacert = inv.get_string("dest-cacert");
  if (!cert.empty() || !key.empty() || !cacert.empty() ||
      !inv.get_bool("dest-insecure-transport")) {
    client::TlsOptions t;
    t.cert_file = cert;
    t.key_file = key;
    t.ca_file = cacert;
    o.tls = t;
  }
  // No user for the destination (etcdctl's acfg is nil there).
  return must_client(std::move(o));
}

void make_mirror(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "make-mirror takes one destination argument");
  }
  MirrorOptions o;
  o.prefix = inv.get_string("prefix");
  o.dest_prefix = inv.get_string("dest-prefix");
  const bool no_dest_prefix = inv.get_bool("no-dest-prefix");

  // Both connect on their first call (an unreachable source blocks, as
  // etcdctl's does: its calls have no deadline).
  auto dc = dest_client(inv, inv.args[0]);
  auto c = must_client(inv);

  // Shared with the printing thread, which outlives this function.
  auto counter = std::make_shared<std::atomic<int64_t>>(0);
  std::atomic<int64_t>& total = *counter;
  std::thread([counter] {
    while (true) {
      std::this_thread::sleep_for(kProgressEvery);
      std::cout << counter->load() << std::endl;
    }
  }).detach();

  // The revision to copy at: the current one.
  etcdserverpb::RangeRequest probe;
  probe.set_key("foo");
  etcdserverpb::RangeResponse probe_resp;
  grpc::Status s = c->call(&Connection::kv, &etcdserverpb::KV::Stub::Range, probe, &probe_resp,
                           client::Deadline::max(), Idempotent::kYes);
  if (!s.ok()) fail(s);
  const int64_t rev = probe_resp.header().revision();

  if (no_dest_prefix && !o.dest_prefix.empty()) {
    exit_with_error(kExitBadArgs,
                    "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, "
                    "choose one");
  }
  if (!no_dest_prefix && o.dest_prefix.empty()) o.dest_prefix = o.prefix;

  auto put = [&](const std::string& key, const std::string& value) {
    etcdserverpb::PutRequest req;
    req.set_key(modify_prefix(o, key));
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    grpc::Status ps = dc->call(&Connection::kv, &etcdserverpb::KV::Stub::Put, req, &resp,
                               client::Deadline::max(), Idempotent::kNo);
    if (!ps.ok()) fail(ps);
  };

  // The base: every key at `rev`, in batches.
  etcdserverpb::RangeRequest req;
  if (o.prefix.empty()) {
    req.set_key(std::string(1, '\0'));
    req.set_range_end(std::string(1, '\0'));
  } else {
    req.set_key(o.prefix);
    req.set_range_end(client::concurrency::prefix_range_end(o.prefix));
  }
  req.set_limit(kBatchLimit);
  req.set_revision(rev);
  while (true) {
    etcdserverpb::RangeResponse resp;
    s = c->call(&Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp,
                client::Deadline::max(), Idempotent::kYes);
    if (!s.ok()) fail(s);
    for (const auto& kv : resp.kvs()) {
      put(kv.key(), kv.value());
      ++total;
    }
    if (!resp.more() || resp.kvs().empty()) break;
    req.set_key(resp.kvs(resp.kvs_size() - 1).key() + std::string(1, '\0'));
  }

  // The updates: one transaction per source revision.
  etcdserverpb::WatchCreateRequest w;
  if (o.prefix.empty()) {
    w.set_key(std::string(1, '\0'));
    w.set_range_end(std::string(1, '\0'));
  } else {
    w.set_key(o.prefix);
    w.set_range_end(client::concurrency::prefix_range_end(o.prefix));
  }
  w.set_start_revision(rev + 1);
  client::Watcher watcher(*c, w);
  grpc::Status failure;
  auto commit = [&](etcdserverpb::TxnRequest& txn) {
    etcdserverpb::TxnResponse resp;
    grpc::Status ts = dc->call(&Connection::kv, &etcdserverpb::KV::Stub::Txn, txn, &resp,
                               client::Deadline::max(), Idempotent::kNo);
    txn.Clear();
    return ts;
  };
  s = watcher.run([&](const etcdserverpb::WatchResponse& wr) {
    if (wr.compact_revision() != 0) {
      failure = grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                             "etcdserver: mvcc: required revision has been compacted");
      return false;
    }
    etcdserverpb::TxnRequest txn;
    int64_t last_rev = 0;
    for (const auto& ev : wr.events()) {
      const int64_t next_rev = ev.kv().mod_revision();
      if (last_rev != 0 && next_rev > last_rev) {
        grpc::Status ts = commit(txn);
        if (!ts.ok()) {
          failure = ts;
          return false;
        }
      }
      last_rev = next_rev;
      if (ev.type() == mvccpb::Event::PUT) {
        auto* p = txn.add_success()->mutable_request_put();
        p->set_key(modify_prefix(o, ev.kv().key()));
        p->set_value(ev.kv().value());
      } else {
        txn.add_success()->mutable_request_delete_range()->set_key(modify_prefix(o, ev.kv().key()));
      }
      ++total;
    }
    if (txn.success_size() > 0) {
      grpc::Status ts = commit(txn);
      if (!ts.ok()) {
        failure = ts;
        return false;
      }
    }
    return true;
  });
  if (!failure.ok()) fail(failure);
  if (!s.ok()) fail(s);
  exit_with_error(kExitError, "<nil>");
}

}  // namespace

void add_mirror_command(Command& root) {
  auto& c = root.add("make-mirror [options] <destination>",
                     "Makes a mirror at the destination etcd cluster", "", make_mirror);
  FlagSet& f = c.flags();
  f.add(FlagKind::kString, "prefix", "", "", "Key-value prefix to mirror");
  f.add(FlagKind::kString, "dest-prefix", "", "",
        "destination prefix to mirror a prefix to a different prefix in the destination cluster");
  f.add(FlagKind::kBool, "no-dest-prefix", "", "false",
        "mirror key-values to the root of the destination cluster");
  f.add(FlagKind::kString, "dest-cert", "", "",
        "Identify secure client using this TLS certificate file for the destination cluster");
  f.add(FlagKind::kString, "dest-key", "", "", "Identify secure client using this TLS key file");
  f.add(FlagKind::kString, "dest-cacert", "", "",
        "Verify certificates of TLS enabled secure servers using this CA bundle");
  f.add(FlagKind::kBool, "dest-insecure-transport", "", "true",
        "Disable transport security for client connections");
}

}  // namespace etcd::ctl
