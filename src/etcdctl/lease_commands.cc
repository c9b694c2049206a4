// etcdctl lease grant|revoke|timetolive|list|keep-alive, printed as etcdctl
// prints clientv3's lease structs: the simple and fields printers by hand;
// -w json marshals the Go struct (the *ResponseHeader embedded, so its
// fields come first); -w protobuf marshals what the struct exposes, which
// for the structs that embed *ResponseHeader is the header alone, and for
// LeaseRevokeResponse (no Marshal method) is an error; -w table is not
// supported.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <iostream>

#include "client/keep_alive.h"
#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using client::Idempotent;

// Go's strconv.ParseInt(text, base, 64): the value, or the error's text.
bool parse_go_int(const std::string& text, int base, int64_t* out, std::string* err) {
  const std::string prefix = "strconv.ParseInt: parsing " + go_quote(text) + ": ";
  size_t i = 0;
  bool neg = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    neg = text[0] == '-';
    i = 1;
  }
  if (i == text.size()) {
    *err = prefix + "invalid syntax";
    return false;
  }
  unsigned __int128 v = 0;
  bool overflow = false;
  for (; i < text.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else {
      d = 99;
    }
    if (d >= base) {
      *err = prefix + "invalid syntax";
      return false;
    }
    if (!overflow) {
      v = v * base + d;
      if (v > (static_cast<unsigned __int128>(1) << 64)) overflow = true;
    }
  }
  const unsigned __int128 limit = static_cast<unsigned __int128>(INT64_MAX) + (neg ? 1 : 0);
  if (overflow || v > limit) {
    *err = prefix + "value out of range";
    return false;
  }
  *out = neg ? static_cast<int64_t>(-static_cast<__int128>(v)) : static_cast<int64_t>(v);
  return true;
}

int64_t lease_from_arg(const std::string& arg) {
  int64_t id = 0;
  std::string err;
  if (!parse_go_int(arg, 16, &id, &err)) {
    exit_with_error(kExitBadArgs, "bad lease ID arg (" + err + "), expecting ID in Hex");
  }
  return id;
}

std::string hex16(int64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

void print_fields_header(const etcdserverpb::ResponseHeader& h) {
  std::cout << "\"ClusterID\" : " << h.cluster_id() << "\n"
            << "\"MemberID\" : " << h.member_id() << "\n"
            << "\"Revision\" : " << h.revision() << "\n"
            << "\"RaftTerm\" : " << h.raft_term() << "\n";
}

// gogo's CompactTextString of a header, as %v prints a *ResponseHeader
// inside a struct: each set field as "name:value ".
std::string header_text(const etcdserverpb::ResponseHeader& h) {
  std::string s;
  if (h.cluster_id()) s += "cluster_id:" + std::to_string(h.cluster_id()) + " ";
  if (h.member_id()) s += "member_id:" + std::to_string(h.member_id()) + " ";
  if (h.revision()) s += "revision:" + std::to_string(h.revision()) + " ";
  if (h.raft_term()) s += "raft_term:" + std::to_string(h.raft_term()) + " ";
  return s;
}

[[noreturn]] void table_unsupported() {
  exit_with_error(kExitBadFeature, "table not supported as output format");
}

// -w protobuf of a struct embedding *ResponseHeader: the header's bytes.
void print_header_pb(const etcdserverpb::ResponseHeader& h) {
  std::cout << h.SerializeAsString() << std::flush;
}

void print_grant(const Display& d, const etcdserverpb::LeaseGrantResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << "lease " << hex16(r.id()) << " granted with TTL(" << r.ttl() << "s)\n";
      break;
    case OutputFormat::kJson:
      std::cout << GoJsonObject()
                       .embed(r.header())
                       .int64("ID", r.id())
                       .int64("TTL", r.ttl())
                       .string("Error", r.error())
                       .str()
                << "\n";
      break;
    case OutputFormat::kFields:
      print_fields_header(r.header());
      std::cout << "\"ID\" : " << r.id() << "\n\"TTL\" : " << r.ttl() << "\n";
      break;
    case OutputFormat::kProtobuf:
      print_header_pb(r.header());
      break;
    case OutputFormat::kTable:
      table_unsupported();
  }
}

