// Counting, Latency and Faulty wrappers: the behaviour they add on top of a base store.
// (That they are otherwise transparent is covered by the conformance suite.)
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "gannet/object_store.h"
#include "storage/forwarding_store.h"

namespace gannet {
namespace {

TEST(FaultyStore, ScriptedRuleFiresOnce) {
  ObjectStorePtr base = NewMemoryStore();
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(base);
  faulty->Script({FaultOp::kPutIfAbsent, "", FaultKind::kError});

  Result<ObjectMeta> failed = faulty->PutIfAbsent("k", "v");
  EXPECT_TRUE(failed.status().IsUnavailable()) << failed.status().ToString();
  EXPECT_TRUE(base->Head("k").status().IsNotFound()) << "kError must not apply the call";
  EXPECT_EQ(faulty->faults_injected(), 1u);

  EXPECT_TRUE(faulty->PutIfAbsent("k", "v").ok());
  EXPECT_EQ(faulty->faults_injected(), 1u);
}

TEST(FaultyStore, RulesMatchOpAndKeyPrefixInOrder) {
  ObjectStorePtr base = NewMemoryStore();
  ASSERT_TRUE(base->PutIfAbsent("wal/1", "w").ok());
  ASSERT_TRUE(base->PutIfAbsent("seg/1", "s").ok());
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(base);
  faulty->Script({FaultOp::kGet, "wal/", FaultKind::kIOError});
  faulty->Script({FaultOp::kAny, "wal/", FaultKind::kError});

  EXPECT_TRUE(faulty->Get("seg/1").ok()) << "other prefix";
  EXPECT_TRUE(faulty->Head("seg/1").ok());
  EXPECT_EQ(faulty->Get("wal/1").status().code(), StatusCode::kIOError) << "first rule first";
  EXPECT_EQ(faulty->Head("wal/1").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(faulty->Get("wal/1").ok()) << "both rules used up";
  EXPECT_EQ(faulty->faults_injected(), 2u);

  faulty->Script({FaultOp::kList, "wal", FaultKind::kError});
  EXPECT_TRUE(faulty->List("seg/").ok());
  EXPECT_TRUE(faulty->List("wal/").status().IsUnavailable()) << "List matches its prefix";

  faulty->Script({FaultOp::kDelete, "", FaultKind::kError});
  faulty->Clear();
  EXPECT_TRUE(faulty->Delete("wal/1").ok()) << "Clear drops scripted rules";
}

TEST(FaultyStore, TimeoutAppliedReallyApplies) {
  ObjectStorePtr base = NewMemoryStore();
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(base);

  faulty->Script({FaultOp::kPutIfAbsent, "", FaultKind::kTimeoutApplied});
  Result<ObjectMeta> put = faulty->PutIfAbsent("k", "v1");
  EXPECT_TRUE(put.status().IsUnavailable());
  EXPECT_NE(put.status().message().find("applied"), std::string::npos);
  Result<GetResult> got = base->Get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "v1");
  EXPECT_TRUE(faulty->PutIfAbsent("k", "v1").status().IsAlreadyExists()) << "retry sees it";

  faulty->Script({FaultOp::kPutIfMatch, "", FaultKind::kTimeoutApplied});
  EXPECT_TRUE(faulty->PutIfMatch("k", "v2", got->meta.etag).status().IsUnavailable());
  ASSERT_TRUE(base->Get("k").ok());
  EXPECT_EQ(base->Get("k")->data, "v2");

  faulty->Script({FaultOp::kDelete, "", FaultKind::kTimeoutApplied});
  EXPECT_TRUE(faulty->Delete("k").IsUnavailable());
  EXPECT_TRUE(base->Head("k").status().IsNotFound());
  EXPECT_EQ(faulty->faults_injected(), 3u);
}

// Which of `calls` Head calls fail with random faults at p = 0.3 under `seed`.
std::vector<bool> RandomFaultPattern(uint64_t seed, int calls, uint64_t* injected) {
  ObjectStorePtr base = NewMemoryStore();
  if (!base->PutIfAbsent("x/k", "v").ok()) return {};
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(base);
  faulty->SetRandom({FaultOp::kHead, "x/", FaultKind::kError}, 0.3, seed);
  std::vector<bool> failed;
  for (int i = 0; i < calls; ++i) {
    // Calls the rule does not match draw no random numbers.
    if (!faulty->Get("x/k").ok() || !faulty->Head("y").status().IsNotFound()) return {};
    failed.push_back(!faulty->Head("x/k").ok());
  }
  *injected = faulty->faults_injected();
  return failed;
}

TEST(FaultyStore, RandomFaultsAreReproduciblePerSeed) {
  uint64_t injected_a = 0, injected_b = 0, injected_c = 0;
  std::vector<bool> a = RandomFaultPattern(42, 400, &injected_a);
  std::vector<bool> b = RandomFaultPattern(42, 400, &injected_b);
  std::vector<bool> c = RandomFaultPattern(43, 400, &injected_c);
  ASSERT_EQ(a.size(), 400u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto failures = static_cast<uint64_t>(std::count(a.begin(), a.end(), true));
  EXPECT_EQ(injected_a, failures);
  EXPECT_GT(failures, 60u);  // about 120 expected
  EXPECT_LT(failures, 200u);
}

TEST(FaultyStore, RandomFaultsStopWhenDisabled) {
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(NewMemoryStore());
  faulty->SetRandom({FaultOp::kAny, "", FaultKind::kIOError}, 1.0, 7);
  EXPECT_EQ(faulty->Delete("a").code(), StatusCode::kIOError);
  faulty->SetRandom({}, 0, 7);
  EXPECT_TRUE(faulty->Delete("a").ok());
  faulty->SetRandom({FaultOp::kAny, "", FaultKind::kIOError}, 1.0, 7);
  faulty->Clear();
  EXPECT_TRUE(faulty->Delete("a").ok());
  EXPECT_EQ(faulty->faults_injected(), 1u);
}

TEST(CountingStore, CountsRequestsAndBytes) {
  std::shared_ptr<CountingStore> counting = NewCountingStore(NewMemoryStore());
  ASSERT_TRUE(counting->PutIfAbsent("a", "hello").ok());
  EXPECT_TRUE(counting->PutIfAbsent("a", "abc").status().IsAlreadyExists());
  Result<GetResult> got = counting->Get("a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(counting->Get("a", ByteRange{1, 2}).ok());
  EXPECT_TRUE(counting->Get("missing").status().IsNotFound());
  ASSERT_TRUE(counting->Head("a").ok());
  ASSERT_TRUE(counting->List("").ok());
  ASSERT_TRUE(counting->PutIfMatch("a", "hi", got->meta.etag).ok());
  ASSERT_TRUE(counting->Delete("a").ok());

  StoreCounters c = counting->counters();
  EXPECT_EQ(c.gets, 3u);
  EXPECT_EQ(c.heads, 1u);
  EXPECT_EQ(c.lists, 1u);
  EXPECT_EQ(c.puts, 3u);
  EXPECT_EQ(c.deletes, 1u);
  EXPECT_EQ(c.requests(), 9u);
  EXPECT_EQ(c.bytes_read, 5u + 2u);
  EXPECT_EQ(c.bytes_written, 5u + 3u + 2u);
  EXPECT_EQ(counting->Describe(), "counting(memory)");

  counting->Reset();
  c = counting->counters();
  EXPECT_EQ(c.requests(), 0u);
  EXPECT_EQ(c.bytes_read, 0u);
  EXPECT_EQ(c.bytes_written, 0u);
}

TEST(LatencyStore, DelaysEveryRequest) {
  using Clock = std::chrono::steady_clock;
  const auto latency = std::chrono::milliseconds(20);
  ObjectStorePtr slow = NewLatencyStore(NewMemoryStore(), latency);
  auto start = Clock::now();
  EXPECT_TRUE(slow->Head("k").status().IsNotFound());
  EXPECT_GE(Clock::now() - start, latency);
  start = Clock::now();
  ASSERT_TRUE(slow->PutIfAbsent("k", "v").ok());
  ASSERT_TRUE(slow->Get("k").ok());
  EXPECT_GE(Clock::now() - start, 2 * latency);

  ObjectStorePtr jittery =
      NewLatencyStore(NewMemoryStore(), std::chrono::milliseconds(5), std::chrono::milliseconds(5));
  start = Clock::now();
  ASSERT_TRUE(jittery->List("").ok());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(5));
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// A store whose first GET blocks until released: the straggler a hedge should overtake.
class StragglerStore final : public storage::ForwardingStore<> {
 public:
  explicit StragglerStore(ObjectStorePtr base) : ForwardingStore(std::move(base)) {}
  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    bool first;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = gets_++ == 0;
    }
    if (first) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return released_; });
    }
    return base_->Get(key, range);
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int gets() {
    std::lock_guard<std::mutex> lock(mu_);
    return gets_;
  }
  std::string Describe() const override { return "straggler"; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int gets_ = 0;
  bool released_ = false;
};

TEST(HedgingStore, HedgeOvertakesAStragglingGet) {
  auto straggler = std::make_shared<StragglerStore>(NewMemoryStore());
  ASSERT_TRUE(straggler->PutIfAbsent("seg/a", "bytes").ok());
  auto hedging = NewHedgingStore(straggler, HedgeOptions{std::chrono::milliseconds(5), 1});
  // The first attempt blocks until released; the answer can only come from the hedge.
  auto got = hedging->Get("seg/a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->data, "bytes");
  EXPECT_EQ(straggler->gets(), 2);
  EXPECT_EQ(hedging->stats().hedges, 1u);
  EXPECT_EQ(hedging->stats().hedges_won, 1u);
  straggler->Release();  // the loser finishes in the background
  // Errors: a missing key is NotFound whichever attempt answers; writes pass through once.
  EXPECT_TRUE(hedging->Get("seg/none").status().IsNotFound());
  ASSERT_TRUE(hedging->PutIfAbsent("seg/b", "x").ok());
  EXPECT_TRUE(hedging->PutIfAbsent("seg/b", "y").status().IsAlreadyExists());
}

}  // namespace
}  // namespace gannet
