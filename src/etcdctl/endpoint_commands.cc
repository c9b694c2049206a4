// etcdctl endpoint health|status|hashkv, as etcd 3.5's etcdctl
// (docs/etcdctl.md).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "etcdctl/cluster_util.h"
#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/humanize.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/output/table.h"
#include "etcdctl/printer.h"

namespace etcd::ctl {
namespace {

using client::Connection;
using etcdserverpb::Maintenance;

struct EpHealth {
  std::string ep;
  bool health = false;
  std::string took;
  std::string error;
};

struct EpStatus {
  std::string ep;
  etcdserverpb::StatusResponse resp;
};

struct EpHashKV {
  std::string ep;
  etcdserverpb::HashKVResponse resp;
};

TableOptions right_aligned() {
  TableOptions o;
  o.align = TableAlign::kRight;
  return o;
}

std::string join(const std::vector<std::string>& row, const char* sep) {
  std::string out;
  for (size_t i = 0; i < row.size(); ++i) out += (i ? sep : "") + row[i];
  return out;
}

// One endpoint's health as etcd 3.5 judges it: a linearizable read of
// "health" commits (permission denied counts: it went through consensus),
// and no alarm is raised.
EpHealth check_health(const Invocation& inv, client::Options o, const std::string& ep) {
  EpHealth h;
  h.ep = ep;
  o.endpoints = {ep};
  std::unique_ptr<client::Client> cp;
  grpc::Status s = new_client(std::move(o), cp);
  client::Client& c = *cp;
  if (!s.ok()) {
    h.error = go_error_string(s);
    return h;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = command_deadline(inv);
  etcdserverpb::RangeRequest req;
  req.set_key("health");
  etcdserverpb::RangeResponse resp;
  s = c.call(&Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp, deadline,
             client::Idempotent::kYes);
  h.took = go_duration(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  if (s.ok() || s.error_message() == "etcdserver: permission denied") {
    h.health = true;
  } else {
    h.error = go_error_string(s);
  }
  if (h.health) {
    etcdserverpb::AlarmRequest areq;
    areq.set_action(etcdserverpb::AlarmRequest::GET);
    etcdserverpb::AlarmResponse aresp;
    s = c.call(&Connection::maintenance, &Maintenance::Stub::Alarm, areq, &aresp, deadline,
               client::Idempotent::kYes);
    if (s.ok() && aresp.alarms_size() > 0) {
      h.health = false;
      h.error = "Active Alarm(s): ";
      for (const auto& a : aresp.alarms()) {
        switch (a.alarm()) {
          case etcdserverpb::NOSPACE:
            h.error += "NOSPACE ";
            break;
          case etcdserverpb::CORRUPT:
            h.error += "CORRUPT ";
            break;
          default:
            h.error += "UNKNOWN ";
        }
      }
    } else if (!s.ok()) {
      h.health = false;
      h.error = "Unable to fetch the alarm list";
    }
  }
  return h;
}

std::vector<std::vector<std::string>> health_rows(const std::vector<EpHealth>& hs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : hs) rows.push_back({h.ep, h.health ? "true" : "false", h.took, h.error});
  return rows;
}

void print_health(const Display& d, const std::vector<EpHealth>& hs) {
  switch (d.format) {
    case OutputFormat::kSimple:
      for (const auto& h : hs) {
        if (h.error.empty()) {
          std::cout << h.ep << " is healthy: successfully committed proposal: took = " << h.took
                    << "\n";
        } else {
          std::cout.flush();
          std::cerr << h.ep << " is unhealthy: failed to commit proposal: " << h.error << "\n";
        }
      }
      break;
    case OutputFormat::kJson: {
      std::string out = "[";
      for (size_t i = 0; i < hs.size(); ++i) {
        GoJsonObject o;
        o.string("endpoint", hs[i].ep).boolean("health", hs[i].health).string("took", hs[i].took);
        if (!hs[i].error.empty()) o.string("error", hs[i].error);
        out += (i ? "," : "") + o.str();
      }
      std::cout << out << "]\n";
      break;
    }
    case OutputFormat::kTable:
      std::cout << render_table({"endpoint", "health", "took", "error"}, health_rows(hs),
                                right_aligned());
      break;
    case OutputFormat::kFields:
      for (const auto& h : hs) {
        std::cout << "\"Endpoint\" : " << go_quote(h.ep) << "\n"
                  << "\"Health\" : " << (h.health ? "true" : "false") << "\n"
                  << "\"Took\" : " << h.took << "\n"
                  << "\"Error\" : " << h.error << "\n\n";
      }
      break;
    case OutputFormat::kProtobuf:
      unsupported_format(d);
  }
}

void endpoint_health(Invocation& inv) {
  const Display d = display_from(inv);
  const client::Options options = client_config_from(inv);
  const std::vector<std::string> eps = endpoints_from_cluster(inv);
  // Every endpoint at once; the results in the order they come in, as
  // etcdctl collects them from its goroutines.
  std::mutex mu;
  std::vector<EpHealth> results;
  std::vector<std::thread> threads;
  for (const auto& ep : eps) {
    threads.emplace_back([&, ep] {
      EpHealth h = check_health(inv, options, ep);
      std::lock_guard<std::mutex> l(mu);
      results.push_back(std::move(h));
    });
  }
  for (auto& t : threads) t.join();
  bool errs = false;
  for (const auto& h : results) errs = errs || !h.error.empty();
  print_health(d, results);
  if (errs) exit_with_error(kExitError, "unhealthy cluster");
}

std::vector<std::vector<std::string>> status_rows(const std::vector<EpStatus>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : list) {
    const auto& r = s.resp;
    std::vector<std::string> errs(r.errors().begin(), r.errors().end());
    rows.push_back({s.ep, hex_u64(r.header().member_id()), r.version(),
                    humanize_bytes(static_cast<uint64_t>(r.dbsize())),
                    r.leader() == r.header().member_id() ? "true" : "false",
                    r.islearner() ? "true" : "false", std::to_string(r.raftterm()),
                    std::to_string(r.raftindex()), std::to_string(r.raftappliedindex()),
                    join(errs, ", ")});
  }
  return rows;
}

void print_status(const Display& d, const std::vector<EpStatus>& list) {
  switch (d.format) {
    case OutputFormat::kSimple:
      for (const auto& row : status_rows(list)) std::cout << join(row, ", ") << "\n";
      break;
    case OutputFormat::kJson: {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        GoJsonObject o;
        o.string("Endpoint", list[i].ep).message("Status", list[i].resp);
        out += (i ? "," : "") + o.str();
      }
      std::cout << out << "]\n";
      break;
    }
    case OutputFormat::kTable:
      std::cout << render_table({"endpoint", "ID", "version", "db size", "is leader", "is learner",
                                 "raft term", "raft index", "raft applied index", "errors"},
                                status_rows(list), right_aligned());
      break;
    case OutputFormat::kFields:
      for (const auto& s : list) {
        const auto& r = s.resp;
        print_header_fields(r.header());
        std::vector<std::string> errs(r.errors().begin(), r.errors().end());
        std::cout << "\"Version\" : " << go_quote(r.version()) << "\n"
                  << "\"DBSize\" : " << r.dbsize() << "\n"
                  << "\"Leader\" : " << r.leader() << "\n"
                  << "\"IsLearner\" : " << (r.islearner() ? "true" : "false") << "\n"
                  << "\"RaftIndex\" : " << r.raftindex() << "\n"
                  << "\"RaftTerm\" : " << r.raftterm() << "\n"
                  << "\"RaftAppliedIndex\" : " << r.raftappliedindex() << "\n"
                  << "\"Errors\" : " << go_string_slice(errs) << "\n"
                  << "\"Endpoint\" : " << go_quote(s.ep) << "\n\n";
      }
      break;
    case OutputFormat::kProtobuf:
      unsupported_format(d);
  }
}

void endpoint_status(Invocation& inv) {
  auto c = must_client(inv);
  const Display d = display_from(inv);
  std::vector<EpStatus> list;
  bool failed = false;
  for (const auto& ep : endpoints_from_cluster(inv)) {
    EpStatus s;
    s.ep = ep;
    grpc::Status st = c->call_on(ep, &Connection::maintenance, &Maintenance::Stub::Status,
                                 etcdserverpb::StatusRequest(), &s.resp, command_deadline(inv));
    if (!st.ok()) {
      failed = true;
      std::cout.flush();
      std::cerr << "Failed to get the status of endpoint " << ep << " (" << go_error_string(st)
                << ")\n";
      continue;
    }
    list.push_back(std::move(s));
  }
  print_status(d, list);
  if (failed) {
    std::cout.flush();
    std::exit(kExitError);
  }
}

void print_hashkv(const Display& d, const std::vector<EpHashKV>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : list) rows.push_back({h.ep, std::to_string(h.resp.hash())});
  switch (d.format) {
    case OutputFormat::kSimple:
      for (const auto& row : rows) std::cout << join(row, ", ") << "\n";
      break;
    case OutputFormat::kJson: {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        // etcd 3.5's HashKVResponse has no hash_revision (etcd 3.6 added
        // it): its json.Marshal does not show the field our server sends.
        etcdserverpb::HashKVResponse resp = list[i].resp;
        resp.clear_hash_revision();
        GoJsonObject o;
        o.string("Endpoint", list[i].ep).message("HashKV", resp);
        out += (i ? "," : "") + o.str();
      }
      std::cout << out << "]\n";
      break;
    }
    case OutputFormat::kTable:
      std::cout << render_table({"endpoint", "hash"}, rows, right_aligned());
      break;
    case OutputFormat::kFields:
      for (const auto& h : list) {
        print_header_fields(h.resp.header());
        std::cout << "\"Endpoint\" : " << go_quote(h.ep) << "\n"
                  << "\"Hash\" : " << h.resp.hash() << "\n\n";
      }
      break;
    case OutputFormat::kProtobuf:
      unsupported_format(d);
  }
}

