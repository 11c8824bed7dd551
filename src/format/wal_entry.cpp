// WAL entry encoding. Layout: docs/format/wal.md.
#include "format/wal_entry.h"

#include "common/coding.h"
#include "format/frame.h"
#include "format/value_codec.h"

namespace gannet::format {

std::string EncodeWalEntry(const WalEntry& entry) {
  Writer w;
  w.PutVarint(entry.sequence);
  w.PutBytes(entry.writer_nonce);
  w.PutSignedVarint(entry.created_ms);
  EncodeSchema(w, entry.schema);
  w.PutVarint(entry.batches.size());
  for (const WriteRequest& req : entry.batches) EncodeWriteRequest(w, req);
  return EncodeFrame(ObjectKind::kWalEntry, w.buffer(), Compression::kAuto);
}

Result<WalEntry> DecodeWalEntry(std::string_view bytes) {
  std::string storage;
  GANNET_ASSIGN_OR_RETURN(std::string_view payload,
                          DecodeFrame(ObjectKind::kWalEntry, bytes, &storage));
  auto fail = [](const Status& s) { return s.WithContext("wal entry"); };
  Reader r(payload);
  WalEntry e;
  std::string_view nonce;
  if (!r.GetVarint(&e.sequence) || !r.GetBytes(&nonce) || !r.GetSignedVarint(&e.created_ms)) {
    return Status::Corruption("wal entry: truncated header fields");
  }
  e.writer_nonce.assign(nonce.data(), nonce.size());
  if (Status s = DecodeSchema(r, &e.schema); !s.ok()) return fail(s);
  uint64_t n;
  if (!r.GetVarint(&n)) return Status::Corruption("wal entry: truncated batch count");
  // A write request is at least 10 bytes: three counts, four filter flags, the metric,
  // the schema flag and return_affected_ids.
  if (n > r.remaining() / 10) return Status::Corruption("wal entry: batch count out of range");
  e.batches.resize(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    if (Status s = DecodeWriteRequest(r, &e.batches[i]); !s.ok()) {
      return fail(s.WithContext("batch " + std::to_string(i)));
    }
  }
  if (!r.done()) return Status::Corruption("wal entry: trailing bytes after batches");
  return e;
}

}  // namespace gannet::format
