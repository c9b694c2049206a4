// The member's TLS on the peer port, from its configuration (etcd's
// --peer-* flags): the server side of its https listeners and the client
// side of its connections to other members.
#pragma once

#include <memory>

#include "base/log.h"
#include "base/status.h"
#include "rpc/tls/tls.h"
#include "server/config/config.h"

namespace etcd::rpc::peer {

struct PeerTls {
  // Set when a listen peer URL is https.
  std::shared_ptr<tls::TlsContext> server;
  // Set when the member has a peer certificate (given or --peer-auto-tls):
  // presented to the members it dials, and used to verify them.
  std::shared_ptr<tls::TlsContext> client;
  bool skip_client_san_verify = false;
};

// etcd's rules: --peer-auto-tls makes a self-signed certificate under
// <data-dir>/fixtures/peer for the listen URLs' hosts (ignored, with a
// warning, when certificate files are given; its connections then skip
// verifying the other members, whose certificates no CA signed); an https
// listen URL without a certificate is an error ("cannot listen on TLS for
// ..."); an http one with certificate files or --peer-client-cert-auth is
// warned about. Logs "starting with peer TLS" as etcd does.
Result<PeerTls> make_peer_tls(const config::ServerConfig& cfg, log::Logger& logger);

}  // namespace etcd::rpc::peer
