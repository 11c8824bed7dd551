// CachingStore beyond the conformance suite: hits cost no base request, the byte budget
// holds, writes invalidate, `cacheable` excludes keys, and a Get racing with writes
// never leaves older bytes cached.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gannet/object_store.h"
#include "storage/test_temp_dir.h"

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

TEST_F(CachingStoreTest, GetManySendsOnlyMissesToTheBase) {
  for (const char* key : {"seg/a", "seg/b", "seg/c"}) {
    ASSERT_TRUE(cache_->PutIfAbsent(key, std::string("bytes of ") + key).ok());
  }
  ASSERT_TRUE(cache_->Get("seg/a").ok());
  counting_->Reset();
  std::vector<Result<GetResult>> got = cache_->GetMany({{"seg/a", std::nullopt},
                                                        {"seg/b", std::nullopt},
                                                        {"seg/c", ByteRange{9, 3}},
                                                        {"seg/none", std::nullopt}});
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0].ok() && got[1].ok() && got[2].ok());
  EXPECT_TRUE(got[0]->from_cache);
  EXPECT_EQ(got[1]->data, "bytes of seg/b");
  EXPECT_FALSE(got[1]->from_cache);
  EXPECT_EQ(got[2]->data, "seg");
  EXPECT_TRUE(got[3].status().IsNotFound());
  EXPECT_EQ(counting_->counters().gets, 3u) << "the hit did not reach the base";
  // The whole object fetched is now cached; the ranged read was not.
  counting_->Reset();
  got = cache_->GetMany({{"seg/b", std::nullopt}, {"seg/c", std::nullopt}});
  EXPECT_TRUE(got[0].ok() && got[0]->from_cache);
  EXPECT_TRUE(got[1].ok() && !got[1]->from_cache);
  EXPECT_EQ(counting_->counters().gets, 1u);
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

// ---- the disk tier ----

class DiskTierTest : public ::testing::Test {
 protected:
  std::shared_ptr<CachingStore> Open(uint64_t disk_budget = 1 << 20) {
    auto c =
        OpenCachingStore(counting_, CacheOptions{0, IsSegment, dir_.path() + "/c", disk_budget});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  }
  static bool IsSegment(std::string_view key) { return key.substr(0, 4) == "seg/"; }
  std::shared_ptr<CountingStore> counting_ = NewCountingStore(NewMemoryStore());
  storage::TempDir dir_;
};

TEST_F(DiskTierTest, SurvivesRestartWithoutBaseRequests) {
  {
    auto cache = Open();
    ASSERT_TRUE(cache->PutIfAbsent("seg/a", std::string(1000, 'a')).ok());
    ASSERT_TRUE(cache->Get("seg/a").ok());  // miss: fetched and written to disk
    EXPECT_EQ(cache->stats().disk_objects, 1u);
  }
  counting_->Reset();
  auto cache = Open();  // a new process: the directory is scanned
  EXPECT_EQ(cache->stats().disk_objects, 1u);
  auto got = cache->Get("seg/a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, std::string(1000, 'a'));
  EXPECT_EQ(got->meta.size, 1000u);
  EXPECT_FALSE(got->meta.etag.empty());
  auto ranged = cache->Get("seg/a", ByteRange{990, 100});
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(ranged->data, std::string(10, 'a'));
  EXPECT_EQ(counting_->counters().gets, 0u);
  EXPECT_EQ(cache->stats().disk_hits, 2u);
}

TEST_F(DiskTierTest, DamagedFilesAreDroppedAndRefetched) {
  auto cache = Open();
  ASSERT_TRUE(cache->PutIfAbsent("seg/b", "the real bytes").ok());
  ASSERT_TRUE(cache->Get("seg/b").ok());
  // Flip a byte of the data in every cached file.
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/c")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('X');
  }
  counting_->Reset();
  auto got = cache->Get("seg/b");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, "the real bytes");
  EXPECT_EQ(counting_->counters().gets, 1u);
  EXPECT_EQ(cache->stats().disk_corrupt, 1u);
  // Refetched bytes were cached again and verify.
  counting_->Reset();
  EXPECT_EQ(cache->Get("seg/b")->data, "the real bytes");
  EXPECT_EQ(counting_->counters().gets, 0u);
}

// Ranged reads of a cached object read their range alone from its file; a file cut short
// is dropped, and the object fetched whole again.
TEST_F(DiskTierTest, RangedReadsComeFromTheFileAndCheckItsLength) {
  std::string data(5000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  auto cache = Open();
  ASSERT_TRUE(cache->PutIfAbsent("seg/r", data).ok());
  counting_->Reset();
  for (const auto& [offset, length] :
       {std::pair<uint64_t, uint64_t>{0, 10}, {4321, 700}, {4990, 100}, {6000, 5}}) {
    auto got = cache->Get("seg/r", ByteRange{offset, length});
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->data, data.substr(std::min<uint64_t>(offset, data.size()), length));
    EXPECT_EQ(got->meta.size, data.size());
  }
  std::vector<Result<GetResult>> many =
      cache->GetMany({{"seg/r", ByteRange{1, 2}}, {"seg/r", ByteRange{100, 3}}});
  ASSERT_TRUE(many[0].ok() && many[1].ok());
  EXPECT_EQ(many[0]->data, data.substr(1, 2));
  EXPECT_EQ(many[1]->data, data.substr(100, 3));
  EXPECT_EQ(counting_->counters().gets, 0u);
  EXPECT_EQ(cache->stats().disk_hits, 6u);
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/c")) {
    std::filesystem::resize_file(e.path(), std::filesystem::file_size(e.path()) - 1);
  }
  auto got = cache->Get("seg/r", ByteRange{10, 5});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data, data.substr(10, 5));
  EXPECT_EQ(counting_->counters().gets, 1u);
  EXPECT_EQ(cache->stats().disk_corrupt, 1u);
  EXPECT_EQ(counting_->counters().bytes_read, data.size()) << "refetched whole";
  EXPECT_EQ(cache->stats().disk_objects, 1u);
  counting_->Reset();
  EXPECT_EQ(cache->Get("seg/r", ByteRange{20, 2})->data, data.substr(20, 2));
  EXPECT_EQ(counting_->counters().gets, 0u);
}

