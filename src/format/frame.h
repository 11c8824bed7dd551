// The envelope shared by every stored Gannet object (WAL entries, manifests, segments,
// deletion vectors). Layout (docs/format/README.md), all integers little-endian:
//
//   offset  size  field
//        0     8  magic: ASCII, one per object kind (see FrameMagic)
//        8     4  u32 format version of the payload (1..kFrameVersion)
//       12     4  u32 flags; bit 0 = payload is one zstd frame; other bits must be zero
//       16     8  u64 stored payload length S (bytes on disk)
//       24     8  u64 raw payload length R (== S when not compressed)
//       32     S  payload
//     32+S     8  u64 XXH3-64 of bytes [0, 32+S)
//
// The envelope itself never changes shape; the version governs the payload only, so any
// build can verify any object's integrity and name its kind and version.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "gannet/status.h"

namespace gannet::format {

enum class ObjectKind : uint8_t {
  kWalEntry = 1,
  kManifest = 2,
  kSegment = 3,
  kDeletionVector = 4,
  kVectorIndex = 5,  // the ANN index of one segment (src/index/, docs/format/vector-index.md)
  kTextIndex = 6,    // the inverted index of one segment (src/index/, docs/format/text-index.md)
};

// Human-readable kind used as the prefix of every decode error: "wal entry", "manifest",
// "segment", "deletion vector", "vector index", "text index".
std::string_view ObjectKindName(ObjectKind kind);
// The 8-byte magic of `kind` ("GANNETWL", "GANNETMF", "GANNETSG", "GANNETDV", "GANNETVI",
// "GANNETFT").
std::string_view FrameMagic(ObjectKind kind);

inline constexpr uint32_t kFrameVersion = 1;  // default payload version written
// The newest payload version of `kind` that this build reads (and may write): 3 for
// manifests (2: per-segment flags; 3: the text-index flag), 3 for vector indexes (2: rows
// in two lists, boundary replicas; 3: a head with list checksums first), 2 for segments (chunk
// checksums of the vectors), 1 for every other kind.
uint32_t NewestFrameVersion(ObjectKind kind);
inline constexpr size_t kFrameHeaderBytes = 32;
inline constexpr size_t kFrameTrailerBytes = 8;  // the checksum
inline constexpr size_t kFrameOverheadBytes = kFrameHeaderBytes + kFrameTrailerBytes;
inline constexpr uint32_t kFrameFlagZstd = 1u << 0;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
// Fuzz builds skip checksum verification so that the fuzzer reaches the structural checks
// behind them, and cap lengths lower so that a forged length cannot exhaust memory.
inline constexpr bool kVerifyChecksums = false;
inline constexpr uint64_t kMaxFramePayloadBytes = uint64_t{1} << 26;
#else
inline constexpr bool kVerifyChecksums = true;
// Largest raw payload a decoder accepts (guards allocation from a forged length).
inline constexpr uint64_t kMaxFramePayloadBytes = uint64_t{1} << 34;
#endif

enum class Compression : uint8_t {
  kNone,  // store the payload as is
  kAuto,  // zstd when the payload is large enough and compression saves at least 1/8
};

// Payloads at least this large are tried with zstd under Compression::kAuto.
inline constexpr size_t kCompressThresholdBytes = 512;
inline constexpr int kZstdLevel = 1;

// Wraps `payload` in the envelope for `kind`, labelled with payload `version`
// (REQUIRES: 1 <= version <= NewestFrameVersion(kind)).
std::string EncodeFrame(ObjectKind kind, std::string_view payload,
                        Compression compression = Compression::kAuto,
                        uint32_t version = kFrameVersion);

// Streaming construction for large objects (segments), avoiding a copy of the payload:
// BeginFrame appends a header with zero lengths; the caller appends the payload to the same
// writer (which must have been empty); FinishFrame patches the lengths (uncompressed) and
// appends the checksum. The result is identical to EncodeFrame(kind, payload, kNone,
// version).
void BeginFrame(Writer& w, ObjectKind kind, uint32_t version = kFrameVersion);
void FinishFrame(Writer& w);

struct FrameHeader {
  uint32_t version = 0;
  uint32_t flags = 0;
  uint64_t stored_bytes = 0;
  uint64_t raw_bytes = 0;
};

// Parses and checks the fixed 32-byte header (magic, version, flags, lengths) without the
// checksum: for ranged reads that fetch the header alone. `object_size` is the full
// object's size if known (0 = unknown, skip the size check).
Result<FrameHeader> ParseFrameHeader(ObjectKind kind, std::string_view header,
                                     uint64_t object_size = 0);

// Verifies the envelope of a whole object and returns its payload: a view into `bytes`
// when stored raw, else a view into `*storage` (which receives the decompressed bytes).
// The returned view lives as long as `bytes` / `*storage`. Errors are Corruption with a
// message "<kind>: <what>", e.g. "segment: checksum mismatch", "manifest: truncated
// (12 bytes)", "wal entry: bad magic", "segment: unsupported format version 7 (newest
// known 1)".
Result<std::string_view> DecodeFrame(ObjectKind kind, std::string_view bytes, std::string* storage,
                                     FrameHeader* header_out = nullptr);

// zstd helpers shared with block-level compression inside segments.
// Compresses `raw` at kZstdLevel; returns false when zstd fails or would not save at
// least 1/8 of the bytes (the caller then stores the bytes raw).
bool ZstdCompressIfSmaller(std::string_view raw, std::string* out);
// Decompresses exactly `raw_len` bytes from `compressed` into `dst`; Corruption otherwise.
Status ZstdDecompressExact(std::string_view compressed, char* dst, size_t raw_len,
                           std::string_view what);

}  // namespace gannet::format
