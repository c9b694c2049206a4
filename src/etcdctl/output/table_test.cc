// Goldens captured from `ETCDCTL_API=3 etcdctl ... -w table` (3.4.23) against
// throwaway reference servers; the header and row contents are those
// etcdctl's printer builds, the alignment the ALIGN_RIGHT it sets.
#include "etcdctl/output/table.h"

#include <gtest/gtest.h>

namespace etcd::ctl {
namespace {

const TableOptions kRight{.align = TableAlign::kRight};

TEST(Table, MemberList) {
  EXPECT_EQ(
      render_table({"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"},
                   {{"2e1259d415f2a040", "started", "default", "http://127.0.0.1:23800",
                     "http://127.0.0.1:23790", "false"}},
                   kRight),
      "+------------------+---------+---------+------------------------+------------------------"
      "+------------+\n"
      "|        ID        | STATUS  |  NAME   |       PEER ADDRS       |      CLIENT ADDRS      "
      "| IS LEARNER |\n"
      "+------------------+---------+---------+------------------------+------------------------"
      "+------------+\n"
      "| 2e1259d415f2a040 | started | default | http://127.0.0.1:23800 | http://127.0.0.1:23790 "
      "|      false |\n"
      "+------------------+---------+---------+------------------------+------------------------"
      "+------------+\n");
}

TEST(Table, MemberListWrapsLongNamesAndCountsWideCells) {
  // A reference member started with
  // --name 'node 東京 alpha beta gamma delta epsilon zeta'.
  EXPECT_EQ(
      render_table(
          {"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"},
          {{"bdae9bbc11dd390d", "started", "node 東京 alpha beta gamma delta epsilon zeta",
            "http://127.0.0.1:23801", "http://127.0.0.1:23791,http://localhost:23791", "false"}},
          kRight),
      "+------------------+---------+--------------------------------+------------------------+"
      "-----------------------------------------------+------------+\n"
      "|        ID        | STATUS  |              NAME              |       PEER ADDRS       |"
      "                 CLIENT ADDRS                  | IS LEARNER |\n"
      "+------------------+---------+--------------------------------+------------------------+"
      "-----------------------------------------------+------------+\n"
      "| bdae9bbc11dd390d | started |     node 東京 alpha beta gamma | http://127.0.0.1:23801 |"
      " http://127.0.0.1:23791,http://localhost:23791 |      false |\n"
      "|                  |         |             delta epsilon zeta |                        |"
      "                                               |            |\n"
      "+------------------+---------+--------------------------------+------------------------+"
      "-----------------------------------------------+------------+\n");
}

TEST(Table, WrapsWithMinimalRaggednessAndWidensForLongWords) {
  // Reference members named 'aaaaaaaaaaaaaaa bbbbbbbbbb cccccccccc
  // ddddddddddddddddddddddddd' (greedy filling would put bbbbbbbbbb on the
  // first line) and 'xx yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy z  w' (a word
  // wider than 30 widens the column; the double space survives).
  auto table = [](const std::string& name) {
    return render_table({"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"},
                        {{"bdae9bbc11dd390d", "started", name, "http://127.0.0.1:23801",
                          "http://127.0.0.1:23791", "false"}},
                        kRight);
  };
  EXPECT_EQ(
      table("aaaaaaaaaaaaaaa bbbbbbbbbb cccccccccc ddddddddddddddddddddddddd"),
      "+------------------+---------+--------------------------------+------------------------+"
      "------------------------+------------+\n"
      "|        ID        | STATUS  |              NAME              |       PEER ADDRS       |"
      "      CLIENT ADDRS      | IS LEARNER |\n"
      "+------------------+---------+--------------------------------+------------------------+"
      "------------------------+------------+\n"
      "| bdae9bbc11dd390d | started |                aaaaaaaaaaaaaaa | http://127.0.0.1:23801 |"
      " http://127.0.0.1:23791 |      false |\n"
      "|                  |         |          bbbbbbbbbb cccccccccc |                        |"
      "                        |            |\n"
      "|                  |         |      ddddddddddddddddddddddddd |                        |"
      "                        |            |\n"
      "+------------------+---------+--------------------------------+------------------------+"
      "------------------------+------------+\n");
  EXPECT_EQ(table("xx yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy z  w"),
            "+------------------+---------+--------------------------------------+-----------------"
            "-------+------------------------+------------+\n"
            "|        ID        | STATUS  |                 NAME                 |       PEER ADDRS"
            "       |      CLIENT ADDRS      | IS LEARNER |\n"
            "+------------------+---------+--------------------------------------+-----------------"
            "-------+------------------------+------------+\n"
            "| bdae9bbc11dd390d | started |                                   xx | http://127.0.0.1"
            ":23801 | http://127.0.0.1:23791 |      false |\n"
            "|                  |         | yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy |                 "
            "       |                        |            |\n"
            "|                  |         |                                 z  w |                 "
            "       |                        |            |\n"
            "+------------------+---------+--------------------------------------+-----------------"
            "-------+------------------------+------------+\n");
}

TEST(Table, CountsCellsLikeGoRunewidth) {
  // A reference member named "e\u0301 ｶﾀ 한국 😀 Ω ä \u200bz \u1100\u1161":
  // a combining accent, half-width katakana, Hangul syllables, an emoji, a
  // zero-width space and a conjoining-jamo syllable take 21 cells.
  const std::string name =
      "e\xcc\x81 \xef\xbd\xb6\xef\xbe\x80 \xed\x95\x9c\xea\xb5\xad \xf0\x9f\x98\x80 "
      "\xe2\x84\xa6 \xc3\xa4 \xe2\x80\x8bz \xe1\x84\x80\xe1\x85\xa1";
  EXPECT_EQ(display_width(name), 21u);
  EXPECT_EQ(render_table({"ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"},
                         {{"bdae9bbc11dd390d", "started", name, "http://127.0.0.1:23801",
                           "http://127.0.0.1:23791", "false"}},
                         kRight),
            "+------------------+---------+-----------------------+------------------------+"
            "------------------------+------------+\n"
            "|        ID        | STATUS  |         NAME          |       PEER ADDRS       |"
            "      CLIENT ADDRS      | IS LEARNER |\n"
            "+------------------+---------+-----------------------+------------------------+"
            "------------------------+------------+\n"
            "| bdae9bbc11dd390d | started | " +
                name +
                " | http://127.0.0.1:23801 | http://127.0.0.1:23791 |      false |\n"
                "+------------------+---------+-----------------------+------------------------+"
                "------------------------+------------+\n");
}

TEST(Table, CountsEmojiClustersLikeGoRunewidth) {
  // A reference member named with a ZWJ family emoji, a flag, a flag
  // followed by a lone regional indicator, "x" ZWJ "y", a thumbs-up with a
  // skin tone and a heart with VS16 takes 15 cells: the family is one emoji,
  // a flag one cell, a lone regional indicator one, a ZWJ before a letter
  // joins nothing, a skin tone and VS16 add nothing.
  const std::string name =
      "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 "
      "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8 \xf0\x9f\x87\xba\xf0\x9f\x87\xb8\xf0\x9f\x87\xba "
      "x\xe2\x80\x8dy \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd \xe2\x9d\xa4\xef\xb8\x8f";
  EXPECT_EQ(display_width(name), 15u);
}

const std::vector<std::string> kStatusHeader = {"endpoint",  "ID",         "version",
                                                "db size",   "is leader",  "is learner",
                                                "raft term", "raft index", "raft applied index",
                                                "errors"};

TEST(Table, EndpointStatus) {
  const std::string rule =
      "+-----------------+------------------+---------+---------+-----------+------------+"
      "-----------+------------+--------------------+--------+\n";
  const std::string head =
      "|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER |"
      " RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |\n";
  EXPECT_EQ(render_table(kStatusHeader,
                         {{"127.0.0.1:23790", "2e1259d415f2a040", "3.4.23", "20 kB", "true",
                           "false", "2", "26", "26", ""}},
                         kRight),
            rule + head + rule +
                "| 127.0.0.1:23790 | 2e1259d415f2a040 |  3.4.23 |   20 kB |      true |"
                "      false |         2 |         26 |                 26 |        |\n" +
                rule);
  // Two endpoints (the same one twice; an unreachable one is left out).
  const std::vector<std::string> row = {"127.0.0.1:23790",
                                        "2e1259d415f2a040",
                                        "3.4.23",
                                        "2.3 MB",
                                        "true",
                                        "false",
                                        "2",
                                        "126",
                                        "126",
                                        ""};
  const std::string line =
      "| 127.0.0.1:23790 | 2e1259d415f2a040 |  3.4.23 |  2.3 MB |      true |"
      "      false |         2 |        126 |                126 |        |\n";
  EXPECT_EQ(render_table(kStatusHeader, {row, row}, kRight),
            rule + head + rule + line + line + rule);
}

TEST(Table, EndpointHealth) {
  // "µs" is two bytes but one cell.
  EXPECT_EQ(render_table({"endpoint", "health", "took", "error"},
                         {{"127.0.0.1:23790", "true", "936.167µs", ""}}, kRight),
            "+-----------------+--------+-----------+-------+\n"
            "|    ENDPOINT     | HEALTH |   TOOK    | ERROR |\n"
            "+-----------------+--------+-----------+-------+\n"
            "| 127.0.0.1:23790 |   true | 936.167µs |       |\n"
            "+-----------------+--------+-----------+-------+\n");
  EXPECT_EQ(
      render_table({"endpoint", "health", "took", "error"},
                   {{"127.0.0.1:23790", "true", "5.475623ms", ""},
                    {"127.0.0.1:23790", "true", "5.371138ms", ""},
                    {"127.0.0.1:23799", "false", "5.000486095s", "context deadline exceeded"}},
                   kRight),
      "+-----------------+--------+--------------+---------------------------+\n"
      "|    ENDPOINT     | HEALTH |     TOOK     |           ERROR           |\n"
      "+-----------------+--------+--------------+---------------------------+\n"
      "| 127.0.0.1:23790 |   true |   5.475623ms |                           |\n"
      "| 127.0.0.1:23790 |   true |   5.371138ms |                           |\n"
      "| 127.0.0.1:23799 |  false | 5.000486095s | context deadline exceeded |\n"
      "+-----------------+--------+--------------+---------------------------+\n");
}

TEST(Table, EndpointHashKV) {
  const std::string top =
      "+-----------------+------------+\n"
      "|    ENDPOINT     |    HASH    |\n"
      "+-----------------+------------+\n";
  const std::string row = "| 127.0.0.1:23790 | 1848878991 |\n";
  const std::string bottom = "+-----------------+------------+\n";
  EXPECT_EQ(render_table({"endpoint", "hash"}, {{"127.0.0.1:23790", "1848878991"}}, kRight),
            top + row + bottom);
  EXPECT_EQ(
      render_table({"endpoint", "hash"},
                   {{"127.0.0.1:23790", "1848878991"}, {"127.0.0.1:23790", "1848878991"}}, kRight),
      top + row + row + bottom);
}

TEST(Table, SnapshotStatus) {
  const std::vector<std::string> header = {"hash", "revision", "total keys", "total size"};
  EXPECT_EQ(render_table(header, {{"f53fbeab", "7", "17", "20 kB"}}, kRight),
            "+----------+----------+------------+------------+\n"
            "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n"
            "+----------+----------+------------+------------+\n"
            "| f53fbeab |        7 |         17 |      20 kB |\n"
            "+----------+----------+------------+------------+\n");
  EXPECT_EQ(render_table(header, {{"b0e3a96c", "107", "117", "2.3 MB"}}, kRight),
            "+----------+----------+------------+------------+\n"
            "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n"
            "+----------+----------+------------+------------+\n"
            "| b0e3a96c |      107 |        117 |     2.3 MB |\n"
            "+----------+----------+------------+------------+\n");
}

TEST(Table, DefaultAlignmentPutsNumbersRight) {
  EXPECT_EQ(render_table({"name", "n"}, {{"a", "1,234"}, {"bb", "x"}, {"c", "-5.5"}}),
            "+------+-------+\n"
            "| NAME |   N   |\n"
            "+------+-------+\n"
            "| a    | 1,234 |\n"
            "| bb   | x     |\n"
            "| c    |  -5.5 |\n"
            "+------+-------+\n");
}

TEST(Table, NoRowsAndEmbeddedNewlines) {
  EXPECT_EQ(render_table({"endpoint", "hash"}, {}, kRight),
            "+----------+------+\n"
            "| ENDPOINT | HASH |\n"
            "+----------+------+\n"
            "+----------+------+\n");
  // A cell's lines reflow into one paragraph, wrapped to the widest line.
  EXPECT_EQ(render_table({"a"}, {{"x\ny"}}, kRight),
            "+---+\n"
            "| A |\n"
            "+---+\n"
            "| x |\n"
            "| y |\n"
            "+---+\n");
  // Missing lines of shorter cells are two spaces, which overflow a column
  // one cell wide (a tablewriter quirk kept on purpose).
  EXPECT_EQ(render_table({"key", "v"}, {{"ab\nc d", "1"}}, kRight),
            "+-----+---+\n"
            "| KEY | V |\n"
            "+-----+---+\n"
            "|  ab | 1 |\n"
            "| c d |    |\n"
            "+-----+---+\n");
}

TEST(Table, Title) {
  EXPECT_EQ(table_title("raft applied index"), "RAFT APPLIED INDEX");
  EXPECT_EQ(table_title("raft_term"), "RAFT TERM");
  EXPECT_EQ(table_title("v1.2"), "V1.2");
  EXPECT_EQ(table_title("v.1"), "V 1");
  EXPECT_EQ(table_title("1.2"), "1.2");
  EXPECT_EQ(table_title("a."), "A");
  EXPECT_EQ(table_title("_"), " ");
  EXPECT_EQ(table_title(""), "");
}

TEST(Table, WrapWords) {
  using V = std::vector<std::string>;
  EXPECT_EQ(wrap_words("", 30), V{""});
  EXPECT_EQ(wrap_words("node 東京 alpha beta gamma delta epsilon zeta", 30),
            (V{"node 東京 alpha beta gamma", "delta epsilon zeta"}));
  // A word longer than the limit widens it.
  EXPECT_EQ(wrap_words("aaaaaaaaaa b c", 4), (V{"aaaaaaaaaa", "b c"}));
  // Minimal raggedness rather than greedy filling.
  EXPECT_EQ(wrap_words("aaa bb cc ddddd", 6), (V{"aaa", "bb cc", "ddddd"}));
  EXPECT_EQ(display_width("\033[1;31mred\033[0m"), 3u);
  EXPECT_EQ(display_width("e\xcc\x81"), 1u);         // e + combining acute
  EXPECT_EQ(display_width("\xe6\x9d\xb1"), 2u);      // U+6771
  EXPECT_EQ(display_width("\xf0\xa0\x80\x80"), 2u);  // U+20000
  EXPECT_EQ(display_width("\xcd\xb8"), 1u);          // unassigned U+0378
  EXPECT_EQ(display_width("\xef\xbc\xa1"), 2u);      // fullwidth A
}

}  // namespace
}  // namespace etcd::ctl
