// ObjectStore: the narrow, write-once storage interface every Gannet backend implements.
//
// Keys are '/'-separated relative paths of printable ASCII (no "..", no leading '/').
// Objects are immutable once written, except those updated through PutIfMatch (the
// few compare-and-swap pointers such as a namespace's manifest).
//
// Ambiguity is real: a Put that returns kUnavailable (timeout) MAY have been applied.
// Callers resolve that with writer nonces stored inside the objects they write.
//
// Thread safety: every implementation is safe for concurrent use by many threads.
// LocalStore is also safe for concurrent use by many processes on one directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"

namespace gannet {

struct ObjectMeta {
  std::string key;
  uint64_t size = 0;
  std::string etag;      // opaque; changes whenever the object's bytes change
  int64_t mtime_ms = 0;  // milliseconds since the Unix epoch, per the store's clock
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;  // bytes from offset; a range past the end is truncated
};

struct GetResult {
  std::string data;         // the object's bytes, or the requested range of them
  ObjectMeta meta;          // meta of the whole object (size is the whole object's size)
  bool from_cache = false;  // served by a CachingStore tier, not the backing store
};

// One Get of a batch (ObjectStore::GetMany).
struct GetRequest {
  std::string key;
  std::optional<ByteRange> range;
  // A cold read: a cache tier that misses answers with this range alone from the store
  // below, and does not fetch the whole object into its disk tier for it (the reader
  // brings the object in whole later, off its critical path).
  bool range_only = false;
};

struct ListResult {
  std::vector<ObjectMeta> objects;  // ascending by key
  bool truncated = false;           // more keys after the last one returned
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // NotFound if the key does not exist. With a range, returns that slice.
  virtual Result<GetResult> Get(std::string_view key,
                                std::optional<ByteRange> range = std::nullopt) = 0;
  // NotFound if the key does not exist.
  virtual Result<ObjectMeta> Head(std::string_view key) = 0;
  // Keys starting with `prefix` and sorting strictly after `start_after`, ascending,
  // at most `limit` of them (limit 0 means the backend's default page, >= 1000).
  virtual Result<ListResult> List(std::string_view prefix, std::string_view start_after = {},
                                  size_t limit = 0) = 0;
  // Removes the key. Deleting a missing key is OK (idempotent, as in S3).
  virtual Status Delete(std::string_view key) = 0;
  // Creates the key only if it does not exist: AlreadyExists otherwise. Durable on OK.
  virtual Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) = 0;
  // Replaces the key only if its current etag equals `etag`: PreconditionFailed
  // otherwise (including when the key does not exist). Durable on OK.
  virtual Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                        std::string_view etag) = 0;

  // Short description for logs, e.g. "local:/data" or "memory".
  virtual std::string Describe() const = 0;

  // Several independent Gets at once (one round trip when the backend allows): the
  // results are in the order of `requests`, each what Get would have returned. The
  // default runs Get on up to kGetManyThreads threads (the caller's among them);
  // S3Store overrides it with libcurl's multi interface (up to max_parallel_requests in
  // flight from the calling thread); the counting, latency and caching wrappers pass
  // batches through (the hedging and fault-injecting ones use the default, so that each
  // Get is hedged or faulted on its own).
  static constexpr size_t kGetManyThreads = 16;
  virtual std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests);
};

using ObjectStorePtr = std::shared_ptr<ObjectStore>;

// ---- Backends ------------------------------------------------------------------------

// A directory on the local file system. Creates `root` if needed. Writes fsync the file
// and its directory before returning; creation is atomic (write temp, link exclusive);
// PutIfMatch holds an flock-based lock file so it is safe across processes.
Result<ObjectStorePtr> OpenLocalStore(const std::string& root);

// Everything in memory; for tests and simulation. `clock_ms` overrides the mtime clock.
ObjectStorePtr NewMemoryStore(std::function<int64_t()> clock_ms = nullptr);

