// NamespaceImpl maintenance: indexing (WAL tail -> segment), compaction (merge small
// segments) and garbage collection. Each step writes new immutable objects and then
// publishes them with one compare-and-swap of the manifest; a lost race leaves only
// unreferenced objects behind, which garbage collection removes after the grace period.
#include <algorithm>
#include <numeric>
#include <set>
#include <thread>

#include "common/coding.h"
#include "common/memory.h"
#include "db/database_impl.h"
#include "db/namespace_impl.h"
#include "db/seed_rows.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "index/ivf_index.h"

namespace gannet::db {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPutAttempts = 6;
constexpr int kMaintenanceAttempts = 5;

// Creates a key that only this caller can have chosen (random ids), so AlreadyExists
// after a timed-out attempt means the earlier attempt landed.
Status PutNew(ObjectStore& store, const std::string& key, std::string_view bytes) {
  Status last;
  for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
    Result<ObjectMeta> r = store.PutIfAbsent(key, bytes);
    if (r.ok() || r.status().IsAlreadyExists()) return Status::OK();
    last = r.status();
    if (!last.IsUnavailable()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 7)));
  }
  return last.WithContext(key);
}

DistanceMetric MetricOf(const Schema& schema) {
  return schema.distance_metric.value_or(DistanceMetric::kCosineDistance);
}

// Builds the vector index of a newly written segment when it holds at least
// ann_min_rows vectors, and stores it at <segment key>.ivf (before the manifest that will
// name it); sets ref->vector_index. nullptr when the segment gets no index.
// `seed`: the namespace's largest index (the indexer) or compaction's largest input,
// whose centroids the clustering starts from; null builds from scratch. `seed_rows`
// (compaction): for each row of `segment`, the seed segment's row of the same document
// (or index::kNoSeedRow), so that those rows keep their lists (IvfBuildOptions::seed_rows).
Result<std::shared_ptr<const index::IvfIndex>> MaybeBuildVectorIndex(
    ObjectStore& store, const Keys& keys, const DatabaseOptions& opts, const Schema& schema,
    const format::Segment& segment, format::SegmentRef* ref, const index::IvfIndex* seed = nullptr,
    const std::vector<uint32_t>* seed_rows = nullptr) {
  ref->vector_index = false;
  if (opts.ann_min_rows == 0 || segment.dims() == 0 || segment.rows() < opts.ann_min_rows) {
    return std::shared_ptr<const index::IvfIndex>();
  }
  size_t with_vector = 0;
  for (size_t row = 0; row < segment.rows(); ++row) with_vector += segment.has_vector(row);
  if (with_vector < opts.ann_min_rows) return std::shared_ptr<const index::IvfIndex>();
  index::IvfBuildOptions build;
  build.threads = std::max(1, opts.ann_build_threads);
  build.seed = seed;
  build.seed_rows = seed_rows;
  // Vectors read by range: memory is what the setting is for. Below kMinBinaryDims a
  // replica holds a second SQ8 code, a third more codes for a speed the re-rank's reads
  // hide (200k × 128: the same QPS at recall 0.95 without them, at nprobe 2 instead of
  // 1): none there. From it a replica costs its one-bit code (the row's four-bit code is
  // shared), and they pay: GCIDE × MiniLM recall 0.954 at nprobe 64 instead of 192,
  // ~18% more queries a second, in 47 MB instead of 38.
  if (!opts.resident_indexed_vectors && segment.dims() < index::kMinBinaryDims) {
    build.replica_epsilon = -1;
  }
  Result<std::shared_ptr<index::IvfIndex>> built =
      index::IvfIndex::Build(index::VectorRows::Of(segment), MetricOf(schema), build);
  // The build's scratch (k-means, calibration) is freed by now; hand the heap's free
  // pages back to the system rather than keep them in this process's resident memory
  // (5.5 MiB of a 200k × 128 build's 43).
  ReleaseFreeMemory();
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<index::IvfIndex> ann, std::move(built));
  GANNET_RETURN_IF_ERROR(PutNew(store, keys.vector_index(ref->id), ann->Encode()));
  // Searches read the codes derived from the SQ8 ones (from 256 dimensions): the stored
  // object keeps those, memory need not (as a load decodes it).
  ann->ReleaseSq8Codes();
  ref->vector_index = true;
  return std::shared_ptr<const index::IvfIndex>(std::move(ann));
}

