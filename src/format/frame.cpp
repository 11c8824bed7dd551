// The common object envelope. See frame.h and docs/format/README.md.
#include "format/frame.h"

#include <zstd.h>

#include "common/coding.h"

namespace gannet::format {

std::string_view ObjectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kWalEntry:
      return "wal entry";
    case ObjectKind::kManifest:
      return "manifest";
    case ObjectKind::kSegment:
      return "segment";
    case ObjectKind::kDeletionVector:
      return "deletion vector";
    case ObjectKind::kVectorIndex:
      return "vector index";
    case ObjectKind::kTextIndex:
      return "text index";
  }
  return "object";
}

std::string_view FrameMagic(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kWalEntry:
      return "GANNETWL";
    case ObjectKind::kManifest:
      return "GANNETMF";
    case ObjectKind::kSegment:
      return "GANNETSG";
    case ObjectKind::kDeletionVector:
      return "GANNETDV";
    case ObjectKind::kVectorIndex:
      return "GANNETVI";
    case ObjectKind::kTextIndex:
      return "GANNETFT";
  }
  return "GANNET??";
}

uint32_t NewestFrameVersion(ObjectKind kind) {
  if (kind == ObjectKind::kVectorIndex) return 5;
  if (kind == ObjectKind::kManifest) return 3;
  if (kind == ObjectKind::kSegment) return 2;
  return kFrameVersion;
}

bool ZstdCompressIfSmaller(std::string_view raw, std::string* out) {
  const size_t bound = ZSTD_compressBound(raw.size());
  out->resize(bound);
  const size_t n = ZSTD_compress(out->data(), bound, raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(n) || n > raw.size() - raw.size() / 8) {
    out->clear();
    return false;
  }
  out->resize(n);
  return true;
}

Status ZstdDecompressExact(std::string_view compressed, char* dst, size_t raw_len,
                           std::string_view what) {
  // The content size in the zstd frame header must agree with the length we were told,
  // so a disagreement is reported before any work is done.
  const unsigned long long content = ZSTD_getFrameContentSize(compressed.data(), compressed.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
      content != raw_len) {
    return Status::Corruption(std::string(what) + ": bad compressed block header");
  }
  const size_t n = ZSTD_decompress(dst, raw_len, compressed.data(), compressed.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string(what) +
                              ": decompression failed: " + ZSTD_getErrorName(n));
  }
  if (n != raw_len) {
    return Status::Corruption(std::string(what) + ": decompressed length mismatch");
  }
  return Status::OK();
}

std::string EncodeFrame(ObjectKind kind, std::string_view payload, Compression compression,
                        uint32_t version) {
  std::string compressed;
  bool use_zstd = false;
  if (compression == Compression::kAuto && payload.size() >= kCompressThresholdBytes) {
    use_zstd = ZstdCompressIfSmaller(payload, &compressed);
  }
  const std::string_view stored = use_zstd ? std::string_view(compressed) : payload;
  Writer w;
  w.buffer().reserve(kFrameOverheadBytes + stored.size());
  w.PutRaw(FrameMagic(kind));
  w.PutFixed32(version);
  w.PutFixed32(use_zstd ? kFrameFlagZstd : 0);
  w.PutFixed64(stored.size());
  w.PutFixed64(payload.size());
  w.PutRaw(stored);
  w.PutFixed64(Checksum64(w.buffer()));
  return w.Release();
}

void BeginFrame(Writer& w, ObjectKind kind, uint32_t version) {
  w.PutRaw(FrameMagic(kind));
  w.PutFixed32(version);
  w.PutFixed32(0);
  w.PutFixed64(0);
  w.PutFixed64(0);
}

void FinishFrame(Writer& w) {
  std::string& buf = w.buffer();
  const uint64_t payload = buf.size() - kFrameHeaderBytes;
  for (size_t i = 0; i < 8; ++i) {
    buf[16 + i] = static_cast<char>(static_cast<uint8_t>(payload >> (8 * i)));
    buf[24 + i] = static_cast<char>(static_cast<uint8_t>(payload >> (8 * i)));
  }
  w.PutFixed64(Checksum64(buf));
}

