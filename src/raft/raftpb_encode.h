// The raftpb messages as etcd writes them to disk (WAL records, .snap
// files) and into entries (conf changes), byte for byte.
//
// etcd generates raftpb with gogoproto, proto2 and non-nullable fields: the
// scalar fields are written even when zero, always in field-number order,
// repeated uint64 are not packed, nested messages are always written, and
// a bytes field is written when its Go slice is non-nil, which for every
// slice etcd persists means non-empty. Our raft.proto is proto3 and
// protobuf's serializer skips zero fields, so the persisted forms go
// through these encoders instead (docs/storage.md). Decoding stays with
// protobuf, which reads both forms.
#pragma once

#include <string>

#include "raftpb/raft.pb.h"

namespace etcd::raft::gogo {

std::string encode(const raftpb::Entry& e);
std::string encode(const raftpb::HardState& hs);
std::string encode(const raftpb::ConfState& cs);
std::string encode(const raftpb::SnapshotMetadata& m);
std::string encode(const raftpb::Snapshot& s);
std::string encode(const raftpb::ConfChange& cc);
std::string encode(const raftpb::ConfChangeSingle& c);
std::string encode(const raftpb::ConfChangeV2& cc);

// Appends encode(e) to *out without a temporary copy of the data.
void append(std::string* out, const raftpb::Entry& e);

// encode(e).size(), without encoding.
size_t encoded_size(const raftpb::Entry& e);

}  // namespace etcd::raft::gogo
