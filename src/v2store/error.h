// The v2 API's errors, as etcd's v2error package has them: a numeric code
// with its fixed message, a cause (usually the key) and the store index at
// the time of the error. JSON: {"errorCode":100,"message":"Key not found",
// "cause":"/foo","index":5}.
//
// Thread-safe: values.
#pragma once

#include <cstdint>
#include <string>

namespace etcd::v2store {

enum ErrorCode : int {
  kKeyNotFound = 100,
  kTestFailed = 101,
  kNotFile = 102,
  kNotDir = 104,
  kNodeExist = 105,
  kRootROnly = 107,
  kDirNotEmpty = 108,
  kUnauthorized = 110,

  kPrevValueRequired = 201,
  kTTLNaN = 202,
  kIndexNaN = 203,
  kInvalidField = 209,
  kInvalidForm = 210,
  kRefreshValue = 211,
  kRefreshTTLRequired = 212,

  kRaftInternal = 300,
  kLeaderElect = 301,

  kWatcherCleared = 400,
  kEventIndexCleared = 401,
};

struct Error {
  int code = 0;
  std::string cause;
  uint64_t index = 0;

  // etcd's fixed message of the code ("Key not found").
  std::string message() const;
  // The HTTP status etcd answers with: 404 for 100, 403 for 102 and 108,
  // 401 for 110, 412 for 101 and 105, 500 for 300 and 301, else 400.
  int http_status() const;
  // {"errorCode":..,"message":..,"cause":..,"index":..} (cause left out when
  // empty, as Go's omitempty), no trailing newline.
  std::string to_json() const;
};

}  // namespace etcd::v2store
