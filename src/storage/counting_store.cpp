// CountingStore: forwards every call to the base store and counts requests and bytes.
//
// Every call counts as one request of its kind, whatever its outcome. bytes_written counts
// the bytes of every put request sent; bytes_read the bytes of every successful Get.
#include <atomic>
#include <memory>

#include "gannet/object_store.h"

namespace gannet {

namespace {

class CountingStoreImpl final : public CountingStore {
 public:
  explicit CountingStoreImpl(ObjectStorePtr base) : base_(std::move(base)) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    gets_.fetch_add(1, std::memory_order_relaxed);
    Result<GetResult> result = base_->Get(key, range);
    if (result.ok()) bytes_read_.fetch_add(result->data.size(), std::memory_order_relaxed);
    return result;
  }
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override {
    gets_.fetch_add(requests.size(), std::memory_order_relaxed);
    std::vector<Result<GetResult>> results = base_->GetMany(requests);
    for (const Result<GetResult>& result : results) {
      if (result.ok()) bytes_read_.fetch_add(result->data.size(), std::memory_order_relaxed);
    }
    return results;
  }
  Result<ObjectMeta> Head(std::string_view key) override {
    heads_.fetch_add(1, std::memory_order_relaxed);
    return base_->Head(key);
  }
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override {
    lists_.fetch_add(1, std::memory_order_relaxed);
    return base_->List(prefix, start_after, limit);
  }
  Status Delete(std::string_view key) override {
    deletes_.fetch_add(1, std::memory_order_relaxed);
    return base_->Delete(key);
  }
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override {
    CountPut(data);
    return base_->PutIfAbsent(key, data);
  }
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override {
    CountPut(data);
    return base_->PutIfMatch(key, data, etag);
  }
  std::string Describe() const override { return "counting(" + base_->Describe() + ")"; }

  StoreCounters counters() const override {
    StoreCounters c;
    c.gets = gets_.load(std::memory_order_relaxed);
    c.heads = heads_.load(std::memory_order_relaxed);
    c.lists = lists_.load(std::memory_order_relaxed);
    c.deletes = deletes_.load(std::memory_order_relaxed);
    c.puts = puts_.load(std::memory_order_relaxed);
    c.bytes_read = bytes_read_.load(std::memory_order_relaxed);
    c.bytes_written = bytes_written_.load(std::memory_order_relaxed);
    return c;
  }
  void Reset() override {
    for (auto* counter :
         {&gets_, &heads_, &lists_, &deletes_, &puts_, &bytes_read_, &bytes_written_}) {
      counter->store(0, std::memory_order_relaxed);
    }
  }

 private:
  void CountPut(std::string_view data) {
    puts_.fetch_add(1, std::memory_order_relaxed);
    bytes_written_.fetch_add(data.size(), std::memory_order_relaxed);
  }

  const ObjectStorePtr base_;
  std::atomic<uint64_t> gets_{0}, heads_{0}, lists_{0}, deletes_{0}, puts_{0};
  std::atomic<uint64_t> bytes_read_{0}, bytes_written_{0};
};

}  // namespace

std::shared_ptr<CountingStore> NewCountingStore(ObjectStorePtr base) {
  return std::make_shared<CountingStoreImpl>(std::move(base));
}

}  // namespace gannet
