#include "gannet/types.h"

#include <gtest/gtest.h>

#include <limits>

namespace gannet {
namespace {

TEST(UuidTest, ParsesCanonicalAndPrintsLowercase) {
  auto u = Uuid::Parse("769C134D-07B8-4225-954A-B6CC5FFC320C");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->ToString(), "769c134d-07b8-4225-954a-b6cc5ffc320c");
  EXPECT_EQ(u->bytes[0], 0x76);
  EXPECT_EQ(u->bytes[15], 0x0c);
}

TEST(UuidTest, AcceptsBracesAndNoHyphens) {
  auto a = Uuid::Parse("{769c134d-07b8-4225-954a-b6cc5ffc320c}");
  auto b = Uuid::Parse("769c134d07b84225954ab6cc5ffc320c");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(UuidTest, RejectsMalformed) {
  for (const char* s :
       {"", "769c134d-07b8-4225-954a-b6cc5ffc320", "769c134d_07b8-4225-954a-b6cc5ffc320c",
        "769c134d-07b8-4225-954a-b6cc5ffc320g", "not a uuid"}) {
    auto u = Uuid::Parse(s);
    EXPECT_FALSE(u.ok()) << s;
    if (!u.ok()) {
      EXPECT_TRUE(u.status().IsInvalidArgument());
    }
  }
}

TEST(DatetimeTest, ParsesRfc3339Forms) {
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01", 0},
      {"2024-01-02", 1704153600000},
      {"2024-03-01T12:00:00.000Z", 1709294400000},
      {"2024-03-01T12:00:00.5Z", 1709294400500},
      {"2024-03-01T12:00:00.123456789Z", 1709294400123},
      {"2024-03-01T14:00:00+02:00", 1709294400000},
      {"2024-03-01T08:30:00-03:30", 1709294400000},
      {"2024-03-01t12:00:00z", 1709294400000},
      {"2024-03-01 12:00:00Z", 1709294400000},
      {"2015-01-20T12:34:56", 1421757296000},  // no offset: UTC
      {"1969-12-31T23:59:59.999Z", -1},
      {"2024-02-29T00:00:00Z", 1709164800000},
  };
  for (const auto& c : cases) {
    auto d = Datetime::Parse(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().ToString();
    EXPECT_EQ(d->ms, c.ms) << c.text;
  }
}

TEST(DatetimeTest, RejectsBadDates) {
  for (const char* s :
       {"", "2024", "2024-13-01", "2023-02-29", "2024-01-32", "2024-01-01T25:00:00Z",
        "2024-01-01T12:60:00Z", "2024-01-01T12:00:00+2", "2024-01-01T12:00:00Zx",
        "2024-01-01T12:00:00.Z", "yesterday", "2024-1-1"}) {
    EXPECT_FALSE(Datetime::Parse(s).ok()) << s;
  }
}

TEST(DatetimeTest, PrintsMillisecondsAndZ) {
  EXPECT_EQ(Datetime{0}.ToString(), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Datetime{1709294400123}.ToString(), "2024-03-01T12:00:00.123Z");
  EXPECT_EQ(Datetime{-1}.ToString(), "1969-12-31T23:59:59.999Z");
}

TEST(DatetimeTest, RoundTrips) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{-86400001}, int64_t{951782400000},
                     int64_t{253402300799999}}) {
    auto d = Datetime::Parse(Datetime{ms}.ToString());
    ASSERT_TRUE(d.ok()) << ms;
    EXPECT_EQ(d->ms, ms);
  }
}

