// ResourceSet: validation, arithmetic in fixed point, formatting.
#include "common/resource_set.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace lumos {
namespace {

ResourceSet RS(const std::map<std::string, double>& m) {
  auto r = ResourceSet::FromMap(m);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : ResourceSet();
}

TEST(ResourceSetTest, FromMapAcceptsNonNegative) {
  auto r = ResourceSet::FromMap({{"CPU", 2}, {"GPU", 0.5}, {"zero", 0}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().Get("CPU"), 2.0);
  EXPECT_EQ(r.value().Get("GPU"), 0.5);
  EXPECT_EQ(r.value().Get("zero"), 0.0);
  EXPECT_EQ(r.value().Get("missing"), 0.0);
  // Zero entries are not stored.
  EXPECT_EQ(r.value().ToMap().count("zero"), 0u);
  EXPECT_TRUE(ResourceSet::FromMap({}).value().IsEmpty());
}

TEST(ResourceSetTest, FromMapRejectsNegativeAndNonFinite) {
  auto neg = ResourceSet::FromMap({{"CPU", -1}});
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(neg.status().message().find("CPU"), std::string::npos) << neg.status().message();

  auto tiny_neg = ResourceSet::FromMap({{"GPU", -0.0001}});
  EXPECT_FALSE(tiny_neg.ok());

  auto nan = ResourceSet::FromMap({{"CPU", 1}, {"x", std::nan("")}});
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nan.status().message().find("'x'"), std::string::npos) << nan.status().message();

  EXPECT_FALSE(ResourceSet::FromMap({{"CPU", std::numeric_limits<double>::infinity()}}).ok());
  EXPECT_FALSE(ResourceSet::FromMap({{"CPU", -std::numeric_limits<double>::infinity()}}).ok());
}

TEST(ResourceSetTest, Contains) {
  ResourceSet have = RS({{"CPU", 4}, {"GPU", 1}});
  EXPECT_TRUE(have.Contains(RS({{"CPU", 4}})));
  EXPECT_TRUE(have.Contains(RS({{"CPU", 1}, {"GPU", 1}})));
  EXPECT_TRUE(have.Contains(ResourceSet()));  // the empty request fits anywhere
  EXPECT_TRUE(ResourceSet().Contains(ResourceSet()));
  EXPECT_FALSE(have.Contains(RS({{"CPU", 4.0001}})));
  EXPECT_FALSE(have.Contains(RS({{"GPU", 2}})));
  EXPECT_FALSE(have.Contains(RS({{"TPU", 1}})));  // unknown resource
  EXPECT_FALSE(ResourceSet().Contains(RS({{"CPU", 0.5}})));
}

TEST(ResourceSetTest, AddSubtract) {
  ResourceSet a = RS({{"CPU", 4}, {"GPU", 1}});
  a.Subtract(RS({{"CPU", 1.5}}));
  EXPECT_EQ(a.Get("CPU"), 2.5);
  EXPECT_EQ(a.Get("GPU"), 1.0);
  a.Subtract(RS({{"GPU", 1}}));
  EXPECT_EQ(a.Get("GPU"), 0.0);
  EXPECT_EQ(a.ToMap().count("GPU"), 0u);  // erased at zero
  a.Add(RS({{"GPU", 1}, {"mem", 3}}));
  EXPECT_EQ(a, RS({{"CPU", 2.5}, {"GPU", 1}, {"mem", 3}}));

  // Oversubscription: quantities may go negative, and then nothing fits.
  ResourceSet b = RS({{"CPU", 1}});
  b.Subtract(RS({{"CPU", 2}}));
  EXPECT_EQ(b.Get("CPU"), -1.0);
  EXPECT_FALSE(b.Contains(RS({{"CPU", 0.5}})));
  EXPECT_TRUE(b.Contains(ResourceSet()));
  b.Add(RS({{"CPU", 1}}));
  EXPECT_TRUE(b.IsEmpty());
  EXPECT_EQ(b, ResourceSet());
}

TEST(ResourceSetTest, FixedPointDoesNotDrift) {
  ResourceSet sum;
  ResourceSet tenth = RS({{"CPU", 0.1}});
  for (int i = 0; i < 10; i++) sum.Add(tenth);
  EXPECT_EQ(sum, RS({{"CPU", 1}}));
  EXPECT_EQ(sum.Get("CPU"), 1.0);
  EXPECT_TRUE(sum.Contains(RS({{"CPU", 1}})));
  EXPECT_TRUE(RS({{"CPU", 1}}).Contains(sum));
  for (int i = 0; i < 10; i++) sum.Subtract(tenth);
  EXPECT_TRUE(sum.IsEmpty());

  // Many small grants and returns leave the total exactly where it was.
  ResourceSet avail = RS({{"CPU", 3}});
  ResourceSet third = RS({{"CPU", 0.3}});
  for (int i = 0; i < 1000; i++) {
    avail.Subtract(third);
    avail.Add(third);
  }
  EXPECT_EQ(avail, RS({{"CPU", 3}}));
  // Precision is 1/10000: Set() rounds finer amounts (FromMap rejects them).
  ResourceSet fine;
  fine.Set("CPU", 0.00004);
  EXPECT_EQ(fine.Get("CPU"), 0.0);
  fine.Set("CPU", 0.00006);
  EXPECT_EQ(fine.Get("CPU"), 0.0001);
}

TEST(ResourceSetTest, SetOverwritesAndErases) {
  ResourceSet r;
  r.Set("CPU", 2);
  EXPECT_EQ(r.Get("CPU"), 2.0);
  r.Set("CPU", 0.25);
  EXPECT_EQ(r.Get("CPU"), 0.25);
  r.Set("CPU", 0);
  EXPECT_TRUE(r.IsEmpty());
}

TEST(ResourceSetTest, ToStringAndToMap) {
  EXPECT_EQ(ResourceSet().ToString(), "{}");
  EXPECT_EQ(RS({{"CPU", 2}}).ToString(), "{'CPU': 2.0}");  // whole numbers read as floats
  EXPECT_EQ(RS({{"GPU", 0.5}, {"CPU", 1}}).ToString(), "{'CPU': 1.0, 'GPU': 0.5}");  // sorted
  EXPECT_EQ(RS({{"mem", 0.0001}}).ToString(), "{'mem': 0.0001}");
  EXPECT_EQ(RS({{"CPU", 1000000}}).ToString(), "{'CPU': 1000000.0}");
  ResourceSet over = RS({{"CPU", 1}});
  over.Subtract(RS({{"CPU", 2.5}}));
  EXPECT_EQ(over.ToString(), "{'CPU': -1.5}");
  over.Add(RS({{"CPU", 0.5}}));
  EXPECT_EQ(over.ToString(), "{'CPU': -1.0}");
  auto m = RS({{"CPU", 1.5}, {"custom", 0.25}}).ToMap();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m["CPU"], 1.5);
  EXPECT_EQ(m["custom"], 0.25);
}

}  // namespace
}  // namespace lumos

