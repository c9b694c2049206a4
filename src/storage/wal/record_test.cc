#include "storage/wal/record.h"

#include <gtest/gtest.h>

#include <string>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "storage/wal/decoder.h"
#include "walpb/record.pb.h"

namespace etcd::wal {
namespace {

TEST(LengthFieldTest, PaddingInTheTopByte) {
  EXPECT_EQ(encode_length_field(8), 8u);
  EXPECT_EQ(encode_length_field(13), 13u | (uint64_t{0x83} << 56));
  EXPECT_EQ(encode_length_field(1), 1u | (uint64_t{0x87} << 56));
  for (uint64_t n : {0ull, 1ull, 7ull, 8ull, 9ull, 1000ull, 12345ull}) {
    auto fs = decode_length_field(encode_length_field(n));
    ASSERT_TRUE(fs.has_value());
    EXPECT_EQ(fs->record_bytes, n);
    EXPECT_EQ((n + fs->pad_bytes) % 8, 0u);
  }
  // Only 0x80|pad with a consistent pad decodes.
  EXPECT_FALSE(decode_length_field(13).has_value());                           // pad missing
  EXPECT_FALSE(decode_length_field(16 | (uint64_t{0x83} << 56)).has_value());  // pad wrong
  EXPECT_FALSE(decode_length_field(13 | (uint64_t{0x03} << 56)).has_value());  // flag missing
  EXPECT_FALSE(decode_length_field(13 | (uint64_t{0x8b} << 56)).has_value());  // stray bits
}

// The hand-written envelope is byte-for-byte what protobuf (and etcd's
// gogoproto, which writes the same proto2 fields) produces.
TEST(RecordTest, EnvelopeMatchesProtobuf) {
  uint32_t crc = 0x1234;
  std::string out;
  append_record(&out, RecordType::kEntry, "payload", &crc);
  walpb::Record want;
  want.set_type(2);
  want.set_crc(crc32c::extend(0x1234, "payload", 7));
  want.set_data("payload");
  std::string body = want.SerializeAsString();
  ASSERT_EQ(out.size() % 8, 0u);
  EXPECT_EQ(get_u64_le(reinterpret_cast<const uint8_t*>(out.data())),
            encode_length_field(body.size()));
  EXPECT_EQ(out.substr(8, body.size()), body);
  EXPECT_EQ(out.substr(8 + body.size()), std::string(out.size() - 8 - body.size(), '\0'));
  EXPECT_EQ(crc, want.crc());

  std::string c;
  append_crc_record(&c, 0xdeadbeef);
  walpb::Record want_crc;
  want_crc.set_type(4);
  want_crc.set_crc(0xdeadbeef);
  EXPECT_EQ(c.substr(8, want_crc.ByteSizeLong()), want_crc.SerializeAsString());
}

TEST(RecordTest, ParseBodyIsStrict) {
  walpb::Record r;
  r.set_type(3);
  r.set_crc(7);
  r.set_data("xyz");
  const std::string body = r.SerializeAsString();  // the view points into it
  auto ok = parse_record_body(body);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->type, 3);
  EXPECT_EQ(ok->crc, 7u);
  EXPECT_EQ(ok->data, "xyz");