// Sets *seed to s's vector index when it has `dims` and `metric`, its lists in memory (not
// a cold load's head alone), and more live rows than the segment of *seed (or *seed is
// null): the index a new clustering starts from.
void KeepLargestIndex(const LoadedSegment& s, uint32_t dims, DistanceMetric metric,
                      const LoadedSegment** seed) {
  auto live = [](const LoadedSegment& x) { return x.ref.rows - x.ref.deleted_rows; };
  if (s.ann != nullptr && s.ann->lists_resident() && s.ann->dims() == dims &&
      s.ann->metric() == metric && (*seed == nullptr || live(s) > live(**seed))) {
    *seed = &s;
  }
}

// Builds the inverted index of a newly written segment's full_text_search attributes and
// stores it at <segment key>.fts (before the manifest that will name it); sets
// ref->text_index. nullptr when the schema has no such attribute.
Result<std::shared_ptr<const index::TextIndex>> MaybeBuildTextIndex(ObjectStore& store,
                                                                    const Keys& keys,
                                                                    const Schema& schema,
                                                                    const format::Segment& segment,
                                                                    format::SegmentRef* ref) {
  ref->text_index = false;
  std::vector<std::pair<std::string, std::shared_ptr<const text::Analyzer>>> fields;
  for (const auto& [name, attr] : schema.attributes) {
    if (attr.full_text_search.empty()) continue;
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const text::Analyzer> analyzer,
                            text::Analyzer::ForSchemaText(attr.full_text_search));
    fields.emplace_back(name, std::move(analyzer));
  }
  if (fields.empty() || segment.rows() == 0) return std::shared_ptr<const index::TextIndex>();
  std::vector<const format::Segment::Column*> cols;
  for (const auto& f : fields) cols.push_back(segment.column(f.first));
  auto text = std::make_shared<const index::TextIndex>(
      index::BuildTextFields(static_cast<uint32_t>(segment.rows()), fields,
                             [&](uint32_t row, const std::string& attr) -> const Value* {
                               for (size_t i = 0; i < fields.size(); ++i) {
                                 if (fields[i].first != attr) continue;
                                 if (cols[i] == nullptr) return nullptr;
                                 const Value& v = cols[i]->values[row];
                                 return v.is_null() ? nullptr : &v;
                               }
                               return nullptr;
                             }));
  GANNET_RETURN_IF_ERROR(PutNew(store, keys.text_index(ref->id), text->Encode()));
  ref->text_index = true;
  return text;
}

std::vector<uint32_t> DeletedRows(const std::vector<bool>& bits) {
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) rows.push_back(static_cast<uint32_t>(i));
  }
  return rows;
}

}  // namespace

