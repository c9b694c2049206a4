#include "server/corruption.h"

#include "base/duration.h"
#include "server/errors.h"
#include "storage/backend/schema.h"

namespace etcd::server {
namespace {

std::string rev_text(Revision r) {
  return "{" + std::to_string(r.main) + " " + std::to_string(r.sub) + "}";
}

// Retries of verify_local when a compaction overtook the pass (its view
// then legitimately misses revisions the index named at the start).
constexpr int kLocalAttempts = 3;

}  // namespace

CorruptionChecker::CorruptionChecker(mvcc::KVStore& kv, CorruptionHost& host, log::Logger& logger)
    : kv_(kv), host_(host), logger_(logger) {}

CorruptionChecker::~CorruptionChecker() { stop(); }

Status CorruptionChecker::verify_local_at(MainRev rev) {
  // 1. Every record of the key bucket is well formed.
  Status bad;
  {
    backend::ReadTx rtx = kv_.backend().read_tx();
    rtx.for_each(backend::Bucket::kKey, "", "", [&](std::string_view k, std::string_view v) {
      auto parsed = backend::parse_revision_key(k);
      mvccpb::KeyValue kv;
      if (!parsed) {
        bad = data_loss("malformed revision key in the key bucket");
        return false;
      }
      if (!kv.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        bad = data_loss("revision " + rev_text(parsed->rev) + " does not decode");
        return false;
      }
      if (kv.key().empty()) {
        bad = data_loss("revision " + rev_text(parsed->rev) + " holds an empty key");
        return false;
      }
      if (parsed->tombstone) return true;
      if (kv.mod_revision() != parsed->rev.main) {
        bad = data_loss("revision " + rev_text(parsed->rev) + " of key \"" + kv.key() +
                        "\" records mod_revision " + std::to_string(kv.mod_revision()));
        return false;
      }
      if (kv.create_revision() < 1 || kv.create_revision() > kv.mod_revision() ||
          kv.version() < 1) {
        bad = data_loss("revision " + rev_text(parsed->rev) + " of key \"" + kv.key() +
                        "\" records create_revision " + std::to_string(kv.create_revision()) +
                        " and version " + std::to_string(kv.version()));
        return false;
      }
      return true;
    });
  }
  RETURN_IF_ERROR(bad);

  // 2. Every live key of the index at `rev` is in the backend.
  const std::string all_end(1, '\0');
  auto live = kv_.index().revisions(mvcc::KeyRange{"", all_end}, rev.value(), 0);
  {
    // One ReadTx per thread at a time: this one ends before the hashes.
    backend::ReadTx rtx = kv_.backend().read_tx();
    for (size_t i = 0; i < live.revs.size(); ++i) {
      const Revision r = live.revs[i];
      auto v = rtx.get(backend::Bucket::kKey, backend::revision_key(r));
      if (!v) {
        return data_loss("key \"" + live.keys[i] + "\" at revision " + rev_text(r) +
                         " is in the index but not in the backend");
      }
      mvccpb::KeyValue kv;
      if (!kv.ParseFromString(*v) || kv.key() != live.keys[i]) {
        return data_loss("revision " + rev_text(r) + " is indexed under key \"" + live.keys[i] +
                         "\" but the backend holds key \"" + kv.key() + "\"");
      }
    }
  }

  // 3. HashKV at `rev` is reproducible.
  auto h1 = kv_.hash_by_rev(rev);
  auto h2 = kv_.hash_by_rev(rev);
  if (h1.is_ok() && h2.is_ok() && h1->compact_rev == h2->compact_rev && h1->hash != h2->hash) {
    return data_loss("HashKV at revision " + std::to_string(rev.value()) +
                     " is not reproducible (" + std::to_string(h1->hash) + " then " +
                     std::to_string(h2->hash) + ")");
  }
  return Status::ok();
}

Status CorruptionChecker::verify_local() {
  Status st;
  for (int attempt = 0; attempt < kLocalAttempts; ++attempt) {
    const MainRev rev = kv_.rev();
    st = verify_local_at(rev);
    // A compaction past `rev` during the pass may remove what the pass
    // expected: try again at the new revision.
    if (st.is_ok() || kv_.compact_rev() <= rev) return st;
  }
  return st;
}

Status CorruptionChecker::initial_check(std::chrono::milliseconds timeout) {
  const std::string id = to_hex(host_.member_id());
  logger_.info("starting initial corruption check",
               {{"local-member-id", id}, {"timeout", format_go_duration(timeout)}});
  auto h = kv_.hash_by_rev(MainRev(0));
  if (!h.is_ok()) {
    return Status(Code::kInternal, id + " failed to fetch hash (" + h.status().message() + ")");
  }
  int mismatch = 0;
  for (const PeerHashKV& p : host_.peer_hashes(h->hash_rev)) {
    log::Fields local = {{"local-member-id", id},
                         {"local-member-revision", h->current_rev},
                         {"local-member-compact-revision", h->compact_rev},
                         {"local-member-hash", h->hash}};
    if (p.resp) {
      if (h->hash == p.resp->hash()) continue;
      log::Fields f = local;
      f.push_back({"remote-peer-id", to_hex(MemberId(p.resp->header().member_id()))});
      f.push_back({"remote-peer-endpoints", p.endpoints});
      f.push_back({"remote-peer-revision", p.resp->header().revision()});
      f.push_back({"remote-peer-compact-revision", p.resp->compact_revision()});
      f.push_back({"remote-peer-hash", p.resp->hash()});
      if (h->compact_rev.value() == p.resp->compact_revision()) {
        logger_.warn("found different hash values from remote peer", f);
        ++mismatch;
      } else {
        logger_.warn("found different compact revision values from remote peer", f);
      }
      continue;
    }
    log::Fields f = local;
    f.push_back({"remote-peer-id", to_hex(p.id)});
    f.push_back({"remote-peer-endpoints", p.endpoints});
    f.push_back({"error", p.error.message()});
    if (p.error == errors::future_rev()) {
      logger_.warn("cannot fetch hash from slow remote peer", f);
    } else if (p.error == errors::compacted()) {
      logger_.warn("cannot fetch hash from remote peer; local member is behind", f);
    }
  }
  if (mismatch > 0) {
    return Status(Code::kDataLoss, id + " found data inconsistency with peers");
  }
  if (Status local = verify_local(); !local.is_ok()) {
    logger_.warn("found data inconsistency in the local backend",
                 {{"local-member-id", id}, {"error", local.message()}});
    return Status(Code::kDataLoss,
                  id + " found data inconsistency in its own backend (" + local.message() + ")");
  }
  logger_.info("initial corruption checking passed; no corruption", {{"local-member-id", id}});
  return Status::ok();
}

Status CorruptionChecker::periodic_check() {
  auto h = kv_.hash_by_rev(MainRev(0));
  if (!h.is_ok()) return h.status();
  auto peers = host_.peer_hashes(h->hash_rev);
  RETURN_IF_ERROR(host_.linearizable_barrier());
  auto h2 = kv_.hash_by_rev(MainRev(0));
  if (!h2.is_ok()) return h2.status();

  bool alarmed = false;
  // Which member holds the bad copy is unknown when hashes differ: the
  // alarm names member 0, as etcd's.
  auto mismatch = [&](MemberId member) {
    if (alarmed) return;
    alarmed = true;
    host_.raise_corrupt_alarm(member);
  };
  if (h2->hash != h->hash && h2->hash_rev == h->hash_rev && h2->compact_rev == h->compact_rev) {
    logger_.warn("found hash mismatch", {{"revision-1", h->hash_rev},
                                         {"compact-revision-1", h->compact_rev},
                                         {"hash-1", h->hash},
                                         {"revision-2", h2->hash_rev},
                                         {"compact-revision-2", h2->compact_rev},
                                         {"hash-2", h2->hash}});
    mismatch(MemberId(0));
  }
  int checked = 0;
  for (const PeerHashKV& p : peers) {
    if (!p.resp) continue;
    ++checked;
    const auto& r = *p.resp;
    if (r.header().revision() > h2->hash_rev.value()) {
      logger_.warn("revision from follower must be less than or equal to leader's",
                   {{"leader-revision", h2->hash_rev},
                    {"follower-revision", r.header().revision()},
                    {"follower-peer-id", to_hex(p.id)}});
      mismatch(MemberId(0));
    }
    if (r.compact_revision() > h2->compact_rev.value()) {
      logger_.warn("compact revision from follower must be less than or equal to leader's",
                   {{"leader-compact-revision", h2->compact_rev},
                    {"follower-compact-revision", r.compact_revision()},
                    {"follower-peer-id", to_hex(p.id)}});
      mismatch(MemberId(0));
    }
    if (r.compact_revision() == h->compact_rev.value() && r.hash() != h->hash) {
      logger_.warn("same compact revision then hashes must match",
                   {{"leader-compact-revision", h2->compact_rev},
                    {"leader-hash", h->hash},
                    {"follower-compact-revision", r.compact_revision()},
                    {"follower-hash", r.hash()},
                    {"follower-peer-id", to_hex(p.id)}});
      mismatch(MemberId(0));
    }
  }
  // Beyond etcd: this member's own data. Here the culprit is known.
  if (Status local = verify_local(); !local.is_ok()) {
    logger_.warn("found data inconsistency in the local backend",
                 {{"local-member-id", to_hex(host_.member_id())}, {"error", local.message()}});
    mismatch(host_.member_id());
  }
  logger_.info("finished peer corruption check", {{"number-of-peers-checked", checked}});
  return Status::ok();
}

void CorruptionChecker::run(std::chrono::nanoseconds interval) {
  ASSERT(interval.count() > 0, "corruption check interval must be positive");
  logger_.info("enabled corruption checking", {{"local-member-id", to_hex(host_.member_id())},
                                               {"interval", format_go_duration(interval)}});
  worker_.start([this, interval](Worker& self) {
    while (self.sleep_for(interval)) {
      if (!host_.is_leader()) continue;
      if (Status st = periodic_check(); !st.is_ok()) {
        logger_.warn("failed to check hash KV", {{"error", st.message()}});
      }
    }
  });
}

void CorruptionChecker::stop() { worker_.stop(); }

}  // namespace etcd::server
