// etcdutl's output formats (-w simple|json|table|fields|protobuf) for the
// snapshot status and hashkv results, in etcd's layouts: simple is the
// table's row joined with ", ", table is Go tablewriter's (upper-case
// centred headers, right-aligned cells), json is encoding/json of etcd's
// struct, fields is `"Name" : value` lines. etcd has no protobuf form for
// these: it fails with "protobuf not supported as output format".
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "etcdutl/hashkv.h"
#include "etcdutl/snapshot.h"

namespace etcd::utl {

enum class OutputFormat { kSimple, kJson, kTable, kFields, kProtobuf };

// kInvalidArgument "unsupported output format" for anything else.
Result<OutputFormat> parse_output_format(std::string_view name);

// kUnimplemented "<format> not supported as output format" for protobuf.
Status print_snapshot_status(std::ostream& out, const SnapshotStatus& status, OutputFormat format);
Status print_hash_kv(std::ostream& out, const HashKvResult& hash, OutputFormat format);

// go-humanize's Bytes (SI units): 7 -> "7 B", 20480 -> "20 kB", 2129920 -> "2.1 MB".
std::string humanize_bytes(uint64_t n);

// Go tablewriter's rendering with etcd's settings (header auto-format,
// ALIGN_RIGHT), each line ending in '\n'.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace etcd::utl