namespace {

Status Err(ObjectKind kind, const std::string& what) {
  return Status::Corruption(std::string(ObjectKindName(kind)) + ": " + what);
}

}  // namespace

Result<FrameHeader> ParseFrameHeader(ObjectKind kind, std::string_view header,
                                     uint64_t object_size) {
  if (header.size() < kFrameHeaderBytes) {
    return Err(kind, "truncated (" + std::to_string(header.size()) + " bytes)");
  }
  if (header.substr(0, 8) != FrameMagic(kind)) {
    return Err(kind, "bad magic");
  }
  Reader r(header.substr(8, kFrameHeaderBytes - 8));
  FrameHeader h;
  if (!r.GetFixed32(&h.version) || !r.GetFixed32(&h.flags) || !r.GetFixed64(&h.stored_bytes) ||
      !r.GetFixed64(&h.raw_bytes)) {
    return Err(kind, "truncated header");
  }
  if (h.version == 0 || h.version > NewestFrameVersion(kind)) {
    return Err(kind, "unsupported format version " + std::to_string(h.version) + " (newest known " +
                         std::to_string(NewestFrameVersion(kind)) +
                         "; written by a newer Gannet?)");
  }
  if ((h.flags & ~kFrameFlagZstd) != 0) {
    return Err(kind, "unknown flags " + std::to_string(h.flags));
  }
  if (h.stored_bytes > kMaxFramePayloadBytes || h.raw_bytes > kMaxFramePayloadBytes) {
    return Err(kind, "payload length out of range");
  }
  if ((h.flags & kFrameFlagZstd) == 0 && h.raw_bytes != h.stored_bytes) {
    return Err(kind, "raw and stored lengths differ for an uncompressed payload");
  }
  if (object_size != 0 && object_size != kFrameOverheadBytes + h.stored_bytes) {
    return Err(kind, "object size " + std::to_string(object_size) +
                         " does not match payload length " + std::to_string(h.stored_bytes));
  }
  return h;
}

Result<std::string_view> DecodeFrame(ObjectKind kind, std::string_view bytes, std::string* storage,
                                     FrameHeader* header_out) {
  if (bytes.size() < kFrameOverheadBytes) {
    return Err(kind, "truncated (" + std::to_string(bytes.size()) + " bytes)");
  }
  if (bytes.substr(0, 8) != FrameMagic(kind)) {
    return Err(kind, "bad magic");
  }
  // Integrity first: every later check then reads trusted bytes (or a truncated object).
  uint64_t stored_len = 0;
  {
    Reader r(bytes.substr(16, 8));
    if (!r.GetFixed64(&stored_len)) return Err(kind, "truncated header");
  }
  if (stored_len != bytes.size() - kFrameOverheadBytes) {
    return Err(kind, "size " + std::to_string(bytes.size()) +
                         " does not match the header's payload length (truncated or corrupt)");
  }
  uint64_t expected = 0;
  {
    Reader r(bytes.substr(bytes.size() - kFrameTrailerBytes));
    if (!r.GetFixed64(&expected)) return Err(kind, "truncated trailer");
  }
  if (kVerifyChecksums &&
      Checksum64(bytes.substr(0, bytes.size() - kFrameTrailerBytes)) != expected) {
    return Err(kind, "checksum mismatch");
  }
  GANNET_ASSIGN_OR_RETURN(FrameHeader h, ParseFrameHeader(kind, bytes, bytes.size()));
  if (header_out != nullptr) *header_out = h;
  const std::string_view stored = bytes.substr(kFrameHeaderBytes, h.stored_bytes);
  if ((h.flags & kFrameFlagZstd) == 0) return stored;
  storage->clear();
  storage->resize(h.raw_bytes);
  GANNET_RETURN_IF_ERROR(
      ZstdDecompressExact(stored, storage->data(), h.raw_bytes, ObjectKindName(kind)));
  return std::string_view(*storage);
}

}  // namespace gannet::format
