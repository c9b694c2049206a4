// Status and Result<T>: the value that carries an expected error across a
// module boundary (tier one of the three error tiers: expected errors are
// values, broken invariants ASSERT, fsync failure and corruption PANIC).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace etcd {

// The codes are gRPC's canonical codes with the same numbers, so the RPC
// layer maps a Status to a grpc::Status without a table.
enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view code_name(Code code);

// Which expected error a Status is, where callers must tell apart errors
// that share a gRPC code: they test the reason, never the message text.
enum class Reason : uint8_t {
  kNone = 0,
  kCompacted,        // mvcc: the revision was compacted
  kFutureRev,        // mvcc: the revision is ahead of the store
  kProposalDropped,  // raft: a proposal was dropped (no leader, transfer...)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Status(Code code, std::string message, Reason reason)
      : code_(code), reason_(reason), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  Reason reason() const { return reason_; }
  const std::string& message() const { return message_; }
  // "CODE_NAME: message", for logs and tests.
  std::string to_string() const;

  bool operator==(const Status&) const = default;

 private:
  Code code_ = Code::kOk;
  Reason reason_ = Reason::kNone;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status failed_precondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status internal_error(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status data_loss(std::string m) { return {Code::kDataLoss, std::move(m)}; }

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    ASSERT(!std::get<Status>(v_).is_ok(), "Result built from an OK status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & {
    ASSERT(is_ok(), "value() on an error Result: " + status().to_string());
    return std::get<T>(v_);
  }
  const T& value() const& {
    ASSERT(is_ok(), "value() on an error Result: " + status().to_string());
    return std::get<T>(v_);
  }
  T&& value() && {
    ASSERT(is_ok(), "value() on an error Result: " + status().to_string());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace etcd

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::etcd::Status etcd_status_ = (expr);           \
    if (!etcd_status_.is_ok()) return etcd_status_; \
  } while (0)
