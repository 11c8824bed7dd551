#include "format/manifest.h"

#include <gtest/gtest.h>

#include "format/frame.h"
#include "format/test_util.h"

namespace gannet::format {
namespace {

Manifest Sample(int segments) {
  Manifest m;
  m.version = 7;
  m.indexed_through = 1234;
  m.created_ms = 1700000000000;
  m.updated_ms = 1700000009999;
  m.writer_nonce = std::string("\x00\xff\x10", 3);
  m.schema.id_type = ScalarType::kUuid;
  m.schema.distance_metric = DistanceMetric::kEuclideanSquared;
  m.schema.attributes["vector"] = {AttrType::Vector(3, VectorElem::kF16), true, ""};
  m.schema.attributes["body"] = {AttrType::Scalar(ScalarType::kString), false, "{}"};
  for (int i = 0; i < segments; ++i) {
    SegmentRef s;
    s.id = "seg-" + std::to_string(i);
    s.rows = 1000 + i;
    s.bytes = 1 << 20;
    s.min_sequence = 10 * i;
    s.max_sequence = 10 * i + 9;
    if (i % 2) {
      s.deletes_key = "ns/deletes/" + s.id + "/" + PadSequence(7);
      s.deleted_rows = 3;
    }
    m.segments.push_back(s);
  }
  return m;
}

void ExpectEqual(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.indexed_through, b.indexed_through);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
  EXPECT_EQ(a.writer_nonce, b.writer_nonce);
  EXPECT_EQ(a.schema, b.schema);
  ASSERT_EQ(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < a.segments.size(); ++i) {
    const SegmentRef& x = a.segments[i];
    const SegmentRef& y = b.segments[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.rows, y.rows);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.min_sequence, y.min_sequence);
    EXPECT_EQ(x.max_sequence, y.max_sequence);
    EXPECT_EQ(x.deletes_key, y.deletes_key);
    EXPECT_EQ(x.deleted_rows, y.deleted_rows);
    EXPECT_EQ(x.vector_index, y.vector_index);
  }
}

TEST(ManifestTest, RoundTrips) {
  for (int n : {0, 1, 3, 500}) {
    const Manifest m = Sample(n);
    const std::string bytes = EncodeManifest(m);
    EXPECT_EQ(bytes.substr(0, 8), "GANNETMF");
    auto got = DecodeManifest(bytes);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ExpectEqual(m, *got);
  }
  auto empty = DecodeManifest(EncodeManifest(Manifest()));
  ASSERT_TRUE(empty.ok());
  ExpectEqual(Manifest(), *empty);
}

TEST(ManifestTest, CorruptionDetected) {
  auto decode = [](std::string_view b) { return DecodeManifest(b).status(); };
  testing::ExpectCorruptionsDetected(EncodeManifest(Sample(2)), decode);
  testing::ExpectCorruptionsDetected(EncodeManifest(Sample(500)), decode);
}

TEST(ManifestTest, PayloadMutationsWithValidChecksumNeverCrash) {
  testing::ExpectPayloadMutationsSafe(
      EncodeManifest(Sample(2)), [](std::string_view b) { return DecodeManifest(b).status(); });
}

TEST(ManifestTest, VectorIndexFlagNeedsVersion2) {
  Manifest m = Sample(3);
  FrameHeader h;
  std::string storage;
  // Without vector indexes: version 1, readable by builds that predate the flag.
  const std::string v1 = EncodeManifest(m);
  ASSERT_TRUE(DecodeFrame(ObjectKind::kManifest, v1, &storage, &h).ok());
  EXPECT_EQ(h.version, 1u);
  m.segments[1].vector_index = true;
  const std::string v2 = EncodeManifest(m);
  ASSERT_TRUE(DecodeFrame(ObjectKind::kManifest, v2, &storage, &h).ok());
  EXPECT_EQ(h.version, 2u);
  auto got = DecodeManifest(v2);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectEqual(m, *got);
  testing::ExpectCorruptionsDetected(v2,
                                     [](std::string_view b) { return DecodeManifest(b).status(); });
  // The text-index flag needs version 3; unknown flag bits are Corruption; version 4 is
  // from a newer Gannet.
  std::string payload(*DecodeFrame(ObjectKind::kManifest, v2, &storage));
  payload[payload.size() - 1] = 0x02;  // the last segment's flags: text index
  EXPECT_TRUE(DecodeManifest(EncodeFrame(ObjectKind::kManifest, payload, Compression::kNone, 2))
                  .status()
                  .IsCorruption());
  auto v3 = DecodeManifest(EncodeFrame(ObjectKind::kManifest, payload, Compression::kNone, 3));
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_TRUE(v3->segments.back().text_index);
  EXPECT_EQ(EncodeManifest(*v3), EncodeFrame(ObjectKind::kManifest, payload, Compression::kAuto, 3));
  payload[payload.size() - 1] = 0x04;
  EXPECT_TRUE(DecodeManifest(EncodeFrame(ObjectKind::kManifest, payload, Compression::kNone, 3))
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(DecodeManifest(EncodeFrame(ObjectKind::kManifest, payload, Compression::kNone, 4))
                  .status()
                  .IsCorruption());
}

}  // namespace
}  // namespace gannet::format
