#include "etcdutl/printer.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace etcd::utl {
namespace {

Status unsupported(OutputFormat f) {
  std::string name = f == OutputFormat::kProtobuf ? "protobuf" : "this";
  return Status(Code::kUnimplemented, name + " not supported as output format");
}

std::string to_hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%x", v);
  return buf;
}

// tablewriter's Title: '_' (and '.' between letters) to spaces, upper case.
std::string title(const std::string& h) {
  std::string out = h;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '_') out[i] = ' ';
    out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[i])));
  }
  return out;
}

void print_rows(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  for (const auto& row : rows) {
    std::string line;
    for (const auto& cell : row) line += (line.empty() ? "" : ", ") + cell;
    out << line << "\n";
  }
}

}  // namespace

Result<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "simple") return OutputFormat::kSimple;
  if (name == "json") return OutputFormat::kJson;
  if (name == "table") return OutputFormat::kTable;
  if (name == "fields") return OutputFormat::kFields;
  if (name == "protobuf") return OutputFormat::kProtobuf;
  return invalid_argument("unsupported output format");
}

std::string humanize_bytes(uint64_t n) {
  static const char* const kSizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (n < 10) return std::to_string(n) + " B";
  const double s = static_cast<double>(n);
  const int e = static_cast<int>(std::floor(std::log(s) / std::log(1000.0)));
  const double val = std::floor(s / std::pow(1000.0, e) * 10 + 0.5) / 10;
  char buf[64];
  std::snprintf(buf, sizeof(buf), val < 10 ? "%.1f %s" : "%.0f %s", val, kSizes[e]);
  return buf;
}

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> head;
  std::vector<size_t> width;
  for (const auto& h : header) {
    head.push_back(title(h));
    width.push_back(head.back().size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string line = "+";
  for (size_t w : width) line += std::string(w + 2, '-') + "+";
  line += "\n";
  std::string out = line + "|";
  for (size_t i = 0; i < head.size(); ++i) {
    const size_t gap = width[i] - head[i].size();
    const size_t left = gap / 2;
    out += " " + std::string(left, ' ') + head[i] + std::string(gap - left, ' ') + " |";
  }
  out += "\n" + line;
  for (const auto& row : rows) {
    out += "|";
    for (size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out += " " + std::string(width[i] - cell.size(), ' ') + cell + " |";
    }
    out += "\n";
  }
  return out + line;
}

Status print_snapshot_status(std::ostream& out, const SnapshotStatus& s, OutputFormat format) {
  const std::vector<std::string> header = {"hash", "revision", "total keys", "total size"};
  const std::vector<std::vector<std::string>> rows = {
      {to_hex32(s.hash), std::to_string(s.revision), std::to_string(s.total_keys),
       humanize_bytes(static_cast<uint64_t>(s.total_size))}};
  switch (format) {
    case OutputFormat::kSimple:
      print_rows(out, rows);
      return Status::ok();
    case OutputFormat::kTable:
      out << render_table(header, rows);
      return Status::ok();
    case OutputFormat::kJson: {
      nlohmann::ordered_json j;
      j["hash"] = s.hash;
      j["revision"] = s.revision;
      j["totalKey"] = s.total_keys;
      j["totalSize"] = s.total_size;
      out << j.dump() << "\n";
      return Status::ok();
    }
    case OutputFormat::kFields:
      out << "\"Hash\" : " << s.hash << "\n"
          << "\"Revision\" : " << s.revision << "\n"
          << "\"Keys\" : " << s.total_keys << "\n"
          << "\"Size\" : " << s.total_size << "\n";
      return Status::ok();
    case OutputFormat::kProtobuf:
      break;
  }
  return unsupported(format);
}

Status print_hash_kv(std::ostream& out, const HashKvResult& h, OutputFormat format) {
  const std::vector<std::string> header = {"hash", "hash revision", "compact revision"};
  const std::vector<std::vector<std::string>> rows = {{std::to_string(h.hash),
                                                       std::to_string(h.hash_revision),
                                                       std::to_string(h.compact_revision)}};
  switch (format) {
    case OutputFormat::kSimple:
      print_rows(out, rows);
      return Status::ok();
    case OutputFormat::kTable:
      out << render_table(header, rows);
      return Status::ok();
    case OutputFormat::kJson: {
      nlohmann::ordered_json j;
      j["hash"] = h.hash;
      j["hashRevision"] = h.hash_revision;
      j["compactRevision"] = h.compact_revision;
      out << j.dump() << "\n";
      return Status::ok();
    }
    case OutputFormat::kFields:
      out << "\"Hash\" : " << h.hash << "\n"
          << "\"Hash revision\" : " << h.hash_revision << "\n"
          << "\"Compact revision\" : " << h.compact_revision << "\n";
      return Status::ok();
    case OutputFormat::kProtobuf:
      break;
  }
  return unsupported(format);
}

}  // namespace etcd::utl
