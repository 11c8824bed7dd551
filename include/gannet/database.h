// Database and Namespace: the embedded engine's entry points.
//
//   auto db = gannet::Database::Open({.store = *gannet::OpenLocalStore("./data")});
//   auto ns = (*db)->OpenNamespace("docs");
//   auto w = (*ns)->Write(*gannet::ParseWriteRequest(R"({"upsert_rows": [...]})"));
//   auto q = (*ns)->Query(*gannet::ParseQueryRequest(R"({"rank_by": [...]})"));
//
// Durability: Write returns only after its WAL entry is durable in the object store.
// Consistency: a strong query (the default) sees every write acknowledged before it
// began, from any thread, process or server sharing the store. An eventual query may
// serve from this process's cached view without checking the store.
//
// Thread safety: Database and Namespace are safe for concurrent use from many threads.
// Any number of processes may open the same store concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/object_store.h"
#include "gannet/request.h"
#include "gannet/types.h"

namespace gannet {

struct DatabaseOptions {
  ObjectStorePtr store;  // required
  std::string prefix;    // key prefix inside the store ("" or "a/b/")

  // Background indexing folds the WAL tail into segments once it holds this many
  // rows, or after it has been idle for index_idle.
  bool background_indexing = true;
  size_t index_tail_rows = 20000;
  std::chrono::milliseconds index_idle{2000};
  // ... or once its oldest entry is this old, so a steady trickle of writes is indexed
  // too (and the tail that every query scans stays short).
  std::chrono::milliseconds index_max_lag{10000};
  // One index build holds at most this many rows in memory (a longer WAL tail is
  // indexed in several segments).
  size_t max_segment_rows = 100'000;
  // Segments written with at least this many vectors get an approximate nearest-neighbour
  // index (<segment>.ivf), used by rank_by ANN queries; smaller ones are searched
  // exhaustively. 0 disables the index.
  size_t ann_min_rows = 2048;
  // Threads one index build may use (k-means and calibration).
  int ann_build_threads = 1;
  // Whether the full-precision vectors of segments that have a vector index stay in
  // memory once loaded. When false they are verified on load and dropped: ANN queries
  // find candidates on the index's codes and read the candidates' vectors by byte range
  // to re-rank them (one batched read per segment a query, each chunk checksummed), as
  // do exact searches and returned vectors. Memory per row falls to the index's codes;
  // each query pays the reads (through the cache tiers: from memory, local disk or the
  // bucket). Segments written before format version 2 stay resident.
  bool resident_indexed_vectors = true;
  // Cold loads: a segment of at least this many bytes with a vector index, not yet in
  // memory, is first loaded by byte range: its columns and ids but not its vectors, and
  // its index's head (centroids, list sizes and checksums, calibration) but not its
  // posting lists, in about three round trips. Queries meanwhile read the lists they probe
  // and the rows they re-rank by range (so the first query on a large namespace costs a
  // few reads, not the download of every segment), while background maintenance loads the
  // segment whole (through the cache tiers) and swaps it in. Only with
  // background_indexing (which runs that load). 0: always load whole.
  uint64_t cold_load_min_bytes = 64ull << 20;
  // Compaction merges segments when a namespace has more than this many.
  size_t compact_max_segments = 8;
  // One compaction merges at most this many encoded segment bytes (it holds them in
  // memory while it rewrites them). Segments that cannot be merged within it stay as they
  // are: a namespace larger than about compact_max_segments times this keeps more
  // segments than compact_max_segments, none grown past this by compaction.
  uint64_t compact_max_bytes = 256ull << 20;
  // Background maintenance also merges all of an idle namespace's segments into one when
  // they add up to at most this many bytes and those other than the largest add up to at
  // least a quarter of it (each query pays every segment's term lookups and centroid
  // ranking, so a small namespace loaded in bulk is best searched as one segment; the
  // quarter bounds how often a byte is rewritten). 0 disables it.
  uint64_t compact_small_bytes = 64ull << 20;
  // Garbage collection deletes unreferenced objects older than this.
  std::chrono::milliseconds gc_grace{std::chrono::minutes(10)};
  // Limits on one write request.
  size_t max_write_rows = 1'000'000;
  // Memory for decoded namespaces (segments, their vector and text indexes, WAL tails),
  // shared by all namespaces: when the current snapshots together hold more, the least
  // recently used namespaces drop theirs and reload them (from the cache tiers) when next
  // used. 0 means half of the machine's physical memory (or of the lowest cgroup memory
  // limit of the process's cgroup and its ancestors). Namespaces with unindexed
  // writes or pending compaction stay loaded until background maintenance is done.
  uint64_t memory_budget_bytes = 0;
  // Clock used for created/updated times and GC ages (ms since epoch); tests override.
  std::function<int64_t()> clock_ms;
};

struct NamespaceInfo {
  std::string name;
  Schema schema;
  uint64_t approx_row_count = 0;
  uint64_t approx_logical_bytes = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  uint64_t wal_sequence = 0;      // newest WAL entry
  uint64_t indexed_sequence = 0;  // newest WAL entry folded into segments
  uint64_t unindexed_rows = 0;    // index lag, in rows
  uint64_t segment_count = 0;
  uint64_t manifest_version = 0;
  // Bytes the loaded namespace holds in memory (decoded segments, their indexes, the
  // tail), approximately: what it counts against DatabaseOptions::memory_budget_bytes.
  uint64_t memory_bytes = 0;
};

struct NamespaceList {
  std::vector<std::string> names;
  std::optional<std::string> next_cursor;
};

// What Namespace::Verify found.
struct VerifyReport {
  uint64_t objects_checked = 0;  // objects read and decoded
  uint64_t bytes_checked = 0;
  uint64_t unreferenced_objects = 0;  // left by lost races or compaction, awaiting GC
  uint64_t unknown_objects = 0;       // keys of kinds this version does not check
  std::vector<std::string> problems;  // "<key>: <what is wrong>"; empty means healthy
};

class Namespace {
 public:
  virtual ~Namespace() = default;
  virtual const std::string& name() const = 0;