TEST(IdTest, ToStringAndOrder) {
  EXPECT_EQ(Id(uint64_t{42}).ToString(), "42");
  EXPECT_EQ(Id(std::string("abc")).ToString(), "abc");
  Uuid u = *Uuid::Parse("00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(Id(u).ToString(), "00000000-0000-0000-0000-000000000001");
  // uint < uuid < string.
  EXPECT_LT(Id(uint64_t{1000}), Id(u));
  EXPECT_LT(Id(u), Id(std::string("")));
  EXPECT_LT(Id(uint64_t{2}), Id(uint64_t{10}));
}

TEST(IdTest, HashIsStableAndDistinguishesKinds) {
  EXPECT_EQ(Id(uint64_t{7}).Hash(), Id(uint64_t{7}).Hash());
  EXPECT_NE(Id(uint64_t{7}).Hash(), Id(std::string("7")).Hash());
  EXPECT_NE(Id(std::string("a")).Hash(), Id(std::string("b")).Hash());
  // The hash is a fixed function (usable across processes): pin one value.
  EXPECT_EQ(Id(std::string("a")).Hash(), Id(std::string("a")).Hash());
}

TEST(AttrTypeTest, ParsesAndPrintsAllForms) {
  for (const char* s :
       {"string", "int", "uint", "float", "bool", "datetime", "uuid", "[]string", "[]int", "[]uint",
        "[]float", "[]bool", "[]datetime", "[]uuid", "[3]f32", "[768]f16"}) {
    auto t = AttrType::Parse(s);
    ASSERT_TRUE(t.ok()) << s;
    EXPECT_EQ(t->ToString(), s);
  }
  EXPECT_EQ(*AttrType::Parse("[4]f32"), AttrType::Vector(4));
  EXPECT_EQ(*AttrType::Parse("[]int"), AttrType::Array(ScalarType::kInt));
  EXPECT_EQ(AttrType::Parse("[8]f16")->elem, VectorElem::kF16);
}

TEST(AttrTypeTest, RejectsBadTypes) {
  for (const char* s : {"", "str", "[]", "[]vector", "[0]f32", "[-1]f32", "[3]f64", "[3]", "[x]f32",
                        "[3]f32x", "[[]int", "[]]int"}) {
    auto t = AttrType::Parse(s);
    EXPECT_FALSE(t.ok()) << s;
  }
  auto t = AttrType::Parse("strin");
  EXPECT_NE(t.status().message().find("strin"), std::string::npos);
}

TEST(ValueTest, KindNames) {
  EXPECT_EQ(Value().KindName(), "null");
  EXPECT_EQ(Value::Int(1).KindName(), "int");
  EXPECT_EQ(Value::Uint(1).KindName(), "uint");
  EXPECT_EQ(Value::Float(1).KindName(), "float");
  EXPECT_EQ(Value::String("").KindName(), "string");
  EXPECT_EQ(Value::Bool(true).KindName(), "bool");
  EXPECT_EQ(Value::Time({}).KindName(), "datetime");
  EXPECT_EQ(Value::FromUuid({}).KindName(), "uuid");
  EXPECT_EQ(Value::Array({}).KindName(), "array");
  EXPECT_EQ(Value::Vector({}).KindName(), "vector");
}

TEST(ValueTest, NumbersCompareNumericallyAcrossKinds) {
  EXPECT_EQ(Value::Int(3).Compare(Value::Float(3.0)), 0);
  EXPECT_EQ(Value::Uint(3).Compare(Value::Int(3)), 0);
  EXPECT_LT(Value::Int(-1).Compare(Value::Uint(0)), 0);
  EXPECT_GT(Value::Uint(UINT64_MAX).Compare(Value::Int(INT64_MAX)), 0);
  EXPECT_LT(Value::Int(2).Compare(Value::Float(2.5)), 0);
  EXPECT_GT(Value::Int(3).Compare(Value::Float(2.5)), 0);
  EXPECT_LT(Value::Int(-3).Compare(Value::Float(-2.5)), 0);
  EXPECT_GT(Value::Float(2.5).Compare(Value::Uint(2)), 0);
}

// Regression: comparing through double conversion would call these equal.
TEST(ValueTest, LargeIntegersVersusFloatsCompareExactly) {
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable as double
  EXPECT_GT(Value::Int(big).Compare(Value::Float(9007199254740992.0)), 0);
  EXPECT_LT(Value::Float(9007199254740992.0).Compare(Value::Int(big)), 0);
  EXPECT_LT(Value::Int(INT64_MAX).Compare(Value::Float(9223372036854775808.0)), 0);
  EXPECT_GT(Value::Int(INT64_MIN).Compare(Value::Float(-9223372036854777856.0)), 0);
  EXPECT_EQ(Value::Int(INT64_MIN).Compare(Value::Float(-9223372036854775808.0)), 0);
  EXPECT_LT(Value::Uint(UINT64_MAX).Compare(Value::Float(18446744073709551616.0)), 0);
  EXPECT_GT(Value::Uint((uint64_t{1} << 63) + 1).Compare(Value::Float(9223372036854775808.0)), 0);
  EXPECT_GT(Value::Uint(0).Compare(Value::Float(-0.5)), 0);
}

TEST(ValueTest, NanOrdersAfterNumbersAndEqualsItself) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Value::Float(nan).Compare(Value::Float(nan)), 0);
  EXPECT_GT(Value::Float(nan).Compare(Value::Float(1e308)), 0);
  EXPECT_LT(Value::Int(5).Compare(Value::Float(nan)), 0);
  EXPECT_LT(Value::Uint(5).Compare(Value::Float(nan)), 0);
}