void endpoint_hashkv(Invocation& inv) {
  auto c = must_client(inv);
  const Display d = display_from(inv);
  std::vector<EpHashKV> list;
  grpc::Status last;
  etcdserverpb::HashKVRequest req;
  req.set_revision(inv.get_int("rev"));
  for (const auto& ep : endpoints_from_cluster(inv)) {
    EpHashKV h;
    h.ep = ep;
    grpc::Status st = c->call_on(ep, &Connection::maintenance, &Maintenance::Stub::HashKV, req,
                                 &h.resp, command_deadline(inv));
    if (!st.ok()) {
      last = st;
      std::cout.flush();
      std::cerr << "Failed to get the hash of endpoint " << ep << " (" << go_error_string(st)
                << ")\n";
      continue;
    }
    list.push_back(std::move(h));
  }
  print_hashkv(d, list);
  if (!last.ok()) exit_with_status(last);
}

}  // namespace

void add_endpoint_commands(Command& root) {
  Command& ep = root.add("endpoint <subcommand>", "Endpoint related commands", "", nullptr);
  ep.persistent_flags().add(FlagKind::kBool, "cluster", "", "false",
                            "use all endpoints from the cluster member list");
  ep.add("health", "Checks the healthiness of endpoints specified in `--endpoints` flag", "",
         endpoint_health);
  ep.add("status", "Prints out the status of endpoints specified in `--endpoints` flag",
         "When --write-out is set to simple, this command prints out comma-separated status "
         "lists for each endpoint.\nThe items in the lists are endpoint, ID, version, db size, "
         "is leader, is learner, raft term, raft index, raft applied index, errors.\n",
         endpoint_status);
  Command& hashkv = ep.add("hashkv", "Prints the KV history hash for each endpoint in --endpoints",
                           "", endpoint_hashkv);
  hashkv.persistent_flags().add(FlagKind::kInt, "rev", "", "0",
                                "maximum revision to hash (default: all revisions)");
}

}  // namespace etcd::ctl
