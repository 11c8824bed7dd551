#include "format/value_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "format/test_util.h"

namespace gannet::format {
namespace {

using testing::AllValueKinds;
using testing::DocsEqual;
using testing::FiltersEqual;
using testing::MakeUuid;
using testing::RequestsEqual;
using testing::StrictEq;

TEST(ValueCodecTest, EveryValueKindRoundTrips) {
  for (const auto& [name, v] : AllValueKinds()) {
    Writer w;
    EncodeValue(w, v);
    Reader r(w.buffer());
    Value got = Value::String("sentinel");
    ASSERT_TRUE(DecodeValue(r, &got).ok()) << name;
    EXPECT_TRUE(StrictEq(v, got)) << name;
    EXPECT_TRUE(r.done()) << name;
  }
}

TEST(ValueCodecTest, NanFloatKeepsItsBits) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Writer w;
  EncodeValue(w, Value::Float(nan));
  Reader r(w.buffer());
  Value got;
  ASSERT_TRUE(DecodeValue(r, &got).ok());
  EXPECT_TRUE(std::isnan(got.as_float()));
}

TEST(ValueCodecTest, EveryIdKindRoundTrips) {
  const Id ids[] = {Id(uint64_t{0}),          Id(UINT64_MAX),
                    Id(MakeUuid(9)),          Id(std::string("")),
                    Id(std::string(64, 'z')), Id(std::string("\xE2\x9C\x93 ok"))};
  for (const Id& id : ids) {
    Writer w;
    EncodeId(w, id);
    Reader r(w.buffer());
    Id got;
    ASSERT_TRUE(DecodeId(r, &got).ok());
    EXPECT_EQ(got, id);
    EXPECT_TRUE(r.done());
  }
}

TEST(ValueCodecTest, DocumentRoundTrip) {
  Document d;
  d.id = Id(std::string("doc-1"));
  for (auto& [name, v] : AllValueKinds()) d.attrs.emplace_back(name, v);
  std::sort(d.attrs.begin(), d.attrs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  Writer w;
  EncodeDocument(w, d);
  Reader r(w.buffer());
  Document got;
  ASSERT_TRUE(DecodeDocument(r, &got).ok());
  EXPECT_TRUE(DocsEqual(d, got));
}

Schema FullSchema() {
  Schema s;
  s.id_type = ScalarType::kUuid;
  s.distance_metric = DistanceMetric::kEuclideanSquared;
  s.attributes["vector"] = {AttrType::Vector(768, VectorElem::kF16), false, ""};
  s.attributes["title"] = {AttrType::Scalar(ScalarType::kString), true,
                           R"({"language":"english"})"};
  s.attributes["tags"] = {AttrType::Array(ScalarType::kString), true, ""};
  s.attributes["when"] = {AttrType::Scalar(ScalarType::kDatetime), false, ""};
  s.attributes["n"] = {AttrType::Scalar(ScalarType::kUint), true, ""};
  return s;
}

TEST(ValueCodecTest, SchemaRoundTrip) {
  for (const Schema& s : {Schema(), FullSchema()}) {
    Writer w;
    EncodeSchema(w, s);
    Reader r(w.buffer());
    Schema got;
    got.id_type = ScalarType::kInt;  // must be overwritten
    ASSERT_TRUE(DecodeSchema(r, &got).ok());
    EXPECT_EQ(got, s);
    EXPECT_TRUE(r.done());
  }
}

TEST(ValueCodecTest, AttrTypesRoundTrip) {
  for (ScalarType t : {ScalarType::kString, ScalarType::kInt, ScalarType::kUint, ScalarType::kFloat,
                       ScalarType::kBool, ScalarType::kDatetime, ScalarType::kUuid}) {
    for (const AttrType& at : {AttrType::Scalar(t), AttrType::Array(t)}) {
      Writer w;
      EncodeAttrType(w, at);
      Reader r(w.buffer());
      AttrType got;
      ASSERT_TRUE(DecodeAttrType(r, &got).ok());
      EXPECT_EQ(got, at);
    }
  }
  Writer w;
  EncodeAttrType(w, AttrType::Vector(UINT32_MAX, VectorElem::kF16));
  Reader r(w.buffer());
  AttrType got;
  ASSERT_TRUE(DecodeAttrType(r, &got).ok());
  EXPECT_EQ(got, AttrType::Vector(UINT32_MAX, VectorElem::kF16));
}

Filter Leaf(Filter::Op op, std::string attr, Value v) {
  Filter f;
  f.op = op;
  f.attr = std::move(attr);
  f.value = std::move(v);
  return f;
}

Filter ComplexFilter() {
  Filter f;
  f.op = Filter::Op::kAnd;
  f.children.push_back(Leaf(Filter::Op::kEq, "id", Value::Uint(7)));
  f.children.push_back(
      Leaf(Filter::Op::kIn, "tags", Value::Array({Value::String("a"), Value::String("b")})));
  Filter ref = Leaf(Filter::Op::kLt, "version", Value());
  ref.ref_new = "version";
  f.children.push_back(ref);
  Filter no;
  no.op = Filter::Op::kNot;
  Filter orf;
  orf.op = Filter::Op::kOr;
  orf.children.push_back(Leaf(Filter::Op::kIGlob, "title", Value::String("*Gannet*")));
  orf.children.push_back(Leaf(Filter::Op::kNotIGlob, "title", Value::String("")));
  no.children.push_back(orf);
  f.children.push_back(no);
  return f;
}

TEST(ValueCodecTest, FilterRoundTripEveryOp) {
  for (int op = 0; op <= static_cast<int>(Filter::Op::kNotIGlob); ++op) {
    Filter f = Leaf(static_cast<Filter::Op>(op), "a", Value::Int(op));
    Writer w;
    EncodeFilter(w, f);
    Reader r(w.buffer());
    Filter got;
    ASSERT_TRUE(DecodeFilter(r, &got).ok());
    EXPECT_TRUE(FiltersEqual(f, got)) << op;
  }
  Filter f = ComplexFilter();
  Writer w;
  EncodeFilter(w, f);
  Reader r(w.buffer());
  Filter got;
  ASSERT_TRUE(DecodeFilter(r, &got).ok());
  EXPECT_TRUE(FiltersEqual(f, got));
  EXPECT_TRUE(r.done());
}

WriteRequest FullRequest() {
  WriteRequest req;
  Document u;
  u.id = Id(uint64_t{1});
  u.attrs = {{"price", Value::Float(9.5)}, {"vector", Value::Vector({0.5f, 0.25f})}};
  req.upserts.push_back(u);
  Document p;
  p.id = Id(uint64_t{2});
  p.attrs = {{"gone", Value()}, {"title", Value::String("t")}};
  req.patches.push_back(p);
  req.deletes = {Id(uint64_t{3}), Id(uint64_t{4})};
  req.delete_by_filter = Leaf(Filter::Op::kGte, "price", Value::Int(100));
  req.upsert_condition = ComplexFilter();
  req.patch_condition = Leaf(Filter::Op::kContains, "tags", Value::String("x"));
  req.delete_condition = Leaf(Filter::Op::kNotEq, "id", Value::Uint(3));
  req.distance_metric = DistanceMetric::kCosineDistance;
  req.schema = FullSchema();
  req.return_affected_ids = true;
  return req;
}

TEST(ValueCodecTest, WriteRequestRoundTrip) {
  for (const WriteRequest& req : {WriteRequest(), FullRequest()}) {
    Writer w;
    EncodeWriteRequest(w, req);
    Reader r(w.buffer());
    WriteRequest got;
    got.return_affected_ids = true;
    ASSERT_TRUE(DecodeWriteRequest(r, &got).ok());
    EXPECT_TRUE(RequestsEqual(req, got));
    EXPECT_TRUE(r.done());
  }
}

// Every truncation of an encoded request fails cleanly (the codec alone has no checksum,
// so bit flips may decode; they are covered at the frame level).
TEST(ValueCodecTest, TruncatedRequestFails) {
  Writer w;
  EncodeWriteRequest(w, FullRequest());
  const std::string b = w.Release();
  for (size_t len = 0; len < b.size(); ++len) {
    Reader r(std::string_view(b).substr(0, len));
    WriteRequest got;
    EXPECT_TRUE(DecodeWriteRequest(r, &got).IsCorruption()) << len;
  }
}

// Every single-byte mutation decodes to something or fails with Corruption; never crashes.
TEST(ValueCodecTest, MutatedRequestNeverCrashes) {
  Writer w;
  EncodeWriteRequest(w, FullRequest());
  const std::string b = w.Release();
  std::string copy = b;
  for (size_t i = 0; i < b.size(); ++i) {
    for (int x = 1; x < 256; x += 37) {
      copy[i] = static_cast<char>(b[i] ^ x);
      Reader r(copy);
      WriteRequest got;
      const Status s = DecodeWriteRequest(r, &got);
      EXPECT_TRUE(s.ok() || s.IsCorruption()) << s.ToString();
    }
    copy[i] = b[i];
  }
}

// Regression: deep nesting must be bounded, not overflow the stack.
TEST(ValueCodecTest, DeeplyNestedArrayIsRejected) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += std::string("\x08\x01", 2);  // array of 1
  deep += '\0';
  Reader r(deep);
  Value v;
  const Status s = DecodeValue(r, &v);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("nested too deeply"), std::string::npos) << s.message();
}