// An S3-compatible bucket (AWS S3, Ceph RGW, ...), spoken to over HTTP(S) with libcurl,
// requests signed with AWS SigV4.
struct S3Options {
  std::string bucket;  // required
  // Prepended to every key, so several stores can share a bucket: "" or "a/b/" (a
  // trailing '/' is added when missing).
  std::string prefix;
  // "http[s]://host[:port]"; empty means AWS: https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  // Path style (http://host/bucket/key) rather than virtual-host style
  // (http://bucket.host/key). Custom endpoints such as RGW usually need path style.
  bool path_style = false;
  std::string access_key_id;      // required
  std::string secret_access_key;  // required
  std::string session_token;      // optional (temporary credentials)
  std::chrono::milliseconds connect_timeout{5000};
  // Whole-request limit, including transferring the body.
  std::chrono::milliseconds request_timeout{30000};
  // Retries of a transient failure (timeout, connection error, 5xx, 429 / SlowDown)
  // after the first attempt, with exponential backoff and full jitter between
  // retry_base_delay and retry_max_delay. A conditional PUT whose outcome is unknown
  // is never retried: it returns Unavailable, and the caller resolves it (nonces).
  int max_retries = 5;
  std::chrono::milliseconds retry_base_delay{50};
  std::chrono::milliseconds retry_max_delay{2000};
  // Idle connections kept for reuse.
  size_t max_idle_connections = 32;
  // Requests in flight at once from one GetMany or one multipart upload (curl multi;
  // a new one starts as soon as one finishes). request_timeout applies to each, so
  // this bounds how thin the link is shared.
  size_t max_parallel_requests = 16;
  // Multipart upload: a PutIfAbsent of at least multipart_threshold bytes whose key
  // multipart_keys approves (null approves none) is sent in parts of multipart_part_size
  // bytes (5 MiB to 5 GiB; larger when 10,000 parts would not hold the object), in
  // parallel, each part retried on its own. Only for keys that one writer creates (the
  // engine's segments and indexes): a HEAD first answers AlreadyExists for an existing
  // key, and the completing request carries If-None-Match: *, which AWS S3 honours but
  // Ceph RGW ignores. Commit points (manifests, WAL entries) are never multipart.
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t multipart_part_size = 16ull << 20;
  std::function<bool(std::string_view key)> multipart_keys;

  // Options for `url` ("s3://bucket" or "s3://bucket/prefix"), completed from the
  // environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
  // AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, and
  // GANNET_S3_PATH_STYLE ("1"/"0"; defaults to path style when an endpoint is set).
  // InvalidArgument for a malformed URL or missing credentials.
  static Result<S3Options> FromUrlAndEnv(std::string_view url);
};

// Opens the bucket described by `options`. Checks the options but does not contact the
// server (the first request reports an unreachable endpoint or wrong credentials).
// Etags are returned without quotes; mtimes have whole-second resolution (S3's
// Last-Modified), and a Put's result carries the server's Date at the write.
// Errors: 404 -> NotFound, 403 -> PermissionDenied, 412 -> AlreadyExists /
// PreconditionFailed, transient failures after retries -> Unavailable.
Result<ObjectStorePtr> OpenS3Store(const S3Options& options);

// True if `path` names an S3 location ("s3://...").
bool IsS3Url(std::string_view path);

// ---- Wrappers ------------------------------------------------------------------------

// Counts requests and bytes per operation. Thread-safe counters.
struct StoreCounters {
  uint64_t gets = 0, heads = 0, lists = 0, deletes = 0, puts = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t requests() const { return gets + heads + lists + deletes + puts; }
};
class CountingStore : public ObjectStore {
 public:
  virtual StoreCounters counters() const = 0;
  virtual void Reset() = 0;
};
std::shared_ptr<CountingStore> NewCountingStore(ObjectStorePtr base);