namespace lumos {
namespace {

TEST(ResourceSetPrecisionTest, RejectsAmountsFinerThanTheUnit) {
  EXPECT_TRUE(ResourceSet::FromMap({{"CPU", 0.0001}}).ok());
  EXPECT_TRUE(ResourceSet::FromMap({{"CPU", 0.1}}).ok());
  EXPECT_TRUE(ResourceSet::FromMap({{"memory", 64.0 * 1024 * 1024 * 1024}}).ok());
  auto r = ResourceSet::FromMap({{"CPU", 0.00001}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too precise"), std::string::npos);
  EXPECT_NE(r.status().message().find("0.0001"), std::string::npos);
  EXPECT_FALSE(ResourceSet::FromMap({{"CPU", 1.0 / 3}}).ok());
  EXPECT_FALSE(ResourceSet::FromMap({{"CPU", 1e16}}).ok());
}

TEST(ResourceSetPrecisionTest, TenThousandTenthsAddUpExactly) {
  ResourceSet total = ResourceSet::FromMap({{"CPU", 1}}).value();
  ResourceSet tenth = ResourceSet::FromMap({{"CPU", 0.1}}).value();
  for (int i = 0; i < 10; i++) total.Subtract(tenth);
  EXPECT_TRUE(total.IsEmpty());
  for (int i = 0; i < 10000; i++) total.Add(ResourceSet::FromMap({{"CPU", 0.0001}}).value());
  EXPECT_EQ(total.Get("CPU"), 1.0);
}

}  // namespace
}  // namespace lumos
