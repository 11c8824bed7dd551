// CachingStore: an LRU of whole objects' bytes in memory in front of any ObjectStore.
//
// Coherence with writes through this wrapper: every mutation (put, delete), whatever its
// outcome, erases the key and bumps the epoch of the key's stripe after the base store
// answered. A Get that missed inserts what it fetched only if its stripe's epoch did not
// move meanwhile, so bytes fetched before a concurrent write completed are never cached.
// Puts do not populate the cache: two racing writes may finish in the base store in one
// order and here in the other.
#include <array>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "gannet/object_store.h"

namespace gannet {

namespace {

constexpr size_t kStripes = 256;

class CachingStoreImpl final : public CachingStore {
 public:
  CachingStoreImpl(ObjectStorePtr base, CacheOptions options)
      : base_(std::move(base)), options_(std::move(options)) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    if (!Cacheable(key)) return base_->Get(key, range);
    const size_t stripe = Stripe(key);
    uint64_t epoch = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(std::string(key));
      if (it != index_.end()) {
        ++stats_.hits;
        lru_.splice(lru_.begin(), lru_, it->second);
        const Entry& entry = *it->second;
        GetResult result;
        result.meta = entry.meta;
        if (!range) {
          result.data = *entry.data;
        } else {
          const uint64_t offset = std::min<uint64_t>(range->offset, entry.data->size());
          const uint64_t length = std::min<uint64_t>(range->length, entry.data->size() - offset);
          result.data = entry.data->substr(offset, length);
        }
        return result;
      }
      ++stats_.misses;
      epoch = epochs_[stripe];
    }
    if (range) return base_->Get(key, range);  // only whole objects are cached
    Result<GetResult> result = base_->Get(key);
    if (result.ok() && result->data.size() <= options_.budget_bytes / 8) {
      std::lock_guard<std::mutex> lock(mu_);
      if (epochs_[stripe] == epoch) {
        Insert(std::string(key), std::make_shared<const std::string>(result->data), result->meta);
      }
    }
    return result;
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

  bool Cacheable(std::string_view key) const {
    return !options_.cacheable || options_.cacheable(key);
  }
  static size_t Stripe(std::string_view key) {
    return std::hash<std::string_view>()(key) % kStripes;
  }

  void Invalidate(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    ++epochs_[Stripe(key)];
    auto it = index_.find(std::string(key));
    if (it != index_.end()) Erase(it);
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
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  uint64_t bytes_ = 0;                                                 // guarded by mu_
  std::array<uint64_t, kStripes> epochs_{};                            // guarded by mu_
  CacheStats stats_;                                                   // guarded by mu_
};

}  // namespace

std::shared_ptr<CachingStore> NewCachingStore(ObjectStorePtr base, CacheOptions options) {
  return std::make_shared<CachingStoreImpl>(std::move(base), std::move(options));
}

}  // namespace gannet
