// Pieces shared by the benchmark's subcommands: global options, per-thread
// results and the report in the layout of etcd's tools/benchmark.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace etcd::bench {

struct GlobalOptions {
  std::string endpoints = "127.0.0.1:2379";
  int conns = 1;
  int clients = 1;
  int64_t total = 10000;
  bool precise = false;
};

// Latencies and errors gathered by one driver thread (no sharing while running).
struct Results {
  std::vector<double> latencies_s;
  std::map<std::string, int64_t> errors;
};

// gRPC's status code names, as Go's client prints them.
std::string code_name(grpc::StatusCode code);
// "http://h:p,h2:p2" -> {"h:p", "h2:p2"}.
std::vector<std::string> split_endpoints(const std::string& list);
// A channel with its own TCP connection to `endpoint`; nullptr (and a message
// on stderr) if it does not connect within 10 s.
std::shared_ptr<grpc::Channel> dial(const std::string& endpoint);
// Prints the summary, histogram, percentiles and errors as etcd's tool does;
// --precise prints seconds with full precision instead of four decimals.
void report(const std::vector<Results>& per_conn, double elapsed_s, bool precise);

}  // namespace etcd::bench
