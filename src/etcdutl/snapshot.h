// `etcdutl snapshot status` and `etcdutl snapshot restore` (also what
// etcdctl's deprecated `snapshot status|restore` call). A snapshot file is
// what Maintenance.Snapshot streams (`etcdctl snapshot save` writes it): a
// bbolt image, etcd's format, followed by the 32 bytes of its SHA-256
// (docs/storage-backend.md, "Snapshot stream"), from etcd or from ours.
// A db file without the digest is accepted too (restore then needs
// skip_hash_check, as etcd's): an etcd member's member/snap/db (bbolt) or
// ours (LMDB), and so is a snapshot file an older version of ours saved
// (an LMDB image and its digest).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace etcd::utl {

// etcd's snapshot.Status.
struct SnapshotStatus {
  // CRC-32C (Castagnoli) over every bucket name, key and value, buckets in
  // name order (nothing ignored: the consistent index counts). Equal to
  // etcd's for the same bbolt file.
  uint32_t hash = 0;
  int64_t revision = 0;    // main revision of the last record of the key bucket
  int64_t total_keys = 0;  // keys in all buckets
  int64_t total_size = 0;  // bytes of the image's pages
};

Result<SnapshotStatus> snapshot_status(const std::string& path);

// etcd's snapshot.RestoreConfig, with the etcdutl flags' defaults.
struct RestoreOptions {
  std::string snapshot_path;
  std::string name = "default";
  std::string data_dir;  // "" -> "<name>.etcd"
  std::string wal_dir;   // "" -> "<data_dir>/member/wal"
  std::vector<std::string> initial_advertise_peer_urls = {"http://localhost:2380"};
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_token = "etcd-cluster";
  bool skip_hash_check = false;
  // 3.5.x: raise the latest revision by this much and schedule a
  // compaction at the new revision (both or neither).
  uint64_t bump_revision = 0;
  bool mark_compacted = false;
};

// Makes a data dir from which `etcd` starts as a member of a new cluster
// that holds the snapshot's keys and revision, with the membership of
// initial_cluster (ids derived from it and the token as the server derives
// them, so members restored from one snapshot with one --initial-cluster
// form one cluster). Refuses a non-empty data dir and an existing WAL dir
// with etcd's errors. `logger` (optional) gets etcd's "restoring snapshot" /
// "restored snapshot" lines.
Status snapshot_restore(const RestoreOptions& options, log::Logger* logger = nullptr);

}  // namespace etcd::utl
