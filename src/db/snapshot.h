// Snapshot: an immutable view of a namespace at one WAL sequence.
//
// A snapshot is (manifest version M, the WAL entries after M.indexed_through up to the
// head sequence). The entries are "applied": each WAL entry's requests are resolved once
// per process, in order, into the final document (or tombstone) of every id they touched
// (patches merged, conditions and delete_by_filter evaluated against the state before
// them). Resolution is deterministic, so every process derives the same state.
//
// Thread safety: a Snapshot is immutable once published, except its lazily built tail
// view, which is built under std::call_once. Share it freely through shared_ptr.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "format/manifest.h"
#include "format/segment.h"
#include "gannet/request.h"
#include "gannet/types.h"
#include "index/ivf_index.h"
#include "index/text_index.h"
#include "query/executor.h"

namespace gannet::db {

using DocPtr = std::shared_ptr<const Document>;
// id -> its newest version in the tail; nullptr is a tombstone.
using TailMap = query::TailMap;

// Text indexes built in memory for rows that have no stored one (a WAL entry's
// documents; a segment written before its attribute enabled full_text_search), keyed by
// attribute and analyzer fingerprint. Thread-safe.
class TextFieldCache {
 public:
  std::shared_ptr<const index::TextFieldIndex> Get(
      const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer,
      const std::function<std::shared_ptr<const index::TextFieldIndex>()>& build);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const index::TextFieldIndex>> built_;
};

// A segment with its deletion vector as of one manifest version.
struct LoadedSegment {
  format::SegmentRef ref;
  std::shared_ptr<const format::Segment> segment;
  std::vector<bool> deleted;  // empty when no row is deleted; else one flag per row
  std::shared_ptr<const std::vector<float>>
      norms;  // per-row vector norms (VectorNorms); null when the vectors are not resident
  // The segment's vector index when ref.vector_index (checked against the segment).
  std::shared_ptr<const index::IvfIndex> ann;
  // The segment's stored text index when ref.text_index, and fields built on demand.
  std::shared_ptr<const index::TextIndex> text;
  std::shared_ptr<TextFieldCache> text_cache = std::make_shared<TextFieldCache>();
  // The text index of `attr` for `analyzer`: the stored one, or built from the column.
  std::shared_ptr<const index::TextFieldIndex> TextField(
      const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer) const;
  bool is_deleted(size_t row) const { return !deleted.empty() && deleted[row]; }
  // Loaded by range (a cold load: the segment without its vectors, the index without its
  // lists; queries read what they need by range) until WarmUp loads it whole.
  bool cold() const { return ann != nullptr && !ann->lists_resident(); }
};
using LoadedSegmentPtr = std::shared_ptr<const LoadedSegment>;

// A LoadedSegment for `segment`; computes the vector norms unless `norms` is given (the
// same segment loaded before, with another deletion vector). `ann`: its vector index.
std::shared_ptr<LoadedSegment> MakeLoadedSegment(
    const format::SegmentRef& ref, std::shared_ptr<const format::Segment> segment,
    std::vector<bool> deleted, std::shared_ptr<const std::vector<float>> norms = nullptr,
    std::shared_ptr<const index::IvfIndex> ann = nullptr,
    std::shared_ptr<const index::TextIndex> text = nullptr);

// What one request of a WAL entry did, for its caller's WriteResponse.
struct BatchOutcome {
  std::vector<Id> upserted, patched, deleted;
};

// One WAL entry, resolved.
struct AppliedEntry {
  uint64_t sequence = 0;
  int64_t created_ms = 0;
  uint64_t encoded_bytes = 0;
  std::vector<std::pair<Id, DocPtr>> changes;  // final state per touched id, unique ids
  std::vector<BatchOutcome> outcomes;          // one per request in the entry
  // Text indexes of `changes`' documents, built when a BM25 query first needs them.
  std::shared_ptr<TextFieldCache> text_cache = std::make_shared<TextFieldCache>();
};
using AppliedEntryPtr = std::shared_ptr<const AppliedEntry>;

struct Snapshot {
  std::shared_ptr<const format::Manifest> manifest;  // never null (version 0 = none yet)
  std::string manifest_etag;                         // "" when no manifest object exists
  std::vector<LoadedSegmentPtr> segments;            // as listed in the manifest
  std::vector<AppliedEntryPtr> tail;  // sequences manifest->indexed_through+1 .. head
  Schema schema;                      // schema at head
  uint64_t head = 0;                  // newest WAL sequence included
  int64_t created_ms = 0;
  int64_t updated_ms = 0;

  // The newest version of every id the tail touched. Built on first use.
  const TailMap& tail_map() const;
  // Rows in the tail (documents + tombstones), i.e. the index lag.
  uint64_t tail_rows() const;
  // Live rows in segments plus live documents in the tail, approximately (ids upserted
  // in the tail that also live in a segment count twice).
  uint64_t approx_rows() const;
  // Bytes held in memory by the decoded segments, their indexes and the tail,
  // approximately (text indexes built later on demand are not included).
  uint64_t approx_memory_bytes() const;

  // The current version of `id`: the document, nullptr if deleted or absent. Fails only
  // when its vector is not resident and cannot be read (Segment::GetDocument).
  Result<DocPtr> Lookup(const Id& id) const;

 private:
  mutable std::once_flag tail_once_;
  mutable TailMap tail_map_;
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// `base` with other segments (everything else shared; the tail view is rebuilt on use).
std::shared_ptr<Snapshot> WithSegments(const Snapshot& base,
                                       std::vector<LoadedSegmentPtr> segments);

}  // namespace gannet::db
