#include "format/segment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "format/frame.h"
#include "format/test_util.h"
#include "format/value_codec.h"

namespace gannet::format {
namespace {

using testing::DocsEqual;
using testing::MakeUuid;
using testing::StrictEq;

Schema RichSchema(uint32_t dims, VectorElem elem) {
  Schema s;
  s.id_type = ScalarType::kUint;
  s.distance_metric = DistanceMetric::kCosineDistance;
  auto add = [&](const char* name, AttrType t) { s.attributes[name] = {t, true, ""}; };
  add("vector", AttrType::Vector(dims, elem));
  add("s", AttrType::Scalar(ScalarType::kString));
  add("i", AttrType::Scalar(ScalarType::kInt));
  add("u", AttrType::Scalar(ScalarType::kUint));
  add("f", AttrType::Scalar(ScalarType::kFloat));
  add("b", AttrType::Scalar(ScalarType::kBool));
  add("t", AttrType::Scalar(ScalarType::kDatetime));
  add("id2", AttrType::Scalar(ScalarType::kUuid));
  add("as", AttrType::Array(ScalarType::kString));
  add("ai", AttrType::Array(ScalarType::kInt));
  add("au", AttrType::Array(ScalarType::kUint));
  add("af", AttrType::Array(ScalarType::kFloat));
  add("ab", AttrType::Array(ScalarType::kBool));
  add("at", AttrType::Array(ScalarType::kDatetime));
  add("aid", AttrType::Array(ScalarType::kUuid));
  add("emb16", AttrType::Vector(3, VectorElem::kF16));
  add("emb32", AttrType::Vector(2, VectorElem::kF32));
  add("never", AttrType::Scalar(ScalarType::kInt));
  return s;
}

void Sort(Document& d) {
  std::sort(d.attrs.begin(), d.attrs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

// Row k of a deterministic data set; rows with k % 5 == 3 lack most attributes and rows
// with k % 7 == 0 lack a vector.
Document RichDoc(Id id, int k, uint32_t dims) {
  Document d;
  d.id = std::move(id);
  if (k % 7 != 0) {
    std::vector<float> v(dims);
    for (uint32_t j = 0; j < dims; ++j) v[j] = static_cast<float>(std::sin(k * 31 + j)) * 3.0f;
    d.attrs.emplace_back("vector", Value::Vector(std::move(v)));
  }
  d.attrs.emplace_back("i", Value::Int(-1000 + k * 37));
  if (k % 5 != 3) {
    d.attrs.emplace_back("s", Value::String(k % 2 ? "caf\xC3\xA9 " + std::to_string(k) : ""));
    d.attrs.emplace_back("u", Value::Uint(UINT64_MAX - static_cast<uint64_t>(k)));
    d.attrs.emplace_back("f", Value::Float(k * 0.1 - 3));
    d.attrs.emplace_back("b", Value::Bool(k % 3 == 0));
    d.attrs.emplace_back("t", Value::Time(Datetime{1700000000000 + k}));
    d.attrs.emplace_back("id2", Value::FromUuid(MakeUuid(static_cast<uint8_t>(k))));
    d.attrs.emplace_back("as",
                         Value::Array({Value::String("x"), Value::String("\xF0\x9F\x90\xA6")}));
    d.attrs.emplace_back("ai", Value::Array({Value::Int(k), Value::Int(-k)}));
    d.attrs.emplace_back("au", Value::Array({}));
    d.attrs.emplace_back("af", Value::Array({Value::Float(0.5)}));
    d.attrs.emplace_back("ab", Value::Array({Value::Bool(true), Value::Bool(false)}));
    d.attrs.emplace_back("at", Value::Array({Value::Time(Datetime{-k})}));
    d.attrs.emplace_back("aid", Value::Array({Value::FromUuid(MakeUuid(1))}));
    d.attrs.emplace_back("emb16", Value::Vector({0.5f, -1.0f, 2.0f}));  // exact in f16
    d.attrs.emplace_back("emb32", Value::Vector({0.1f, 1e-20f}));
  }
  Sort(d);
  return d;
}

std::vector<Document> RichDocs(int n, uint32_t dims) {
  std::vector<Document> docs;
  for (int k = 0; k < n; ++k) docs.push_back(RichDoc(Id(uint64_t(k * 3 + 1)), k, dims));
  return docs;
}

std::shared_ptr<const Segment> MustDecode(const std::string& bytes) {
  auto seg = Segment::Decode(bytes);
  EXPECT_TRUE(seg.ok()) << seg.status().ToString();
  return seg.ok() ? *seg : nullptr;
}

TEST(SegmentTest, RoundTripF32AllTypes) {
  const uint32_t dims = 8;
  const auto docs = RichDocs(40, dims);
  const std::string bytes = EncodeSegment(docs, RichSchema(dims, VectorElem::kF32));
  EXPECT_EQ(bytes.substr(0, 8), "GANNETSG");
  auto seg = MustDecode(bytes);
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->rows(), docs.size());
  EXPECT_EQ(seg->dims(), dims);
  EXPECT_EQ(seg->encoded_bytes(), bytes.size());
  for (size_t row = 0; row < docs.size(); ++row) {
    EXPECT_TRUE(DocsEqual(docs[row], seg->GetDocument(row).value()));
    EXPECT_EQ(seg->has_vector(row), row % 7 != 0);
    if (!seg->has_vector(row)) {
      for (uint32_t j = 0; j < dims; ++j) EXPECT_EQ(seg->vector(row)[j], 0.0f);
    }
    EXPECT_EQ(seg->Find(docs[row].id), row);
  }
  EXPECT_EQ(seg->Find(Id(uint64_t{2})), std::nullopt);
  EXPECT_EQ(seg->Find(Id(std::string("1"))), std::nullopt);
  // Every schema attribute but the vector has a column; "never" is all null.
  EXPECT_EQ(seg->columns().size(), RichSchema(dims, VectorElem::kF32).attributes.size() - 1);
  EXPECT_EQ(seg->column("vector"), nullptr);
  const Segment::Column* never = seg->column("never");
  ASSERT_NE(never, nullptr);
  for (const Value& v : never->values) EXPECT_TRUE(v.is_null());
  const Segment::Column* b = seg->column("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, AttrType::Scalar(ScalarType::kBool));
  EXPECT_TRUE(b->values[0].as_bool());
  EXPECT_TRUE(b->values[3].is_null());
}

TEST(SegmentTest, F16VectorsWithinRoundingTolerance) {
  const uint32_t dims = 16;
  const auto docs = RichDocs(30, dims);
  auto seg = MustDecode(EncodeSegment(docs, RichSchema(dims, VectorElem::kF16)));
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->vector_elem(), VectorElem::kF16);
  for (size_t row = 0; row < docs.size(); ++row) {
    const Value* v = docs[row].Find("vector");
    ASSERT_EQ(seg->has_vector(row), v != nullptr);
    if (!v) continue;
    for (uint32_t j = 0; j < dims; ++j) {
      const float want = v->as_vector()[j];
      const float got = seg->vector(row)[j];
      EXPECT_LE(std::fabs(got - want), std::fabs(want) * std::ldexp(1.0f, -11) + 1e-7f);
      EXPECT_EQ(got, HalfToFloat(FloatToHalf(want)));  // exactly the nearest half
    }
  }
}

TEST(SegmentTest, EmptySegment) {
  for (const Schema& schema : {Schema(), RichSchema(4, VectorElem::kF32)}) {
    const std::string bytes = EncodeSegment({}, schema);
    auto seg = MustDecode(bytes);
    ASSERT_NE(seg, nullptr);
    EXPECT_EQ(seg->rows(), 0u);
    EXPECT_EQ(seg->dims(), 0u);
    EXPECT_EQ(seg->Find(Id(uint64_t{1})), std::nullopt);
    testing::ExpectCorruptionsDetected(
        bytes, [](std::string_view b) { return Segment::Decode(b).status(); });
  }
}

TEST(SegmentTest, IdKindsRoundTrip) {
  std::vector<Document> docs;
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40, UINT64_MAX}) {
    docs.push_back({Id(v), {}});
  }
  for (uint8_t s : {0, 1, 200}) docs.push_back({Id(MakeUuid(s)), {}});
  for (const char* s :
       {"", "a", "ab", "abc", "abd", "b", "\xC3\xA9t\xC3\xA9", "\xF0\x9F\x90\xA6"}) {
    docs.push_back({Id(std::string(s)), {{"x", Value::Int(1)}}});
  }
  docs.push_back({Id(std::string(64, '\xff')), {}});
  std::sort(docs.begin(), docs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  auto seg = MustDecode(EncodeSegment(docs, Schema()));
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->rows(), docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(seg->id(i), docs[i].id);
    EXPECT_EQ(seg->Find(docs[i].id), i);
    EXPECT_TRUE(DocsEqual(docs[i], seg->GetDocument(i).value()));
  }
}

// Schema-less attributes get inferred types; values that contradict their column's type
// are stored tagged and still round-trip exactly.
TEST(SegmentTest, UndeclaredAndMistypedAttributesRoundTrip) {
  Schema schema;
  schema.attributes["price"] = {AttrType::Scalar(ScalarType::kFloat), true, ""};
  schema.attributes["vector"] = {AttrType::Vector(2), true, ""};
  std::vector<Document> docs(3);
  docs[0] = {Id(uint64_t{1}),
             {{"extra", Value::String("e")},
              {"price", Value::Float(1.5)},
              {"vector", Value::Vector({1, 2})}}};
  docs[1] = {Id(uint64_t{2}), {{"price", Value::Int(3)}, {"vector", Value::Vector({1, 2, 3})}}};
  docs[2] = {Id(uint64_t{3}),
             {{"extra", Value::Uint(9)}, {"nested", Value::Array({Value::Array({})})}}};
  auto seg = MustDecode(EncodeSegment(docs, schema));
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->dims(), 0u);  // a 3-dim vector in a 2-dim column: stored as a column
  for (size_t i = 0; i < docs.size(); ++i)
    EXPECT_TRUE(DocsEqual(docs[i], seg->GetDocument(i).value()));
  ASSERT_NE(seg->column("extra"), nullptr);
  EXPECT_EQ(seg->column("extra")->type, AttrType::Scalar(ScalarType::kString));
}

