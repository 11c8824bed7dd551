// Manifest: the namespace's single compare-and-swap pointer, <ns>/manifest, naming the
// segments that hold the WAL prefix up to indexed_through. Layout: docs/format/manifest.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::format {

struct SegmentRef {
  std::string id;           // object key is <ns>/segments/<id>
  uint64_t rows = 0;        // rows stored in the segment (including later-deleted ones)
  uint64_t bytes = 0;       // object size
  uint64_t min_sequence = 0, max_sequence = 0;  // WAL range the rows came from
  std::string deletes_key;  // "" if no row is deleted, else <ns>/deletes/<id>/<version>
  uint64_t deleted_rows = 0;
  // An ANN index of the segment's vectors exists at <ns>/segments/<id>.ivf (written
  // before the manifest that names it). Manifest payload version 2.
  bool vector_index = false;
  // An inverted index of the segment's full-text attributes exists at
  // <ns>/segments/<id>.fts (written before the manifest). Manifest payload version 3.
  bool text_index = false;
};

struct Manifest {
  uint64_t version = 0;           // 1 for the first manifest; +1 per commit
  uint64_t indexed_through = 0;   // WAL sequences <= this are folded into segments
  int64_t created_ms = 0;         // namespace creation time
  int64_t updated_ms = 0;         // time of this manifest
  std::string writer_nonce;
  Schema schema;                  // schema as of indexed_through
  std::vector<SegmentRef> segments;  // oldest first; a newer segment shadows older ones
};

// Payload version 1 when no segment has an index (readable by every Gannet), 2 when some
// have vector indexes only, 3 when some have text indexes.
std::string EncodeManifest(const Manifest& manifest);
Result<Manifest> DecodeManifest(std::string_view bytes);

}  // namespace gannet::format