  // Validates `request` against the schema and commits it atomically. InvalidArgument
  // (naming row id, attribute, expected and actual type) rejects the whole request.
  virtual Result<WriteResponse> Write(WriteRequest request) = 0;
  virtual Result<QueryResponse> Query(const QueryRequest& request) = 0;
  // Runs several queries on one snapshot, so their results are consistent with each
  // other (turbopuffer's `queries[]`). The consistency of the first request applies.
  virtual Result<std::vector<QueryResponse>> MultiQuery(
      const std::vector<QueryRequest>& requests) = 0;
  // The current documents with these ids (missing ids are skipped), all attributes.
  virtual Result<std::vector<Document>> Get(const std::vector<Id>& ids) = 0;

  // NotFound if the namespace has never been written.
  virtual Result<NamespaceInfo> Info() = 0;
  virtual Result<Schema> GetSchema() = 0;

  // Maintenance, normally done in the background. Each is safe to run concurrently with
  // writes, queries and the same operation in other processes.
  virtual Status IndexNow() = 0;        // fold the whole WAL tail into a segment
  virtual Status Compact() = 0;         // merge segments when there are too many
  virtual Status CollectGarbage() = 0;  // delete unreferenced objects past grace

  // Reads every object of the namespace and checks magic, version, checksum and
  // structure, plus the references between them (the manifest's segments and deletion
  // vectors exist and fit; WAL entries after the manifest are dense and numbered right).
  // Damage is reported in the result, not as an error; an error means the store could
  // not be listed. NotFound if the namespace does not exist.
  virtual Result<VerifyReport> Verify() = 0;
};

// Keys of objects that never change once written (segments and their indexes, deletion
// vectors), recognised by the key layout whatever the prefix and namespace names: what a
// cache in front of the store may keep. Manifests, catalog entries and WAL entries are not.
bool IsImmutableDataKey(std::string_view key);

class Database {
 public:
  virtual ~Database() = default;

  static Result<std::unique_ptr<Database>> Open(DatabaseOptions options);
  // Opens a local directory (created if missing), or a bucket when `dir` is an S3 URL
  // "s3://bucket/prefix" (endpoint, region and credentials from the AWS_* environment
  // variables, see S3Options::FromUrlAndEnv). A bucket gets a local-disk cache of its
  // immutable objects (segments, indexes, deletion vectors) that survives restarts:
  // GANNET_CACHE_DIR (default $XDG_CACHE_HOME/gannet or ~/.cache/gannet; "off" disables
  // it), budget GANNET_CACHE_BYTES (default 10 GiB). GANNET_S3_HEDGE_MS > 0 hedges bucket
  // GETs unanswered after that many milliseconds (HedgingStore); segments and indexes of
  // 64 MiB or more are uploaded in parts. GANNET_MEMORY_BYTES sets
  // DatabaseOptions::memory_budget_bytes, GANNET_COLD_LOAD_BYTES cold_load_min_bytes.
  static Result<std::unique_ptr<Database>> OpenPath(const std::string& dir);

  // A handle to the namespace; it need not exist yet (the first write creates it).
  // InvalidArgument for a bad name.
  virtual Result<std::shared_ptr<Namespace>> OpenNamespace(std::string_view name) = 0;
  // Namespaces that have been written, ascending, names > cursor, with `prefix`.
  virtual Result<NamespaceList> ListNamespaces(std::string_view prefix = {},
                                               std::string_view cursor = {},
                                               size_t page_size = 100) = 0;
  // Deletes every object of the namespace. NotFound if it does not exist.
  virtual Status DeleteNamespace(std::string_view name) = 0;

  // Stops background work after finishing what is in flight. Idempotent.
  virtual void Close() = 0;
  virtual const ObjectStorePtr& store() const = 0;
};

}  // namespace gannet
