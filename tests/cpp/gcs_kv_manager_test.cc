// GcsKvManager as a pure in-memory table.
#include "gcs/kv_manager.h"

#include <gtest/gtest.h>

namespace lumos::gcs {
namespace {

using Keys = std::vector<std::string>;

TEST(GcsKvManagerTest, PutGetExists) {
  GcsKvManager kv;
  std::string v = "untouched";
  EXPECT_FALSE(kv.Get("ns", "k", &v));
  EXPECT_EQ(v, "untouched");
  EXPECT_TRUE(kv.Put("ns", "k", "v1", false));
  EXPECT_TRUE(kv.Get("ns", "k", &v));
  EXPECT_EQ(v, "v1");
  EXPECT_TRUE(kv.Exists("ns", "k"));
  EXPECT_FALSE(kv.Exists("other", "k"));
}

TEST(GcsKvManagerTest, OverwriteFlag) {
  GcsKvManager kv;
  ASSERT_TRUE(kv.Put("ns", "k", "v1", false));
  EXPECT_FALSE(kv.Put("ns", "k", "v2", false));  // not added, not changed
  std::string v;
  ASSERT_TRUE(kv.Get("ns", "k", &v));
  EXPECT_EQ(v, "v1");
  EXPECT_FALSE(kv.Put("ns", "k", "v3", true));  // not added, but replaced
  ASSERT_TRUE(kv.Get("ns", "k", &v));
  EXPECT_EQ(v, "v3");
}

TEST(GcsKvManagerTest, NamespacesAreIsolated) {
  GcsKvManager kv;
  kv.Put("a", "k", "in a", false);
  kv.Put("", "k", "in empty", false);
  std::string v;
  ASSERT_TRUE(kv.Get("", "k", &v));
  EXPECT_EQ(v, "in empty");
  EXPECT_EQ(kv.Del("a", "k", false), 1);
  EXPECT_TRUE(kv.Exists("", "k"));
  EXPECT_EQ(kv.Size(), 1u);
}

TEST(GcsKvManagerTest, BinaryKeysAndValues) {
  GcsKvManager kv;
  std::string key("a\0b", 3), value("\0\xff\0", 3);
  kv.Put("ns", key, value, false);
  std::string v;
  ASSERT_TRUE(kv.Get("ns", key, &v));
  EXPECT_EQ(v, value);
  EXPECT_FALSE(kv.Exists("ns", "a"));
}

TEST(GcsKvManagerTest, KeysByPrefix) {
  GcsKvManager kv;
  for (const char* k : {"fn:1", "fn:2", "fo", "actor:1", "fn"}) kv.Put("ns", k, "x", false);
  EXPECT_EQ(kv.Keys("ns", "fn:"), (Keys{"fn:1", "fn:2"}));
  EXPECT_EQ(kv.Keys("ns", "fn"), (Keys{"fn", "fn:1", "fn:2"}));
  EXPECT_EQ(kv.Keys("ns", ""), (Keys{"actor:1", "fn", "fn:1", "fn:2", "fo"}));
  EXPECT_TRUE(kv.Keys("ns", "zzz").empty());
  EXPECT_TRUE(kv.Keys("nope", "").empty());
}

TEST(GcsKvManagerTest, DelExactAndByPrefix) {
  GcsKvManager kv;
  for (const char* k : {"fn:1", "fn:2", "fo", "fn"}) kv.Put("ns", k, "x", false);
  EXPECT_EQ(kv.Del("ns", "fn:3", false), 0);
  EXPECT_EQ(kv.Del("ns", "fn", false), 1);
  EXPECT_EQ(kv.Del("ns", "fn:", true), 2);
  EXPECT_EQ(kv.Keys("ns", ""), (Keys{"fo"}));
  EXPECT_EQ(kv.Del("ns", "", true), 1);
  EXPECT_EQ(kv.Size(), 0u);
  EXPECT_EQ(kv.Del("ns", "", true), 0);
}

}  // namespace
}  // namespace lumos::gcs