TEST(SegmentTest, NullValuesAreAbsent) {
  std::vector<Document> docs = {{Id(uint64_t{1}), {{"a", Value()}, {"b", Value::Int(1)}}}};
  auto seg = MustDecode(EncodeSegment(docs, Schema()));
  ASSERT_NE(seg, nullptr);
  Document want = {Id(uint64_t{1}), {{"b", Value::Int(1)}}};
  EXPECT_TRUE(DocsEqual(want, seg->GetDocument(0).value()));
}

// Regression: unsorted input with a duplicate id must still produce a readable segment
// (sorted; the later duplicate wins) rather than one whose Find is wrong.
TEST(SegmentTest, UnsortedAndDuplicateInputIsNormalised) {
  std::vector<Document> docs = {{Id(uint64_t{5}), {{"v", Value::Int(1)}}},
                                {Id(uint64_t{2}), {{"v", Value::Int(2)}}},
                                {Id(uint64_t{5}), {{"v", Value::Int(3)}}}};
  auto seg = MustDecode(EncodeSegment(docs, Schema()));
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->rows(), 2u);
  EXPECT_EQ(seg->id(0), Id(uint64_t{2}));
  EXPECT_EQ(seg->column("v")->values[1].as_int(), 3);
}

// Regression: a document repeating an attribute name must not desynchronise its column.
TEST(SegmentTest, DuplicateAttributeNameKeepsFirst) {
  std::vector<Document> docs = {{Id(uint64_t{1}), {{"a", Value::Int(1)}, {"a", Value::Int(2)}}},
                                {Id(uint64_t{2}), {{"a", Value::Int(3)}}}};
  auto seg = MustDecode(EncodeSegment(docs, Schema()));
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->column("a")->values[0].as_int(), 1);
  EXPECT_EQ(seg->column("a")->values[1].as_int(), 3);
}

