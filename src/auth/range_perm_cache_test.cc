#include "auth/range_perm_cache.h"

#include <gtest/gtest.h>

namespace etcd::auth {
namespace {

const std::string kFromKey("\0", 1);

TEST(KeyRangeSetTest, SingleKeyRangePrefixAndFromKey) {
  KeyRangeSet s;
  s.add("a", "");         // the key "a"
  s.add("c", "f");        // [c, f)
  s.add("pre/", "pre0");  // prefix "pre/"
  s.add("z", kFromKey);   // from "z" on
  EXPECT_TRUE(s.contains("a", ""));
  EXPECT_FALSE(s.contains("a0", ""));
  EXPECT_FALSE(s.contains("a", "b"));  // more than the key
  EXPECT_TRUE(s.contains("c", ""));
  EXPECT_TRUE(s.contains("e\xff", ""));
  EXPECT_FALSE(s.contains("f", ""));
  EXPECT_TRUE(s.contains("c", "f"));
  EXPECT_TRUE(s.contains("d", "e"));
  EXPECT_FALSE(s.contains("c", "g"));
  EXPECT_FALSE(s.contains("b", "d"));
  EXPECT_TRUE(s.contains("pre/x", ""));
  EXPECT_TRUE(s.contains("pre/", "pre0"));
  EXPECT_FALSE(s.contains("pre", ""));
  EXPECT_TRUE(s.contains("z", ""));
  EXPECT_TRUE(s.contains("zzz", kFromKey));
  EXPECT_FALSE(s.contains("y", kFromKey));
  EXPECT_FALSE(s.contains("c", kFromKey));
}

TEST(KeyRangeSetTest, MergesOverlappingAndAdjacentRanges) {
  KeyRangeSet s;
  s.add("a", "c");
  s.add("c", "e");  // adjacent
  s.add("b", "d");  // overlapping
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.contains("a", "e"));
  s.add("x", "");
  s.add("w", "x");  // [w, x) then the key x: [w, x\0)
  EXPECT_TRUE(s.contains("w", std::string("x\0", 2)));
  EXPECT_EQ(s.size(), 2u);
  s.add("d", kFromKey);  // swallows everything after d
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.contains("a", kFromKey));
}

TEST(KeyRangeSetTest, EmptyAndInvertedRangesGrantNothing) {
  KeyRangeSet s;
  s.add("b", "a");
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.contains("b", ""));
}

TEST(RangePermCacheTest, ReadWriteAndReadWriteRolesMerge) {
  std::map<std::string, authpb::Role> roles;
  auto add_perm = [&](const std::string& role, authpb::Permission::Type t, const std::string& k,
                      const std::string& e) {
    auto& r = roles[role];
    r.set_name(role);
    auto* p = r.add_keypermission();
    p->set_permtype(t);
    p->set_key(k);
    p->set_range_end(e);
  };
  add_perm("r", authpb::Permission::READ, "a", "m");
  add_perm("w", authpb::Permission::WRITE, "k", "");
  add_perm("rw", authpb::Permission::READWRITE, "m", "n");
  std::map<std::string, authpb::User> users;
  users["u"].set_name("u");
  users["u"].add_roles("r");
  users["u"].add_roles("rw");
  users["u"].add_roles("w");
  users["u"].add_roles("missing");
  users["v"].set_name("v");
  RangePermCache c;
  c.rebuild(users, roles);
  EXPECT_TRUE(c.permitted("u", "a", "n", PermType::kRead));  // [a,m) + [m,n)
  EXPECT_FALSE(c.permitted("u", "a", "n", PermType::kWrite));
  EXPECT_TRUE(c.permitted("u", "k", "", PermType::kWrite));
  EXPECT_TRUE(c.permitted("u", "m", "", PermType::kWrite));
  EXPECT_FALSE(c.permitted("u", "l", "", PermType::kWrite));
  EXPECT_FALSE(c.permitted("v", "a", "", PermType::kRead));
  EXPECT_FALSE(c.permitted("nobody", "a", "", PermType::kRead));
}

}  // namespace
}  // namespace etcd::auth
