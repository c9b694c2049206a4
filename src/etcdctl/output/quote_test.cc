#include "etcdctl/output/quote.h"

#include <gtest/gtest.h>

#include "base/crc32c.h"
#include "etcdctl/output/test_util.h"
#include "etcdctl/output/unicode_tables.h"

namespace etcd::ctl {
namespace {

TEST(Quote, HexMatchesEtcdctlHexFlag) {
  // etcdctl get h --prefix --hex (key "h", value below)
  EXPECT_EQ(hex_escape("h"), R"(\x68)");
  EXPECT_EQ(hex_escape("\x01v\xe2\x80\xa8\xc3\xa9\xef\xbf\xbd\t\"\\"),
            R"(\x01\x76\xe2\x80\xa8\xc3\xa9\xef\xbf\xbd\x09\x22\x5c)");
  EXPECT_EQ(hex_escape(""), "");
}

TEST(Quote, GoQuoteMatchesEtcdctlFields) {
  // etcdctl get h --prefix -w fields: "Value" : %q
  EXPECT_EQ(go_quote("\x01v\xe2\x80\xa8\xc3\xa9\xef\xbf\xbd\t\"\\"),
            "\"\\x01v\\u2028\xc3\xa9\xef\xbf\xbd\\t\\\"\\\\\"");
  // etcdctl get q -w fields: invalid bytes, DEL, C1 control, NBSP, emoji,
  // private use, U+10FFFF, unassigned U+0378, U+0870 (new in Unicode 14,
  // unprintable for Go 1.19), a surrogate and an overlong form, BEL, VT,
  // ideographic space.
  EXPECT_EQ(go_quote("q\xff\x7f\xc2\x85\xc2\xa0\xf0\x9f\x98\x80\xee\x80\x80\xf4\x8f\xbf\xbf"
                     "\xcd\xb8\xe0\xa1\xb0\xed\xa0\x80\xc0\xaf\x07\x0b \xe3\x80\x80z"),
            "\"q\\xff\\x7f\\u0085\\u00a0\xf0\x9f\x98\x80\\ue000\\U0010ffff\\u0378\\u0870"
            "\\xed\\xa0\\x80\\xc0\\xaf\\a\\v \\u3000z\"");
  EXPECT_EQ(go_quote(""), R"("")");
  EXPECT_EQ(go_quote("\b\f\n\r\x1b"), R"("\b\f\n\r\x1b")");
}

TEST(Quote, GoQuoteMatchesEtcdctlOnAllOfUnicode) {
  // Values of every code point, put with `etcdctl put k < file` and read
  // back with `etcdctl get k -w fields`; the reference's quoted value
  // (hundreds of kB) is kept as its length and CRC-32C.
  struct Case {
    std::string value;
    size_t quoted_size;
    uint32_t quoted_crc;
  };
  const Case cases[] = {
      {code_points(0x80, 0x10000), 212491, 0x7e996391},
      {code_points(0x10000, 0x30000), 811990, 0xe7ded849},
      {code_points(0x10FF00, 0x110000,
                   code_points(0xE0000, 0xF0100, code_points(0x30000, 0x40000))),
       1284768, 0xb9961c5c},
  };
  for (const auto& c : cases) {
    const std::string q = go_quote(c.value);
    EXPECT_EQ(q.size(), c.quoted_size);
    EXPECT_EQ(crc32c::value(q), c.quoted_crc);
  }
}

TEST(Quote, IsPrint) {
  EXPECT_TRUE(go_is_print(' '));
  EXPECT_TRUE(go_is_print('~'));
  EXPECT_FALSE(go_is_print(0x7F));
  EXPECT_FALSE(go_is_print(0xAD));  // soft hyphen, a format character
  EXPECT_TRUE(go_is_print(0xE9));
  EXPECT_TRUE(go_is_print(0x1F600));
  EXPECT_FALSE(go_is_print(0x2028));
  EXPECT_FALSE(go_is_print(0x0870));
  EXPECT_FALSE(go_is_print(0x10FFFF));
}

}  // namespace
}  // namespace etcd::ctl