Status NamespaceImpl::CommitManifest(const Snapshot& base, format::Manifest next,
                                     std::vector<LoadedSegmentPtr> segments,
                                     Clock::time_point first_put) {
  const DatabaseOptions& opts = db_.options();
  // (A zero grace period is for single-process tests: maintenance_mu_ already keeps
  // this process's collector from running concurrently.)
  if (opts.gc_grace.count() > 0 && first_put != Clock::time_point{} &&
      Clock::now() - first_put > opts.gc_grace / 2) {
    // Our new objects may already look like garbage to a collector: do not publish them.
    return Status::Unavailable("maintenance of '" + name_ +
                               "' took longer than half the GC grace period; abandoned");
  }
  ObjectStore& store = *db_.store();
  const std::string bytes = format::EncodeManifest(next);
  Result<ObjectMeta> r = base.manifest_etag.empty()
                             ? store.PutIfAbsent(keys_.manifest(), bytes)
                             : store.PutIfMatch(keys_.manifest(), bytes, base.manifest_etag);
  std::string etag;
  if (r.ok()) {
    etag = r->etag;
  } else if (r.status().IsAlreadyExists() || r.status().IsPreconditionFailed()) {
    return Status::Conflict("manifest of '" + name_ + "' changed concurrently");
  } else {
    // Unknown outcome (or a 5xx from a store whose losers sometimes see one): read back.
    Result<GetResult> g = store.Get(keys_.manifest());
    if (!g.ok()) return r.status();
    Result<format::Manifest> m = format::DecodeManifest(g->data);
    if (!m.ok() || m->writer_nonce != next.writer_nonce) {
      return Status::Conflict("manifest of '" + name_ + "' not updated: " + r.status().ToString());
    }
    etag = g->meta.etag;
  }
  // Rebase the newest cached snapshot onto the manifest we just published.
  SnapshotPtr cur = current();
  auto snap = std::make_shared<Snapshot>();
  auto manifest = std::make_shared<format::Manifest>(std::move(next));
  snap->manifest = manifest;
  snap->manifest_etag = etag;
  snap->segments = std::move(segments);
  snap->created_ms = manifest->created_ms;
  snap->updated_ms = manifest->updated_ms;
  snap->head = manifest->indexed_through;
  snap->schema = manifest->schema;
  if (cur != nullptr && cur->head > manifest->indexed_through) {
    for (const AppliedEntryPtr& e : cur->tail) {
      if (e->sequence > manifest->indexed_through) snap->tail.push_back(e);
    }
    snap->head = cur->head;
    snap->schema = cur->schema;
    snap->updated_ms = std::max(snap->updated_ms, cur->updated_ms);
  }
  Publish(std::move(snap));
  return Status::OK();
}