TEST(ValueCodecTest, DeeplyNestedFilterIsRejected) {
  Filter f = Leaf(Filter::Op::kEq, "a", Value::Int(1));
  for (int i = 0; i < kMaxCodecDepth + 5; ++i) {
    Filter n;
    n.op = Filter::Op::kNot;
    n.children.push_back(std::move(f));
    f = std::move(n);
  }
  Writer w;
  EncodeFilter(w, f);
  Reader r(w.buffer());
  Filter got;
  EXPECT_TRUE(DecodeFilter(r, &got).IsCorruption());
}

// Regression: a forged huge count must fail before allocating.
TEST(ValueCodecTest, HugeCountsFailWithoutAllocating) {
  for (uint8_t kind : {uint8_t{8}, uint8_t{9}}) {  // array, vector
    Writer w;
    w.PutU8(kind);
    w.PutVarint(uint64_t{1} << 60);
    w.PutRaw("abc");
    Reader r(w.buffer());
    Value v;
    const Status s = DecodeValue(r, &v);
    EXPECT_TRUE(s.IsCorruption());
    EXPECT_NE(s.message().find("exceeds remaining"), std::string::npos) << s.message();
  }
  Writer w;
  EncodeId(w, Id(uint64_t{1}));
  w.PutVarint(UINT64_MAX);
  Reader r(w.buffer());
  Document d;
  EXPECT_TRUE(DecodeDocument(r, &d).IsCorruption());
}

