// CachingStore: an LRU of whole objects' bytes in memory in front of any ObjectStore.
//
// Coherence with writes through this wrapper: every mutation (put, delete), whatever its
// outcome, erases the key and bumps the epoch of the key's stripe after the base store
// answered. A Get that missed inserts what it fetched only if its stripe's epoch did not
// move meanwhile, so bytes fetched before a concurrent write completed are never cached.
// Puts do not populate the cache: two racing writes may finish in the base store in one
// order and here in the other. The exception is the disk tier, which keeps the bytes of a
// successful PutIfAbsent (the one writer that created the key).
#include <algorithm>
#include <array>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "gannet/object_store.h"
#include "storage/disk_cache.h"

namespace gannet {

namespace {

constexpr size_t kStripes = 256;

class CachingStoreImpl final : public CachingStore {
 public:
  CachingStoreImpl(ObjectStorePtr base, CacheOptions options,
                   std::unique_ptr<storage::DiskCache> disk = nullptr)
      : base_(std::move(base)), options_(std::move(options)), disk_(std::move(disk)) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    if (!Cacheable(key)) return base_->Get(key, range);
    uint64_t epoch = 0;
    if (std::optional<GetResult> hit = Lookup(key, range, &epoch)) return std::move(*hit);
    // Only whole objects are cached: without a disk tier a range goes to the base alone;
    // with one, the object is fetched whole into it (as a load would) and the range cut.
    if (range && !FetchWholeForRange(key)) return base_->Get(key, range);
    Result<GetResult> result = base_->Get(key);
    if (result.ok()) Fill(key, epoch, *result);
    if (result.ok() && range) return CutFromWhole(key, *result, *range);
    return result;
  }

  // Hits are answered from the tiers; the misses go to the base store as one batch.
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override {
    std::vector<Result<GetResult>> out(requests.size(), Status::Internal("not fetched"));
    struct Miss {
      size_t at;
      size_t fetched;  // its request in `fetch`
      uint64_t epoch;
      bool fill;  // a whole cacheable object: keep what comes back
    };
    std::vector<Miss> misses;
    std::vector<GetRequest> fetch;
    // With a disk tier, ranged misses of a cacheable object fetch it whole, once a batch
    // (as Get does), unless the request is range_only; `whole_at` finds that request.
    std::unordered_map<std::string, size_t> whole_at;
    for (size_t i = 0; i < requests.size(); ++i) {
      const GetRequest& request = requests[i];
      uint64_t epoch = 0;
      const bool cacheable = Cacheable(request.key);
      if (cacheable) {
        if (std::optional<GetResult> hit = Lookup(request.key, request.range, &epoch)) {
          out[i] = std::move(*hit);
          continue;
        }
      }
      if (cacheable && request.range && !request.range_only && FetchWholeForRange(request.key)) {
        auto [it, added] = whole_at.try_emplace(request.key, fetch.size());
        if (added) fetch.push_back({request.key, std::nullopt});
        misses.push_back(Miss{i, it->second, epoch, true});
        continue;
      }
      misses.push_back(Miss{i, fetch.size(), epoch, cacheable && !request.range});
      fetch.push_back(request);
    }
    if (fetch.empty()) return out;
    std::vector<Result<GetResult>> got = base_->GetMany(fetch);
    std::vector<bool> filled(fetch.size(), false);
    for (const Miss& m : misses) {
      Result<GetResult>& g = got[m.fetched];
      if (m.fill && g.ok() && !filled[m.fetched]) {
        Fill(fetch[m.fetched].key, m.epoch, *g);
        filled[m.fetched] = true;
      }
      const std::optional<ByteRange>& range = requests[m.at].range;
      if (range && !fetch[m.fetched].range) {
        // Cut from the whole object fetched for it (which other misses may share).
        out[m.at] = g.ok() ? Result<GetResult>(CutFromWhole(fetch[m.fetched].key, *g, *range))
                           : Result<GetResult>(g.status());
        continue;
      }
      out[m.at] = std::move(g);
    }
    return out;
  }

