// Manifest encoding. Layout: docs/format/manifest.md.
#include "format/manifest.h"

#include <algorithm>

#include "common/coding.h"
#include "format/frame.h"
#include "format/value_codec.h"

namespace gannet::format {

namespace {
// SegmentRef flags (payload version 2).
constexpr uint64_t kSegmentHasVectorIndex = 1u << 0;
constexpr uint64_t kSegmentHasTextIndex = 1u << 1;
}  // namespace

std::string EncodeManifest(const Manifest& m) {
  const bool v3 = std::any_of(m.segments.begin(), m.segments.end(),
                              [](const SegmentRef& s) { return s.text_index; });
  const bool v2 = v3 || std::any_of(m.segments.begin(), m.segments.end(),
                                    [](const SegmentRef& s) { return s.vector_index; });
  Writer w;
  w.PutVarint(m.version);
  w.PutVarint(m.indexed_through);
  w.PutSignedVarint(m.created_ms);
  w.PutSignedVarint(m.updated_ms);
  w.PutBytes(m.writer_nonce);
  EncodeSchema(w, m.schema);
  w.PutVarint(m.segments.size());
  for (const SegmentRef& s : m.segments) {
    w.PutBytes(s.id);
    w.PutVarint(s.rows);
    w.PutVarint(s.bytes);
    w.PutVarint(s.min_sequence);
    w.PutVarint(s.max_sequence);
    w.PutBytes(s.deletes_key);
    w.PutVarint(s.deleted_rows);
    if (v2) {
      w.PutVarint((s.vector_index ? kSegmentHasVectorIndex : 0) |
                  (s.text_index ? kSegmentHasTextIndex : 0));
    }
  }
  return EncodeFrame(ObjectKind::kManifest, w.buffer(), Compression::kAuto, v3 ? 3 : v2 ? 2 : 1);
}

Result<Manifest> DecodeManifest(std::string_view bytes) {
  std::string storage;
  FrameHeader header;
  GANNET_ASSIGN_OR_RETURN(std::string_view payload,
                          DecodeFrame(ObjectKind::kManifest, bytes, &storage, &header));
  Reader r(payload);
  Manifest m;
  std::string_view nonce;
  if (!r.GetVarint(&m.version) || !r.GetVarint(&m.indexed_through) ||
      !r.GetSignedVarint(&m.created_ms) || !r.GetSignedVarint(&m.updated_ms) ||
      !r.GetBytes(&nonce)) {
    return Status::Corruption("manifest: truncated header fields");
  }
  m.writer_nonce.assign(nonce.data(), nonce.size());
  if (Status s = DecodeSchema(r, &m.schema); !s.ok()) return s.WithContext("manifest");
  uint64_t n;
  if (!r.GetVarint(&n)) return Status::Corruption("manifest: truncated segment count");
  // A segment reference is at least 7 bytes (two empty strings and five varints).
  if (n > r.remaining() / 7) return Status::Corruption("manifest: segment count out of range");
  m.segments.resize(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    SegmentRef& s = m.segments[i];
    std::string_view id, deletes_key;
    if (!r.GetBytes(&id) || !r.GetVarint(&s.rows) || !r.GetVarint(&s.bytes) ||
        !r.GetVarint(&s.min_sequence) || !r.GetVarint(&s.max_sequence) ||
        !r.GetBytes(&deletes_key) || !r.GetVarint(&s.deleted_rows)) {
      return Status::Corruption("manifest: truncated segment " + std::to_string(i));
    }
    s.id.assign(id.data(), id.size());
    s.deletes_key.assign(deletes_key.data(), deletes_key.size());
    if (header.version >= 2) {
      uint64_t flags;
      if (!r.GetVarint(&flags)) {
        return Status::Corruption("manifest: truncated segment " + std::to_string(i));
      }
      const uint64_t known =
          kSegmentHasVectorIndex | (header.version >= 3 ? kSegmentHasTextIndex : 0);
      if ((flags & ~known) != 0) {
        return Status::Corruption("manifest: unknown segment flags " + std::to_string(flags));
      }
      s.vector_index = (flags & kSegmentHasVectorIndex) != 0;
      s.text_index = (flags & kSegmentHasTextIndex) != 0;
    }
  }
  if (!r.done()) return Status::Corruption("manifest: trailing bytes after segments");
  return m;
}

}  // namespace gannet::format
