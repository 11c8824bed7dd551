#include "format/wal_entry.h"

#include <gtest/gtest.h>

#include "format/test_util.h"

namespace gannet::format {
namespace {

using testing::AllValueKinds;
using testing::MakeUuid;
using testing::RequestsEqual;

WalEntry SmallEntry() {
  WalEntry e;
  e.sequence = 42;
  e.writer_nonce = "nonce-1";
  e.created_ms = 1709294400123;
  e.schema.id_type = ScalarType::kUint;
  e.schema.attributes["n"] = {AttrType::Scalar(ScalarType::kInt), true, ""};
  WriteRequest req;
  Document d;
  d.id = Id(uint64_t{5});
  d.attrs = {{"n", Value::Int(-3)}};
  req.upserts.push_back(d);
  req.deletes.push_back(Id(uint64_t{6}));
  e.batches.push_back(req);
  return e;
}

WalEntry BigEntry() {
  WalEntry e;
  e.sequence = UINT64_MAX;
  e.writer_nonce = RandomBytes(16);
  e.created_ms = -5;
  e.schema.id_type = ScalarType::kString;
  e.schema.distance_metric = DistanceMetric::kCosineDistance;
  e.schema.attributes["vector"] = {AttrType::Vector(4), true, ""};
  for (int b = 0; b < 3; ++b) {
    WriteRequest req;
    for (int i = 0; i < 50; ++i) {
      Document d;
      d.id = Id("doc-" + std::to_string(b) + "-" + std::to_string(i));
      d.attrs = AllValueKinds();
      std::sort(d.attrs.begin(), d.attrs.end(),
                [](const auto& x, const auto& y) { return x.first < y.first; });
      req.upserts.push_back(std::move(d));
    }
    Document p;
    p.id = Id(MakeUuid(static_cast<uint8_t>(b)));
    p.attrs = {{"drop", Value()}};
    req.patches.push_back(p);
    Filter f;
    f.op = Filter::Op::kEq;
    f.attr = "n";
    f.value = Value::Int(b);
    f.ref_new = "n";
    req.upsert_condition = f;
    req.return_affected_ids = b % 2 == 0;
    e.batches.push_back(std::move(req));
  }
  return e;
}

void ExpectRoundTrip(const WalEntry& e) {
  const std::string bytes = EncodeWalEntry(e);
  auto got = DecodeWalEntry(bytes);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->sequence, e.sequence);
  EXPECT_EQ(got->writer_nonce, e.writer_nonce);
  EXPECT_EQ(got->created_ms, e.created_ms);
  EXPECT_EQ(got->schema, e.schema);
  ASSERT_EQ(got->batches.size(), e.batches.size());
  for (size_t i = 0; i < e.batches.size(); ++i) {
    EXPECT_TRUE(RequestsEqual(e.batches[i], got->batches[i])) << i;
  }
}

TEST(WalEntryTest, RoundTrips) {
  ExpectRoundTrip(WalEntry());
  ExpectRoundTrip(SmallEntry());
  ExpectRoundTrip(BigEntry());
}

TEST(WalEntryTest, BigEntryIsCompressed) {
  const std::string bytes = EncodeWalEntry(BigEntry());
  EXPECT_EQ(bytes.substr(0, 8), "GANNETWL");
  EXPECT_EQ(bytes[12] & 1, 1);
}

TEST(WalEntryTest, CorruptionDetected) {
  auto decode = [](std::string_view b) { return DecodeWalEntry(b).status(); };
  testing::ExpectCorruptionsDetected(EncodeWalEntry(SmallEntry()), decode);
  testing::ExpectCorruptionsDetected(EncodeWalEntry(BigEntry()), decode);
}

TEST(WalEntryTest, PayloadMutationsWithValidChecksumNeverCrash) {
  testing::ExpectPayloadMutationsSafe(
      EncodeWalEntry(SmallEntry()), [](std::string_view b) { return DecodeWalEntry(b).status(); });
}

TEST(WalEntryTest, OtherObjectKindIsRejected) {
  const Status s = DecodeWalEntry(EncodeFrame(ObjectKind::kManifest, "")).status();
  EXPECT_EQ(s.message(), "wal entry: bad magic");
}

}  // namespace
}  // namespace gannet::format