  Result<ObjectMeta> Head(std::string_view key) override {
    if (Cacheable(key)) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(std::string(key));
      if (it != index_.end()) {
        ++stats_.hits;
        return it->second->meta;
      }
    }
    return base_->Head(key);
  }

  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override {
    return base_->List(prefix, start_after, limit);
  }

  Status Delete(std::string_view key) override {
    Status status = base_->Delete(key);
    Invalidate(key);
    return status;
  }

  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override {
    Result<ObjectMeta> result = base_->PutIfAbsent(key, data);
    Invalidate(key);
    // A created object's bytes are exactly these (no other writer could create it), so
    // the disk tier keeps them: a restarted process then loads what this one wrote
    // without fetching it.
    if (result.ok() && disk_ != nullptr && Cacheable(key)) {
      GetResult object;
      object.data = std::string(data);
      object.meta = *result;
      disk_->Put(key, object);
    }
    return result;
  }

  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override {
    Result<ObjectMeta> result = base_->PutIfMatch(key, data, etag);
    Invalidate(key);
    return result;
  }

  std::string Describe() const override { return "caching(" + base_->Describe() + ")"; }

  CacheStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    CacheStats stats = stats_;
    stats.bytes_cached = bytes_;
    stats.objects_cached = index_.size();
    if (disk_ != nullptr) {
      const storage::DiskCacheStats d = disk_->stats();
      stats.disk_hits = d.hits;
      stats.disk_misses = d.misses;
      stats.disk_evictions = d.evictions;
      stats.disk_corrupt = d.corrupt;
      stats.disk_bytes = d.bytes;
      stats.disk_objects = d.objects;
    }
    return stats;
  }

  void Clear() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t& epoch : epochs_) ++epoch;
    lru_.clear();
    index_.clear();
    bytes_ = 0;
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> data;
    ObjectMeta meta;
  };

  // Whether a ranged miss of cacheable `key` fetches the object whole into the disk tier
  // (it has one, and has not seen this object to be too large for it).
  bool FetchWholeForRange(std::string_view key) {
    if (disk_ == nullptr) return false;
    std::lock_guard<std::mutex> lock(mu_);
    return too_large_.count(std::string(key)) == 0;
  }
  // Remembers an object fetched whole for a range that the disk tier will not keep.
  void NoteSize(std::string_view key, size_t size) {
    if (size <= options_.disk_budget_bytes / 8) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (too_large_.size() >= 4096) too_large_.clear();
    too_large_.emplace(key);
  }

  // `range` of object `key`, fetched `whole` for it (NoteSize remembers one the disk tier
  // will not keep).
  GetResult CutFromWhole(std::string_view key, const GetResult& whole, ByteRange range) {
    NoteSize(key, whole.data.size());
    GetResult part;
    part.meta = whole.meta;
    part.data = Slice(whole.data, range);
    return part;
  }

  // The slice `range` of `data` (all of it without a range), as Get returns it.
  static std::string Slice(std::string_view data, const std::optional<ByteRange>& range) {
    if (!range) return std::string(data);
    const uint64_t offset = std::min<uint64_t>(range->offset, data.size());
    const uint64_t length = std::min<uint64_t>(range->length, data.size() - offset);
    return std::string(data.substr(offset, length));
  }

  // The answer of the memory tier, else of the disk tier (which then also fills the
  // memory tier), else nullopt with *epoch set to the key's stripe epoch at the miss.
  // REQUIRES: Cacheable(key).
  std::optional<GetResult> Lookup(std::string_view key, const std::optional<ByteRange>& range,
                                  uint64_t* epoch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(std::string(key));
      if (it != index_.end()) {
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, it->second);
        const Entry& entry = *it->second;
        GetResult result;
        result.meta = entry.meta;
        result.from_cache = true;
        result.data = Slice(*entry.data, range);
        return result;
      }
      ++stats_.misses;
      *epoch = epochs_[Stripe(key)];
    }
    if (disk_ == nullptr) return std::nullopt;
    if (range) {
      // A range alone from the file: re-rankers read a few rows of large segments.
      std::optional<GetResult> part = disk_->GetRange(key, *range);
      if (part) part->from_cache = true;
      return part;
    }
    std::optional<GetResult> result = disk_->Get(key);
    if (!result) return std::nullopt;
    result->from_cache = true;
    Fill(key, *epoch, *result);
    if (range) result->data = Slice(result->data, range);
    return result;
  }

  // Keeps the whole object `result`, fetched after a miss at `epoch`, in the memory tier
  // and (unless it came from there) the disk tier, unless a write through this wrapper
  // intervened.
  void Fill(std::string_view key, uint64_t epoch, const GetResult& result) {
    const size_t stripe = Stripe(key);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (epochs_[stripe] != epoch) return;
      if (result.data.size() <= options_.budget_bytes / 8) {
        Insert(std::string(key), std::make_shared<const std::string>(result.data), result.meta);
      }
    }
    if (result.from_cache || disk_ == nullptr) return;
    disk_->Put(key, result);
    // A write that landed meanwhile bumped the epoch; its Invalidate may have run before
    // this Put, so drop what was just written.
    bool stale;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stale = epochs_[stripe] != epoch;
    }
    if (stale) disk_->Erase(key);
  }

  bool Cacheable(std::string_view key) const {
    return !options_.cacheable || options_.cacheable(key);
  }
  static size_t Stripe(std::string_view key) {
    return std::hash<std::string_view>()(key) % kStripes;
  }

  void Invalidate(std::string_view key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++epochs_[Stripe(key)];
      auto it = index_.find(std::string(key));
      if (it != index_.end()) Erase(it);
    }
    if (disk_ != nullptr && Cacheable(key)) disk_->Erase(key);
  }

  // REQUIRES: mu_ held.
  void Erase(std::unordered_map<std::string, std::list<Entry>::iterator>::iterator it) {
    bytes_ -= it->second->data->size();
    lru_.erase(it->second);
    index_.erase(it);
  }

  // REQUIRES: mu_ held.
  void Insert(std::string key, std::shared_ptr<const std::string> data, ObjectMeta meta) {
    auto existing = index_.find(key);
    if (existing != index_.end()) Erase(existing);
    bytes_ += data->size();
    lru_.push_front(Entry{key, std::move(data), std::move(meta)});
    index_.emplace(std::move(key), lru_.begin());
    while (bytes_ > options_.budget_bytes && !lru_.empty()) {
      ++stats_.evictions;
      Erase(index_.find(lru_.back().key));
    }
  }

  const ObjectStorePtr base_;
  const CacheOptions options_;
  const std::unique_ptr<storage::DiskCache> disk_;  // null without a disk tier
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  uint64_t bytes_ = 0;                                                 // guarded by mu_
  std::array<uint64_t, kStripes> epochs_{};                            // guarded by mu_
  CacheStats stats_;                                                   // guarded by mu_
  // Objects fetched whole for a range that the disk tier could not keep (over its
  // budget / 8): their ranges go to the base from then on. Guarded by mu_; bounded.
  std::unordered_set<std::string> too_large_;
};

}  // namespace

std::shared_ptr<CachingStore> NewCachingStore(ObjectStorePtr base, CacheOptions options) {
  return std::make_shared<CachingStoreImpl>(std::move(base), std::move(options));
}

Result<std::shared_ptr<CachingStore>> OpenCachingStore(ObjectStorePtr base, CacheOptions options) {
  std::unique_ptr<storage::DiskCache> disk;
  if (!options.disk_dir.empty()) {
    GANNET_ASSIGN_OR_RETURN(disk,
                            storage::DiskCache::Open(options.disk_dir, options.disk_budget_bytes));
  }
  return std::shared_ptr<CachingStore>(
      std::make_shared<CachingStoreImpl>(std::move(base), std::move(options), std::move(disk)));
}

}  // namespace gannet