TEST(ValueCodecTest, BadEnumBytesAreCorruption) {
  {
    Reader r(std::string_view("\x0a", 1));  // value kind 10
    Value v;
    EXPECT_TRUE(DecodeValue(r, &v).IsCorruption());
  }
  {
    Reader r(std::string_view("\x03", 1));  // id tag 3
    Id id;
    EXPECT_TRUE(DecodeId(r, &id).IsCorruption());
  }
  {
    Reader r(std::string_view("\x01\x02", 2));  // bool byte 2
    Value v;
    EXPECT_TRUE(DecodeValue(r, &v).IsCorruption());
  }
  {
    Reader r(std::string_view("\x04\x01\x01\x00", 4));  // attr kind 4
    AttrType t;
    EXPECT_TRUE(DecodeAttrType(r, &t).IsCorruption());
  }
  {
    Reader r(std::string_view("\x16\x00\x00\x00\x00", 5));  // filter op 22
    Filter f;
    EXPECT_TRUE(DecodeFilter(r, &f).IsCorruption());
  }
  {
    Reader r(std::string_view("\x00\x03\x00", 3));  // metric 3
    Schema s;
    EXPECT_TRUE(DecodeSchema(r, &s).IsCorruption());
  }
}

TEST(ValueCodecTest, SchemaWithUnsortedNamesIsCorruption) {
  Writer w;
  w.PutU8(0);
  w.PutU8(0);
  w.PutVarint(2);
  for (const char* name : {"b", "a"}) {
    w.PutBytes(name);
    EncodeAttrType(w, AttrType::Scalar(ScalarType::kInt));
    w.PutU8(1);
    w.PutBytes("");
  }
  Reader r(w.buffer());
  Schema s;
  EXPECT_TRUE(DecodeSchema(r, &s).IsCorruption());
}

// ---- binary16 ---------------------------------------------------------------------------

TEST(HalfTest, ExactValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);               // max finite
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // min normal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // min subnormal
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
}

TEST(HalfTest, RoundsToNearestEven) {
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Just above the tie rounds up.
  EXPECT_EQ(FloatToHalf(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // Overflow: 65520 is the tie between 65504 and 2^16 -> rounds to even = inf.
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(1e10f), 0x7c00);
  // Subnormal ties: 2^-25 is halfway between 0 and the min subnormal -> 0.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(FloatToHalf(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(FloatToHalf(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 ulp -> even 2
  EXPECT_EQ(FloatToHalf(1e-30f), 0x0000);
  EXPECT_EQ(FloatToHalf(-1e-30f), 0x8000);
  // Largest subnormal rounding up into the smallest normal.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -26)), 0x0400);
}

TEST(HalfTest, NanStaysNan) {
  const uint16_t h = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(h & 0x7c00, 0x7c00);
  EXPECT_NE(h & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(HalfToFloat(h)));
  // A signalling NaN whose payload lives only in the low bits stays NaN.
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::bit_cast<float>(0x7f800001u)))));
}

// Every half value widens exactly and narrows back to itself.
TEST(HalfTest, AllHalfValuesRoundTrip) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(f))));
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << std::hex << h;
  }
}

// The nearest half is chosen: relative error at most 2^-11 in the normal range.
TEST(HalfTest, RelativeErrorBound) {
  for (float f = 6.2e-5f; f < 65000.0f; f *= 1.0007f) {
    const float back = HalfToFloat(FloatToHalf(f));
    EXPECT_LE(std::fabs(back - f), f * std::ldexp(1.0f, -11)) << f;
  }
}

}  // namespace
}  // namespace gannet::format
