// LatencyStore: sleeps a fixed latency plus uniform jitter before forwarding each call.
#include <algorithm>
#include <mutex>
#include <random>
#include <thread>

#include "gannet/object_store.h"

namespace gannet {

namespace {

class LatencyStore final : public ObjectStore {
 public:
  LatencyStore(ObjectStorePtr base, std::chrono::microseconds latency,
               std::chrono::microseconds jitter)
      : base_(std::move(base)),
        latency_(std::max(latency, std::chrono::microseconds(0))),
        jitter_(std::max(jitter, std::chrono::microseconds(0))) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    Delay();
    return base_->Get(key, range);
  }
  // The batch's requests travel together: one delay for all of them.
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override {
    Delay();
    return base_->GetMany(requests);
  }
  Result<ObjectMeta> Head(std::string_view key) override {
    Delay();
    return base_->Head(key);
  }
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override {
    Delay();
    return base_->List(prefix, start_after, limit);
  }
  Status Delete(std::string_view key) override {
    Delay();
    return base_->Delete(key);
  }
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override {
    Delay();
    return base_->PutIfAbsent(key, data);
  }
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override {
    Delay();
    return base_->PutIfMatch(key, data, etag);
  }
  std::string Describe() const override {
    return "latency(" + std::to_string(latency_.count()) + "us+" + std::to_string(jitter_.count()) +
           "us, " + base_->Describe() + ")";
  }

 private:
  void Delay() {
    std::chrono::microseconds delay = latency_;
    if (jitter_.count() > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      delay += std::chrono::microseconds(
          std::uniform_int_distribution<int64_t>(0, jitter_.count())(rng_));
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
  }

  const ObjectStorePtr base_;
  const std::chrono::microseconds latency_, jitter_;
  std::mutex mu_;
  std::mt19937_64 rng_{0x6a77e7};  // guarded by mu_; jitter need not be unpredictable
};

}  // namespace

ObjectStorePtr NewLatencyStore(ObjectStorePtr base, std::chrono::microseconds latency,
                               std::chrono::microseconds jitter) {
  return std::make_shared<LatencyStore>(std::move(base), latency, jitter);
}

}  // namespace gannet