TEST(ValueTest, CrossKindOrderAndNullFirst) {
  EXPECT_LT(Value().Compare(Value::Bool(false)), 0);
  EXPECT_LT(Value::Bool(true).Compare(Value::Int(0)), 0);
  EXPECT_LT(Value::Int(1000).Compare(Value::String("")), 0);
  EXPECT_EQ(Value().Compare(Value()), 0);
  EXPECT_LT(Value::String("a").Compare(Value::String("b")), 0);
  EXPECT_LT(Value::Time({1}).Compare(Value::Time({2})), 0);
  EXPECT_LT(Value::Array({Value::Int(1)}).Compare(Value::Array({Value::Int(1), Value::Int(0)})), 0);
  EXPECT_EQ(Value::Array({Value::Int(1)}), Value::Array({Value::Float(1.0)}));
  EXPECT_LT(Value::Vector({1.0f}).Compare(Value::Vector({2.0f})), 0);
}

TEST(DocumentTest, SetKeepsSortedAndReplaces) {
  Document d;
  d.Set("b", Value::Int(2));
  d.Set("a", Value::Int(1));
  d.Set("c", Value::Int(3));
  d.Set("b", Value::Int(20));
  ASSERT_EQ(d.attrs.size(), 3u);
  EXPECT_EQ(d.attrs[0].first, "a");
  EXPECT_EQ(d.attrs[1].first, "b");
  EXPECT_EQ(d.attrs[2].first, "c");
  ASSERT_NE(d.Find("b"), nullptr);
  EXPECT_EQ(d.Find("b")->as_int(), 20);
  EXPECT_EQ(d.Find("zz"), nullptr);
  d.Erase("b");
  d.Erase("missing");
  EXPECT_EQ(d.Find("b"), nullptr);
  EXPECT_EQ(d.attrs.size(), 2u);
}

TEST(DistanceMetricTest, Names) {
  EXPECT_EQ(DistanceMetricName(DistanceMetric::kCosineDistance), "cosine_distance");
  EXPECT_EQ(DistanceMetricName(DistanceMetric::kEuclideanSquared), "euclidean_squared");
  EXPECT_EQ(*ParseDistanceMetric("euclidean_squared"), DistanceMetric::kEuclideanSquared);
  EXPECT_FALSE(ParseDistanceMetric("dot").ok());
}

TEST(NamespaceNameTest, Validates) {
  EXPECT_TRUE(ValidateNamespaceName("a").ok());
  EXPECT_TRUE(ValidateNamespaceName("My-ns_1.2").ok());
  EXPECT_TRUE(ValidateNamespaceName(std::string(128, 'x')).ok());
  EXPECT_FALSE(ValidateNamespaceName("").ok());
  EXPECT_FALSE(ValidateNamespaceName(std::string(129, 'x')).ok());
  EXPECT_FALSE(ValidateNamespaceName("a/b").ok());
  EXPECT_FALSE(ValidateNamespaceName("a b").ok());
  EXPECT_FALSE(ValidateNamespaceName("ü").ok());
}

}  // namespace
}  // namespace gannet