void print_keep_alive(const Display& d, const etcdserverpb::LeaseKeepAliveResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << "lease " << hex16(r.id()) << " keepalived with TTL(" << r.ttl() << ")\n";
      break;
    case OutputFormat::kJson:
      std::cout << GoJsonObject().embed(r.header()).int64("ID", r.id()).int64("TTL", r.ttl()).str()
                << "\n";
      break;
    case OutputFormat::kFields:
      print_fields_header(r.header());
      std::cout << "\"ID\" : " << r.id() << "\n\"TTL\" : " << r.ttl() << "\n";
      break;
    case OutputFormat::kProtobuf:
      print_header_pb(r.header());
      break;
    case OutputFormat::kTable:
      table_unsupported();
  }
  std::cout << std::flush;
}

void print_time_to_live(const Display& d, const etcdserverpb::LeaseTimeToLiveResponse& r,
                        bool keys) {
  switch (d.format) {
    case OutputFormat::kSimple: {
      if (r.grantedttl() == 0 && r.ttl() == -1) {
        std::cout << "lease " << hex16(r.id()) << " already expired\n";
        return;
      }
      std::cout << "lease " << hex16(r.id()) << " granted with TTL(" << r.grantedttl()
                << "s), remaining(" << r.ttl() << "s)";
      if (keys) {
        std::cout << ", attached keys([";
        for (int i = 0; i < r.keys_size(); ++i) std::cout << (i ? " " : "") << r.keys(i);
        std::cout << "])";
      }
      std::cout << "\n";
      break;
    }
    case OutputFormat::kJson: {
      std::string ks = "null";
      if (r.keys_size() > 0) {
        ks = "[";
        for (int i = 0; i < r.keys_size(); ++i) ks += (i ? "," : "") + go_json_bytes(r.keys(i));
        ks += "]";
      }
      std::cout << GoJsonObject()
                       .embed(r.header())
                       .int64("id", r.id())
                       .int64("ttl", r.ttl())
                       .int64("granted-ttl", r.grantedttl())
                       .raw("keys", ks)
                       .str()
                << "\n";
      break;
    }
    case OutputFormat::kFields:
      print_fields_header(r.header());
      std::cout << "\"ID\" : " << r.id() << "\n\"TTL\" : " << r.ttl()
                << "\n\"GrantedTTL\" : " << r.grantedttl() << "\n";
      for (const auto& k : r.keys()) std::cout << "\"Key\" : " << go_quote(k) << "\n";
      break;
    case OutputFormat::kProtobuf:
      print_header_pb(r.header());
      break;
    case OutputFormat::kTable:
      table_unsupported();
  }
}

void print_leases(const Display& d, const etcdserverpb::LeaseLeasesResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << "found " << r.leases_size() << " leases\n";
      for (const auto& l : r.leases()) std::cout << hex16(l.id()) << "\n";
      break;
    case OutputFormat::kJson: {
      std::string ls = "null";
      if (r.leases_size() > 0) {
        ls = "[";
        for (int i = 0; i < r.leases_size(); ++i) {
          ls += (i ? "," : "") + GoJsonObject().int64("id", r.leases(i).id()).str();
        }
        ls += "]";
      }
      std::cout << GoJsonObject().embed(r.header()).raw("leases", ls).str() << "\n";
      break;
    }
    case OutputFormat::kFields:
      print_fields_header(r.header());
      for (const auto& l : r.leases()) std::cout << "\"ID\" : " << l.id() << "\n";
      break;
    case OutputFormat::kProtobuf:
      print_header_pb(r.header());
      break;
    case OutputFormat::kTable:
      table_unsupported();
  }
}

void print_revoke(const Display& d, int64_t id, const etcdserverpb::LeaseRevokeResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << "lease " << hex16(id) << " revoked\n";
      break;
    case OutputFormat::kJson:
      std::cout << go_json(r) << "\n";
      break;
    case OutputFormat::kFields:
      print_fields_header(r.header());
      break;
    case OutputFormat::kProtobuf:
      // clientv3.LeaseRevokeResponse is a defined type: no Marshal method.
      exit_with_error(kExitBadFeature,
                      "marshal unsupported for type clientv3.LeaseRevokeResponse ({" +
                          header_text(r.header()) + "})");
    case OutputFormat::kTable:
      table_unsupported();
  }
}

void lease_grant(Invocation& inv) {
  if (inv.args.size() != 1) exit_with_error(kExitBadArgs, "lease grant command needs TTL argument");
  int64_t ttl = 0;
  std::string err;
  if (!parse_go_int(inv.args[0], 10, &ttl, &err)) {
    exit_with_error(kExitBadArgs, "bad TTL (" + err + ")");
  }
  const Display d = display_from(inv);
  auto c = must_client(inv);
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl);
  etcdserverpb::LeaseGrantResponse resp;
  grpc::Status s = c->call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseGrant, req, &resp,
                           command_deadline(inv), Idempotent::kNo);
  if (!s.ok()) exit_with_error(kExitError, "failed to grant lease (" + go_error_string(s) + ")");
  print_grant(d, resp);
}

