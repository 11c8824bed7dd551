// NamespaceImpl: one namespace's write path (group commit into WAL entries), read path
// (snapshots refreshed from the store), and maintenance (indexing, compaction, GC).
//
// Concurrency design:
// - current_ (guarded by mu_) is the newest published snapshot; readers copy the
//   shared_ptr and work without locks.
// - refresh_mu_ serialises refreshes from the store; a caller that waited while another
//   refresh ran reuses its result only if that refresh started after the caller arrived
//   (so strong reads stay strong).
// - commit_mu_ guards the group-commit queue; one thread at a time is the leader and
//   commits everything queued as one WAL entry, the others wait for their result.
// - DatabaseImpl::memory_mu_ (the memory budget) is taken after this namespace's mu_ is
//   released (Publish, Reset), and takes other namespaces' mu_ inside it (footprint,
//   DropSnapshot): never call into the budget while holding any namespace's mu_.
// - maintenance_mu_ makes index/compact/GC of one namespace run one at a time per
//   process; across processes the manifest CAS keeps them safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/keys.h"
#include "db/snapshot.h"
#include "format/wal_entry.h"
#include "gannet/database.h"

namespace gannet::db {

class DatabaseImpl;

// A moment on two clocks: the steady clock (immune to wall-clock jumps) and the database
// clock (DatabaseOptions::clock_ms, which tests and the simulator drive, and which GC
// ages objects by). Freshness checks expire when either clock says so.
struct Stamp {
  std::chrono::steady_clock::time_point steady{};
  int64_t ms = INT64_MIN;  // INT64_MIN: never
};

// Object-store traffic of one operation, reported in QueryStats.
struct FetchStats {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  uint64_t cache_hits = 0;
  uint64_t round_trips = 0;  // sequential waves of requests
};

// The segments (positions in snap.segments) one compaction of `snap` merges: the smallest
// first, until the count would fall to half of compact_max_segments (tiered merging keeps
// write amplification logarithmic) or the next one would take the merge past
// compact_max_bytes; with `merge_all`, all of them within that cap. Empty when there is
// nothing to do: at most compact_max_segments segments (unless `merge_all`), or fewer than
// two that fit together.
std::vector<size_t> CompactionInputs(const Snapshot& snap, const DatabaseOptions& opts,
                                     bool merge_all);

class NamespaceImpl final : public Namespace {
 public:
  NamespaceImpl(DatabaseImpl& db, std::string name);
  ~NamespaceImpl() override = default;

  const std::string& name() const override { return name_; }
  Result<WriteResponse> Write(WriteRequest request) override;
  Result<QueryResponse> Query(const QueryRequest& request) override;
  Result<std::vector<QueryResponse>> MultiQuery(const std::vector<QueryRequest>& requests) override;
  Result<std::vector<Document>> Get(const std::vector<Id>& ids) override;
  Result<NamespaceInfo> Info() override;
  Result<Schema> GetSchema() override;
  Status IndexNow() override;
  Status Compact() override;
  Status CollectGarbage() override;
  Result<VerifyReport> Verify() override;

  // Background maintenance step, called periodically by the database.
  void MaybeMaintain();
  // Drops cached state (after the namespace was deleted).
  void Reset();
  // Replaces the current snapshot's cold segments (loaded by range: LoadedSegment::cold)
  // by the same segments loaded whole, as a load of a warm namespace has them. Run by
  // background maintenance (MaybeMaintain); the whole objects pass through the cache
  // tiers. Safe beside queries, refreshes and another WarmUp.
  Status WarmUp();

  // For the database's memory budget: the current snapshot's size, when the namespace
  // was last used (DatabaseImpl::NextUse), and whether the snapshot may be dropped (no
  // unindexed writes and no compaction due, which background maintenance needs it for).
  struct Footprint {
    uint64_t bytes = 0;
    uint64_t last_use = 0;
    bool evictable = false;
  };
  Footprint footprint() const;
  // Drops the current snapshot if it is still evictable; true if none is held now. The
  // snapshot is moved to *dropped, so the caller frees it outside its own locks. The
  // next read loads the namespace again (from the cache tiers when they hold it).
  bool DropSnapshot(SnapshotPtr* dropped);

 private:
  struct Pending {
    WriteRequest request;
    Result<WriteResponse> result = Status::Internal("not committed");
    bool settled = false;  // result final; touched only by the leader thread
    bool done = false;     // guarded by commit_mu_; the waiter may return
  };