TEST(SegmentTest, LargeSegmentCompressesAndRoundTrips) {
  const uint32_t dims = 32;
  std::vector<Document> docs;
  for (int k = 0; k < 20000; ++k) {
    Document d;
    d.id = Id("user-" + std::to_string(1000000 + k));
    std::vector<float> v(dims);
    for (uint32_t j = 0; j < dims; ++j) v[j] = static_cast<float>(k % 13) + j * 0.25f;
    d.attrs = {{"category", Value::String(k % 3 ? "books" : "music")},
               {"stock", Value::Int(k % 100)},
               {"vector", Value::Vector(std::move(v))}};
    docs.push_back(std::move(d));
  }
  Schema schema;
  schema.attributes["vector"] = {AttrType::Vector(dims), true, ""};
  schema.attributes["category"] = {AttrType::Scalar(ScalarType::kString), true, ""};
  schema.attributes["stock"] = {AttrType::Scalar(ScalarType::kInt), true, ""};
  const std::string bytes = EncodeSegment(docs, schema);
  auto seg = MustDecode(bytes);
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->rows(), docs.size());
  for (size_t row = 0; row < docs.size(); row += 997) {
    EXPECT_TRUE(DocsEqual(docs[row], seg->GetDocument(row).value()));
  }
  // Attribute columns are compressed: far below their raw size.
  auto loc = LocateSegmentDirectory(
      std::string_view(bytes).substr(bytes.size() - kSegmentTailBytes), bytes.size());
  ASSERT_TRUE(loc.ok());
  auto dir = DecodeSegmentDirectory(std::string_view(bytes).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  for (const SegmentBlockRef& b : dir->blocks) {
    if (b.kind == SegmentBlockKind::kColumn || b.kind == SegmentBlockKind::kIds) {
      EXPECT_TRUE(b.zstd) << b.name;
      EXPECT_LT(b.stored_bytes, b.raw_bytes / 2) << b.name;
    }
  }
  testing::ExpectCorruptionsDetected(
      bytes, [](std::string_view b) { return Segment::Decode(b).status(); }, 3000);
}

