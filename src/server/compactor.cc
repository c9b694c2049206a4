#include "server/compactor.h"

#include <charconv>

#include "base/duration.h"
#include "server/errors.h"

namespace etcd::server {
namespace {

constexpr int64_t kNanosPerHour = int64_t{3600} * 1000000000;
// The periodic mode samples the revision this many times per period.
constexpr int64_t kRetryDivisor = 10;

}  // namespace

Result<int64_t> parse_compaction_retention(std::string_view mode, std::string_view retention) {
  // strconv.Atoi: an optional sign, then decimal digits.
  int64_t n = 0;
  const char* first = retention.data();
  const char* last = first + retention.size();
  if (!retention.empty() && retention[0] == '+') ++first;
  auto [end, ec] = std::from_chars(first, last, n);
  bool is_int = !retention.empty() && first != last && ec == std::errc() && end == last;
  if (is_int && n >= 0) {
    if (mode == "revision") return n;
    if (n > INT64_MAX / kNanosPerHour) {
      return invalid_argument("error parsing CompactionRetention: retention too large");
    }
    return n * kNanosPerHour;  // periodic (and etcd's default mode)
  }
  auto d = parse_go_duration(retention);
  if (!d.is_ok()) {
    return invalid_argument("error parsing CompactionRetention: " + d.status().message());
  }
  return *d;
}

Compactor::Compactor(CompactionMode mode, int64_t retention, CompactorHost& host,
                     log::Logger& logger, env::Clock& clock,
                     std::chrono::nanoseconds revision_interval)
    : mode_(mode),
      retention_(retention),
      host_(host),
      logger_(logger),
      clock_(clock),
      revision_interval_(revision_interval) {
  ASSERT(retention > 0, "auto-compaction needs a positive retention");
  ASSERT(revision_interval.count() > 0, "revision check interval must be positive");
  auto now = clock_.now();
  if (mode_ == CompactionMode::kPeriodic) {
    last_success_ = now;
    base_interval_ = std::chrono::nanoseconds(retention_);
    revs_.push_back(host_.current_revision());
    next_ = now + retry_interval();
  } else {
    next_ = now + revision_interval_;
  }
}

Compactor::~Compactor() { stop(); }

std::chrono::nanoseconds Compactor::retry_interval() const {
  return std::chrono::nanoseconds(std::min(retention_, kNanosPerHour) / kRetryDivisor);
}

size_t Compactor::retentions() const {
  return static_cast<size_t>(retention_ / std::max<int64_t>(1, retry_interval().count())) + 1;
}

bool Compactor::poll() {
  auto now = clock_.now();
  if (now < next_) return false;
  if (mode_ == CompactionMode::kPeriodic) {
    wake_periodic(now);
  } else {
    wake_revision(now);
  }
  return true;
}

void Compactor::wake_periodic(std::chrono::steady_clock::time_point now) {
  const std::chrono::nanoseconds period(retention_);
  const auto retry = retry_interval();
  if (host_.is_leader() && now - last_success_ >= base_interval_ &&
      revs_.front() != last_revision_) {
    // After the first compaction (which waits a whole retention), compact
    // at most every hour.
    if (base_interval_ == period) {
      base_interval_ = std::min(period, std::chrono::nanoseconds(kNanosPerHour));
    }
    const MainRev rev = revs_.front();
    logger_.info("starting auto periodic compaction",
                 {{"revision", rev}, {"compact-period", format_go_duration(period)}});
    auto start = clock_.now();
    Status st = host_.compact(rev);
    if (st.is_ok() || st == errors::compacted()) {
      logger_.info("completed auto periodic compaction",
                   {{"revision", rev},
                    {"compact-period", format_go_duration(period)},
                    {"took", format_go_duration(clock_.now() - start)}});
      last_revision_ = rev;
      last_success_ = clock_.now();
    } else {
      logger_.warn("failed auto periodic compaction",
                   {{"revision", rev},
                    {"compact-period", format_go_duration(period)},
                    {"retry-interval", format_go_duration(retry)},
                    {"error", st.message()}});
    }
  }
  // The next sample; the window keeps the revision of one period ago first.
  revs_.push_back(host_.current_revision());
  while (revs_.size() > retentions()) revs_.pop_front();
  next_ = clock_.now() + retry;
}

void Compactor::wake_revision(std::chrono::steady_clock::time_point now) {
  next_ = now + revision_interval_;
  if (!host_.is_leader()) return;
  const MainRev rev(host_.current_revision().value() - retention_);
  if (rev.value() <= 0 || rev == last_revision_) return;
  logger_.info("starting auto revision compaction",
               {{"revision", rev}, {"revision-compaction-retention", retention_}});
  auto start = clock_.now();
  Status st = host_.compact(rev);
  if (st.is_ok() || st == errors::compacted()) {
    last_revision_ = rev;
    logger_.info("completed auto revision compaction",
                 {{"revision", rev},
                  {"revision-compaction-retention", retention_},
                  {"took", format_go_duration(clock_.now() - start)}});
  } else {
    logger_.warn("failed auto revision compaction",
                 {{"revision", rev},
                  {"revision-compaction-retention", retention_},
                  {"retry-interval", format_go_duration(revision_interval_)},
                  {"error", st.message()}});
  }
  next_ = clock_.now() + revision_interval_;
}

void Compactor::run() {
  // Sleeps on the real time until each wake-up that is due on the injected
  // clock.
  worker_.start([this](Worker& self) {
    while (!self.stopping()) {
      auto now = clock_.now();
      if (now >= next_) {
        poll();
      } else {
        self.sleep_for(next_ - now);
      }
    }
  });
}

void Compactor::stop() { worker_.stop(); }

}  // namespace etcd::server