Status NamespaceImpl::IndexOnce(bool* lost_race, bool* more) {
  *lost_race = false;
  *more = false;
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, Refresh(nullptr));
  if (snap->tail.empty()) return Status::OK();
  ObjectStore& store = *db_.store();
  // Index a prefix of the tail holding at most max_segment_rows rows (at least one
  // entry), so a build never holds more than that in memory; the rest waits its turn.
  size_t take = 0;
  uint64_t rows = 0;
  for (const AppliedEntryPtr& e : snap->tail) {
    if (take > 0 && rows + e->changes.size() > db_.options().max_segment_rows) break;
    rows += e->changes.size();
    ++take;
  }
  TailMap prefix_map;
  if (take < snap->tail.size()) {
    *more = true;
    for (size_t i = 0; i < take; ++i) {
      for (const auto& [id, doc] : snap->tail[i]->changes) prefix_map.insert_or_assign(id, doc);
    }
  }
  const TailMap& tail = take < snap->tail.size() ? prefix_map : snap->tail_map();
  const uint64_t first_seq = snap->tail.front()->sequence;
  const uint64_t last_seq = snap->tail[take - 1]->sequence;

  format::Manifest next = *snap->manifest;
  next.version += 1;
  next.indexed_through = last_seq;
  next.schema = snap->schema;
  next.updated_ms = db_.NowMs();
  if (next.created_ms == 0)
    next.created_ms = snap->created_ms != 0 ? snap->created_ms : next.updated_ms;
  next.writer_nonce = RandomBytes(16);
  next.segments.clear();

  Clock::time_point first_put{};
  std::vector<LoadedSegmentPtr> segments;
  // Older segments: rows whose id the tail touched are now shadowed; record that in a
  // new deletion vector.
  for (const LoadedSegmentPtr& s : snap->segments) {
    std::vector<bool> deleted = s->deleted;
    uint64_t newly = 0;
    for (const auto& [id, doc] : tail) {
      std::optional<size_t> row = s->segment->Find(id);
      if (!row) continue;
      if (deleted.empty()) deleted.assign(s->segment->rows(), false);
      if (!deleted[*row]) {
        deleted[*row] = true;
        ++newly;
      }
    }
    if (newly == 0) {
      next.segments.push_back(s->ref);
      segments.push_back(s);
      continue;
    }
    format::SegmentRef ref = s->ref;
    ref.deleted_rows += newly;
    if (ref.deleted_rows >= ref.rows) continue;  // nothing live: drop the segment
    ref.deletes_key = keys_.deletes(ref.id, next.version) + "-" + HexEncode(RandomBytes(4));
    if (first_put == Clock::time_point{}) first_put = Clock::now();
    GANNET_RETURN_IF_ERROR(
        PutNew(store, ref.deletes_key, format::EncodeDeletionVector(DeletedRows(deleted))));
    next.segments.push_back(ref);
    segments.push_back(
        MakeLoadedSegment(ref, s->segment, std::move(deleted), s->norms, s->ann, s->text));
  }
  // The tail's live documents become a new segment.
  std::vector<Document> docs;
  for (const auto& [id, doc] : tail) {
    if (doc != nullptr) docs.push_back(*doc);
  }
  if (!docs.empty()) {
    std::sort(docs.begin(), docs.end(),
              [](const Document& a, const Document& b) { return a.id < b.id; });
    format::SegmentRef ref;
    ref.id = PadSequence(first_seq) + "-" + HexEncode(RandomBytes(6));
    ref.rows = docs.size();
    ref.min_sequence = first_seq;
    ref.max_sequence = last_seq;
    std::string bytes = format::EncodeSegment(docs, snap->schema);
    docs.clear();
    docs.shrink_to_fit();
    ref.bytes = bytes.size();
    if (first_put == Clock::time_point{}) first_put = Clock::now();
    GANNET_RETURN_IF_ERROR(PutNew(store, keys_.segment(ref.id), bytes));
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const format::Segment> seg,
                            format::Segment::Decode(bytes));
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const format::Segment> twin,
                            RangedTwin(bytes, ref, seg->dims()));
    bytes = std::string();
    // Incremental maintenance: the new segment's clustering starts from the index of the
    // kept segment with the most live rows (IvfBuildOptions::seed decides whether it
    // covers enough rows to be used).
    const LoadedSegment* seed = nullptr;
    for (const LoadedSegmentPtr& s : segments) {
      KeepLargestIndex(*s, seg->dims(), MetricOf(snap->schema), &seed);
    }
    GANNET_ASSIGN_OR_RETURN(
        std::shared_ptr<const index::IvfIndex> ann,
        MaybeBuildVectorIndex(store, keys_, db_.options(), snap->schema, *seg, &ref,
                              seed != nullptr ? seed->ann.get() : nullptr));
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const index::TextIndex> text,
                            MaybeBuildTextIndex(store, keys_, snap->schema, *seg, &ref));
    next.segments.push_back(ref);
    if (ref.vector_index && twin != nullptr) seg = std::move(twin);
    segments.push_back(
        MakeLoadedSegment(ref, std::move(seg), {}, nullptr, std::move(ann), std::move(text)));
  }
  Status st = CommitManifest(*snap, std::move(next), std::move(segments), first_put);
  if (st.code() == StatusCode::kConflict) {
    *lost_race = true;
    return Status::OK();
  }
  return st;
}

namespace {

// Whether an idle namespace's segments are small enough, together, to be merged into one
// (DatabaseOptions::compact_small_bytes), and the ones besides the largest hold enough of
// them for the rewrite to pay.
bool SmallEnoughToMerge(const Snapshot& snap, uint64_t limit) {
  if (limit == 0 || snap.segments.size() < 2 || !snap.tail.empty()) return false;
  uint64_t total = 0, largest = 0;
  for (const auto& s : snap.segments) {
    total += s->ref.bytes;
    largest = std::max(largest, s->ref.bytes);
  }
  return total <= limit && (total - largest) * 4 >= largest;
}

}  // namespace

