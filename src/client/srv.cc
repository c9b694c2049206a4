#include "client/srv.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include <cstring>

namespace etcd::client {
namespace {

struct Lookup {
  std::vector<std::string> hostports;
  std::string error;  // "" on success
};

Lookup lookup_srv(const std::string& name, const std::optional<sockaddr_in>& nameserver) {
  Lookup out;
  struct __res_state st;
  std::memset(&st, 0, sizeof st);
  if (res_ninit(&st) != 0) {
    out.error = "lookup " + name + ": resolver initialisation failed";
    return out;
  }
  if (nameserver) {
    st.nscount = 1;
    st.nsaddr_list[0] = *nameserver;
  }
  unsigned char answer[NS_MAXMSG];
  const int n = res_nquery(&st, name.c_str(), ns_c_in, ns_t_srv, answer, sizeof answer);
  if (n < 0) {
    const char* why = st.res_h_errno == HOST_NOT_FOUND ? "no such host" : hstrerror(st.res_h_errno);
    out.error = "lookup " + name + ": " + why;
    res_nclose(&st);
    return out;
  }
  res_nclose(&st);
  ns_msg msg;
  if (ns_initparse(answer, n, &msg) != 0) {
    out.error = "lookup " + name + ": cannot parse the DNS answer";
    return out;
  }
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv) continue;
    const unsigned char* rd = ns_rr_rdata(rr);
    if (ns_rr_rdlen(rr) < 7) continue;
    const int port = (rd[4] << 8) | rd[5];
    char target[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof target) < 0)
      continue;
    // Go keeps the trailing dot of a target: "host.example.com.:2379".
    out.hostports.push_back(std::string(target) + ".:" + std::to_string(port));
  }
  return out;
}

}  // namespace

std::string srv_service(const std::string& service, const std::string& service_name, bool tls) {
  std::string s = tls ? service + "-ssl" : service;
  if (!service_name.empty()) s += "-" + service_name;
  return s;
}

Result<std::vector<std::string>> discover_srv(const std::string& service, const std::string& domain,
                                              const std::string& service_name,
                                              std::optional<sockaddr_in> nameserver) {
  const Lookup https =
      lookup_srv("_" + srv_service(service, service_name, true) + "._tcp." + domain, nameserver);
  const Lookup http =
      lookup_srv("_" + srv_service(service, service_name, false) + "._tcp." + domain, nameserver);
  if (!https.error.empty() && !http.error.empty()) {
    return invalid_argument("dns lookup errors: " + https.error + " and " + http.error);
  }
  std::vector<std::string> endpoints;
  for (const auto& hp : https.hostports) endpoints.push_back("https://" + hp);
  for (const auto& hp : http.hostports) endpoints.push_back("http://" + hp);
  return endpoints;
}

}  // namespace etcd::client