// Ranged reads: header + tail locate the directory, which locates each row's vector.
TEST(SegmentTest, DirectoryAllowsRangedVectorReads) {
  const uint32_t dims = 5;
  const auto docs = RichDocs(20, dims);
  const std::string bytes = EncodeSegment(docs, RichSchema(dims, VectorElem::kF32));
  const std::string_view obj(bytes);
  ASSERT_TRUE(
      ParseFrameHeader(ObjectKind::kSegment, obj.substr(0, kFrameHeaderBytes), bytes.size()).ok());
  auto loc = LocateSegmentDirectory(obj.substr(obj.size() - kSegmentTailBytes), obj.size());
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  auto dir = DecodeSegmentDirectory(obj.substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->rows, docs.size());
  EXPECT_EQ(dir->dims, dims);
  EXPECT_EQ(*dir->min_id, docs.front().id);
  EXPECT_EQ(*dir->max_id, docs.back().id);
  const SegmentBlockRef* vec = nullptr;
  for (const auto& b : dir->blocks) {
    if (b.kind == SegmentBlockKind::kVectors) vec = &b;
    EXPECT_EQ(Checksum64(obj.substr(b.offset, b.stored_bytes)), b.checksum);
  }
  ASSERT_NE(vec, nullptr);
  EXPECT_FALSE(vec->zstd);
  const size_t row = 4;
  float got[dims];
  std::memcpy(got, obj.data() + vec->offset + row * dims * 4, sizeof(got));
  const auto& want = docs[row].Find("vector")->as_vector();
  for (uint32_t j = 0; j < dims; ++j) EXPECT_EQ(got[j], want[j]);
}