std::vector<size_t> CompactionInputs(const Snapshot& snap, const DatabaseOptions& opts,
                                     bool merge_all) {
  const size_t n = snap.segments.size();
  const size_t limit = std::max<size_t>(opts.compact_max_segments, 1);
  if (n < 2 || (!merge_all && n <= limit)) return {};
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return snap.segments[a]->ref.bytes < snap.segments[b]->ref.bytes;
  });
  const size_t want = merge_all ? n : std::max<size_t>(2, n - std::max<size_t>(limit / 2, 1) + 1);
  uint64_t bytes = 0;
  size_t take = 0;
  for (; take < want; ++take) {
    const uint64_t next = snap.segments[order[take]]->ref.bytes;
    if (bytes + next > opts.compact_max_bytes) break;
    bytes += next;
  }
  if (take < 2) return {};
  order.resize(take);
  return order;
}

Status NamespaceImpl::CompactOnce(bool* lost_race, bool merge_small) {
  *lost_race = false;
  const DatabaseOptions& opts = db_.options();
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, Refresh(nullptr));
  const size_t n = snap->segments.size();
  const bool merge_all = merge_small && SmallEnoughToMerge(*snap, opts.compact_small_bytes);

  const std::vector<size_t> picked = CompactionInputs(*snap, opts, merge_all);
  if (picked.empty()) return Status::OK();
  const std::set<size_t> chosen(picked.begin(), picked.end());
  format::Manifest next = *snap->manifest;
  next.version += 1;
  next.updated_ms = db_.NowMs();
  next.writer_nonce = RandomBytes(16);
  next.segments.clear();
  std::vector<LoadedSegmentPtr> segments;
  std::vector<Document> docs;
  format::SegmentRef merged;
  merged.min_sequence = UINT64_MAX;
  // Incremental maintenance: the merged segment's vector index starts from the clusters
  // of the input index that covers the most rows, and its rows keep their lists.
  const LoadedSegment* seed = nullptr;
  struct Input {
    const LoadedSegment* segment;
    size_t first_doc;            // its documents' place in `docs`
    std::vector<uint32_t> live;  // their rows in the segment
  };
  std::vector<Input> inputs;
  for (size_t i = 0; i < n; ++i) {
    const LoadedSegmentPtr& s = snap->segments[i];
    if (chosen.count(i) == 0) {
      next.segments.push_back(s->ref);
      segments.push_back(s);
      continue;
    }
    KeepLargestIndex(*s, s->segment->dims(), MetricOf(snap->manifest->schema), &seed);
    merged.min_sequence = std::min(merged.min_sequence, s->ref.min_sequence);
    merged.max_sequence = std::max(merged.max_sequence, s->ref.max_sequence);
    std::vector<uint32_t> live;
    for (size_t row = 0; row < s->segment->rows(); ++row) {
      if (!s->is_deleted(row)) live.push_back(static_cast<uint32_t>(row));
    }
    const size_t first_doc = docs.size();
    GANNET_RETURN_IF_ERROR(s->segment->GetDocuments(live, &docs));
    inputs.push_back({s.get(), first_doc, std::move(live)});
  }
  if (!docs.empty()) {
    // The seed's row of each document it holds, by id, then of each merged row.
    std::vector<std::pair<Id, uint32_t>> seed_ids;
    for (const Input& in : inputs) {
      if (in.segment != seed) continue;
      for (size_t k = 0; k < in.live.size(); ++k) {
        seed_ids.emplace_back(docs[in.first_doc + k].id, in.live[k]);
      }
    }
    inputs.clear();
    std::sort(docs.begin(), docs.end(),
              [](const Document& a, const Document& b) { return a.id < b.id; });
    std::vector<const Id*> merged_ids(docs.size());
    for (size_t row = 0; row < docs.size(); ++row) merged_ids[row] = &docs[row].id;
    const std::vector<uint32_t> seed_rows = SeedRowsOf(merged_ids, std::move(seed_ids));
    merged_ids = {};
    merged.id = PadSequence(merged.min_sequence) + "-" + HexEncode(RandomBytes(6));
    merged.rows = docs.size();
    std::string bytes = format::EncodeSegment(docs, snap->manifest->schema);
    docs.clear();
    docs.shrink_to_fit();
    merged.bytes = bytes.size();
    const Clock::time_point first_put = Clock::now();
    GANNET_RETURN_IF_ERROR(PutNew(*db_.store(), keys_.segment(merged.id), bytes));
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const format::Segment> seg,
                            format::Segment::Decode(bytes));
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const format::Segment> twin,
                            RangedTwin(bytes, merged, seg->dims()));
    bytes = std::string();
    GANNET_ASSIGN_OR_RETURN(
        std::shared_ptr<const index::IvfIndex> ann,
        MaybeBuildVectorIndex(*db_.store(), keys_, opts, snap->manifest->schema, *seg, &merged,
                              seed != nullptr ? seed->ann.get() : nullptr,
                              seed_rows.empty() ? nullptr : &seed_rows));
    GANNET_ASSIGN_OR_RETURN(
        std::shared_ptr<const index::TextIndex> text,
        MaybeBuildTextIndex(*db_.store(), keys_, snap->manifest->schema, *seg, &merged));
    next.segments.push_back(merged);
    if (merged.vector_index && twin != nullptr) seg = std::move(twin);
    segments.push_back(
        MakeLoadedSegment(merged, std::move(seg), {}, nullptr, std::move(ann), std::move(text)));
    Status st = CommitManifest(*snap, std::move(next), std::move(segments), first_put);
    if (st.code() == StatusCode::kConflict) {
      *lost_race = true;
      return Status::OK();
    }
    return st;
  }
  Status st = CommitManifest(*snap, std::move(next), std::move(segments), Clock::time_point{});
  if (st.code() == StatusCode::kConflict) {
    *lost_race = true;
    return Status::OK();
  }
  return st;
}

