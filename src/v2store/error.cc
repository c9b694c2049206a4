#include "v2store/error.h"

#include "v2store/go_json.h"

namespace etcd::v2store {

std::string Error::message() const {
  switch (code) {
    case kKeyNotFound:
      return "Key not found";
    case kTestFailed:
      return "Compare failed";
    case kNotFile:
      return "Not a file";
    case 103:
      return "Reached the max number of peers in the cluster";
    case kNotDir:
      return "Not a directory";
    case kNodeExist:
      return "Key already exists";
    case 106:
      return "The prefix of given key is a keyword in etcd";
    case kRootROnly:
      return "Root is read only";
    case kDirNotEmpty:
      return "Directory not empty";
    case 109:
      return "Peer address has existed";
    case kUnauthorized:
      return "The request requires user authentication";
    case 200:
      return "Value is Required in POST form";
    case kPrevValueRequired:
      return "PrevValue is Required in POST form";
    case kTTLNaN:
      return "The given TTL in POST form is not a number";
    case kIndexNaN:
      return "The given index in POST form is not a number";
    case 204:
      return "Value or TTL is required in POST form";
    case 205:
      return "The given timeout in POST form is not a number";
    case 206:
      return "Name is required in POST form";
    case 207:
      return "Index or value is required";
    case 208:
      return "Index and value cannot both be specified";
    case kInvalidField:
      return "Invalid field";
    case kInvalidForm:
      return "Invalid POST form";
    case kRefreshValue:
      return "Value provided on refresh";
    case kRefreshTTLRequired:
      return "A TTL must be provided on refresh";
    case kRaftInternal:
      return "Raft Internal Error";
    case kLeaderElect:
      return "During Leader Election";
    case kWatcherCleared:
      return "watcher is cleared due to etcd recovery";
    case kEventIndexCleared:
      return "The event in requested index is outdated and cleared";
    case 402:
      return "Standby Internal Error";
    case 403:
      return "Invalid active size";
    case 404:
      return "Standby remove delay";
    case 500:
      return "Client Internal Error";
    default:
      return "";  // etcd has no text for other codes
  }
}

int Error::http_status() const {
  switch (code) {
    case kKeyNotFound:
      return 404;
    case kNotFile:
    case kDirNotEmpty:
      return 403;
    case kUnauthorized:
      return 401;
    case kTestFailed:
    case kNodeExist:
      return 412;
    case kRaftInternal:
    case kLeaderElect:
      return 500;
    default:
      return 400;
  }
}

std::string Error::to_json() const {
  std::string out = "{\"errorCode\":" + std::to_string(code) + ",\"message\":";
  append_go_json_string(out, message());
  if (!cause.empty()) {
    out += ",\"cause\":";
    append_go_json_string(out, cause);
  }
  out += ",\"index\":" + std::to_string(index) + "}";
  return out;
}

}  // namespace etcd::v2store
