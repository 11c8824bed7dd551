#include "common/coding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "gannet/status.h"

namespace gannet {
namespace {

TEST(StatusTest, NamesAndToString) {
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(StatusCode::kCorruption), "Corruption");
  EXPECT_EQ(StatusCodeName(StatusCode::kPreconditionFailed), "PreconditionFailed");
  EXPECT_EQ(StatusCodeName(StatusCode::kInternal), "Internal");
  EXPECT_EQ(Status::OK().ToString(), "OK");
  EXPECT_EQ(Status::InvalidArgument("bad x").ToString(), "InvalidArgument: bad x");
  EXPECT_EQ(Status::NotFound("k").WithContext("get").ToString(), "NotFound: get: k");
  for (int c = 0; c <= 11; ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown") << c;
  }
}

TEST(CodingTest, FixedRoundTripIsLittleEndian) {
  Writer w;
  w.PutFixed32(0x01020304u);
  w.PutFixed64(0x0102030405060708ull);
  const std::string& b = w.buffer();
  ASSERT_EQ(b.size(), 12u);
  EXPECT_EQ(static_cast<uint8_t>(b[0]), 0x04);
  EXPECT_EQ(static_cast<uint8_t>(b[3]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(b[4]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(b[11]), 0x01);
  Reader r(b);
  uint32_t a;
  uint64_t c;
  ASSERT_TRUE(r.GetFixed32(&a));
  ASSERT_TRUE(r.GetFixed64(&c));
  EXPECT_EQ(a, 0x01020304u);
  EXPECT_EQ(c, 0x0102030405060708ull);
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.GetFixed32(&a));
}

TEST(CodingTest, VarintRoundTrip) {
  const uint64_t values[] = {0,          1,
                             127,        128,
                             300,        16383,
                             16384,      (1ull << 32) - 1,
                             1ull << 32, (1ull << 63) - 1,
                             1ull << 63, std::numeric_limits<uint64_t>::max()};
  Writer w;
  for (uint64_t v : values) w.PutVarint(v);
  Reader r(w.buffer());
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(r.GetVarint(&got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(r.done());
  Writer m;
  m.PutVarint(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(m.size(), 10u);
}

TEST(CodingTest, VarintRejectsOverflowTruncationAndOverlong) {
  uint64_t v;
  // 11 continuation bytes.
  std::string too_long(10, '\xff');
  too_long.push_back('\x01');
  EXPECT_FALSE(Reader(too_long).GetVarint(&v));
  // Tenth byte carrying more than the single remaining bit.
  std::string overflow(9, '\xff');
  overflow.push_back('\x02');
  EXPECT_FALSE(Reader(overflow).GetVarint(&v));
  // Truncated.
  EXPECT_FALSE(Reader(std::string("\x80\x80", 2)).GetVarint(&v));
  EXPECT_FALSE(Reader(std::string_view()).GetVarint(&v));
  // Overlong zero.
  EXPECT_FALSE(Reader(std::string("\x80\x00", 2)).GetVarint(&v));
  // A failed read does not move the position.
  Reader r(std::string_view("\x80", 1));
  EXPECT_FALSE(r.GetVarint(&v));
  EXPECT_EQ(r.position(), 0u);
}

TEST(CodingTest, SignedVarintZigZag) {
  const int64_t values[] = {0,
                            -1,
                            1,
                            -64,
                            63,
                            -65,
                            64,
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max()};
  for (int64_t v : values) {
    Writer w;
    w.PutSignedVarint(v);
    Reader r(w.buffer());
    int64_t got;
    ASSERT_TRUE(r.GetSignedVarint(&got));
    EXPECT_EQ(got, v);
    EXPECT_TRUE(r.done());
  }
  Writer w;
  w.PutSignedVarint(-1);
  EXPECT_EQ(w.buffer(), std::string("\x01", 1));
  Writer w2;
  w2.PutSignedVarint(-64);
  EXPECT_EQ(w2.size(), 1u);
}

TEST(CodingTest, FloatsBitExact) {
  const double ds[] = {0.0,
                       -0.0,
                       1.5,
                       -3.25e300,
                       std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::denorm_min()};
  Writer w;
  for (double d : ds) w.PutDouble(d);
  w.PutFloat(1.25f);
  w.PutDouble(std::numeric_limits<double>::quiet_NaN());
  Reader r(w.buffer());
  for (double d : ds) {
    double got;
    ASSERT_TRUE(r.GetDouble(&got));
    EXPECT_EQ(std::signbit(got), std::signbit(d));
    EXPECT_EQ(got, d);
  }
  float f;
  ASSERT_TRUE(r.GetFloat(&f));
  EXPECT_EQ(f, 1.25f);
  double nan;
  ASSERT_TRUE(r.GetDouble(&nan));
  EXPECT_TRUE(std::isnan(nan));
}

TEST(CodingTest, BytesAndRaw) {
  Writer w;
  w.PutBytes("hello");
  w.PutBytes("");
  w.PutBytes(std::string(300, 'x'));
  w.PutRaw("ab");
  Reader r(w.buffer());
  std::string_view s;
  ASSERT_TRUE(r.GetBytes(&s));
  EXPECT_EQ(s, "hello");
  ASSERT_TRUE(r.GetBytes(&s));
  EXPECT_EQ(s, "");
  ASSERT_TRUE(r.GetBytes(&s));
  EXPECT_EQ(s, std::string(300, 'x'));
  ASSERT_TRUE(r.GetRaw(2, &s));
  EXPECT_EQ(s, "ab");
  EXPECT_FALSE(r.GetRaw(1, &s));
}

// Regression: a length prefix larger than the remaining input must fail without reading.
TEST(CodingTest, BytesLengthBeyondInputFails) {
  Writer w;
  w.PutVarint(1000);
  w.PutRaw("abc");
  Reader r(w.buffer());
  std::string_view s;
  EXPECT_FALSE(r.GetBytes(&s));
  EXPECT_EQ(r.position(), 0u);
  Writer huge;
  huge.PutVarint(std::numeric_limits<uint64_t>::max());
  Reader r2(huge.buffer());
  EXPECT_FALSE(r2.GetBytes(&s));
}

TEST(CodingTest, Checksum64) {
  EXPECT_EQ(Checksum64("abc"), Checksum64(std::string("abc")));
  EXPECT_NE(Checksum64("abc"), Checksum64("abd"));
  EXPECT_NE(Checksum64(""), Checksum64(std::string(1, '\0')));
}

TEST(CodingTest, RandomBytesAndHex) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string b = RandomBytes(16);
    EXPECT_EQ(b.size(), 16u);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(CodingTest, PadSequence) {
  EXPECT_EQ(PadSequence(0), "00000000000000000000");
  EXPECT_EQ(PadSequence(42), "00000000000000000042");
  EXPECT_EQ(PadSequence(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  EXPECT_LT(PadSequence(9), PadSequence(10));
}

}  // namespace
}  // namespace gannet