Status NamespaceImpl::IndexNow() {
  std::lock_guard<std::mutex> l(maintenance_mu_);
  for (int attempt = 0; attempt < kMaintenanceAttempts; ++attempt) {
    bool lost = false, more = false;
    GANNET_RETURN_IF_ERROR(IndexOnce(&lost, &more));
    if (more && !lost) {
      --attempt;  // progress was made; index the next part of the tail
      continue;
    }
    if (!lost) return Status::OK();
    {
      std::lock_guard<std::mutex> m(mu_);
      last_manifest_load_ = Stamp{};  // another indexer won: re-read the manifest
    }
  }
  return Status::Conflict("indexing '" + name_ + "' kept losing races with other indexers");
}

Status NamespaceImpl::Compact() { return CompactWith(false); }

Status NamespaceImpl::CompactWith(bool merge_small) {
  std::lock_guard<std::mutex> l(maintenance_mu_);
  for (int attempt = 0; attempt < kMaintenanceAttempts; ++attempt) {
    bool lost = false;
    GANNET_RETURN_IF_ERROR(CompactOnce(&lost, merge_small));
    if (!lost) return Status::OK();
    {
      std::lock_guard<std::mutex> m(mu_);
      last_manifest_load_ = Stamp{};
    }
  }
  return Status::Conflict("compacting '" + name_ + "' kept losing races");
}