  // ---- clocks ----
  Stamp Now() const;
  bool Expired(const Stamp& stamp, std::chrono::milliseconds period) const;
  // How often a reader re-reads the manifest. Must stay well below the GC grace period:
  // a reader whose manifest is older than the grace could miss collected WAL entries.
  std::chrono::milliseconds ManifestRefreshPeriod() const;

  // ---- read path ----
  SnapshotPtr current() const;
  void Publish(SnapshotPtr snap);
  // A snapshot that includes every write acknowledged before this call began.
  Result<SnapshotPtr> Refresh(FetchStats* fs);
  // For eventual reads: the cached snapshot if recent enough, else Refresh.
  Result<SnapshotPtr> CachedOrRefresh(FetchStats* fs);
  // Reads the manifest and rebases `old` (may be null) onto it, reusing what it can.
  // With `probe`, also GETs the WAL entry after the new snapshot's head in the same
  // round trip as the segments, and returns it there.
  Result<SnapshotPtr> LoadManifest(const SnapshotPtr& old, FetchStats* fs,
                                   std::optional<Result<GetResult>>* probe = nullptr);
  // For a segment this process just wrote (`bytes`, stored as `ref`, with vectors): the
  // copy snapshots hold if it gets a vector index while resident_indexed_vectors is off,
  // decoded without its vectors from the bytes in hand (columns decoded twice, no
  // re-read); null when vectors stay resident.
  Result<std::shared_ptr<const format::Segment>> RangedTwin(std::string_view bytes,
                                                            const format::SegmentRef& ref,
                                                            uint32_t dims);
  // Applies the WAL entries after snap->head.
  // `probe`, when given, is the already fetched GET of wal/<snap->head + 1>.
  Result<SnapshotPtr> CatchUp(SnapshotPtr snap, FetchStats* fs,
                              std::optional<Result<GetResult>> probe = std::nullopt);
  // Executes one query on `snap`; `fs` is the refresh cost to report.
  Result<QueryResponse> RunQuery(const QueryRequest& request, const SnapshotPtr& snap,
                                 const FetchStats& fs, std::chrono::steady_clock::time_point start);
  Result<SnapshotPtr> ApplyWalObject(const Snapshot& base, uint64_t seq, std::string_view bytes);
  // ---- write path ----
  void CommitQueued(std::vector<Pending*> batch);
  Status EnsureCatalogEntry();

  // ---- maintenance ----
  // CAS-publishes `next` over the manifest of `base`; rebases the cached snapshot.
  Status CommitManifest(const Snapshot& base, format::Manifest next,
                        std::vector<LoadedSegmentPtr> segments,
                        std::chrono::steady_clock::time_point first_put);
  // Folds a prefix of the tail into a segment; *more when some of the tail remains.
  Status IndexOnce(bool* lost_race, bool* more);
  // Merges the smallest segments while there are more than compact_max_segments, or,
  // with `merge_small`, all of them when SmallEnoughToMerge.
  Status CompactOnce(bool* lost_race, bool merge_small);
  Status CompactWith(bool merge_small);

  DatabaseImpl& db_;
  const std::string name_;
  const Keys keys_;

  mutable std::mutex mu_;
  SnapshotPtr current_;         // guarded by mu_
  uint64_t current_bytes_ = 0;  // current_->approx_memory_bytes(); guarded by mu_
  std::atomic<uint64_t> last_use_{0};
  Stamp last_refresh_;        // guarded by mu_
  Stamp last_manifest_load_;  // guarded by mu_

  std::mutex refresh_mu_;
  std::atomic<uint64_t> refresh_started_{0};
  std::atomic<uint64_t> refresh_completed_{0};

  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  std::deque<Pending*> queue_;    // guarded by commit_mu_
  bool committing_ = false;       // guarded by commit_mu_
  bool catalog_written_ = false;  // guarded by commit_mu_

  std::mutex maintenance_mu_;
  std::chrono::steady_clock::time_point last_gc_{};  // guarded by maintenance_mu_
  // The last GC left garbage younger than the grace period (or the namespace was dropped
  // before one ran): background GC keeps visiting it even while no snapshot is loaded.
  std::atomic<bool> gc_waiting_{false};
  bool GcDue();  // a GC period has passed since the last one
};

}  // namespace gannet::db
