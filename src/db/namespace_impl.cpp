#include "db/namespace_impl.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "common/coding.h"
#include "common/limits.h"
#include "db/apply.h"
#include "db/database_impl.h"
#include "format/frame.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "model/validate.h"
#include "query/executor.h"

namespace gannet::db {
namespace {

using Clock = std::chrono::steady_clock;

// How often a reader re-reads the manifest (one GET) to pick up other processes'
// indexing, at most. See ManifestRefreshPeriod.
constexpr auto kManifestRefresh = std::chrono::milliseconds(1000);
// Eventual reads may serve a snapshot this old without asking the store.
constexpr auto kEventualStaleness = std::chrono::milliseconds(1000);
// New WAL entries fetched by GETs of the next sequence before a catch-up lists the rest.
constexpr int kProbesBeforeListing = 4;
// Attempts at one WAL PutIfAbsent whose outcome is unknown (timeouts).
constexpr int kPutAttempts = 6;
// Attempts at a whole commit that keeps losing sequence races.
constexpr int kCommitAttempts = 1000;

void Count(FetchStats* fs, uint64_t bytes) {
  if (fs == nullptr) return;
  ++fs->requests;
  fs->bytes += bytes;
}

void Backoff(int attempt) {
  const int ms = std::min(1 << std::min(attempt, 8), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::vector<bool> DecodeDeletedBitmap(const std::vector<uint32_t>& rows, size_t n) {
  std::vector<bool> bits(n, false);
  for (uint32_t r : rows) {
    if (r < n) bits[r] = true;
  }
  return bits;
}

}  // namespace

NamespaceImpl::NamespaceImpl(DatabaseImpl& db, std::string name)
    : db_(db), name_(std::move(name)), keys_(db.options().prefix, name_) {}

Stamp NamespaceImpl::Now() const { return Stamp{Clock::now(), db_.NowMs()}; }

bool NamespaceImpl::Expired(const Stamp& stamp, std::chrono::milliseconds period) const {
  if (stamp.ms == INT64_MIN) return true;
  const Stamp now = Now();
  const int64_t elapsed_ms = now.ms - stamp.ms;
  return now.steady - stamp.steady >= period || elapsed_ms >= period.count() || elapsed_ms < 0;
}

std::chrono::milliseconds NamespaceImpl::ManifestRefreshPeriod() const {
  const std::chrono::milliseconds grace = db_.options().gc_grace;
  if (grace.count() <= 0) return kManifestRefresh;  // single-process configuration
  return std::max(std::chrono::milliseconds(1), std::min(kManifestRefresh, grace / 4));
}

SnapshotPtr NamespaceImpl::current() const {
  std::lock_guard<std::mutex> l(mu_);
  return current_;
}

namespace {

// `snap` with the segments that `current` holds loaded whole in place of the same segments
// loaded by range (a warm-up swapped them into `current` after `snap` was built from a
// snapshot that had them cold); `snap` itself when there are none.
SnapshotPtr KeepWarm(SnapshotPtr snap, const Snapshot& current) {
  std::vector<LoadedSegmentPtr> segments = snap->segments;
  bool replaced = false;
  for (LoadedSegmentPtr& s : segments) {
    if (!s->cold()) continue;
    for (const LoadedSegmentPtr& w : current.segments) {
      if (!w->cold() && w->ref.id == s->ref.id && w->ref.deletes_key == s->ref.deletes_key &&
          w->ref.vector_index == s->ref.vector_index && w->ref.text_index == s->ref.text_index) {
        s = w;
        replaced = true;
        break;
      }
    }
  }
  return replaced ? WithSegments(*snap, std::move(segments)) : snap;
}

}  // namespace

void NamespaceImpl::Publish(SnapshotPtr snap) {
  uint64_t bytes = snap->approx_memory_bytes();
  last_use_.store(db_.NextUse(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (current_ == nullptr || snap->head > current_->head ||
        (snap->head == current_->head && snap->manifest->version > current_->manifest->version)) {
      if (current_ != nullptr) {
        SnapshotPtr kept = KeepWarm(snap, *current_);
        if (kept != snap) bytes = kept->approx_memory_bytes();
        snap = std::move(kept);
      }
      current_ = std::move(snap);
      current_bytes_ = bytes;
    }
  }
  db_.Account(this);
}

void NamespaceImpl::Reset() {
  {
    std::lock_guard<std::mutex> l(mu_);
    current_ = nullptr;
    current_bytes_ = 0;
    last_manifest_load_ = Stamp{};
    std::lock_guard<std::mutex> c(commit_mu_);
    catalog_written_ = false;
  }
  db_.Account(this);
}

NamespaceImpl::Footprint NamespaceImpl::footprint() const {
  std::lock_guard<std::mutex> l(mu_);
  Footprint f;
  f.bytes = current_bytes_;
  f.last_use = last_use_.load(std::memory_order_relaxed);
  f.evictable = current_ != nullptr && current_->tail.empty() &&
                CompactionInputs(*current_, db_.options(), false).empty();
  return f;
}

bool NamespaceImpl::DropSnapshot(SnapshotPtr* dropped) {
  std::lock_guard<std::mutex> l(mu_);
  if (current_ == nullptr) return true;
  if (!current_->tail.empty() || !CompactionInputs(*current_, db_.options(), false).empty()) {
    return false;
  }
  *dropped = std::move(current_);
  current_ = nullptr;
  current_bytes_ = 0;
  last_manifest_load_ = Stamp{};
  gc_waiting_.store(true, std::memory_order_relaxed);
  return true;
}

// ---------------------------------------------------------------------------------------
// Read path
// ---------------------------------------------------------------------------------------

Result<SnapshotPtr> NamespaceImpl::Refresh(FetchStats* fs) {
  last_use_.store(db_.NextUse(), std::memory_order_relaxed);
  // Any refresh that starts after this point sees every write acknowledged before it.
  const uint64_t arrived = refresh_started_.load();
  std::lock_guard<std::mutex> rl(refresh_mu_);
  if (refresh_completed_.load() > arrived) {
    if (SnapshotPtr s = current()) {
      if (fs) ++fs->cache_hits;
      return s;
    }
  }
  const uint64_t mine = ++refresh_started_;
  SnapshotPtr snap = current();
  bool manifest_due;
  {
    std::lock_guard<std::mutex> l(mu_);
    manifest_due = snap == nullptr || Expired(last_manifest_load_, ManifestRefreshPeriod());
  }
  for (int attempt = 0;; ++attempt) {
    std::optional<Result<GetResult>> probe;
    if (manifest_due) {
      GANNET_ASSIGN_OR_RETURN(snap, LoadManifest(snap, fs, &probe));
      std::lock_guard<std::mutex> l(mu_);
      last_manifest_load_ = Now();
    }
    Result<SnapshotPtr> r = CatchUp(snap, fs, std::move(probe));
    if (r.ok()) {
      snap = std::move(r).value();
      break;
    }
    // A WAL entry vanished: it was indexed and collected by another process. Re-read
    // the manifest, which now covers it, and continue from there.
    if (r.status().IsNotFound() && attempt < 3) {
      manifest_due = true;
      continue;
    }
    if (r.status().IsNotFound()) {
      return Status::Corruption(r.status().message() + ", and the manifest does not cover it");
    }
    return r.status();
  }
  Publish(snap);
  {
    std::lock_guard<std::mutex> l(mu_);
    last_refresh_ = Now();
  }
  refresh_completed_.store(mine);
  // The newest snapshot (another thread may have published a newer one), or ours when
  // the memory budget dropped it already.
  SnapshotPtr newest = current();
  return newest != nullptr ? newest : snap;
}

Result<SnapshotPtr> NamespaceImpl::CachedOrRefresh(FetchStats* fs) {
  last_use_.store(db_.NextUse(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (current_ != nullptr && !Expired(last_refresh_, kEventualStaleness)) {
      if (fs) ++fs->cache_hits;
      return current_;
    }
  }
  return Refresh(fs);
}

namespace {

// How one segment of a newly read manifest is obtained: reused whole from the previous
// snapshot, or assembled from reused parts plus objects fetched in the shared wave, or
// (cold) from ranges of its objects (ColdLoads).
struct SegmentLoad {
  const format::SegmentRef* ref = nullptr;
  LoadedSegmentPtr whole;  // unchanged since the previous snapshot
  std::shared_ptr<const format::Segment> segment;
  std::shared_ptr<const std::vector<float>> norms;
  std::shared_ptr<const index::IvfIndex> ann;
  std::shared_ptr<const index::TextIndex> text;
  const std::vector<bool>* deleted = nullptr;  // reused (a warm-up), else from deletes_at
  int segment_at = -1, deletes_at = -1, index_at = -1, text_at = -1;  // in the fetch list
  // A cold load: segment_at is the segment's first bytes, tail_at its bytes after the
  // vectors and index_at the first bytes of its index (ColdLoads reads the rest).
  bool cold = false;
  int tail_at = -1;
};

// The fetch stats of the query this thread is executing (RunQuery), which the ranged reads
// of segments and indexes add to: a query's re-rank rows, a cold query's posting lists.
thread_local FetchStats* t_query_fetches = nullptr;

// Cold reads of posting lists closer than this are read as one range: on a bucket a
// request costs more than the bytes between two lists (256 KiB: about 2.5 ms of a
// connection's transfer at 100 MB/s). Re-rank rows are few and far apart, and a merge
// would mostly read rows nobody asked for: theirs merge only across small gaps.
constexpr uint64_t kColdListGap = 256 << 10;
constexpr uint64_t kColdRowGap = 16 << 10;
// ... up to this many bytes a read, so that a probe's reads still go out in parallel.
constexpr uint64_t kColdReadMax = 8 << 20;

// Reads byte ranges of the object `key` of `store`, in one batch. `range_only`: cold
// reads, which a cache tier does not turn into a fetch of the whole object, and which are
// read as one when at most `gap` bytes apart.
format::SegmentRangeReader RangeReaderOf(ObjectStorePtr store, std::string key,
                                         bool range_only = false, uint64_t gap = 0) {
  return [store = std::move(store), key = std::move(key), range_only, gap](
             const std::vector<ByteRange>& ranges, std::vector<std::string>* out) {
    // The reads: each range's read and its offset in it.
    std::vector<ByteRange> reads;
    std::vector<std::pair<size_t, uint64_t>> where(ranges.size());
    std::vector<size_t> order(ranges.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (range_only) {
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return ranges[a].offset < ranges[b].offset; });
    }
    for (size_t i : order) {
      const ByteRange& r = ranges[i];
      if (range_only && !reads.empty()) {
        ByteRange& last = reads.back();
        const uint64_t end = std::max(last.offset + last.length, r.offset + r.length);
        if (r.offset <= last.offset + last.length + gap && end - last.offset <= kColdReadMax) {
          last.length = end - last.offset;
          where[i] = {reads.size() - 1, r.offset - last.offset};
          continue;
        }
      }
      where[i] = {reads.size(), 0};
      reads.push_back(r);
    }
    std::vector<GetRequest> requests;
    requests.reserve(reads.size());
    for (const ByteRange& r : reads) requests.push_back({key, r, range_only});
    std::vector<Result<GetResult>> got = store->GetMany(requests);
    if (FetchStats* fs = t_query_fetches; fs != nullptr) {
      ++fs->round_trips;
      for (const Result<GetResult>& g : got) {
        if (g.ok() && g->from_cache) {
          ++fs->cache_hits;
        } else {
          Count(fs, g.ok() ? g->data.size() : 0);
        }
      }
    }
    for (Result<GetResult>& g : got) {
      if (!g.ok()) return g.status().WithContext(key);
    }
    out->clear();
    out->reserve(ranges.size());
    for (size_t i = 0; i < ranges.size(); ++i) {
      const std::string& data = got[where[i].first]->data;
      // Truncated at the object's end, as a read of the range alone would be.
      const uint64_t at = std::min<uint64_t>(where[i].second, data.size());
      out->push_back(data.substr(at, std::min<uint64_t>(ranges[i].length, data.size() - at)));
    }
    return Status::OK();
  };
}

// The segment object `bytes` of `ref`, decoded; a segment with a vector index keeps its
// vectors in `store` unless `resident_vectors`.
Result<std::shared_ptr<const format::Segment>> DecodeSegmentObject(const Keys& keys,
                                                                   const format::SegmentRef& ref,
                                                                   std::string_view bytes,
                                                                   const ObjectStorePtr& store,
                                                                   bool resident_vectors) {
  format::SegmentDecodeOptions options;
  if (!resident_vectors && ref.vector_index) {
    options.vector_reader = RangeReaderOf(store, keys.segment(ref.id));
  }
  Result<std::shared_ptr<const format::Segment>> seg = format::Segment::Decode(bytes, options);
  if (!seg.ok()) return seg.status().WithContext("segment " + keys.segment(ref.id));
  return seg;
}

// Builds a LoadedSegment from reused parts and the fetched objects of `l`. A segment
// with a vector index keeps its vectors in `store` unless `resident_vectors`.
Result<LoadedSegmentPtr> AssembleSegment(const Keys& keys, SegmentLoad& l,
                                         std::vector<Result<GetResult>>& got,
                                         const ObjectStorePtr& store, bool resident_vectors,
                                         int threads = 1) {
  const format::SegmentRef& ref = *l.ref;
  if (l.segment_at >= 0) {
    Result<GetResult>& g = got[l.segment_at];
    if (!g.ok()) return g.status();
    GANNET_ASSIGN_OR_RETURN(l.segment,
                            DecodeSegmentObject(keys, ref, g->data, store, resident_vectors));
  }
  std::vector<bool> deleted;
  if (l.deleted != nullptr) deleted = *l.deleted;
  if (l.deletes_at >= 0) {
    Result<GetResult>& g = got[l.deletes_at];
    if (!g.ok()) return g.status();
    Result<std::vector<uint32_t>> rows = format::DecodeDeletionVector(g->data);
    if (!rows.ok()) return rows.status().WithContext(ref.deletes_key);
    deleted = DecodeDeletedBitmap(*rows, l.segment->rows());
  }
  if (l.index_at >= 0) {
    const std::string key = keys.vector_index(ref.id);
    Result<GetResult>& g = got[l.index_at];
    if (!g.ok()) return g.status();
    Result<std::shared_ptr<const index::IvfIndex>> decoded =
        index::IvfIndex::Decode(g->data, /*keep_sq8_codes=*/false, threads);
    if (!decoded.ok()) return decoded.status().WithContext(key);
    l.ann = std::move(decoded).value();
  }
  if (l.ann != nullptr) {
    GANNET_RETURN_IF_ERROR(l.ann->CheckCompatible(l.segment->rows(), l.segment->dims())
                               .WithContext(keys.vector_index(ref.id)));
  }
  if (l.text_at >= 0) {
    const std::string key = keys.text_index(ref.id);
    Result<GetResult>& g = got[l.text_at];
    if (!g.ok()) return g.status();
    Result<std::shared_ptr<const index::TextIndex>> decoded =
        index::TextIndex::Decode(g->data, l.segment->rows());
    if (!decoded.ok()) return decoded.status().WithContext(key);
    l.text = std::move(decoded).value();
  }
  return LoadedSegmentPtr(MakeLoadedSegment(ref, std::move(l.segment), std::move(deleted),
                                            std::move(l.norms), std::move(l.ann),
                                            std::move(l.text)));
}

// Threads decoding loads beside the loading ones, across the process: at most the usable
// cores (UsableCores: a container's CPU quota counts) less one (kMaxAssembleThreads at
// most), so that many namespaces loading at once (a
// server's first minutes) share the cores instead of starting threads each.
constexpr unsigned kMaxAssembleThreads = 8;
std::atomic<int> g_assemble_helpers{0};

// Up to `want` helper threads from the budget (0 when it is spent); give them back with
// ReturnAssembleHelpers.
int TakeAssembleHelpers(int want) {
  const int cap = static_cast<int>(std::clamp(UsableCores(), 1u, kMaxAssembleThreads)) - 1;
  int held = g_assemble_helpers.load();
  for (;;) {
    const int grant = std::min(want, cap - held);
    if (grant <= 0) return 0;
    if (g_assemble_helpers.compare_exchange_weak(held, held + grant)) return grant;
  }
}
void ReturnAssembleHelpers(int n) { g_assemble_helpers.fetch_sub(n); }

// AssembleSegment for each of `loads` on the calling thread and the helpers the budget
// grants: decoding is most of a load's CPU (a vector index derives its one-bit and
// four-bit codes, ~3 µs a row at 384 dimensions), and the segments are independent.
// Fewer segments than threads: each index's derivation gets the threads left. Results in
// the order of `loads`.
std::vector<Result<LoadedSegmentPtr>> AssembleAll(const Keys& keys,
                                                  const std::vector<SegmentLoad*>& loads,
                                                  std::vector<Result<GetResult>>& got,
                                                  const ObjectStorePtr& store,
                                                  bool resident_vectors) {
  std::vector<Result<LoadedSegmentPtr>> out(loads.size(), Status::Internal("not assembled"));
  if (loads.empty()) return out;
  const int helpers = TakeAssembleHelpers(static_cast<int>(kMaxAssembleThreads) - 1);
  const size_t total = static_cast<size_t>(helpers) + 1;
  const size_t threads = std::min(loads.size(), total);
  const int inner = static_cast<int>(std::max<size_t>(1, total / loads.size()));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < loads.size();) {
      out[i] = AssembleSegment(keys, *loads[i], got, store, resident_vectors, inner);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: those running share the loads
    }
  }
  work();
  for (std::thread& t : pool) t.join();
  ReturnAssembleHelpers(helpers);
  return out;
}

// What a cold load reads of a segment with its other fetches: its first bytes, up to
// about where its vectors start (the id and presence blocks: a guess by the id type), and
// everything after where its vectors end at the latest (the chunk checksums, the columns,
// the directory). What the guess missed is read next (ColdLoads): a round trip, where
// guessing long reads the first vectors for nothing.
struct ColdRanges {
  ByteRange head, tail;
};
ColdRanges ColdRangesOf(const format::SegmentRef& ref, const Schema& schema,
                        const AttrType& vector_type) {
  const uint64_t elem = vector_type.elem == VectorElem::kF16 ? 2 : 4;
  const uint64_t vectors = ref.rows * vector_type.dims * elem;
  // Bytes an id takes: uint ids are varint gaps (1 byte when dense), uuids 16, strings
  // front-coded (a guess).
  const ScalarType id_type = schema.id_type.value_or(ScalarType::kString);
  const uint64_t id_bytes = id_type == ScalarType::kUint   ? 3
                            : id_type == ScalarType::kUuid ? 17
                                                           : 32;
  const uint64_t head =
      std::min(ref.bytes, format::kFrameHeaderBytes + id_bytes * ref.rows + ref.rows / 8 + 4096);
  // The vectors start at kFrameHeaderBytes at the earliest.
  const uint64_t after = format::kFrameHeaderBytes + vectors;
  const uint64_t tail_at =
      after < ref.bytes ? std::min(after, ref.bytes - format::kSegmentTailBytes) : 0;
  return {ByteRange{0, head}, ByteRange{tail_at, ref.bytes - tail_at}};
}

// The rest of the cold loads of one manifest, after their first reads (shared with the
// load's other fetches): whatever of the segment's directory and blocks but the vectors
// those reads missed, and the rest of its index's head, in as few waves as that takes
// (usually none). A segment whose index has no head (format version 1 or 2) or whose
// vectors have no chunk checksums (version 1) is read whole instead.
class ColdLoads {
 public:
  ColdLoads(const Keys& keys, ObjectStorePtr store, bool resident_vectors)
      : keys_(keys), store_(std::move(store)), resident_vectors_(resident_vectors) {}

  // Takes `l`'s first reads from `got`.
  Status Start(SegmentLoad& l, std::vector<Result<GetResult>>& got) {
    One o;
    o.l = &l;
    const format::SegmentRef& ref = *l.ref;
    for (int at : {l.segment_at, l.tail_at, l.index_at}) {
      if (!got[at].ok()) return got[at].status();
    }
    const std::string key = keys_.segment(ref.id);
    for (int at : {l.segment_at, l.tail_at}) {
      if (got[at]->meta.size != ref.bytes) {
        return Status::Corruption(key + ": " + std::to_string(got[at]->meta.size) +
                                  " bytes, its manifest says " + std::to_string(ref.bytes));
      }
    }
    const std::string& first = got[l.segment_at]->data;
    if (first.size() < format::kFrameHeaderBytes) return Status::Corruption(key + ": truncated");
    o.header = first.substr(0, format::kFrameHeaderBytes);
    const std::string& last = got[l.tail_at]->data;
    if (last.size() < format::kSegmentTailBytes) return Status::Corruption(key + ": truncated");
    o.known.emplace_back(0, std::move(got[l.segment_at]->data));
    o.known.emplace_back(ref.bytes - last.size(), std::move(got[l.tail_at]->data));
    o.head = std::move(got[l.index_at]->data);
    o.index_size = got[l.index_at]->meta.size;
    l.segment_at = l.tail_at = l.index_at = -1;  // AssembleSegment takes the parts decoded
    Result<format::FrameHeader> header =
        format::ParseFrameHeader(format::ObjectKind::kSegment, o.header, ref.bytes);
    if (!header.ok()) return header.status().WithContext(key);
    const std::string& tail = o.known.back().second;
    GANNET_ASSIGN_OR_RETURN(
        o.loc,
        format::LocateSegmentDirectory(
            std::string_view(tail).substr(tail.size() - format::kSegmentTailBytes), ref.bytes));
    std::string dir_bytes;
    if (o.Known({o.loc.offset, o.loc.length}, &dir_bytes)) {
      GANNET_RETURN_IF_ERROR(o.SetDir(key, dir_bytes));
    }
    Result<uint64_t> need = index::IvfIndex::HeadPrefixBytes(o.head, o.index_size);
    if (!need.ok()) return need.status().WithContext(keys_.vector_index(ref.id));
    o.head_need = *need;
    o.whole = header->version < 2 || o.head_need == 0;
    loads_.push_back(std::move(o));
    return Status::OK();
  }

  // Reads the rest and sets each load's segment and ann.
  Status Finish(FetchStats* fs) {
    for (;;) {
      std::vector<GetRequest> requests;
      std::vector<std::function<Status(GetResult&)>> then;
      for (One& o : loads_) Plan(o, requests, then);
      if (requests.empty()) break;
      std::vector<Result<GetResult>> got = store_->GetMany(requests);
      if (fs != nullptr) ++fs->round_trips;
      for (size_t i = 0; i < got.size(); ++i) {
        Count(fs, got[i].ok() ? got[i]->data.size() : 0);
        if (!got[i].ok()) return got[i].status().WithContext(requests[i].key);
        GANNET_RETURN_IF_ERROR(then[i](*got[i]));
      }
    }
    for (One& o : loads_) GANNET_RETURN_IF_ERROR(Decode(o));
    return Status::OK();
  }

 private:
  struct One {
    SegmentLoad* l = nullptr;
    std::string header;  // the segment's frame header
    // Byte ranges of the segment read so far: (offset, bytes).
    std::vector<std::pair<uint64_t, std::string>> known;
    format::SegmentDirectoryLocation loc;
    std::optional<format::SegmentDirectory> dir;
    std::vector<std::string> blocks;  // SegmentBlocksWithoutVectors(*dir)
    std::vector<bool> have;           // which of them
    std::string head;                 // the index's first bytes, then its head
    uint64_t index_size = 0, head_need = 0;
    bool whole = false;                      // read both objects whole instead
    std::string whole_segment, whole_index;  // then

    // Copies range `r` of the segment into *out when a read so far holds it.
    bool Known(ByteRange r, std::string* out) const {
      for (const auto& [at, bytes] : known) {
        if (r.offset >= at && r.offset + r.length <= at + bytes.size()) {
          *out = bytes.substr(r.offset - at, r.length);
          return true;
        }
      }
      return false;
    }
    // Decodes the directory; takes the blocks the reads so far hold.
    Status SetDir(const std::string& key, std::string_view bytes) {
      Result<format::SegmentDirectory> d = format::DecodeSegmentDirectory(bytes, loc);
      if (!d.ok()) return d.status().WithContext(key);
      dir = std::move(d).value();
      const std::vector<ByteRange> ranges = format::SegmentBlocksWithoutVectors(*dir);
      blocks.resize(ranges.size());
      have.assign(ranges.size(), false);
      for (size_t i = 0; i < ranges.size(); ++i) have[i] = Known(ranges[i], &blocks[i]);
      return Status::OK();
    }
  };

  // The requests `o` still needs, with what to do with each answer.
  void Plan(One& o, std::vector<GetRequest>& requests,
            std::vector<std::function<Status(GetResult&)>>& then) {
    const format::SegmentRef& ref = *o.l->ref;
    const std::string seg_key = keys_.segment(ref.id), index_key = keys_.vector_index(ref.id);
    if (o.whole) {
      if (!o.whole_segment.empty()) return;
      requests.push_back({seg_key, std::nullopt});
      then.push_back([&o](GetResult& g) {
        o.whole_segment = std::move(g.data);
        return Status::OK();
      });
      requests.push_back({index_key, std::nullopt});
      then.push_back([&o](GetResult& g) {
        o.whole_index = std::move(g.data);
        return Status::OK();
      });
      return;
    }
    if (!o.dir) {
      requests.push_back({seg_key, ByteRange{o.loc.offset, o.loc.length}, true});
      then.push_back([&o, seg_key](GetResult& g) { return o.SetDir(seg_key, g.data); });
    } else {
      const std::vector<ByteRange> ranges = format::SegmentBlocksWithoutVectors(*o.dir);
      for (size_t i = 0; i < ranges.size(); ++i) {
        if (o.have[i]) continue;
        o.have[i] = true;  // asked for now (a failed read fails the load)
        requests.push_back({seg_key, ranges[i], true});
        then.push_back([&o, i](GetResult& g) {
          o.blocks[i] = std::move(g.data);
          return Status::OK();
        });
      }
    }
    if (o.head.size() < o.head_need) {
      requests.push_back({index_key, ByteRange{o.head.size(), o.head_need - o.head.size()}, true});
      then.push_back([&o](GetResult& g) {
        o.head += g.data;
        return Status::OK();
      });
    }
  }

  Status Decode(One& o) {
    SegmentLoad& l = *o.l;
    const format::SegmentRef& ref = *l.ref;
    const std::string seg_key = keys_.segment(ref.id), index_key = keys_.vector_index(ref.id);
    if (o.whole) {
      GANNET_ASSIGN_OR_RETURN(
          l.segment, DecodeSegmentObject(keys_, ref, o.whole_segment, store_, resident_vectors_));
      Result<std::shared_ptr<const index::IvfIndex>> ann =
          index::IvfIndex::Decode(o.whole_index, /*keep_sq8_codes=*/false);
      if (!ann.ok()) return ann.status().WithContext(index_key);
      l.ann = std::move(ann).value();
      return Status::OK();
    }
    format::SegmentDecodeOptions options;
    options.vector_reader = RangeReaderOf(store_, seg_key, /*range_only=*/true, kColdRowGap);
    Result<std::shared_ptr<const format::Segment>> seg =
        format::Segment::DecodeWithoutVectors(o.header, ref.bytes, *o.dir, o.blocks, options);
    if (!seg.ok()) return seg.status().WithContext(seg_key);
    l.segment = std::move(seg).value();
    Result<std::shared_ptr<const index::IvfIndex>> ann = index::IvfIndex::DecodeHead(
        o.head, o.index_size, RangeReaderOf(store_, index_key, /*range_only=*/true, kColdListGap));
    if (!ann.ok()) return ann.status().WithContext(index_key);
    l.ann = std::move(ann).value();
    return Status::OK();
  }

  const Keys& keys_;
  ObjectStorePtr store_;
  bool resident_vectors_;
  std::vector<One> loads_;
};

}  // namespace

Result<std::shared_ptr<const format::Segment>> NamespaceImpl::RangedTwin(
    std::string_view bytes, const format::SegmentRef& ref, uint32_t dims) {
  if (db_.options().resident_indexed_vectors || dims == 0 || db_.options().ann_min_rows == 0) {
    return std::shared_ptr<const format::Segment>();
  }
  const std::string key = keys_.segment(ref.id);
  format::SegmentDecodeOptions options;
  options.vector_reader = RangeReaderOf(db_.store(), key);
  Result<std::shared_ptr<const format::Segment>> seg = format::Segment::Decode(bytes, options);
  if (!seg.ok()) return seg.status().WithContext(key);
  return seg;
}

Result<SnapshotPtr> NamespaceImpl::LoadManifest(const SnapshotPtr& old, FetchStats* fs,
                                                std::optional<Result<GetResult>>* probe) {
  ObjectStore& store = *db_.store();
  const DatabaseOptions& opts = db_.options();
  for (int attempt = 0;; ++attempt) {
    auto manifest = std::make_shared<format::Manifest>();
    std::string etag;
    Result<GetResult> g = store.Get(keys_.manifest());
    if (fs) ++fs->round_trips;
    if (g.ok()) {
      Count(fs, g->data.size());
      Result<format::Manifest> m = format::DecodeManifest(g->data);
      if (!m.ok()) return m.status().WithContext(keys_.manifest());
      *manifest = std::move(m).value();
      etag = g->meta.etag;
    } else if (!g.status().IsNotFound()) {
      return g.status();
    } else {
      Count(fs, 0);
    }
    if (old != nullptr && manifest->version <= old->manifest->version) return old;

    auto snap = std::make_shared<Snapshot>();
    snap->manifest = manifest;
    snap->manifest_etag = etag;
    snap->schema = manifest->schema;
    snap->head = manifest->indexed_through;
    snap->created_ms = manifest->created_ms;
    snap->updated_ms = manifest->updated_ms;
    // Keep the already-applied tail entries the new manifest does not cover.
    if (old != nullptr && old->head > manifest->indexed_through) {
      for (const AppliedEntryPtr& e : old->tail) {
        if (e->sequence > manifest->indexed_through) snap->tail.push_back(e);
      }
      snap->head = old->head;
      snap->schema = old->schema;
      snap->updated_ms = std::max(snap->updated_ms, old->updated_ms);
    }
    if (snap->created_ms == 0 && old != nullptr) snap->created_ms = old->created_ms;
    const AttributeSchema* vector_attr = manifest->schema.Find(kVectorAttr);
    const uint32_t dims = vector_attr != nullptr ? vector_attr->type.dims : 0;

    // Plan: reuse what the previous snapshot has, fetch the rest in one wave together
    // with the probe for the next WAL entry.
    std::vector<SegmentLoad> loads(manifest->segments.size());
    std::vector<GetRequest> requests;
    auto fetch = [&requests](std::string key, std::optional<ByteRange> range = std::nullopt) {
      requests.push_back({std::move(key), range, /*range_only=*/range.has_value()});
      return static_cast<int>(requests.size() - 1);
    };
    for (size_t i = 0; i < loads.size(); ++i) {
      SegmentLoad& l = loads[i];
      const format::SegmentRef& ref = manifest->segments[i];
      l.ref = &ref;
      if (old != nullptr) {
        for (const LoadedSegmentPtr& s : old->segments) {
          if (s->ref.id != ref.id) continue;
          if (s->ref.deletes_key == ref.deletes_key && s->ref.vector_index == ref.vector_index &&
              s->ref.text_index == ref.text_index) {
            l.whole = s;
          } else {
            l.segment = s->segment;
            l.norms = s->norms;
            if (ref.vector_index) l.ann = s->ann;
            if (ref.text_index) l.text = s->text;
          }
          break;
        }
      }
      if (l.whole != nullptr) {
        if (fs) ++fs->cache_hits;
        continue;
      }
      // A large indexed segment not in memory is loaded by range (ColdLoads): what a
      // query needs first, the whole objects later (WarmUp).
      l.cold = l.segment == nullptr && ref.vector_index && dims > 0 &&
               opts.cold_load_min_bytes > 0 && ref.bytes >= opts.cold_load_min_bytes &&
               opts.background_indexing;
      if (l.cold) {
        const ColdRanges ranges = ColdRangesOf(ref, manifest->schema, vector_attr->type);
        l.segment_at = fetch(keys_.segment(ref.id), ranges.head);
        l.tail_at = fetch(keys_.segment(ref.id), ranges.tail);
        l.index_at = fetch(keys_.vector_index(ref.id),
                           ByteRange{0, index::IvfIndex::HeadBytesGuess(ref.rows, dims)});
      } else if (l.segment == nullptr) {
        l.segment_at = fetch(keys_.segment(ref.id));
      } else if (fs) {
        ++fs->cache_hits;
      }
      if (!ref.deletes_key.empty()) l.deletes_at = fetch(ref.deletes_key);
      if (ref.vector_index && l.ann == nullptr && !l.cold) {
        l.index_at = fetch(keys_.vector_index(ref.id));
      }
      if (ref.text_index && l.text == nullptr) l.text_at = fetch(keys_.text_index(ref.id));
    }
    const size_t probe_at = requests.size();
    if (probe != nullptr) fetch(keys_.wal(snap->head + 1));
    // One round trip: the store sends the batch at once (curl multi on S3).
    std::vector<Result<GetResult>> got = store.GetMany(requests);
    if (fs && !requests.empty()) ++fs->round_trips;
    for (const Result<GetResult>& r : got) {
      if (r.ok() && r->from_cache) {
        if (fs) ++fs->cache_hits;  // a cache tier answered: no object-store request
      } else {
        Count(fs, r.ok() ? r->data.size() : 0);
      }
    }
    if (probe != nullptr) *probe = std::move(got[probe_at]);

    // Assemble.
    ColdLoads cold(keys_, db_.store(), opts.resident_indexed_vectors);
    Status st;
    for (SegmentLoad& l : loads) {
      if (l.cold && st.ok()) st = cold.Start(l, got);
    }
    if (st.ok()) st = cold.Finish(fs);
    std::vector<SegmentLoad*> to_assemble;
    for (SegmentLoad& l : loads) {
      if (l.whole == nullptr) to_assemble.push_back(&l);
    }
    std::vector<Result<LoadedSegmentPtr>> assembled;
    if (st.ok()) {
      assembled = AssembleAll(keys_, to_assemble, got, db_.store(), opts.resident_indexed_vectors);
    }
    size_t next_assembled = 0;
    for (SegmentLoad& l : loads) {
      if (!st.ok()) break;
      if (l.whole != nullptr) {
        snap->segments.push_back(l.whole);
        continue;
      }
      Result<LoadedSegmentPtr>& s = assembled[next_assembled++];
      if (!s.ok()) {
        st = s.status();
        break;
      }
      snap->segments.push_back(std::move(s).value());
    }
    if (!st.ok()) {
      // Collected between our manifest read and this read: the manifest moved on.
      if (st.IsNotFound() && attempt < 3) continue;
      return st;
    }
    return SnapshotPtr(std::move(snap));
  }
}

Status NamespaceImpl::WarmUp() {
  SnapshotPtr snap = current();
  if (snap == nullptr) return Status::OK();
  std::vector<LoadedSegmentPtr> cold;
  for (const LoadedSegmentPtr& s : snap->segments) {
    if (s->cold()) cold.push_back(s);
  }
  // One segment at a time (the objects of one in memory at once), each swapped in as soon
  // as it is loaded; whole objects, through the cache tiers (which keep them for the next
  // load).
  for (const LoadedSegmentPtr& c : cold) {
    std::vector<Result<GetResult>> got = db_.store()->GetMany(
        {{keys_.segment(c->ref.id), std::nullopt}, {keys_.vector_index(c->ref.id), std::nullopt}});
    SegmentLoad l;
    l.ref = &c->ref;
    l.segment_at = 0;
    l.index_at = 1;
    l.deleted = &c->deleted;
    l.text = c->text;
    GANNET_ASSIGN_OR_RETURN(
        LoadedSegmentPtr warm,
        AssembleSegment(keys_, l, got, db_.store(), db_.options().resident_indexed_vectors));
    got.clear();
    {
      // In place of the cold segment in the newest snapshot (a refresh may have published
      // one since, with or without it).
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ == nullptr) return Status::OK();
      auto it = std::find(current_->segments.begin(), current_->segments.end(), c);
      if (it == current_->segments.end()) continue;
      std::vector<LoadedSegmentPtr> segments = current_->segments;
      segments[static_cast<size_t>(it - current_->segments.begin())] = std::move(warm);
      SnapshotPtr next = WithSegments(*current_, std::move(segments));
      current_bytes_ = next->approx_memory_bytes();
      current_ = std::move(next);
    }
    db_.Account(this);
  }
  return Status::OK();
}

Result<SnapshotPtr> NamespaceImpl::ApplyWalObject(const Snapshot& base, uint64_t seq,
                                                  std::string_view bytes) {
  Result<format::WalEntry> entry = format::DecodeWalEntry(bytes);
  if (!entry.ok()) return entry.status().WithContext(keys_.wal(seq));
  if (entry->sequence != seq) {
    return Status::Corruption(keys_.wal(seq) + ": holds sequence " +
                              std::to_string(entry->sequence));
  }
  GANNET_ASSIGN_OR_RETURN(AppliedEntryPtr applied, ApplyEntry(*entry, base, bytes.size()));
  return SnapshotPtr(ExtendSnapshot(base, std::move(applied), entry->schema));
}

// A GET of the next sequence is the authority on whether an entry exists. Listings are
// only a shortcut through long backlogs: a directory listing is not atomic with
// concurrent creates, and can miss an entry while showing a later one.
Result<SnapshotPtr> NamespaceImpl::CatchUp(SnapshotPtr snap, FetchStats* fs,
                                           std::optional<Result<GetResult>> probe) {
  ObjectStore& store = *db_.store();
  int probes_left = kProbesBeforeListing;
  bool later_entry_seen = false;
  for (;;) {
    // In the common case (nothing new) this is the only request.
    const uint64_t next = snap->head + 1;
    Result<GetResult> g = Status::Internal("unset");
    if (probe.has_value()) {
      g = std::move(*probe);  // fetched with the segments, in the same round trip
      probe.reset();
    } else {
      g = store.Get(keys_.wal(next));
      Count(fs, g.ok() ? g->data.size() : 0);
      if (fs) ++fs->round_trips;
    }
    if (!g.ok()) {
      if (!g.status().IsNotFound()) return g.status();
      if (!later_entry_seen) return snap;
      // A later entry exists but this one does not: it was indexed and collected by
      // another process (our manifest is stale), or it is lost.
      return Status::NotFound("WAL entry " + std::to_string(next) + " of namespace '" + name_ +
                              "' is missing while later entries exist");
    }
    GANNET_ASSIGN_OR_RETURN(snap, ApplyWalObject(*snap, next, g->data));
    later_entry_seen = false;
    if (--probes_left > 0) continue;
    // A backlog: list what follows and fetch it in order.
    probes_left = kProbesBeforeListing;
    GANNET_ASSIGN_OR_RETURN(ListResult list,
                            store.List(keys_.wal_prefix(), keys_.wal(snap->head), 1000));
    Count(fs, 0);
    if (fs) ++fs->round_trips;
    for (const ObjectMeta& meta : list.objects) {
      std::optional<uint64_t> seq = keys_.ParseWalKey(meta.key);
      if (!seq || *seq <= snap->head) continue;
      if (*seq != snap->head + 1) {
        later_entry_seen = true;  // the probe above decides about the gap
        break;
      }
      GANNET_ASSIGN_OR_RETURN(GetResult e, store.Get(meta.key));
      Count(fs, e.data.size());
      if (fs) ++fs->round_trips;
      GANNET_ASSIGN_OR_RETURN(snap, ApplyWalObject(*snap, *seq, e.data));
    }
  }
}

Result<QueryResponse> NamespaceImpl::RunQuery(const QueryRequest& request, const SnapshotPtr& snap,
                                              const FetchStats& fs, Clock::time_point start) {
  if (snap->head == 0 && snap->manifest->version == 0) {
    return Status::NotFound("namespace '" + name_ + "' not found");
  }
  QueryRequest bound = request;
  GANNET_RETURN_IF_ERROR(query::BindQuery(bound, snap->schema));
  query::ExecInput in;
  in.schema = &snap->schema;
  for (const LoadedSegmentPtr& s : snap->segments) {
    in.segments.push_back(
        {s->segment.get(), &s->deleted, s->norms.get(), s->ann.get(),
         [s](const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer) {
           return s->TextField(attr, analyzer);
         }});
  }
  in.tail = &snap->tail_map();
  if (bound.rank_by.kind == RankBy::Kind::kText) {
    for (const AppliedEntryPtr& e : snap->tail) {
      in.tail_entries.push_back(
          {&e->changes,
           [e](const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer) {
             return e->text_cache->Get(attr, analyzer, [&] {
               return index::BuildTextFields(
                   static_cast<uint32_t>(e->changes.size()), {{attr, analyzer}},
                   [&e](uint32_t row, const std::string& a) -> const Value* {
                     const DocPtr& doc = e->changes[row].second;
                     return doc == nullptr ? nullptr : doc->Find(a);
                   })[0];
             });
           }});
    }
  }
  // The reads the execution makes by range count as this query's too.
  FetchStats all = fs;
  t_query_fetches = &all;
  Result<QueryResponse> executed = query::Execute(bound, in);
  t_query_fetches = nullptr;
  if (!executed.ok()) return executed.status();
  QueryResponse resp = std::move(executed).value();
  resp.stats.objects_fetched = all.requests;
  resp.stats.round_trips = all.round_trips;
  resp.stats.bytes_read = all.bytes;
  resp.stats.cache_hits = all.cache_hits;
  resp.stats.approx_namespace_size = snap->approx_rows();
  resp.stats.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return resp;
}

Result<QueryResponse> NamespaceImpl::Query(const QueryRequest& request) {
  const auto start = Clock::now();
  FetchStats fs;
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, request.consistency == Consistency::kEventual
                                                ? CachedOrRefresh(&fs)
                                                : Refresh(&fs));
  return RunQuery(request, snap, fs, start);
}

