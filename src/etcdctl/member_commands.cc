// etcdctl member add|remove|update|list|promote, as etcd 3.5's etcdctl
// (docs/etcdctl.md).
#include <cstdio>
#include <iostream>

#include "etcdctl/cluster_util.h"
#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/output/table.h"
#include "etcdctl/printer.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using etcdserverpb::Cluster;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string padded_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%16llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& v, const char* sep) {
  std::string out;
  for (int i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// The member ID argument of remove, update and promote.
uint64_t member_id_arg(const Invocation& inv) {
  if (inv.args.size() != 1) exit_with_error(kExitBadArgs, "member ID is not provided");
  ParsedUint id = parse_hex_uint64(inv.args[0]);
  if (!id.error.empty()) {
    exit_with_error(kExitBadArgs, "bad member ID arg (" + id.error + "), expecting ID in Hex");
  }
  return id.value;
}

// Go's json.Marshal of a []string (nil prints null).
std::string json_strings(const google::protobuf::RepeatedPtrField<std::string>& v) {
  if (v.empty()) return "null";
  std::string out = "[";
  for (int i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += go_json_string(v[i]);
  }
  return out + "]";
}

// etcd 3.5's `-w json --hex` member list: IDs as hex strings, its own
// hand-built layout (the name unescaped and "clientURLS" as etcd spells it).
std::string member_list_hex_json(const etcdserverpb::MemberListResponse& r) {
  std::string out = "{\"header\":{\"cluster_id\":\"" + hex_u64(r.header().cluster_id()) +
                    "\",\"member_id\":\"" + hex_u64(r.header().member_id()) +
                    "\",\"raft_term\":" + std::to_string(r.header().raft_term()) + "}";
  for (int i = 0; i < r.members_size(); ++i) {
    const auto& m = r.members(i);
    out += i == 0 ? ",\"members\":[{\"ID\":\"" : ",{\"ID\":\"";
    out += hex_u64(m.id()) + "\",\"name\":\"" + m.name() +
           "\",\"peerURLs\":" + json_strings(m.peerurls()) +
           ",\"clientURLS\":" + json_strings(m.clienturls()) + "}";
    if (i == r.members_size() - 1) out += "]";
  }
  return out + "}";
}

std::vector<std::vector<std::string>> member_rows(const etcdserverpb::MemberListResponse& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r.members()) {
    rows.push_back({hex_u64(m.id()), m.name().empty() ? "unstarted" : "started", m.name(),
                    join(m.peerurls(), ","), join(m.clienturls(), ","),
                    m.islearner() ? "true" : "false"});
  }
  return rows;
}

void print_member_list(const Display& d, const etcdserverpb::MemberListResponse& r) {
  switch (d.format) {
    case OutputFormat::kSimple:
      for (const auto& row : member_rows(r)) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) line += (i ? ", " : "") + row[i];
        std::cout << line << "\n";
      }
      break;
    case OutputFormat::kJson:
      std::cout << (d.hex ? member_list_hex_json(r) : go_json(r)) << "\n";
      break;
    case OutputFormat::kTable: {
      TableOptions o;
      o.align = TableAlign::kRight;
      std::cout << render_table(
          {"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"}, member_rows(r), o);
      break;
    }
    case OutputFormat::kFields:
      print_header_fields(r.header());
      for (const auto& m : r.members()) {
        std::cout << "\"ID\" : " << m.id() << "\n";
        std::cout << "\"Name\" : " << go_quote(m.name()) << "\n";
        for (const auto& u : m.peerurls()) std::cout << "\"PeerURL\" : " << go_quote(u) << "\n";
        for (const auto& u : m.clienturls()) {
          std::cout << "\"ClientURL\" : " << go_quote(u) << "\n";
        }
        std::cout << "\"IsLearner\" : " << (m.islearner() ? "true" : "false") << "\n\n";
      }
      break;
    case OutputFormat::kProtobuf:
      std::cout << r.SerializeAsString();
      break;
  }
}

// The printers of add/remove/update/promote: a line in simple, the message
// in json and protobuf; table and fields have none (etcdctl says so after
// the change is made).
void print_change(const Display& d, const google::protobuf::Message& resp,
                  const std::string& simple_line) {
  switch (d.format) {
    case OutputFormat::kSimple:
      std::cout << simple_line << "\n";
      break;
    case OutputFormat::kJson:
      std::cout << go_json(resp) << "\n";
      break;
    case OutputFormat::kProtobuf:
      std::cout << resp.SerializeAsString();
      break;
    default:
      unsupported_format(d);
  }
}