Status NamespaceImpl::CollectGarbage() {
  std::lock_guard<std::mutex> l(maintenance_mu_);
  last_gc_ = Clock::now();
  ObjectStore& store = *db_.store();
  // Always the manifest in the store, never a cached one: a stale view could think a
  // live object unreferenced.
  Result<GetResult> g = store.Get(keys_.manifest());
  if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
  GANNET_ASSIGN_OR_RETURN(format::Manifest m, format::DecodeManifest(g->data));
  std::set<std::string, std::less<>> referenced;
  for (const format::SegmentRef& s : m.segments) {
    referenced.insert(keys_.segment(s.id));
    if (s.vector_index) referenced.insert(keys_.vector_index(s.id));
    if (s.text_index) referenced.insert(keys_.text_index(s.id));
    if (!s.deletes_key.empty()) referenced.insert(s.deletes_key);
  }
  const int64_t cutoff = db_.NowMs() - db_.options().gc_grace.count();
  bool waiting = false;  // garbage younger than the grace period remains
  auto sweep = [&](const std::string& prefix, auto&& collectable) -> Status {
    std::string after;
    for (;;) {
      GANNET_ASSIGN_OR_RETURN(ListResult list, store.List(prefix, after, 1000));
      for (const ObjectMeta& o : list.objects) {
        if (!collectable(o)) continue;
        if (o.mtime_ms < cutoff) {
          GANNET_RETURN_IF_ERROR(store.Delete(o.key));
        } else {
          waiting = true;
        }
      }
      if (!list.truncated || list.objects.empty()) return Status::OK();
      after = list.objects.back().key;
    }
  };
  auto unreferenced = [&](const ObjectMeta& o) { return referenced.count(o.key) == 0; };
  GANNET_RETURN_IF_ERROR(sweep(keys_.base() + "segments/", unreferenced));
  GANNET_RETURN_IF_ERROR(sweep(keys_.base() + "deletes/", unreferenced));
  // WAL entries folded into segments.
  GANNET_RETURN_IF_ERROR(sweep(keys_.wal_prefix(), [&](const ObjectMeta& o) {
    std::optional<uint64_t> seq = keys_.ParseWalKey(o.key);
    return seq && *seq <= m.indexed_through;
  }));
  gc_waiting_.store(waiting, std::memory_order_relaxed);
  return Status::OK();
}

bool NamespaceImpl::GcDue() {
  std::lock_guard<std::mutex> l(maintenance_mu_);
  const auto every =
      std::max<std::chrono::milliseconds>(db_.options().gc_grace / 4, std::chrono::seconds(5));
  return Clock::now() - last_gc_ >= every;
}

void NamespaceImpl::MaybeMaintain() {
  SnapshotPtr snap = current();
  if (snap == nullptr) {
    // Dropped by the memory budget (or never loaded here): nothing to index or compact,
    // but garbage the last indexing left may still be waiting out its grace period.
    if (gc_waiting_.load(std::memory_order_relaxed) && GcDue()) CollectGarbage().IgnoreError();
    return;
  }
  // Segments a cold load read by range are loaded whole first (queries meanwhile read
  // by range), and before compaction, which seeds its clustering from a whole index.
  if (WarmUp().ok()) snap = current();
  if (snap == nullptr) return;
  const DatabaseOptions& opts = db_.options();
  const uint64_t tail_rows = snap->tail_rows();
  const int64_t now = db_.NowMs();
  const bool idle = now - snap->updated_ms >= opts.index_idle.count();
  const bool lagging =
      !snap->tail.empty() && now - snap->tail.front()->created_ms >= opts.index_max_lag.count();
  if (tail_rows >= opts.index_tail_rows || (tail_rows > 0 && (idle || lagging))) {
    IndexNow().IgnoreError();  // retried on the next round; queries stay correct meanwhile
  }
  snap = current();  // null when the memory budget dropped it meanwhile
  if (snap != nullptr && !CompactionInputs(*snap, opts, false).empty()) {
    Compact().IgnoreError();
  }
  snap = current();
  if (snap != nullptr && idle && SmallEnoughToMerge(*snap, opts.compact_small_bytes)) {
    CompactWith(true).IgnoreError();
  }
  snap = current();
  if (snap != nullptr && snap->manifest->version > 0 && GcDue()) CollectGarbage().IgnoreError();
}

}  // namespace gannet::db