Result<std::vector<QueryResponse>> NamespaceImpl::MultiQuery(
    const std::vector<QueryRequest>& requests) {
  if (requests.empty()) return Status::InvalidArgument("queries: must not be empty");
  const auto start = Clock::now();
  FetchStats fs;
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, requests[0].consistency == Consistency::kEventual
                                                ? CachedOrRefresh(&fs)
                                                : Refresh(&fs));
  std::vector<QueryResponse> out;
  for (size_t i = 0; i < requests.size(); ++i) {
    Result<QueryResponse> r = RunQuery(requests[i], snap, fs, start);
    if (!r.ok()) return r.status().WithContext("queries[" + std::to_string(i) + "]");
    out.push_back(std::move(r).value());
  }
  return out;
}

Result<std::vector<Document>> NamespaceImpl::Get(const std::vector<Id>& ids) {
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, Refresh(nullptr));
  std::vector<Document> out;
  for (const Id& id : ids) {
    GANNET_ASSIGN_OR_RETURN(DocPtr d, snap->Lookup(id));
    if (d != nullptr) out.push_back(*d);
  }
  return out;
}

Result<NamespaceInfo> NamespaceImpl::Info() {
  GANNET_ASSIGN_OR_RETURN(SnapshotPtr snap, Refresh(nullptr));
  if (snap->head == 0 && snap->manifest->version == 0) {
    return Status::NotFound("namespace '" + name_ + "' not found");
  }
  NamespaceInfo info;
  info.name = name_;
  info.schema = snap->schema;
  info.approx_row_count = snap->approx_rows();
  for (const LoadedSegmentPtr& s : snap->segments) info.approx_logical_bytes += s->ref.bytes;
  for (const AppliedEntryPtr& e : snap->tail) info.approx_logical_bytes += e->encoded_bytes;
  info.created_at_ms = snap->created_ms;
  info.updated_at_ms = snap->updated_ms;
  info.wal_sequence = snap->head;
  info.indexed_sequence = snap->manifest->indexed_through;
  info.unindexed_rows = snap->tail_rows();
  info.segment_count = snap->segments.size();
  info.manifest_version = snap->manifest->version;
  info.memory_bytes = snap->approx_memory_bytes();
  return info;
}