  EXPECT_FALSE(parse_record_body("").has_value());                          // no type/crc
  EXPECT_FALSE(parse_record_body(std::string("\x08\x02", 2)).has_value());  // no crc
  EXPECT_FALSE(parse_record_body(std::string("\x08\x02\x10\x01\x20\x01", 6)).has_value());
  EXPECT_FALSE(parse_record_body(std::string("\x08\x02\x08\x02\x10\x01", 6)).has_value());
  EXPECT_FALSE(parse_record_body(std::string("\x08\x02\x10\x01\x1a\x05xy", 8)).has_value());
  EXPECT_FALSE(parse_record_body(std::string("\x08\xff", 2)).has_value());
  // A crc beyond 32 bits.
  EXPECT_FALSE(parse_record_body(std::string("\x08\x02\x10\xff\xff\xff\xff\x1f", 8)).has_value());
  // A data length of 2^50 is refused, not allocated.
  EXPECT_FALSE(
      parse_record_body(std::string("\x08\x02\x10\x01\x1a\x80\x80\x80\x80\x80\x80\x40", 12))
          .has_value());
}

std::string segment(int entries) {
  std::string out;
  uint32_t crc = 0;
  append_crc_record(&out, 0);
  append_record(&out, RecordType::kMetadata, "meta", &crc);
  for (int i = 0; i < entries; ++i) {
    append_record(&out, RecordType::kEntry, std::string(40 + i, static_cast<char>('a' + i)), &crc);
  }
  return out;
}

TEST(ScanTest, CleanEndAtEofAndAtPreallocatedZeros) {
  std::string seg = segment(3);
  auto exact = scan_segment(seg, 0, false);
  ASSERT_TRUE(exact.is_ok()) << exact.status().to_string();
  EXPECT_EQ(exact->records.size(), 5u);
  EXPECT_EQ(exact->end_offset, seg.size());
  std::string padded = seg + std::string(4096, '\0');
  auto zeros = scan_segment(padded, 0, true);
  ASSERT_TRUE(zeros.is_ok());
  EXPECT_FALSE(zeros->torn);
  EXPECT_EQ(zeros->end_offset, seg.size());
  EXPECT_EQ(zeros->crc, exact->crc);
}

TEST(ScanTest, FirstRecordMustBeCrc) {
  std::string out;
  uint32_t crc = 0;
  append_record(&out, RecordType::kMetadata, "meta", &crc);
  auto r = scan_segment(out, 0, true);
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("does not start with a crc record"), std::string::npos);
  EXPECT_EQ(scan_segment(std::string(4096, '\0'), 0, true).status().code(), Code::kDataLoss);
}

TEST(ScanTest, OversizedLengthIsCorruptionEverywhere) {
  std::string seg = segment(1);
  const uint64_t at = seg.size();
  std::string huge(8, '\0');
  put_u64_le(reinterpret_cast<uint8_t*>(huge.data()), uint64_t{1} << 50);
  std::string bytes = seg + huge + std::string(1024, 'x');
  for (bool last : {false, true}) {
    auto r = scan_segment(bytes, 0, last);
    ASSERT_EQ(r.status().code(), Code::kDataLoss);
    EXPECT_NE(r.status().message().find("offset " + std::to_string(at)), std::string::npos);
    EXPECT_NE(r.status().message().find("exceeds the maximum"), std::string::npos);
  }
}

TEST(ScanTest, UnknownTypeWithValidCrcIsCorruption) {
  std::string seg = segment(1);
  const uint32_t crc = scan_segment(seg, 0, false)->crc;
  // Hand-build a type 9 record with a correct CRC.
  walpb::Record r;
  r.set_type(9);
  r.set_crc(crc32c::extend(crc, "zz", 2));
  r.set_data("zz");
  std::string body = r.SerializeAsString();
  std::string frame(8, '\0');
  put_u64_le(reinterpret_cast<uint8_t*>(frame.data()), encode_length_field(body.size()));
  frame += body;
  frame.append((8 - body.size() % 8) % 8, '\0');
  auto res = scan_segment(seg + frame, 0, true);
  ASSERT_EQ(res.status().code(), Code::kDataLoss);
  EXPECT_NE(res.status().message().find("unknown record type 9"), std::string::npos);
}

TEST(MarkerTest, RoundTripAndStrictness) {
  WalSnapshot s{Index(10), Term(3)};
  WalSnapshot got;
  ASSERT_TRUE(decode_snapshot_marker(encode_snapshot_marker(s), &got));
  EXPECT_EQ(got, s);
  // etcd writes both fields even when zero (proto2).
  EXPECT_EQ(encode_snapshot_marker({}), std::string("\x08\x00\x10\x00", 4));
  raftpb::Entry e;
  e.set_data("abc");
  raftpb::HardState hs;
  EXPECT_FALSE(decode_hard_state(e.SerializeAsString(), &hs));  // field 4 unknown
}

}  // namespace
}  // namespace etcd::wal
