// WAL entry: one immutable object per sequence number, <ns>/wal/<seq:020>, created with
// PutIfAbsent. Group commit packs the write requests of many callers into one entry;
// each request stays atomic on its own. Layout: docs/format/wal.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::format {

struct WalEntry {
  uint64_t sequence = 0;
  std::string writer_nonce;   // random bytes identifying the writing process+attempt
  int64_t created_ms = 0;
  Schema schema;              // the namespace schema after this entry
  std::vector<WriteRequest> batches;  // validated, coerced requests, applied in order
};

std::string EncodeWalEntry(const WalEntry& entry);
// Corruption on a bad magic, version, checksum or structure.
Result<WalEntry> DecodeWalEntry(std::string_view bytes);

}  // namespace gannet::format
