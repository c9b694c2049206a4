#include "etcdctl/printer.h"

#include <iostream>

#include "etcdctl/cluster_util.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl {

std::string display_bytes(const Display& d, std::string_view bytes) {
  return d.hex ? hex_escape(bytes) : std::string(bytes);
}

void print_kv(const Display& d, const mvccpb::KeyValue& kv, bool value_only) {
  if (!value_only) std::cout << display_bytes(d, kv.key()) << "\n";
  std::cout << display_bytes(d, kv.value()) << "\n";
}

void print_header_fields(const etcdserverpb::ResponseHeader& h) {
  std::cout << "\"ClusterID\" : " << h.cluster_id() << "\n"
            << "\"MemberID\" : " << h.member_id() << "\n"
            << "\"Revision\" : " << h.revision() << "\n"
            << "\"RaftTerm\" : " << h.raft_term() << "\n";
}

void print_kv_fields(std::string_view prefix, const mvccpb::KeyValue& kv) {
  const std::string p(prefix);
  std::cout << "\"" << p << "Key\" : " << go_quote(kv.key()) << "\n"
            << "\"" << p << "CreateRevision\" : " << kv.create_revision() << "\n"
            << "\"" << p << "ModRevision\" : " << kv.mod_revision() << "\n"
            << "\"" << p << "Version\" : " << kv.version() << "\n"
            << "\"" << p << "Value\" : " << go_quote(kv.value()) << "\n"
            << "\"" << p << "Lease\" : " << kv.lease() << "\n";
}

void print_json(const google::protobuf::Message& msg) { std::cout << go_json(msg) << "\n"; }

void print_protobuf(const google::protobuf::Message& msg) {
  std::string bytes;
  msg.SerializeToString(&bytes);
  std::cout << bytes;
}

bool print_whole_response(const Display& d, const google::protobuf::Message& resp) {
  switch (d.format) {
    case OutputFormat::kJson:
      print_json(resp);
      return true;
    case OutputFormat::kProtobuf:
      print_protobuf(resp);
      return true;
    case OutputFormat::kTable:
      unsupported_format(d);
    case OutputFormat::kSimple:
    case OutputFormat::kFields:
      break;
  }
  return false;
}

void print_get(const Display& d, const etcdserverpb::RangeResponse& r, bool value_only) {
  if (!print_whole_response(d, r)) {
    if (d.format == OutputFormat::kFields) {
      print_header_fields(r.header());
      for (const auto& kv : r.kvs()) print_kv_fields("", kv);
      std::cout << "\"More\" : " << (r.more() ? "true" : "false") << "\n";
      std::cout << "\"Count\" : " << r.count() << "\n";
    } else {
      for (const auto& kv : r.kvs()) print_kv(d, kv, value_only);
    }
  }
  std::cout << std::flush;
}

}  // namespace etcd::ctl