void lease_revoke(Invocation& inv) {
  if (inv.args.size() != 1) exit_with_error(kExitBadArgs, "lease revoke command needs 1 argument");
  const int64_t id = lease_from_arg(inv.args[0]);
  const Display d = display_from(inv);
  auto c = must_client(inv);
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(id);
  etcdserverpb::LeaseRevokeResponse resp;
  grpc::Status s = c->call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseRevoke, req, &resp,
                           command_deadline(inv), Idempotent::kNo);
  if (!s.ok()) exit_with_error(kExitError, "failed to revoke lease (" + go_error_string(s) + ")");
  print_revoke(d, id, resp);
}

void lease_time_to_live(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "lease timetolive command needs lease ID as argument");
  }
  const bool keys = inv.get_bool("keys");
  const int64_t id = lease_from_arg(inv.args[0]);
  const Display d = display_from(inv);
  auto c = must_client(inv);
  etcdserverpb::LeaseTimeToLiveRequest req;
  req.set_id(id);
  req.set_keys(keys);
  etcdserverpb::LeaseTimeToLiveResponse resp;
  grpc::Status s = c->call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseTimeToLive, req,
                           &resp, client::Deadline::max(), Idempotent::kYes);
  if (!s.ok()) exit_with_status(s, kExitBadConnection);
  print_time_to_live(d, resp, keys);
}

void lease_list(Invocation& inv) {
  const Display d = display_from(inv);
  auto c = must_client(inv);
  etcdserverpb::LeaseLeasesRequest req;
  etcdserverpb::LeaseLeasesResponse resp;
  grpc::Status s = c->call(&Connection::lease, &etcdserverpb::Lease::Stub::LeaseLeases, req, &resp,
                           client::Deadline::max(), Idempotent::kYes);
  if (!s.ok()) exit_with_status(s, kExitBadConnection);
  print_leases(d, resp);
}

void lease_keep_alive(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "lease keep-alive command needs lease ID as argument");
  }
  const int64_t id = lease_from_arg(inv.args[0]);
  const Display d = display_from(inv);
  auto c = must_client(inv);
  if (inv.get_bool("once")) {
    // One request on its own stream (clientv3's KeepAliveOnce).
    etcdserverpb::LeaseKeepAliveResponse resp;
    grpc::Status s = c->invoke(
        [&](Connection& conn, grpc::ClientContext& ctx) {
          auto stream = conn.lease->LeaseKeepAlive(&ctx);
          etcdserverpb::LeaseKeepAliveRequest req;
          req.set_id(id);
          if (stream->Write(req) && stream->Read(&resp)) {
            ctx.TryCancel();
            stream->Finish();
            return grpc::Status::OK;
          }
          return stream->Finish();
        },
        client::Deadline::max(), Idempotent::kYes);
    if (s.ok() && resp.ttl() <= 0) {
      s = grpc::Status(grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found");
    }
    if (!s.ok()) exit_with_status(s, kExitBadConnection);
    print_keep_alive(d, resp);
    return;
  }
  client::KeepAlive ka(*c, id);
  ka.run([&](const etcdserverpb::LeaseKeepAliveResponse& r) {
    if (r.ttl() <= 0) return false;  // clientv3 closes the channel without it
    print_keep_alive(d, r);
    return true;
  });
  if (d.format == OutputFormat::kSimple) {
    std::cout << "lease " << hex16(id) << " expired or revoked.\n";
  }
}

}  // namespace

void add_lease_commands(Command& root) {
  auto lease = std::make_unique<Command>("lease <subcommand>", "Lease related commands");
  lease->add("grant <ttl>", "Creates leases", "", lease_grant);
  lease->add("revoke <leaseID>", "Revokes leases", "", lease_revoke);
  lease->add("timetolive <leaseID> [options]", "Get lease information", "", lease_time_to_live)
      .flags()
      .add(FlagKind::kBool, "keys", "", "false", "Get keys attached to this lease");
  lease->add("list", "List all active leases", "", lease_list);
  lease->add("keep-alive [options] <leaseID>", "Keeps leases alive (renew)", "", lease_keep_alive)
      .flags()
      .add(FlagKind::kBool, "once", "", "false",
           "Resets the keep-alive time to its original value and exits immediately");
  root.add(std::move(lease));
}

}  // namespace etcd::ctl