Result<Schema> NamespaceImpl::GetSchema() {
  GANNET_ASSIGN_OR_RETURN(NamespaceInfo info, Info());
  return info.schema;
}

// ---------------------------------------------------------------------------------------
// Write path
// ---------------------------------------------------------------------------------------

Result<WriteResponse> NamespaceImpl::Write(WriteRequest request) {
  const DatabaseOptions& opts = db_.options();
  const size_t rows = request.upserts.size() + request.patches.size() + request.deletes.size();
  if (rows > opts.max_write_rows) {
    return Status::InvalidArgument("write has " + std::to_string(rows) + " rows; the limit is " +
                                   std::to_string(opts.max_write_rows));
  }
  if (request.empty()) {
    return Status::InvalidArgument("write request contains no operation");
  }
  // Fail fast against the schema we know; the committer re-validates against the
  // schema at the exact sequence it commits to.
  if (SnapshotPtr snap = current()) {
    WriteRequest copy = request;
    Schema schema = snap->schema;
    GANNET_RETURN_IF_ERROR(model::ValidateWrite(copy, schema));
  }
  Pending p;
  p.request = std::move(request);
  std::unique_lock<std::mutex> l(commit_mu_);
  queue_.push_back(&p);
  while (!p.done) {
    if (!committing_) {
      committing_ = true;
      std::vector<Pending*> batch(queue_.begin(), queue_.end());
      queue_.clear();
      l.unlock();
      CommitQueued(batch);
      l.lock();
      for (Pending* q : batch) q->done = true;
      committing_ = false;
      commit_cv_.notify_all();
    } else {
      commit_cv_.wait(l);
    }
  }
  return std::move(p.result);
}

