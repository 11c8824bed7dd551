#include "format/frame.h"

#include <gtest/gtest.h>

#include "format/test_util.h"

namespace gannet::format {
namespace {

Status DecodeAs(ObjectKind kind, std::string_view b) {
  std::string storage;
  return DecodeFrame(kind, b, &storage).status();
}

TEST(FrameTest, RoundTripRawAndCompressed) {
  const std::string small = "hello";
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "compressible payload " + std::to_string(i % 10);
  for (ObjectKind kind : {ObjectKind::kWalEntry, ObjectKind::kManifest, ObjectKind::kSegment,
                          ObjectKind::kDeletionVector}) {
    for (const std::string& payload : {std::string(), small, big}) {
      for (Compression c : {Compression::kNone, Compression::kAuto}) {
        const std::string obj = EncodeFrame(kind, payload, c);
        EXPECT_EQ(obj.substr(0, 8), FrameMagic(kind));
        std::string storage;
        FrameHeader h;
        auto got = DecodeFrame(kind, obj, &storage, &h);
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        EXPECT_EQ(*got, payload);
        EXPECT_EQ(h.version, kFrameVersion);
        EXPECT_EQ(h.raw_bytes, payload.size());
        const bool compressed = c == Compression::kAuto && payload.size() == big.size();
        EXPECT_EQ((h.flags & kFrameFlagZstd) != 0, compressed);
        if (compressed) {
          EXPECT_LT(obj.size(), payload.size() / 4);
        }
      }
    }
  }
}

TEST(FrameTest, IncompressiblePayloadIsStoredRaw) {
  const std::string payload = RandomBytes(4096);
  const std::string obj = EncodeFrame(ObjectKind::kWalEntry, payload);
  EXPECT_EQ(obj.size(), payload.size() + kFrameOverheadBytes);
}

TEST(FrameTest, WrongKindIsBadMagic) {
  const std::string obj = EncodeFrame(ObjectKind::kManifest, "x");
  const Status s = DecodeAs(ObjectKind::kSegment, obj);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "segment: bad magic");
}

TEST(FrameTest, EveryBitFlipAndTruncationIsCorruption) {
  std::string big;
  for (int i = 0; i < 200; ++i) big += "abcdefgh";
  for (const std::string& payload : {std::string("small payload"), big}) {
    const std::string obj = EncodeFrame(ObjectKind::kWalEntry, payload);
    testing::ExpectCorruptionsDetected(
        obj, [](std::string_view b) { return DecodeAs(ObjectKind::kWalEntry, b); });
  }
}

TEST(FrameTest, ChecksumMismatchMessage) {
  std::string obj = EncodeFrame(ObjectKind::kManifest, "payload");
  obj[kFrameHeaderBytes] ^= 1;
  EXPECT_EQ(DecodeAs(ObjectKind::kManifest, obj).message(), "manifest: checksum mismatch");
}

TEST(FrameTest, NewerVersionIsRejectedClearly) {
  std::string obj = EncodeFrame(ObjectKind::kSegment, "payload", Compression::kNone);
  obj[8] = 3;  // version 3, with a valid checksum: a newer writer, not bit rot
  testing::RefreshFrameChecksum(obj);
  const Status s = DecodeAs(ObjectKind::kSegment, obj);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("unsupported format version 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("newer"), std::string::npos);
}

TEST(FrameTest, UnknownFlagsAndLengthMismatchAreRejected) {
  {
    std::string obj = EncodeFrame(ObjectKind::kSegment, "payload", Compression::kNone);
    obj[12] = 2;
    testing::RefreshFrameChecksum(obj);
    EXPECT_NE(DecodeAs(ObjectKind::kSegment, obj).message().find("unknown flags"),
              std::string::npos);
  }
  {
    std::string obj = EncodeFrame(ObjectKind::kSegment, "payload", Compression::kNone);
    obj[24] = 3;  // raw length differs from stored length, uncompressed
    testing::RefreshFrameChecksum(obj);
    EXPECT_TRUE(DecodeAs(ObjectKind::kSegment, obj).IsCorruption());
  }
  {
    // Claims zstd but holds garbage.
    std::string obj = EncodeFrame(ObjectKind::kSegment, "payload", Compression::kNone);
    obj[12] = 1;
    testing::RefreshFrameChecksum(obj);
    EXPECT_TRUE(DecodeAs(ObjectKind::kSegment, obj).IsCorruption());
  }
}

// Regression: a compressed frame whose raw length lies must not decode.
TEST(FrameTest, CompressedRawLengthLieIsCorruption) {
  std::string payload(5000, 'a');
  std::string obj = EncodeFrame(ObjectKind::kWalEntry, payload);
  ASSERT_EQ(obj[12], 1);
  obj[24] = static_cast<char>(obj[24] + 1);
  testing::RefreshFrameChecksum(obj);
  EXPECT_TRUE(DecodeAs(ObjectKind::kWalEntry, obj).IsCorruption());
}

TEST(FrameTest, StreamingFrameMatchesEncodeFrame) {
  Writer w;
  BeginFrame(w, ObjectKind::kSegment);
  w.PutRaw("streamed payload");
  FinishFrame(w);
  EXPECT_EQ(w.buffer(), EncodeFrame(ObjectKind::kSegment, "streamed payload", Compression::kNone));
}

TEST(FrameTest, ParseHeaderAlone) {
  const std::string obj = EncodeFrame(ObjectKind::kDeletionVector, "12345", Compression::kNone);
  auto h =
      ParseFrameHeader(ObjectKind::kDeletionVector, obj.substr(0, kFrameHeaderBytes), obj.size());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->stored_bytes, 5u);
  EXPECT_TRUE(
      ParseFrameHeader(ObjectKind::kDeletionVector, obj.substr(0, 10)).status().IsCorruption());
  EXPECT_TRUE(
      ParseFrameHeader(ObjectKind::kDeletionVector, obj, obj.size() + 1).status().IsCorruption());
}

}  // namespace
}  // namespace gannet::format
