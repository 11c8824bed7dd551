// CachingStore beyond the conformance suite: hits cost no base request, the byte budget
// holds, writes invalidate, `cacheable` excludes keys, and a Get racing with writes
// never leaves older bytes cached.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gannet/object_store.h"

namespace gannet {
namespace {

class CachingStoreTest : public ::testing::Test {
 protected:
  void Make(CacheOptions options) {
    counting_ = NewCountingStore(NewMemoryStore());
    cache_ = NewCachingStore(counting_, std::move(options));
  }
  void SetUp() override { Make(CacheOptions{1 << 20, {}}); }

  std::shared_ptr<CountingStore> counting_;
  std::shared_ptr<CachingStore> cache_;
};

TEST_F(CachingStoreTest, HitsAreServedFromMemory) {
  ASSERT_TRUE(cache_->PutIfAbsent("seg/a", "0123456789").ok());
  counting_->Reset();
  ASSERT_EQ(cache_->Get("seg/a")->data, "0123456789");
  EXPECT_EQ(counting_->counters().gets, 1u);
  ASSERT_EQ(cache_->Get("seg/a")->data, "0123456789");
  Result<GetResult> ranged = cache_->Get("seg/a", ByteRange{7, 10});
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(ranged->data, "789");
  EXPECT_EQ(ranged->meta.size, 10u);
  Result<ObjectMeta> head = cache_->Head("seg/a");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 10u);
  EXPECT_EQ(counting_->counters().requests(), 1u) << "only the first Get reached the base";
  CacheStats stats = cache_->stats();
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.bytes_cached, 10u);
  EXPECT_EQ(stats.objects_cached, 1u);
  EXPECT_TRUE(cache_->Get("missing").status().IsNotFound());
  EXPECT_TRUE(cache_->Get("missing").status().IsNotFound()) << "misses are not cached";
  cache_->Clear();
  EXPECT_EQ(cache_->stats().objects_cached, 0u);
}

TEST_F(CachingStoreTest, ByteBudgetEvictsLeastRecentlyUsed) {
  Make(CacheOptions{8000, {}});  // objects up to 1000 bytes are cached
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(cache_->PutIfAbsent("k" + std::to_string(i), std::string(900, 'a' + i)).ok());
  }
  ASSERT_TRUE(cache_->PutIfAbsent("big", std::string(1001, 'b')).ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(cache_->Get("k" + std::to_string(i)).ok());
  ASSERT_TRUE(cache_->Get("big").ok());
  CacheStats stats = cache_->stats();
  EXPECT_LE(stats.bytes_cached, 8000u);
  EXPECT_EQ(stats.objects_cached, 8u);
  EXPECT_EQ(stats.evictions, 12u);
  counting_->Reset();
  ASSERT_TRUE(cache_->Get("k19").ok());  // most recent: cached
  EXPECT_EQ(counting_->counters().gets, 0u);
  ASSERT_TRUE(cache_->Get("k0").ok());   // evicted
  ASSERT_TRUE(cache_->Get("big").ok());  // too big to cache
  EXPECT_EQ(counting_->counters().gets, 2u);
}

TEST_F(CachingStoreTest, WritesAndDeletesInvalidate) {
  Result<ObjectMeta> v1 = cache_->PutIfAbsent("manifest", "v1");
  ASSERT_TRUE(v1.ok());
  ASSERT_EQ(cache_->Get("manifest")->data, "v1");
  Result<ObjectMeta> v2 = cache_->PutIfMatch("manifest", "v2", v1->etag);
  ASSERT_TRUE(v2.ok());
  Result<GetResult> got = cache_->Get("manifest");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "v2");
  EXPECT_EQ(got->meta.etag, v2->etag);
  ASSERT_TRUE(cache_->Delete("manifest").ok());
  EXPECT_TRUE(cache_->Get("manifest").status().IsNotFound());
  EXPECT_TRUE(cache_->Head("manifest").status().IsNotFound());
}

TEST_F(CachingStoreTest, CacheablePredicateExcludesKeys) {
  Make(CacheOptions{1 << 20, [](std::string_view key) { return !key.ends_with("/manifest"); }});
  ASSERT_TRUE(cache_->PutIfAbsent("ns/a/manifest", "m").ok());
  ASSERT_TRUE(cache_->PutIfAbsent("ns/a/segments/1", "s").ok());
  counting_->Reset();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cache_->Get("ns/a/manifest").ok());
    ASSERT_TRUE(cache_->Get("ns/a/segments/1").ok());
  }
  EXPECT_EQ(counting_->counters().gets, 4u);  // 3 manifest reads + 1 segment miss
}

TEST_F(CachingStoreTest, ConcurrentReadersNeverCacheOlderBytes) {
  ASSERT_TRUE(cache_->PutIfAbsent("counter", "0").ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) cache_->Get("counter").status().IgnoreError();
    });
  }
  for (int i = 1; i <= 300; ++i) {
    Result<GetResult> got = counting_->Get("counter");  // the truth, bypassing the cache
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(cache_->PutIfMatch("counter", std::to_string(i), got->meta.etag).ok());
  }
  stop = true;
  for (std::thread& reader : readers) reader.join();
  Result<GetResult> final_value = cache_->Get("counter");
  ASSERT_TRUE(final_value.ok());
  EXPECT_EQ(final_value->data, "300");
}

}  // namespace
}  // namespace gannet
