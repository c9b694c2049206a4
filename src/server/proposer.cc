#include "server/proposer.h"

#include "base/duration.h"
#include "base/encoding.h"
#include "metrics/metrics.h"
#include "server/errors.h"

namespace etcd::server {

Proposer::Proposer(RaftPort& raft, MemberId member, env::Clock& clock, log::Logger& logger,
                   Options options)
    : raft_(raft),
      clock_(clock),
      logger_(logger),
      options_(options),
      id_prefix_((member.value() & 0xFFFF) << 48 |
                 ((static_cast<uint64_t>(clock.wall_unix_ms()) & 0xFFFFFFFFFFULL) << 8)) {}

Result<ApplyResult> Proposer::propose(serverpb::InternalRaftRequest req) {
  const uint64_t id = next_id();
  req.mutable_header()->set_id(id);
  return propose_data(id, req.SerializeAsString());
}

Result<ApplyResult> Proposer::propose_v2(etcdserverpb::Request req) {
  const uint64_t id = next_id();
  req.set_id(id);
  return propose_data(id, req.SerializeAsString());
}

Result<ApplyResult> Proposer::propose_data(uint64_t id, std::string data) {
  if (data.size() > options_.max_request_bytes) return errors::request_too_large();
  // A copy per attempt: a proposal dropped for want of a leader is made again.
  return submit_and_wait(id, [&] { return raft_.propose(data); });
}

Result<ApplyResult> Proposer::propose_conf_change(raftpb::ConfChange cc) {
  const uint64_t id = next_id();
  cc.set_id(id);
  return submit_and_wait(id, [&] { return raft_.propose_conf_change(cc); });
}

Result<ApplyResult> Proposer::submit_and_wait(uint64_t id, const std::function<Status()>& submit) {
  // etcd's pending and failed proposals: a failure is one that never got an
  // apply result (dropped, timed out, server stopped).
  auto& m = metrics::Metrics::global();
  m.proposals_pending->Increment();
  auto r = submit_and_wait_once(id, submit);
  m.proposals_pending->Decrement();
  if (!r.is_ok()) m.proposals_failed->Increment();
  return r;
}

Result<ApplyResult> Proposer::submit_and_wait_once(uint64_t id,
                                                   const std::function<Status()>& submit) {
  auto promise = std::make_shared<std::promise<ApplyResult>>();
  auto future = promise->get_future();
  {
    MutexLock lock(&wait_mu_);
    if (stopped_) return errors::stopped();
    waiters_[id] = std::move(promise);
  }
  auto forget = [this, id] {
    MutexLock lock(&wait_mu_);
    waiters_.erase(id);
  };
  // Without a leader Raft drops the proposal at once; etcd's proposal
  // waits for one instead, until the request timeout. So does this one.
  const auto deadline = clock_.now() + options_.request_timeout;
  while (!submit().is_ok()) {
    if (raft_.lead() != MemberId(0) || clock_.now() >= deadline) {
      forget();
      return errors::timeout();
    }
    {
      MutexLock lock(&wait_mu_);
      if (stopped_) return errors::stopped();
    }
    clock_.sleep_for(kNoLeaderRetry);
  }
  if (future.wait_for(options_.request_timeout) != std::future_status::ready) {
    forget();
    // complete() or stop() may have taken the waiter meanwhile: its value
    // is set (or about to be); a late result is dropped like etcd's.
    return errors::timeout();
  }
  return future.get();
}

void Proposer::complete(uint64_t id, ApplyResult result) {
  std::shared_ptr<std::promise<ApplyResult>> waiter;
  {
    MutexLock lock(&wait_mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    waiter = std::move(it->second);
    waiters_.erase(it);
  }
  waiter->set_value(std::move(result));
}

void Proposer::stop() {
  std::map<uint64_t, std::shared_ptr<std::promise<ApplyResult>>> waiting;
  {
    MutexLock lock(&wait_mu_);
    stopped_ = true;
    waiting.swap(waiters_);
  }
  for (auto& [id, p] : waiting) p->set_value(ApplyResult::error(errors::stopped()));
}

size_t Proposer::waiting() {
  MutexLock lock(&wait_mu_);
  return waiters_.size();
}

// ---- reads ----

std::shared_ptr<Proposer::Round> Proposer::new_round() {
  auto r = std::make_shared<Round>();
  r->ctx.resize(8);
  put_u64_be(reinterpret_cast<uint8_t*>(r->ctx.data()), ++read_seq_);
  return r;
}

std::string Proposer::advance_rounds() {
  current_ = std::move(next_);
  next_.reset();
  if (!current_) return {};
  current_->sent = clock_.now();
  return current_->ctx;
}

void Proposer::on_leader_change() {
  std::string send;
  {
    MutexLock lock(&read_mu_);
    if (!current_) return;
    current_->done = true;
    current_->error = errors::leader_changed();
    send = advance_rounds();
  }
  read_cv_.notify_all();
  if (!send.empty()) raft_.read_index(std::move(send));
}

void Proposer::on_read_state(const raft::ReadState& rs) {
  std::string send;
  {
    MutexLock lock(&read_mu_);
    if (!current_ || current_->ctx != rs.request_ctx) return;
    current_->index = rs.index;
    current_->done = true;
    send = advance_rounds();
  }
  // Woken readers find the lock free.
  read_cv_.notify_all();
  if (!send.empty()) raft_.read_index(std::move(send));
}

Result<uint64_t> Proposer::read_index() {
  const auto deadline = clock_.now() + options_.request_timeout;
  MutexLock lock(&read_mu_);
  std::shared_ptr<Round> round;
  if (!current_) {
    current_ = new_round();
    current_->sent = clock_.now();
    round = current_;
    const std::string ctx = round->ctx;
    lock.unlock();
    raft_.read_index(ctx);
    lock.lock();
  } else {
    if (!next_) next_ = new_round();
    round = next_;
  }
  readers_.fetch_add(1, std::memory_order_acq_rel);
  struct Left {
    std::atomic<size_t>& n;
    ~Left() { n.fetch_sub(1, std::memory_order_acq_rel); }
  } left{readers_};
  auto answered = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return round->done; };
  while (!round->done) {
    const auto now = clock_.now();
    if (now >= deadline) break;
    lock.wait_for(read_cv_, std::min<std::chrono::nanoseconds>(options_.read_retry, deadline - now),
                  answered);
    const auto after = clock_.now();
    // One waiter of the round resends it (and says so), not each.
    if (round->done || current_ != round || after >= deadline ||
        after - round->sent < options_.read_retry) {
      continue;
    }
    round->sent = after;
    const std::string ctx = round->ctx;
    lock.unlock();
    logger_.warn("waiting for ReadIndex response took too long, retrying",
                 {{"sent-request-id", get_u64_be(reinterpret_cast<const uint8_t*>(ctx.data()))},
                  {"retry-timeout", format_go_duration(options_.read_retry)}});
    raft_.read_index(ctx);
    lock.lock();
  }
  if (round->done) {
    if (!round->error.is_ok()) return round->error;
    return round->index;
  }
  // No answer (no leader): give this round up so later reads start anew.
  std::string send;
  bool owner = false;
  if (current_ == round) {
    owner = true;
    send = advance_rounds();
  } else if (next_ == round) {
    next_.reset();
  }
  lock.unlock();
  if (owner) {
    logger_.warn("timed out waiting for read index response (local node might have slow network)",
                 {{"timeout", format_go_duration(options_.request_timeout)}});
  }
  if (!send.empty()) raft_.read_index(std::move(send));
  return raft_.lead() == MemberId(0) ? errors::no_leader() : errors::timeout();
}

}  // namespace etcd::server