// A range of an object the disk tier lacks (evicted, or never loaded through it) brings
// the object in whole, once, so that the next ranges are local; an object too large for
// the tier is fetched whole that once and then read by range from the base.
TEST_F(DiskTierTest, RangedMissFetchesTheObjectWholeOnce) {
  auto cache = Open(8 * 1100);  // objects up to 1100 bytes
  const std::string small(1000, 's'), large(5000, 'L');
  ASSERT_TRUE(counting_->PutIfAbsent("seg/small", small).ok());  // not through the cache
  ASSERT_TRUE(counting_->PutIfAbsent("seg/large", large).ok());
  counting_->Reset();
  std::vector<Result<GetResult>> got = cache->GetMany({{"seg/small", ByteRange{1, 3}},
                                                       {"seg/small", ByteRange{990, 20}},
                                                       {"other", ByteRange{0, 1}}});
  ASSERT_TRUE(got[0].ok() && got[1].ok());
  EXPECT_EQ(got[0]->data, "sss");
  EXPECT_EQ(got[1]->data, std::string(10, 's'));
  EXPECT_EQ(got[0]->meta.size, 1000u);
  EXPECT_TRUE(got[2].status().IsNotFound());
  EXPECT_EQ(counting_->counters().gets, 2u) << "one whole object and the uncacheable key";
  EXPECT_EQ(counting_->counters().bytes_read, 1000u);
  counting_->Reset();
  EXPECT_EQ(cache->Get("seg/small", ByteRange{500, 2})->data, "ss");
  EXPECT_EQ(counting_->counters().gets, 0u);
  // Too large for the tier: fetched whole the first time only.
  EXPECT_EQ(cache->Get("seg/large", ByteRange{10, 4})->data, "LLLL");
  EXPECT_EQ(counting_->counters().bytes_read, 5000u);
  counting_->Reset();
  got = cache->GetMany({{"seg/large", ByteRange{0, 2}}, {"seg/large", ByteRange{4998, 9}}});
  EXPECT_EQ(got[0]->data, "LL");
  EXPECT_EQ(got[1]->data, "LL");
  EXPECT_EQ(counting_->counters().gets, 2u);
  EXPECT_EQ(counting_->counters().bytes_read, 4u) << "ranges only, from the base";
  EXPECT_EQ(cache->stats().disk_objects, 1u);
}

// A cold query's reads (range_only) take their ranges alone from the base and leave the
// tier as it was; the object comes in whole when it is read whole, and later ranges of it
// (range_only or not) are local.
TEST_F(DiskTierTest, RangeOnlyMissesReadTheRangeAlone) {
  auto cache = Open();
  const std::string data(4000, 'c');
  ASSERT_TRUE(counting_->PutIfAbsent("seg/cold", data).ok());  // not through the cache
  counting_->Reset();
  GetRequest a{"seg/cold", ByteRange{0, 16}}, b{"seg/cold", ByteRange{3000, 8}};
  a.range_only = b.range_only = true;
  std::vector<Result<GetResult>> got = cache->GetMany({a, b});
  ASSERT_TRUE(got[0].ok() && got[1].ok());
  EXPECT_EQ(got[0]->data, data.substr(0, 16));
  EXPECT_EQ(got[1]->data, data.substr(3000, 8));
  EXPECT_EQ(got[0]->meta.size, data.size());
  EXPECT_EQ(counting_->counters().gets, 2u);
  EXPECT_EQ(counting_->counters().bytes_read, 24u) << "the ranges, not the object";
  EXPECT_EQ(cache->stats().disk_objects, 0u);
  ASSERT_TRUE(cache->Get("seg/cold").ok());  // the warm-up's whole read
  EXPECT_EQ(cache->stats().disk_objects, 1u);
  counting_->Reset();
  got = cache->GetMany({a});
  ASSERT_TRUE(got[0].ok());
  EXPECT_EQ(got[0]->data, data.substr(0, 16));
  EXPECT_EQ(counting_->counters().gets, 0u);
}

TEST_F(DiskTierTest, BudgetEvictsLeastRecentlyUsedAndWritesInvalidate) {
  auto cache = Open(8 * 1100);  // objects up to 1100 bytes; about 7 fit
  for (int i = 0; i < 20; ++i) {
    const std::string key = "seg/" + std::to_string(i);
    ASSERT_TRUE(cache->PutIfAbsent(key, std::string(1000, 'x')).ok());
    ASSERT_TRUE(cache->Get(key).ok());
  }
  CacheStats s = cache->stats();
  EXPECT_LE(s.disk_bytes, 8u * 1100);
  EXPECT_GT(s.disk_evictions, 0u);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/c")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, s.disk_objects);
  // A delete through the wrapper removes the cached copy; not-cacheable keys never land.
  ASSERT_TRUE(cache->Delete("seg/19").ok());
  EXPECT_TRUE(cache->Get("seg/19").status().IsNotFound());
  ASSERT_TRUE(cache->PutIfAbsent("manifest", "m").ok());
  ASSERT_TRUE(cache->Get("manifest").ok());
  EXPECT_EQ(cache->stats().disk_objects, s.disk_objects - 1);
}

}  // namespace
}  // namespace gannet
