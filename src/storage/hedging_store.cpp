// HedgingStore: a GET still unanswered after `after` gets a second, identical GET; the
// first success wins (GETs are idempotent, so the loser's answer is simply dropped).
// Each GET runs on its own thread so that the caller can stop waiting for it; a loser
// finishes in the background. The threads are joined (finished ones at each launch, all
// in the destructor), so none outlives the store it calls.
#include <atomic>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "gannet/object_store.h"
#include "storage/forwarding_store.h"

namespace gannet {

namespace {

class HedgingStoreImpl final : public storage::ForwardingStore<HedgingStore> {
 public:
  HedgingStoreImpl(ObjectStorePtr base, HedgeOptions options)
      : ForwardingStore(std::move(base)), options_(options) {}
  ~HedgingStoreImpl() override {
    std::lock_guard<std::mutex> lock(threads_mu_);
    for (Worker& w : threads_) w.thread.join();
  }

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    auto call = std::make_shared<Call>();
    Launch(call, std::string(key), range);
    std::unique_lock<std::mutex> lock(call->mu);
    if (!call->cv.wait_for(lock, options_.after, [&] { return call->done(); })) {
      for (int i = 0; i < options_.max_hedges && !call->done(); ++i) {
        lock.unlock();
        {
          std::lock_guard<std::mutex> s(stats_mu_);
          ++stats_.hedges;
        }
        Launch(call, std::string(key), range, /*hedge=*/true);
        lock.lock();
        if (i + 1 < options_.max_hedges) {
          call->cv.wait_for(lock, options_.after, [&] { return call->done(); });
        }
      }
      call->cv.wait(lock, [&] { return call->done(); });
    }
    if (call->winner_was_hedge) {
      std::lock_guard<std::mutex> s(stats_mu_);
      ++stats_.hedges_won;
    }
    return std::move(*call->result);
  }

  // Other calls pass through unchanged (ForwardingStore): writes are never duplicated.
  std::string Describe() const override { return "hedging(" + base_->Describe() + ")"; }

  HedgeStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  // One logical GET and its attempts.
  struct Call {
    std::mutex mu;
    std::condition_variable cv;
    int running = 0;
    std::optional<Result<GetResult>> result;  // the first success, else the last failure
    bool succeeded = false, winner_was_hedge = false;
    // Done once a success arrived, or every attempt launched so far failed.
    bool done() const { return succeeded || (running == 0 && result.has_value()); }
  };

  void Launch(const std::shared_ptr<Call>& call, std::string key, std::optional<ByteRange> range,
              bool hedge = false) {
    {
      std::lock_guard<std::mutex> lock(call->mu);
      ++call->running;
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    std::thread t([base = base_, call, key = std::move(key), range, hedge, finished] {
      Result<GetResult> r = base->Get(key, range);
      std::lock_guard<std::mutex> lock(call->mu);
      --call->running;
      if (!call->succeeded) {
        if (r.ok()) {
          call->succeeded = true;
          call->winner_was_hedge = hedge;
          call->result = std::move(r);
        } else if (!call->result.has_value() || call->running == 0) {
          call->result = std::move(r);
        }
      }
      call->cv.notify_all();
      finished->store(true);
    });
    std::lock_guard<std::mutex> lock(threads_mu_);
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (it->finished->load()) {
        it->thread.join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
    threads_.push_back(Worker{std::move(t), std::move(finished)});
  }

  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };

  const HedgeOptions options_;
  mutable std::mutex stats_mu_;
  HedgeStats stats_;
  std::mutex threads_mu_;
  std::list<Worker> threads_;  // guarded by threads_mu_
};

}  // namespace

std::shared_ptr<HedgingStore> NewHedgingStore(ObjectStorePtr base, HedgeOptions options) {
  return std::make_shared<HedgingStoreImpl>(std::move(base), options);
}

}  // namespace gannet
