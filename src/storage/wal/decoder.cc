#include "storage/wal/decoder.h"

#include "walpb/record.pb.h"

namespace etcd::wal {
namespace {

template <typename Message>
bool parse_strict(std::string_view data, Message* out) {
  if (data.size() > static_cast<size_t>(INT32_MAX)) return false;
  if (!out->ParseFromArray(data.data(), static_cast<int>(data.size()))) return false;
  // proto3 keeps unknown fields instead of failing; the WAL only ever holds
  // these exact messages, so anything extra is a record of another type.
  return out->GetReflection()->GetUnknownFields(*out).empty();
}

Status at(std::string_view name, uint64_t offset, const std::string& why) {
  return data_loss("wal: " + std::string(name) + ": corrupt record at offset " +
                   std::to_string(offset) + ": " + why);
}

}  // namespace

std::string encode_snapshot_marker(const WalSnapshot& snap) {
  walpb::Snapshot m;
  m.set_index(snap.index.value());
  m.set_term(snap.term.value());
  return m.SerializeAsString();
}

bool decode_snapshot_marker(std::string_view data, WalSnapshot* out) {
  walpb::Snapshot m;
  if (!parse_strict(data, &m)) return false;
  out->index = Index(m.index());
  out->term = Term(m.term());
  return true;
}

bool decode_entry(std::string_view data, raftpb::Entry* out) { return parse_strict(data, out); }

bool decode_hard_state(std::string_view data, raftpb::HardState* out) {
  return parse_strict(data, out);
}

Result<SegmentScan> Replayer::feed(std::string_view name, std::string_view bytes,
                                   bool last_segment) {
  auto scan = scan_segment(bytes, crc_, last_segment, max_record_bytes_);
  if (!scan.is_ok()) {
    return data_loss("wal: " + std::string(name) + ": " + scan.status().message());
  }
  for (const ScannedRecord& rec : scan->records) {
    switch (rec.type) {
      case RecordType::kEntry: {
        raftpb::Entry e;
        if (!decode_entry(rec.data, &e)) return at(name, rec.offset, "entry does not parse");
        if (e.index() > start_.index.value()) {
          // Entry i sits at position i - start - 1; a later record for an
          // index already present truncates the log there (Raft §5.3).
          uint64_t pos = e.index() - start_.index.value() - 1;
          auto& ents = contents_.entries;
          if (pos > ents.size()) {
            return at(name, rec.offset,
                      "entry " + std::to_string(e.index()) + " leaves a gap after entry " +
                          std::to_string(start_.index.value() + ents.size()));
          }
          ents.resize(pos);
          ents.push_back(std::move(e));
          last_index_ = Index(ents.back().index());
        } else {
          // Writing entry i truncated the log after i - 1, so everything
          // after the snapshot read so far is gone. (etcd's reader skips
          // such an entry and keeps the stale suffix; a Raft log does not.)
          contents_.entries.clear();
          last_index_ = Index(e.index());
          start_entry_term_ = e.index() == start_.index.value() ? e.term() : 0;
        }
        break;
      }
      case RecordType::kState:
        if (!decode_hard_state(rec.data, &contents_.hard_state)) {
          return at(name, rec.offset, "hard state does not parse");
        }
        break;
      case RecordType::kMetadata:
        if (have_metadata_ && contents_.metadata != rec.data) {
          return data_loss("wal: conflicting metadata found in " + std::string(name) +
                           " at offset " + std::to_string(rec.offset));
        }
        contents_.metadata.assign(rec.data);
        have_metadata_ = true;
        break;
      case RecordType::kSnapshot: {
        WalSnapshot snap;
        if (!decode_snapshot_marker(rec.data, &snap)) {
          return at(name, rec.offset, "snapshot marker does not parse");
        }
        if (snap.index == start_.index) {
          if (snap.term != start_.term) {
            return failed_precondition("wal: snapshot mismatch: marker at index " +
                                       std::to_string(snap.index.value()) + " has term " +
                                       std::to_string(snap.term.value()) + ", expected " +
                                       std::to_string(start_.term.value()));
          }
          snapshot_found_ = true;
          // A marker for a snapshot the log did not hold at (index, term)
          // is a snapshot received from a leader: Raft replaced the whole
          // log with it, so the entries recorded before the marker are not
          // part of the log any more (a local snapshot's log holds the
          // entry, and keeps what follows).
          if (start_entry_term_ != start_.term.value() && !contents_.entries.empty()) {
            contents_.entries.clear();
            last_index_ = start_.index;
          }
        }
        break;
      }
      case RecordType::kCrc:
        break;  // the scan checked the chain
    }
  }
  crc_ = scan->crc;
  return scan;
}

Status Replayer::finish() const {
  if (!snapshot_found_) {
    return not_found("wal: snapshot not found: no marker for index " +
                     std::to_string(start_.index.value()) + " term " +
                     std::to_string(start_.term.value()));
  }
  return Status::ok();
}

}  // namespace etcd::wal
