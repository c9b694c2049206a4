// The output formats, byte for byte as etcd's printers write them.
#include "etcdutl/printer.h"

#include <gtest/gtest.h>

#include <sstream>

namespace etcd::utl {
namespace {

std::string status_in(OutputFormat f) {
  SnapshotStatus s{0xfe01cf57, 10, 7, 2129920};
  std::ostringstream o;
  EXPECT_TRUE(print_snapshot_status(o, s, f).is_ok());
  return o.str();
}

TEST(PrinterTest, HumanizeBytesAsGoHumanize) {
  EXPECT_EQ(humanize_bytes(0), "0 B");
  EXPECT_EQ(humanize_bytes(9), "9 B");
  EXPECT_EQ(humanize_bytes(10), "10 B");
  EXPECT_EQ(humanize_bytes(999), "999 B");
  EXPECT_EQ(humanize_bytes(1000), "1.0 kB");
  EXPECT_EQ(humanize_bytes(20480), "20 kB");
  EXPECT_EQ(humanize_bytes(24576), "25 kB");
  EXPECT_EQ(humanize_bytes(2129920), "2.1 MB");
  EXPECT_EQ(humanize_bytes(82000000), "82 MB");
  EXPECT_EQ(humanize_bytes(uint64_t{5} << 30), "5.4 GB");
}

TEST(PrinterTest, SnapshotStatusFormats) {
  EXPECT_EQ(status_in(OutputFormat::kSimple), "fe01cf57, 10, 7, 2.1 MB\n");
  EXPECT_EQ(status_in(OutputFormat::kJson),
            "{\"hash\":4261531479,\"revision\":10,\"totalKey\":7,\"totalSize\":2129920}\n");
  EXPECT_EQ(status_in(OutputFormat::kFields),
            "\"Hash\" : 4261531479\n\"Revision\" : 10\n\"Keys\" : 7\n\"Size\" : 2129920\n");
  EXPECT_EQ(status_in(OutputFormat::kTable),
            "+----------+----------+------------+------------+\n"
            "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n"
            "+----------+----------+------------+------------+\n"
            "| fe01cf57 |       10 |          7 |     2.1 MB |\n"
            "+----------+----------+------------+------------+\n");
  std::ostringstream o;
  Status s = print_snapshot_status(o, {}, OutputFormat::kProtobuf);
  EXPECT_EQ(s.message(), "protobuf not supported as output format");
  EXPECT_EQ(o.str(), "");
}

TEST(PrinterTest, HashKvFormats) {
  HashKvResult h{3340374913, 12, -1};
  std::ostringstream simple, json, fields, table;
  ASSERT_TRUE(print_hash_kv(simple, h, OutputFormat::kSimple).is_ok());
  ASSERT_TRUE(print_hash_kv(json, h, OutputFormat::kJson).is_ok());
  ASSERT_TRUE(print_hash_kv(fields, h, OutputFormat::kFields).is_ok());
  ASSERT_TRUE(print_hash_kv(table, h, OutputFormat::kTable).is_ok());
  EXPECT_EQ(simple.str(), "3340374913, 12, -1\n");
  EXPECT_EQ(json.str(), "{\"hash\":3340374913,\"hashRevision\":12,\"compactRevision\":-1}\n");
  EXPECT_EQ(fields.str(),
            "\"Hash\" : 3340374913\n\"Hash revision\" : 12\n\"Compact revision\" : -1\n");
  EXPECT_EQ(table.str(),
            "+------------+---------------+------------------+\n"
            "|    HASH    | HASH REVISION | COMPACT REVISION |\n"
            "+------------+---------------+------------------+\n"
            "| 3340374913 |            12 |               -1 |\n"
            "+------------+---------------+------------------+\n");
}

TEST(PrinterTest, ParseOutputFormat) {
  EXPECT_EQ(*parse_output_format("table"), OutputFormat::kTable);
  EXPECT_EQ(*parse_output_format("protobuf"), OutputFormat::kProtobuf);
  EXPECT_EQ(parse_output_format("yaml").status().message(), "unsupported output format");
}

}  // namespace
}  // namespace etcd::utl