// Vectors read through a range reader (not resident) equal the resident ones, adjacent
// rows share a read, and a damaged chunk or a failing reader is an error.
TEST(SegmentTest, VectorsReadByRangeAreCoalescedAndVerified) {
  for (VectorElem elem : {VectorElem::kF32, VectorElem::kF16}) {
    const uint32_t dims = 40;  // f32: 4 rows per 512-byte chunk; f16: 7
    const auto docs = RichDocs(300, dims);
    std::string bytes = EncodeSegment(docs, RichSchema(dims, elem));
    auto resident = MustDecode(bytes);
    ASSERT_NE(resident, nullptr);
    std::vector<std::vector<ByteRange>> calls;
    bool fail = false;
    SegmentDecodeOptions options;
    options.vector_reader = [&](const std::vector<ByteRange>& ranges,
                                std::vector<std::string>* out) -> Status {
      if (fail) return Status::IOError("reader down");
      calls.push_back(ranges);
      out->clear();
      for (const ByteRange& r : ranges) out->push_back(bytes.substr(r.offset, r.length));
      return Status::OK();
    };
    auto lazy = Segment::Decode(bytes, options);
    ASSERT_TRUE(lazy.ok()) << lazy.status().ToString();
    const Segment& seg = **lazy;
    EXPECT_FALSE(seg.vectors_resident());
    EXPECT_TRUE(seg.vectors().empty());
    EXPECT_LT(seg.memory_bytes(), resident->memory_bytes() - 300 * dims * 3);
    const uint32_t per = VectorRowsPerChunk(dims, elem);
    EXPECT_EQ(per, elem == VectorElem::kF32 ? 4u : 7u);
    // Every row, then a scattered set (with the last, short chunk).
    std::vector<uint32_t> all(300), some = {0, 1, 2, 3, 4, 57, 58, 170, 299};
    for (uint32_t r = 0; r < 300; ++r) all[r] = r;
    for (const std::vector<uint32_t>* rows : {&all, &some}) {
      calls.clear();
      std::vector<float> got(rows->size() * dims), want(rows->size() * dims);
      ASSERT_TRUE(seg.ReadVectors(rows->data(), rows->size(), got.data()).ok());
      ASSERT_TRUE(resident->ReadVectors(rows->data(), rows->size(), want.data()).ok());
      EXPECT_EQ(got, want);
      ASSERT_EQ(calls.size(), 1u) << "one batch";
      if (rows == &all) {
        EXPECT_EQ(calls[0].size(), 1u) << "adjacent chunks coalesce";
      }
    }
    // 0..4 span chunks 0-1 (f32) or 0 (f16), then 57-58, 170 and 299: four ranges.
    EXPECT_EQ(calls[0].size(), 4u);
    for (size_t row = 0; row < docs.size(); row += 37) {
      EXPECT_TRUE(DocsEqual(resident->GetDocument(row).value(), seg.GetDocument(row).value()));
      Result<Document> without = seg.GetDocument(row, /*with_vector=*/false);
      ASSERT_TRUE(without.ok());
      EXPECT_EQ(without->Find("vector"), nullptr);
    }
    std::vector<Document> got_docs;
    ASSERT_TRUE(seg.GetDocuments(some, &got_docs).ok());
    ASSERT_EQ(got_docs.size(), some.size());
    for (size_t i = 0; i < some.size(); ++i) {
      EXPECT_TRUE(DocsEqual(resident->GetDocument(some[i]).value(), got_docs[i]));
    }
    // Out of order or out of range rows are refused, not read.
    const uint32_t backwards[] = {5, 4};
    const uint32_t beyond[] = {300};
    float sink[2 * dims];
    EXPECT_TRUE(seg.ReadVectors(backwards, 2, sink).IsInvalidArgument());
    EXPECT_TRUE(seg.ReadVectors(beyond, 1, sink).IsInvalidArgument());
    // The reader's failure, and a flipped bit in the object after decoding.
    fail = true;
    EXPECT_EQ(seg.GetDocument(1).status().code(), StatusCode::kIOError);
    fail = false;
    const SegmentBlockRef* vec = nullptr;
    const std::string_view obj(bytes);
    auto loc = LocateSegmentDirectory(obj.substr(obj.size() - kSegmentTailBytes), obj.size());
    auto dir = DecodeSegmentDirectory(obj.substr(loc->offset, loc->length), *loc);
    for (const auto& b : dir->blocks) {
      if (b.kind == SegmentBlockKind::kVectors) vec = &b;
    }
    ASSERT_NE(vec, nullptr);
    bytes[vec->offset + 170 * dims * (elem == VectorElem::kF32 ? 4 : 2) + 3] ^= 1;
    const Status st = seg.ReadVectors(&some[7], 1, sink);
    EXPECT_TRUE(st.IsCorruption()) << st.ToString();
    EXPECT_NE(st.message().find("vector chunk " + std::to_string(170 / per)), std::string::npos)
        << st.ToString();
    EXPECT_TRUE(seg.ReadVectors(&some[8], 1, sink).ok()) << "other chunks still read";
  }
}

