#include "base/go_json_string.h"

#include <gtest/gtest.h>

namespace etcd {
namespace {

TEST(GoJsonString, EscapesAsGo) {
  EXPECT_EQ(go_json_string("plain"), "\"plain\"");
  EXPECT_EQ(go_json_string(""), "\"\"");
  EXPECT_EQ(go_json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(go_json_string("\n\r\t"), "\"\\n\\r\\t\"");
  // Other control bytes as \u00XX (lower-case hex), \b and \f included.
  EXPECT_EQ(go_json_string(std::string("\x00\x01\x08\x0c\x1f", 5)),
            "\"\\u0000\\u0001\\u0008\\u000c\\u001f\"");
  EXPECT_EQ(go_json_string("<a>&b"), "\"\\u003ca\\u003e\\u0026b\"");
  EXPECT_EQ(go_json_string("\x7f/'"), "\"\x7f/'\"");  // DEL, '/' and '\'' as they are
  // Valid UTF-8 as is, U+2028 and U+2029 escaped.
  EXPECT_EQ(go_json_string("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(go_json_string("a\xe2\x80\xa8z\xe2\x80\xa9"), "\"a\\u2028z\\u2029\"");
  // A valid U+FFFD stays as it is.
  EXPECT_EQ(go_json_string("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");
}

TEST(GoJsonString, InvalidUtf8ByteByByte) {
  EXPECT_EQ(go_json_string("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(go_json_string("a\x80z"), "\"a\\ufffdz\"");
  // Overlong, surrogate, beyond U+10FFFF, truncated: one \ufffd per byte
  // that does not start a valid sequence.
  EXPECT_EQ(go_json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(go_json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(go_json_string("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(go_json_string("\xe2\x82"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(go_json_string("\xe2\x82x"), "\"\\ufffd\\ufffdx\"");
  EXPECT_EQ(go_json_string("\xe0\x9f\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(go_json_string("\xe0\xa0\x80"), "\"\xe0\xa0\x80\"");
}

TEST(GoJsonString, AppendsToWhatIsThere) {
  std::string out = "x:";
  append_go_json_string(out, "a<b");
  EXPECT_EQ(out, "x:\"a\\u003cb\"");
}

}  // namespace
}  // namespace etcd