Status NamespaceImpl::EnsureCatalogEntry() {
  {
    std::lock_guard<std::mutex> l(commit_mu_);
    if (catalog_written_) return Status::OK();
  }
  // The marker holds an empty, valid manifest frame so every stored object carries a
  // magic number, a version and a checksum; only its existence matters.
  format::Manifest marker;
  marker.created_ms = db_.NowMs();
  const std::string bytes = format::EncodeManifest(marker);
  Status st;
  for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
    Result<ObjectMeta> r = db_.store()->PutIfAbsent(keys_.catalog(), bytes);
    st = r.ok() || r.status().IsAlreadyExists() ? Status::OK() : r.status();
    if (!st.IsUnavailable()) break;
    Backoff(attempt);
  }
  if (st.ok()) {
    std::lock_guard<std::mutex> l(commit_mu_);
    catalog_written_ = true;
  }
  return st;
}

void NamespaceImpl::CommitQueued(std::vector<Pending*> batch) {
  auto fail_all = [&](const Status& st) {
    for (Pending* p : batch) {
      if (!p->settled) p->result = st;
    }
  };
  Status cat = EnsureCatalogEntry();
  if (!cat.ok()) return fail_all(cat.WithContext("registering namespace"));

  // Writers must start from a recent view so they never reuse a sequence number that
  // was collected; a refresh also gives them the schema at the head.
  SnapshotPtr snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (current_ != nullptr && !Expired(last_refresh_, ManifestRefreshPeriod())) snap = current_;
  }
  if (snap == nullptr) {
    Result<SnapshotPtr> r = Refresh(nullptr);
    if (!r.ok()) return fail_all(r.status());
    snap = std::move(r).value();
  }

  ObjectStore& store = *db_.store();
  for (int attempt = 0; attempt < kCommitAttempts; ++attempt) {
    format::WalEntry entry;
    entry.sequence = snap->head + 1;
    entry.writer_nonce = RandomBytes(16);
    entry.created_ms = db_.NowMs();
    entry.schema = snap->schema;
    std::vector<Pending*> accepted;
    for (Pending* p : batch) {
      if (p->settled) continue;
      WriteRequest req = p->request;
      Schema trial = entry.schema;
      Status st = model::ValidateWrite(req, trial);
      if (!st.ok()) {
        p->result = st;
        p->settled = true;  // rejected as a whole; nothing of it is written
        continue;
      }
      entry.schema = std::move(trial);
      entry.batches.push_back(std::move(req));
      accepted.push_back(p);
    }
    if (accepted.empty()) return;

    const std::string bytes = format::EncodeWalEntry(entry);
    const std::string key = keys_.wal(entry.sequence);
    enum { kCommitted, kLostRace, kFailed } outcome = kFailed;
    Status last;
    for (int put = 0; put < kPutAttempts; ++put) {
      Result<ObjectMeta> r = store.PutIfAbsent(key, bytes);
      if (r.ok()) {
        outcome = kCommitted;
        break;
      }
      last = r.status();
      if (r.status().IsAlreadyExists()) {
        // Ours (an earlier attempt that timed out but was applied) or another writer's?
        Result<GetResult> g = store.Get(key);
        if (g.ok()) {
          Result<format::WalEntry> other = format::DecodeWalEntry(g->data);
          outcome =
              other.ok() && other->writer_nonce == entry.writer_nonce ? kCommitted : kLostRace;
          break;
        }
        last = g.status();
      }
      if (!last.IsUnavailable() && !last.IsAlreadyExists()) break;
      Backoff(put);
    }
    if (outcome == kFailed) {
      // Unknown outcome: the entry may or may not be durable. Not acknowledged.
      for (Pending* p : accepted) {
        p->result = Status::Unavailable("write not acknowledged (it may still become visible): " +
                                        last.ToString());
        p->settled = true;
      }
      return;
    }
    if (outcome == kLostRace) {
      Result<SnapshotPtr> r = CatchUp(snap, nullptr);
      if (!r.ok()) {
        // Another process's indexer may have collected entries we have not seen.
        r = Refresh(nullptr);
        if (!r.ok()) {
          for (Pending* p : accepted) {
            p->result = r.status();
            p->settled = true;
          }
          return;
        }
      }
      snap = std::move(r).value();
      Publish(snap);
      continue;
    }
    // Durable: acknowledge. Resolve the entry to report what each request did.
    Result<AppliedEntryPtr> applied = ApplyEntry(entry, *snap, bytes.size());
    if (applied.ok()) Publish(ExtendSnapshot(*snap, *applied, entry.schema));
    for (size_t i = 0; i < accepted.size(); ++i) {
      Pending* p = accepted[i];
      WriteResponse resp;
      resp.wal_sequence = entry.sequence;
      if (applied.ok()) {
        const BatchOutcome& o = (*applied)->outcomes[i];
        resp.rows_upserted = o.upserted.size();
        resp.rows_patched = o.patched.size();
        resp.rows_deleted = o.deleted.size();
        if (p->request.return_affected_ids) {
          resp.upserted_ids = o.upserted;
          resp.patched_ids = o.patched;
          resp.deleted_ids = o.deleted;
        }
      } else {
        resp.rows_upserted = entry.batches[i].upserts.size();
        resp.rows_patched = entry.batches[i].patches.size();
        resp.rows_deleted = entry.batches[i].deletes.size();
      }
      resp.rows_affected = resp.rows_upserted + resp.rows_patched + resp.rows_deleted;
      p->result = resp;
      p->settled = true;
    }
    return;
  }
  for (Pending* p : batch) {
    if (!p->settled) {
      p->result = Status::Unavailable("write not committed: too much contention on namespace '" +
                                      name_ + "'");
      p->settled = true;
    }
  }
}

}  // namespace gannet::db