// Keeps whole objects' bytes in memory, least recently used evicted first, within a
// byte budget, and optionally in a local-disk tier below it (its own directory and
// budget; survives restarts; every whole-object read checksum-verified, a damaged file is
// dropped and refetched). Get (whole or ranged) and Head of a cached key are served from
// memory or disk; a ranged Get from disk reads only its range (the file's key and length
// checked, not its checksum: such readers verify what they read, as segment vector
// chunks do), and a ranged miss with a disk tier fetches the object whole into it (as a
// load would; ranges of an object seen to be too large for it go to the base store),
// except a GetRequest marked range_only, which reads its range alone from the base.
// List always goes to the base store. Writes and deletes through this wrapper
// update or invalidate the cache, and a Get racing with a write never caches the older bytes.
// Writes by OTHER clients of the base store are not seen: objects they may replace
// (PutIfMatch) or delete-and-recreate must be excluded with `cacheable`. Objects larger
// than budget_bytes / 8 are not cached. Thread-safe.
struct CacheOptions {
  uint64_t budget_bytes = 256ull << 20;  // memory tier; 0 disables it
  // Which keys may be cached; null means every key.
  std::function<bool(std::string_view key)> cacheable;
  std::string disk_dir = {};  // disk tier directory; "" disables it
  uint64_t disk_budget_bytes = 10ull << 30;
};
struct CacheStats {
  uint64_t hits = 0, misses = 0, evictions = 0;  // memory tier
  uint64_t bytes_cached = 0, objects_cached = 0;
  uint64_t disk_hits = 0, disk_misses = 0, disk_evictions = 0, disk_corrupt = 0;
  uint64_t disk_bytes = 0, disk_objects = 0;
};
class CachingStore : public ObjectStore {
 public:
  virtual CacheStats stats() const = 0;
  // Drops every cached object.
  virtual void Clear() = 0;
};
// REQUIRES: options.disk_dir empty (use OpenCachingStore for a disk tier).
std::shared_ptr<CachingStore> NewCachingStore(ObjectStorePtr base, CacheOptions options = {});
// With a disk tier: IOError when its directory cannot be created.
Result<std::shared_ptr<CachingStore>> OpenCachingStore(ObjectStorePtr base, CacheOptions options);

// Hedged GETs: a GET still unanswered after `after` is sent again (up to max_hedges
// more times, `after` apart) and the first success is returned; a failure is returned
// only when every attempt failed. Other operations pass through unchanged (writes are
// never duplicated). Each GET runs on a thread of its own, so use it in front of remote
// stores, where a request costs milliseconds. Thread-safe.
struct HedgeOptions {
  std::chrono::milliseconds after{50};
  int max_hedges = 1;
};
struct HedgeStats {
  uint64_t hedges = 0;      // extra GETs sent
  uint64_t hedges_won = 0;  // GETs answered by an extra attempt
};
class HedgingStore : public ObjectStore {
 public:
  virtual HedgeStats stats() const = 0;
};
std::shared_ptr<HedgingStore> NewHedgingStore(ObjectStorePtr base, HedgeOptions options = {});

// Adds a fixed delay (plus optional uniform jitter) before every request.
ObjectStorePtr NewLatencyStore(ObjectStorePtr base, std::chrono::microseconds latency,
                               std::chrono::microseconds jitter = {});

// Injects failures. Scripted faults fire on the next matching calls, in order; random
// faults fire with the given probability per call (seeded, so runs are reproducible).
enum class FaultOp { kGet, kHead, kList, kDelete, kPutIfAbsent, kPutIfMatch, kAny };
enum class FaultKind {
  kError,           // fail with Unavailable and do nothing
  kTimeoutApplied,  // apply the operation, then report Unavailable ("timed out")
  kIOError,         // fail with IOError and do nothing
};
struct FaultRule {
  FaultOp op = FaultOp::kAny;
  std::string key_prefix;  // only keys starting with this
  FaultKind kind = FaultKind::kError;
};
class FaultyStore : public ObjectStore {
 public:
  // The next call matching `rule` fails as the rule says (each scripted rule fires once).
  virtual void Script(FaultRule rule) = 0;
  // Every matching call fails with probability `p` (0 disables).
  virtual void SetRandom(FaultRule rule, double p, uint64_t seed) = 0;
  virtual void Clear() = 0;
  virtual uint64_t faults_injected() const = 0;
};
std::shared_ptr<FaultyStore> NewFaultyStore(ObjectStorePtr base);

}  // namespace gannet