// A cold load: the header, directory and every block but the vectors, read by range,
// decode to the segment a whole decode gives (vectors read by range); a damaged block or
// a missing one is an error.
TEST(SegmentTest, DecodesWithoutItsVectorsBlockFromRangedParts) {
  const uint32_t dims = 40;
  const auto docs = RichDocs(300, dims);
  std::string bytes = EncodeSegment(docs, RichSchema(dims, VectorElem::kF32));
  const std::string_view obj(bytes);
  auto resident = MustDecode(bytes);
  ASSERT_NE(resident, nullptr);
  SegmentDecodeOptions options;
  options.vector_reader = [&](const std::vector<ByteRange>& ranges, std::vector<std::string>* out) {
    out->clear();
    for (const ByteRange& r : ranges) out->push_back(bytes.substr(r.offset, r.length));
    return Status::OK();
  };
  auto loc = LocateSegmentDirectory(obj.substr(obj.size() - kSegmentTailBytes), obj.size());
  ASSERT_TRUE(loc.ok());
  auto dir = DecodeSegmentDirectory(obj.substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(dir.ok());
  const std::vector<ByteRange> ranges = SegmentBlocksWithoutVectors(*dir);
  ASSERT_EQ(ranges.size(), dir->blocks.size() - 1);
  std::vector<std::string> blocks;
  size_t read = 0;
  for (const ByteRange& r : ranges) {
    blocks.push_back(bytes.substr(r.offset, r.length));
    read += r.length;
  }
  EXPECT_LT(read, bytes.size() - 300 * dims * 4) << "the vectors stay in the object";
  const std::string_view header = obj.substr(0, kFrameHeaderBytes);
  auto cold = Segment::DecodeWithoutVectors(header, bytes.size(), *dir, blocks, options);
  ASSERT_TRUE(cold.ok()) << cold.status().ToString();
  EXPECT_FALSE((*cold)->vectors_resident());
  EXPECT_EQ((*cold)->encoded_bytes(), bytes.size());
  EXPECT_EQ((*cold)->rows(), docs.size());
  for (size_t row = 0; row < docs.size(); row += 13) {
    EXPECT_TRUE(DocsEqual(resident->GetDocument(row).value(), (*cold)->GetDocument(row).value()));
  }
  // A flipped byte in any block, a block missing or extra, a wrong object size, no reader.
  for (size_t i = 0; i < blocks.size(); ++i) {
    std::vector<std::string> bad = blocks;
    bad[i][bad[i].size() / 2] ^= 0x04;
    EXPECT_TRUE(Segment::DecodeWithoutVectors(header, bytes.size(), *dir, bad, options)
                    .status()
                    .IsCorruption())
        << i;
  }
  std::vector<std::string> fewer(blocks.begin(), blocks.end() - 1), more = blocks;
  more.push_back("x");
  EXPECT_TRUE(Segment::DecodeWithoutVectors(header, bytes.size(), *dir, fewer, options)
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(Segment::DecodeWithoutVectors(header, bytes.size(), *dir, more, options)
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(Segment::DecodeWithoutVectors(header, bytes.size() + 1, *dir, blocks, options)
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(Segment::DecodeWithoutVectors(header, bytes.size(), *dir, blocks, {})
                  .status()
                  .IsInvalidArgument());
}

TEST(SegmentTest, CorruptionDetected) {
  auto decode = [](std::string_view b) { return Segment::Decode(b).status(); };
  testing::ExpectCorruptionsDetected(EncodeSegment(RichDocs(3, 2), RichSchema(2, VectorElem::kF16)),
                                     decode);
  std::vector<Document> str_ids = {{Id(std::string("a")), {{"x", Value::Bool(true)}}},
                                   {Id(std::string("ab")), {{"x", Value::Bool(false)}}}};
  testing::ExpectCorruptionsDetected(EncodeSegment(str_ids, Schema()), decode);
}

// Rewrites block `index`'s stored bytes with `mutate` and repairs every checksum (block,
// directory, frame) so that only the structural checks stand between it and a decode.
std::string MutateBlock(const std::string& bytes, size_t index,
                        const std::function<void(std::string&, size_t, size_t)>& mutate) {
  std::string obj = bytes;
  auto loc = LocateSegmentDirectory(std::string_view(obj).substr(obj.size() - kSegmentTailBytes),
                                    obj.size());
  auto dir = DecodeSegmentDirectory(std::string_view(obj).substr(loc->offset, loc->length), *loc);
  const SegmentBlockRef& b = dir->blocks[index];
  mutate(obj, b.offset, b.stored_bytes);
  Writer old_sum, new_sum;
  old_sum.PutFixed64(b.checksum);
  new_sum.PutFixed64(Checksum64(std::string_view(obj).substr(b.offset, b.stored_bytes)));
  const size_t at = obj.find(old_sum.buffer(), loc->offset);
  if (at == std::string::npos || at >= loc->offset + loc->length) return obj;
  obj.replace(at, 8, new_sum.buffer());
  Writer dir_sum;
  dir_sum.PutFixed64(Checksum64(std::string_view(obj).substr(loc->offset, loc->length)));
  obj.replace(obj.size() - kSegmentTailBytes + 16, 8, dir_sum.buffer());
  testing::RefreshFrameChecksum(obj);
  return obj;
}

TEST(SegmentTest, StructuralMutationsWithValidChecksumsNeverCrash) {
  const std::string bytes = EncodeSegment(RichDocs(12, 3), RichSchema(3, VectorElem::kF16));
  auto loc = LocateSegmentDirectory(
      std::string_view(bytes).substr(bytes.size() - kSegmentTailBytes), bytes.size());
  auto dir = DecodeSegmentDirectory(std::string_view(bytes).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(dir.ok());
  size_t decoded_ok = 0, rejected = 0;
  for (size_t bi = 0; bi < dir->blocks.size(); ++bi) {
    for (size_t i = 0; i < dir->blocks[bi].stored_bytes; ++i) {
      for (uint8_t x : {0x01, 0x80, 0xff}) {
        const std::string m = MutateBlock(bytes, bi, [&](std::string& o, size_t off, size_t) {
          o[off + i] = static_cast<char>(o[off + i] ^ x);
        });
        const Status s = Segment::Decode(m).status();
        EXPECT_TRUE(s.ok() || s.IsCorruption()) << s.ToString();
        (s.ok() ? decoded_ok : rejected)++;
      }
    }
  }
  EXPECT_GT(rejected, 0u);
  // Directory mutations too (with its checksum and the frame's repaired).
  for (size_t i = 0; i < loc->length; ++i) {
    std::string m = bytes;
    m[loc->offset + i] = static_cast<char>(m[loc->offset + i] ^ 0x41);
    Writer dir_sum;
    dir_sum.PutFixed64(Checksum64(std::string_view(m).substr(loc->offset, loc->length)));
    m.replace(m.size() - kSegmentTailBytes + 16, 8, dir_sum.buffer());
    testing::RefreshFrameChecksum(m);
    const Status s = Segment::Decode(m).status();
    EXPECT_TRUE(s.ok() || s.IsCorruption()) << s.ToString();
  }
}

// Regression: a segment whose ids are not ascending (structurally valid otherwise) must be
// rejected, since Find relies on the order.
TEST(SegmentTest, DescendingIdsAreCorruption) {
  std::vector<Document> docs = {{Id(uint64_t{1}), {}}, {Id(uint64_t{2}), {}}};
  const std::string bytes = EncodeSegment(docs, Schema());
  // Id block: counts (2,0,0), then 1, gap 1. Make the gap 0.
  const std::string m = MutateBlock(bytes, 0, [](std::string& o, size_t off, size_t len) {
    ASSERT_EQ(len, 5u);
    o[off + 4] = 0;
  });
  const Status s = Segment::Decode(m).status();
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("not strictly ascending"), std::string::npos) << s.message();
}

// ---- deletion vectors -------------------------------------------------------------------

TEST(DeletionVectorTest, RoundTrips) {
  std::vector<std::vector<uint32_t>> cases = {
      {}, {0}, {UINT32_MAX}, {0, 1, 2, 3, 4}, {7, 1000, 1001, 65536, UINT32_MAX - 1, UINT32_MAX}};
  std::vector<uint32_t> dense;
  for (uint32_t i = 0; i < 100000; i += 1 + (i % 3)) dense.push_back(i);
  cases.push_back(dense);
  for (const auto& rows : cases) {
    const std::string bytes = EncodeDeletionVector(rows);
    EXPECT_EQ(bytes.substr(0, 8), "GANNETDV");
    auto got = DecodeDeletionVector(bytes);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, rows);
  }
  EXPECT_LT(EncodeDeletionVector(dense).size(), dense.size() / 4);
}

TEST(DeletionVectorTest, CorruptionDetected) {
  auto decode = [](std::string_view b) { return DecodeDeletionVector(b).status(); };
  testing::ExpectCorruptionsDetected(EncodeDeletionVector({3, 9, 10, 400000}), decode);
  testing::ExpectPayloadMutationsSafe(EncodeDeletionVector({3, 9, 10, 400000}), decode);
}

// Regression: gaps that overflow u32 must be rejected, not wrap.
TEST(DeletionVectorTest, RowOverflowIsCorruption) {
  Writer w;
  w.PutVarint(2);
  w.PutVarint(UINT32_MAX);
  w.PutVarint(0);  // next row would be 2^32
  const Status s =
      DecodeDeletionVector(EncodeFrame(ObjectKind::kDeletionVector, w.buffer())).status();
  EXPECT_TRUE(s.IsCorruption());
}

}  // namespace
}  // namespace gannet::format