void member_add(Invocation& inv) {
  if (inv.args.empty()) exit_with_error(kExitBadArgs, "member name not provided");
  if (inv.args.size() > 1) {
    std::string ev = "too many arguments";
    for (const auto& s : inv.args) {
      if (lower(s).rfind("http", 0) == 0) ev += ", did you mean --peer-urls=" + s;
    }
    exit_with_error(kExitBadArgs, ev);
  }
  const std::string name = inv.args[0];
  const std::string peer_urls = inv.get_string("peer-urls");
  if (peer_urls.empty()) exit_with_error(kExitBadArgs, "member peer urls not provided");
  const std::vector<std::string> urls = split_commas(peer_urls);
  const Display d = display_from(inv);
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  if (std::string err = check_peer_urls(urls); !err.empty()) exit_with_error(kExitError, err);
  etcdserverpb::MemberAddRequest req;
  for (const auto& u : urls) req.add_peerurls(u);
  req.set_islearner(inv.get_bool("learner"));
  etcdserverpb::MemberAddResponse resp;
  check(c->call(&Connection::cluster, &Cluster::Stub::MemberAdd, req, &resp, deadline,
                client::Idempotent::kNo));
  const uint64_t new_id = resp.member().id();
  print_change(d, resp,
               "Member " + padded_hex(new_id) + " added to cluster " +
                   padded_hex(resp.header().cluster_id()));
  if (d.format != OutputFormat::kSimple) return;
  std::string conf;
  for (const auto& m : resp.members()) {
    for (const auto& u : m.peerurls()) {
      if (!conf.empty()) conf += ",";
      conf += (m.id() == new_id ? name : m.name()) + "=" + u;
    }
  }
  std::cout << "\n"
            << "ETCD_NAME=" << go_quote(name) << "\n"
            << "ETCD_INITIAL_CLUSTER=" << go_quote(conf) << "\n"
            << "ETCD_INITIAL_ADVERTISE_PEER_URLS=" << go_quote(peer_urls) << "\n"
            << "ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
}

void member_remove(Invocation& inv) {
  const uint64_t id = member_id_arg(inv);
  const Display d = display_from(inv);
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  etcdserverpb::MemberRemoveRequest req;
  req.set_id(id);
  etcdserverpb::MemberRemoveResponse resp;
  check(c->call(&Connection::cluster, &Cluster::Stub::MemberRemove, req, &resp, deadline,
                client::Idempotent::kNo));
  print_change(d, resp,
               "Member " + padded_hex(id) + " removed from cluster " +
                   padded_hex(resp.header().cluster_id()));
}

void member_update(Invocation& inv) {
  const uint64_t id = member_id_arg(inv);
  const std::string peer_urls = inv.get_string("peer-urls");
  if (peer_urls.empty()) exit_with_error(kExitBadArgs, "member peer urls not provided");
  const std::vector<std::string> urls = split_commas(peer_urls);
  const Display d = display_from(inv);
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  if (std::string err = check_peer_urls(urls); !err.empty()) exit_with_error(kExitError, err);
  etcdserverpb::MemberUpdateRequest req;
  req.set_id(id);
  for (const auto& u : urls) req.add_peerurls(u);
  etcdserverpb::MemberUpdateResponse resp;
  // Setting the same URLs again is harmless: etcd's client retries it.
  check(c->call(&Connection::cluster, &Cluster::Stub::MemberUpdate, req, &resp, deadline,
                client::Idempotent::kYes));
  print_change(
      d, resp,
      "Member " + padded_hex(id) + " updated in cluster " + padded_hex(resp.header().cluster_id()));
}

void member_list(Invocation& inv) {
  const Display d = display_from(inv);
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  etcdserverpb::MemberListRequest req;
  req.set_linearizable(true);  // etcd 3.5's client asks for a linearizable list
  etcdserverpb::MemberListResponse resp;
  check(c->call(&Connection::cluster, &Cluster::Stub::MemberList, req, &resp, deadline,
                client::Idempotent::kYes));
  print_member_list(d, resp);
}

void member_promote(Invocation& inv) {
  const uint64_t id = member_id_arg(inv);
  const Display d = display_from(inv);
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  etcdserverpb::MemberPromoteRequest req;
  req.set_id(id);
  etcdserverpb::MemberPromoteResponse resp;
  check(c->call(&Connection::cluster, &Cluster::Stub::MemberPromote, req, &resp, deadline,
                client::Idempotent::kNo));
  print_change(d, resp,
               "Member " + padded_hex(id) + " promoted in cluster " +
                   padded_hex(resp.header().cluster_id()));
}

}  // namespace

void add_member_commands(Command& root) {
  Command& member = root.add("member <subcommand>", "Membership related commands", "", nullptr);

  Command& add =
      member.add("add <memberName> [options]", "Adds a member into the cluster", "", member_add);
  add.flags().add(FlagKind::kString, "peer-urls", "", "",
                  "comma separated peer URLs for the new member.");
  add.flags().add(FlagKind::kBool, "learner", "", "false",
                  "indicates if the new member is raft learner");

  member.add("remove <memberID>", "Removes a member from the cluster", "", member_remove);

  Command& update = member.add("update <memberID> [options]", "Updates a member in the cluster", "",
                               member_update);
  update.flags().add(FlagKind::kString, "peer-urls", "", "",
                     "comma separated peer URLs for the updated member.");

  member.add("list", "Lists all members in the cluster",
             "When --write-out is set to simple, this command prints out comma-separated member "
             "lists for each endpoint.\nThe items in the lists are ID, Status, Name, Peer Addrs, "
             "Client Addrs, Is Learner.\n",
             member_list);

  member.add("promote <memberID>", "Promotes a non-voting member in the cluster",
             "Promotes a non-voting learner member to a voting one in the cluster.\n",
             member_promote);
}

}  // namespace etcd::ctl
