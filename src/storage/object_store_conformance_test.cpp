// One conformance suite for every ObjectStore backend and wrapper: each test runs against
// LocalStore (fresh directory), MemoryStore, Counting/Latency/Faulty/Caching wrappers
// configured to be transparent, and S3Store on a fresh bucket of a real
// S3-compatible server when GANNET_TEST_S3_BUCKET is set (scripts/rgw.sh; skipped
// otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gannet/object_store.h"
#include "storage/s3_test_util.h"
#include "storage/test_temp_dir.h"

namespace gannet::storage {
namespace {

struct Backend {
  std::string name;
  // Makes a fresh, empty store; `dir` is a fresh directory it may use.
  std::function<Result<ObjectStorePtr>(const std::string& dir)> make;
  // Why this backend cannot run here; "" when it can.
  std::function<std::string()> unavailable = [] { return std::string(); };
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::string PrintBackend(const testing::TestParamInfo<Backend>& info) { return info.param.name; }

class ObjectStoreConformance : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    if (const std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
    Result<ObjectStorePtr> store = GetParam().make(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
  }

  void Put(const std::string& key, const std::string& data) {
    Result<ObjectMeta> meta = store_->PutIfAbsent(key, data);
    ASSERT_TRUE(meta.ok()) << key << ": " << meta.status().ToString();
  }

  std::string Read(const std::string& key) {
    Result<GetResult> got = store_->Get(key);
    EXPECT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    return got.ok() ? got->data : "<error>";
  }

  std::vector<std::string> Keys(const std::string& prefix, const std::string& start_after = {},
                                size_t limit = 0, bool* truncated = nullptr) {
    Result<ListResult> listed = store_->List(prefix, start_after, limit);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    std::vector<std::string> keys;
    if (!listed.ok()) return keys;
    for (const ObjectMeta& meta : listed->objects) keys.push_back(meta.key);
    if (truncated != nullptr) *truncated = listed->truncated;
    return keys;
  }

  // Lists `prefix` in pages of `page`, following start_after, and returns all keys.
  std::vector<std::string> KeysPaged(const std::string& prefix, size_t page) {
    std::vector<std::string> all;
    std::string after;
    for (int pages = 0; pages < 1000; ++pages) {
      bool truncated = false;
      std::vector<std::string> keys = Keys(prefix, after, page, &truncated);
      EXPECT_LE(keys.size(), page);
      all.insert(all.end(), keys.begin(), keys.end());
      if (!truncated) break;
      EXPECT_FALSE(keys.empty()) << "truncated page with no keys";
      if (keys.empty()) break;
      after = keys.back();
    }
    return all;
  }

  TempDir dir_;
  ObjectStorePtr store_;
};

TEST_P(ObjectStoreConformance, MissingKeyIsNotFound) {
  EXPECT_TRUE(store_->Get("missing").status().IsNotFound());
  EXPECT_TRUE(store_->Get("no/such/key", ByteRange{0, 1}).status().IsNotFound());
  EXPECT_TRUE(store_->Head("missing").status().IsNotFound());
  EXPECT_TRUE(store_->Head("no/such/key").status().IsNotFound());
  Put("dir/file", "x");
  EXPECT_TRUE(store_->Get("dir").status().IsNotFound()) << "a key prefix is not an object";
  EXPECT_TRUE(store_->Head("dir").status().IsNotFound());
  EXPECT_TRUE(store_->Get("dir/file/below").status().IsNotFound());
}

TEST_P(ObjectStoreConformance, PutIfAbsentCreatesOnce) {
  Result<ObjectMeta> first = store_->PutIfAbsent("ns/wal/1", "hello");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->key, "ns/wal/1");
  EXPECT_EQ(first->size, 5u);
  EXPECT_FALSE(first->etag.empty());

  Result<ObjectMeta> second = store_->PutIfAbsent("ns/wal/1", "other bytes");
  EXPECT_TRUE(second.status().IsAlreadyExists()) << second.status().ToString();

  Result<GetResult> got = store_->Get("ns/wal/1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->data, "hello");
  EXPECT_EQ(got->meta.key, "ns/wal/1");
  EXPECT_EQ(got->meta.size, 5u);
  EXPECT_EQ(got->meta.etag, first->etag);

  Result<ObjectMeta> head = store_->Head("ns/wal/1");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(head->etag, first->etag);
  // A put reports the store's clock at the write; S3's resolution is one second, and its
  // Date header may be a second later than the object's Last-Modified.
  EXPECT_LE(std::abs(head->mtime_ms - first->mtime_ms), 1000);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_LE(std::abs(head->mtime_ms - now_ms), 60'000) << "mtime is not near now";
}

TEST_P(ObjectStoreConformance, EmptyAndBinaryObjects) {
  Put("empty", "");
  EXPECT_EQ(Read("empty"), "");
  ASSERT_TRUE(store_->Head("empty").ok());
  EXPECT_EQ(store_->Head("empty")->size, 0u);

  std::string binary;
  for (int i = 0; i < 70000; ++i) binary.push_back(static_cast<char>(i * 7919 % 256));
  Put("binary", binary);
  EXPECT_EQ(Read("binary"), binary);
}

TEST_P(ObjectStoreConformance, RangedGet) {
  Put("r", "0123456789");
  auto get = [&](uint64_t offset, uint64_t length) -> std::string {
    Result<GetResult> got = store_->Get("r", ByteRange{offset, length});
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok()) return "<error>";
    EXPECT_EQ(got->meta.size, 10u) << "meta is the whole object's";
    return got->data;
  };
  EXPECT_EQ(get(2, 3), "234");
  EXPECT_EQ(get(0, 10), "0123456789");
  EXPECT_EQ(get(0, 0), "");
  EXPECT_EQ(get(7, 100), "789") << "a range past the end is truncated";
  EXPECT_EQ(get(10, 5), "") << "offset at the end";
  EXPECT_EQ(get(50, 5), "") << "offset past the end";
}

TEST_P(ObjectStoreConformance, GetManyAnswersEachRequestInOrder) {
  EXPECT_TRUE(store_->GetMany({}).empty());
  Put("m/a", "alpha");
  Put("m/b", "0123456789");
  Put("m/empty", "");
  std::vector<GetRequest> requests = {{"m/b", ByteRange{2, 3}},  {"m/missing", std::nullopt},
                                      {"m/a", std::nullopt},     {"../bad", std::nullopt},
                                      {"m/b", ByteRange{0, 0}},  {"m/empty", std::nullopt},
                                      {"m/b", ByteRange{8, 100}}};
  // More requests than one wave of threads or connections, some repeated.
  for (int i = 0; i < 40; ++i) requests.push_back({i % 2 ? "m/a" : "m/b", std::nullopt});
  std::vector<Result<GetResult>> got = store_->GetMany(requests);
  ASSERT_EQ(got.size(), requests.size());
  auto data = [&](size_t i) { return got[i].ok() ? got[i]->data : got[i].status().ToString(); };
  EXPECT_EQ(data(0), "234");
  EXPECT_EQ(got[0]->meta.size, 10u) << "meta is the whole object's";
  EXPECT_TRUE(got[1].status().IsNotFound()) << got[1].status().ToString();
  EXPECT_EQ(data(2), "alpha");
  EXPECT_EQ(got[2]->meta.size, 5u);
  EXPECT_TRUE(got[3].status().IsInvalidArgument()) << got[3].status().ToString();
  EXPECT_EQ(data(4), "");
  EXPECT_EQ(data(5), "");
  EXPECT_EQ(data(6), "89");
  for (size_t i = 7; i < requests.size(); ++i) {
    EXPECT_EQ(data(i), i % 2 ? "0123456789" : "alpha") << i;
  }
}

// Only ranges (a re-ranker's batch: runs of one key, some keys again later).
TEST_P(ObjectStoreConformance, GetManyOfRangesAnswersEachRequestInOrder) {
  Put("r/a", "alpha");
  Put("r/b", "0123456789");
  const std::vector<GetRequest> requests = {
      {"r/b", ByteRange{2, 3}},  {"r/b", ByteRange{8, 100}},  {"r/missing", ByteRange{0, 1}},
      {"r/a", ByteRange{1, 2}},  {"../bad", ByteRange{0, 1}}, {"r/b", ByteRange{0, 1}},
      {"r/b", ByteRange{20, 1}}, {"r/a", ByteRange{0, 5}}};
  std::vector<Result<GetResult>> got = store_->GetMany(requests);
  ASSERT_EQ(got.size(), requests.size());
  auto data = [&](size_t i) { return got[i].ok() ? got[i]->data : got[i].status().ToString(); };
  EXPECT_EQ(data(0), "234");
  EXPECT_EQ(data(1), "89");
  EXPECT_TRUE(got[2].status().IsNotFound()) << got[2].status().ToString();
  EXPECT_EQ(data(3), "lp");
  EXPECT_EQ(got[3]->meta.size, 5u);
  EXPECT_TRUE(got[4].status().IsInvalidArgument()) << got[4].status().ToString();
  EXPECT_EQ(data(5), "0");
  EXPECT_EQ(data(6), "");
  EXPECT_EQ(data(7), "alpha");
  EXPECT_EQ(got[7]->meta.size, 5u);
}

TEST_P(ObjectStoreConformance, ListPrefixOrderAndPagination) {
  const std::vector<std::string> keys = {
      "ns/wal/00000000000000000001",
      "ns/wal/00000000000000000002",
      "ns/wal/00000000000000000010",
      "ns/segments/x",
      "ns/segments/y/a",
      "ns/segments/y/b",
      "ns/manifest",
      "ns/wal-x",
      "ns-other/a",
      "nsa",
      "ns/segmentsz",
      "other/ns/wal/1",
  };
  // Created out of order on purpose.
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) Put(*it, "data:" + *it);

  auto expected = [&](const std::string& prefix, const std::string& after = {}) {
    std::vector<std::string> out;
    for (const std::string& key : keys) {
      if (key.starts_with(prefix) && key > after) out.push_back(key);
    }
    std::sort(out.begin(), out.end());
    return out;
  };

  EXPECT_EQ(Keys(""), expected(""));
  EXPECT_EQ(Keys("ns/"), expected("ns/"));
  EXPECT_EQ(Keys("ns"), expected("ns"));
  EXPECT_EQ(Keys("ns/wal/"), expected("ns/wal/"));
  EXPECT_EQ(Keys("ns/w"), expected("ns/w")) << "prefix ending inside a name";
  EXPECT_EQ(Keys("ns/wal"), expected("ns/wal"));
  EXPECT_EQ(Keys("ns/segments"), expected("ns/segments"));
  EXPECT_EQ(Keys("ns/segments/y/"), expected("ns/segments/y/"));
  EXPECT_EQ(Keys("ns/wal/00000000000000000001"), expected("ns/wal/00000000000000000001"));
  EXPECT_TRUE(Keys("nope/").empty());
  EXPECT_TRUE(Keys("ns/wal/9").empty());
  EXPECT_TRUE(Keys("ns/manifest/").empty()) << "an object is not a directory";
  EXPECT_TRUE(Keys("ns//").empty());
  EXPECT_TRUE(Keys("../").empty());

  // start_after: before, inside and after the prefix's range, and between "directories".
  EXPECT_EQ(Keys("ns/", "ns/segments/y/a"), expected("ns/", "ns/segments/y/a"));
  EXPECT_EQ(Keys("ns/", "ns/segments/"), expected("ns/", "ns/segments/"));
  EXPECT_EQ(Keys("ns/", "ns/segments"), expected("ns/", "ns/segments"));
  EXPECT_EQ(Keys("ns/", "ns/segments/z"), expected("ns/", "ns/segments/z"));
  EXPECT_EQ(Keys("ns/", "a"), expected("ns/"));
  EXPECT_TRUE(Keys("ns/", "z").empty());
  EXPECT_EQ(Keys("", "ns/wal/00000000000000000002"), expected("", "ns/wal/00000000000000000002"));
  EXPECT_EQ(Keys("ns/wal/", "ns/wal/00000000000000000001"),
            expected("ns/wal/", "ns/wal/00000000000000000001"));

  // limit and truncated.
  bool truncated = false;
  std::vector<std::string> all = expected("");
  EXPECT_EQ(Keys("", "", 3, &truncated), std::vector<std::string>(all.begin(), all.begin() + 3));
  EXPECT_TRUE(truncated);
  EXPECT_EQ(Keys("", "", all.size(), &truncated), all);
  EXPECT_FALSE(truncated) << "exactly `limit` keys and no more";
  EXPECT_EQ(Keys("", "", all.size() + 1, &truncated), all);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(Keys("ns/wal/", "", 2, &truncated).size(), 2u);
  EXPECT_TRUE(truncated);

  for (size_t page : {1, 2, 3, 5, 100}) {
    EXPECT_EQ(KeysPaged("", page), expected("")) << "page " << page;
    EXPECT_EQ(KeysPaged("ns/", page), expected("ns/")) << "page " << page;
    EXPECT_EQ(KeysPaged("ns/segments", page), expected("ns/segments")) << "page " << page;
  }

  // Listed meta matches Head.
  Result<ListResult> listed = store_->List("ns/segments/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->objects.size(), 3u);
  for (const ObjectMeta& meta : listed->objects) {
    Result<ObjectMeta> head = store_->Head(meta.key);
    ASSERT_TRUE(head.ok()) << head.status().ToString();
    EXPECT_EQ(meta.size, ("data:" + meta.key).size());
    EXPECT_EQ(meta.size, head->size);
    EXPECT_EQ(meta.etag, head->etag);
    EXPECT_EQ(meta.mtime_ms, head->mtime_ms);
  }
}

TEST_P(ObjectStoreConformance, ListManyKeysInOneDirectory) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "ns/wal/%020d", i);
    keys.push_back(name);
    Put(name, "x");
  }
  Put("ns/manifest", "m");
  bool truncated = false;
  std::vector<std::string> first = Keys("ns/wal/", "", 0, &truncated);
  EXPECT_GE(first.size(), 1000u) << "the default page holds at least 1000 keys";
  EXPECT_TRUE(truncated || first.size() == keys.size());
  EXPECT_EQ(KeysPaged("ns/wal/", 1000), keys);
  std::vector<std::string> expected;
  for (const std::string& key : keys) {
    if (key.starts_with("ns/wal/0000000000000000249")) expected.push_back(key);
  }
  EXPECT_EQ(expected.size(), 10u);
  EXPECT_EQ(Keys("ns/wal/0000000000000000249"), expected);
  EXPECT_EQ(Keys("ns/wal/", keys[2000], 3),
            std::vector<std::string>(keys.begin() + 2001, keys.begin() + 2004));
}

TEST_P(ObjectStoreConformance, PutIfMatchIsCompareAndSwap) {
  Result<ObjectMeta> missing = store_->PutIfMatch("ns/manifest", "v1", "some-etag");
  EXPECT_TRUE(missing.status().IsPreconditionFailed()) << missing.status().ToString();
  EXPECT_TRUE(store_->Head("ns/manifest").status().IsNotFound()) << "must not create";

  Result<ObjectMeta> v1 = store_->PutIfAbsent("ns/manifest", "v1");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();

  Result<ObjectMeta> wrong = store_->PutIfMatch("ns/manifest", "v2", v1->etag + "x");
  EXPECT_TRUE(wrong.status().IsPreconditionFailed()) << wrong.status().ToString();
  EXPECT_TRUE(store_->PutIfMatch("ns/manifest", "v2", "").status().IsPreconditionFailed());
  EXPECT_EQ(Read("ns/manifest"), "v1");

  Result<ObjectMeta> v2 = store_->PutIfMatch("ns/manifest", "version two", v1->etag);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_NE(v2->etag, v1->etag) << "etag changes when the bytes change";
  EXPECT_EQ(v2->size, 11u);
  EXPECT_EQ(Read("ns/manifest"), "version two");
  ASSERT_TRUE(store_->Head("ns/manifest").ok());
  EXPECT_EQ(store_->Head("ns/manifest")->etag, v2->etag);
  EXPECT_EQ(store_->Head("ns/manifest")->size, 11u);

  Result<ObjectMeta> stale = store_->PutIfMatch("ns/manifest", "v3", v1->etag);
  EXPECT_TRUE(stale.status().IsPreconditionFailed()) << stale.status().ToString();
  EXPECT_EQ(Read("ns/manifest"), "version two");

  Result<ObjectMeta> v3 = store_->PutIfMatch("ns/manifest", "v3", v2->etag);
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_NE(v3->etag, v2->etag);
  EXPECT_NE(v3->etag, v1->etag);
  EXPECT_EQ(Read("ns/manifest"), "v3");
}

TEST_P(ObjectStoreConformance, DeleteIsIdempotent) {
  EXPECT_TRUE(store_->Delete("missing").ok());
  EXPECT_TRUE(store_->Delete("no/such/dir/key").ok());
  Put("ns/segments/a/b", "1");
  Put("ns/segments/a/c", "2");
  EXPECT_TRUE(store_->Delete("ns/segments/a").ok()) << "a prefix is not an object";
  EXPECT_TRUE(store_->Delete("ns/segments/a/b/c").ok());
  ASSERT_TRUE(store_->Delete("ns/segments/a/b").ok());
  EXPECT_TRUE(store_->Head("ns/segments/a/b").status().IsNotFound());
  EXPECT_EQ(Read("ns/segments/a/c"), "2");
  EXPECT_TRUE(store_->Delete("ns/segments/a/b").ok());
  ASSERT_TRUE(store_->Delete("ns/segments/a/c").ok());
  EXPECT_TRUE(Keys("ns/").empty());
  EXPECT_TRUE(store_->PutIfMatch("ns/segments/a/c", "x", "any").status().IsPreconditionFailed());
  // Re-creating after a delete works, also where the "directory" disappeared.
  Put("ns/segments/a/b", "again");
  EXPECT_EQ(Read("ns/segments/a/b"), "again");
  EXPECT_EQ(Keys("ns/"), std::vector<std::string>{"ns/segments/a/b"});
}

TEST_P(ObjectStoreConformance, ConcurrentPutIfAbsentHasOneWinner) {
  constexpr int kThreads = 8;
  constexpr int kKeys = 10;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "race/dir" + std::to_string(k) + "/key";
    std::atomic<int> ready{0};
    std::atomic<int> winners{0};
    std::atomic<int> losers{0};
    std::vector<std::string> errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        Result<ObjectMeta> put = store_->PutIfAbsent(key, "writer-" + std::to_string(t));
        if (put.ok()) {
          winners.fetch_add(1);
        } else if (put.status().IsAlreadyExists()) {
          losers.fetch_add(1);
        } else {
          errors[t] = put.status().ToString();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const std::string& error : errors) EXPECT_EQ(error, "");
    EXPECT_EQ(winners.load(), 1) << key;
    EXPECT_EQ(losers.load(), kThreads - 1) << key;
    EXPECT_TRUE(Read(key).starts_with("writer-"));
  }
}

// Each increment appends a nonce to a list object with compare-and-swap. A PutIfMatch
// that returns Unavailable may have been applied (S3 servers may answer 5xx to the loser
// of a race), so, as the contract says, the writer re-reads and looks for its nonce.
// Every nonce must end up in the list exactly once.
TEST_P(ObjectStoreConformance, ConcurrentCompareAndSwapLosesNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  Put("counter", "");
  std::vector<std::string> errors(kThreads);
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        const std::string nonce = "<" + std::to_string(t) + "." + std::to_string(i) + ">";
        for (int attempt = 0;; ++attempt) {
          if (attempt > 100000) {
            errors[t] = "too many CAS retries";
            return;
          }
          Result<GetResult> got = store_->Get("counter");
          if (!got.ok()) {
            errors[t] = got.status().ToString();
            return;
          }
          if (attempt > 0 && got->data.find(nonce) != std::string::npos) break;  // applied
          Result<ObjectMeta> put = store_->PutIfMatch("counter", got->data + nonce, got->meta.etag);
          if (put.ok()) break;
          if (put.status().IsUnavailable()) {
            unavailable.fetch_add(1);
            continue;
          }
          if (!put.status().IsPreconditionFailed()) {
            errors[t] = put.status().ToString();
            return;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  const std::string list = Read("counter");
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kIncrements; ++i) {
      const std::string nonce = "<" + std::to_string(t) + "." + std::to_string(i) + ">";
      const size_t at = list.find(nonce);
      EXPECT_NE(at, std::string::npos) << nonce << " lost";
      if (at != std::string::npos) {
        EXPECT_EQ(list.find(nonce, at + 1), std::string::npos) << nonce << " applied twice";
      }
    }
  }
  EXPECT_EQ(static_cast<size_t>(std::count(list.begin(), list.end(), '<')),
            static_cast<size_t>(kThreads * kIncrements));
  RecordProperty("unavailable_cas_answers", unavailable.load());
}

TEST_P(ObjectStoreConformance, BadKeysAreRejected) {
  const std::vector<std::string> bad = {
      "",
      "/a",
      "a/",
      "a//b",
      "..",
      ".",
      "../a",
      "a/../b",
      "a/./b",
      "a/..",
      "a/.",
      std::string("a\0b", 3),
      "a\nb",
      "tab\tkey",
      "\x7f",
      std::string(1025, 'k'),
      "caf\xc3\xa9",
      std::string(256, 'k'),
      "a/" + std::string(256, 'k'),
  };
  for (const std::string& key : bad) {
    SCOPED_TRACE("key '" + key + "'");
    EXPECT_TRUE(store_->Get(key).status().IsInvalidArgument())
        << store_->Get(key).status().ToString();
    EXPECT_TRUE(store_->Head(key).status().IsInvalidArgument());
    EXPECT_TRUE(store_->Delete(key).IsInvalidArgument());
    EXPECT_TRUE(store_->PutIfAbsent(key, "x").status().IsInvalidArgument());
    EXPECT_TRUE(store_->PutIfMatch(key, "x", "e").status().IsInvalidArgument());
  }
  EXPECT_TRUE(Keys("").empty()) << "no bad key created anything";

  // Unusual but valid keys.
  const std::string l255(255, 'l');  // 1024 bytes in components of at most 255:
  const std::string longest = l255 + "/" + l255 + "/" + l255 + "/" + std::string(254, 'l') + "/l";
  ASSERT_EQ(longest.size(), 1024u);
  const std::vector<std::string> good = {
      "a/.b", "a..b", "x y/z~!@#$%^&*()", "...", std::string(255, 'k'), longest};
  for (const std::string& key : good) {
    SCOPED_TRACE("key '" + key + "'");
    Put(key, key);
    EXPECT_EQ(Read(key), key);
  }
}

Result<ObjectStorePtr> MakeLocal(const std::string& dir) { return OpenLocalStore(dir + "/store"); }

INSTANTIATE_TEST_SUITE_P(
    AllBackends, ObjectStoreConformance,
    testing::Values(
        Backend{"Local", MakeLocal},
        Backend{"Memory",
                [](const std::string&) -> Result<ObjectStorePtr> { return NewMemoryStore(); }},
        Backend{"CountingOverMemory",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  return ObjectStorePtr(NewCountingStore(NewMemoryStore()));
                }},
        Backend{"LatencyOverMemory",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  return NewLatencyStore(NewMemoryStore(), std::chrono::microseconds(0));
                }},
        Backend{"FaultyOverMemory",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  return ObjectStorePtr(NewFaultyStore(NewMemoryStore()));
                }},
        Backend{"FaultyOverLocal",
                [](const std::string& dir) -> Result<ObjectStorePtr> {
                  GANNET_ASSIGN_OR_RETURN(ObjectStorePtr local, MakeLocal(dir));
                  return ObjectStorePtr(NewFaultyStore(std::move(local)));
                }},
        Backend{"CachingOverMemory",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  return ObjectStorePtr(NewCachingStore(NewMemoryStore()));
                }},
        Backend{
            "SmallCacheOverLocal",
            [](const std::string& dir) -> Result<ObjectStorePtr> {
              GANNET_ASSIGN_OR_RETURN(ObjectStorePtr local, MakeLocal(dir));
              return ObjectStorePtr(NewCachingStore(std::move(local), CacheOptions{16 << 10, {}}));
            }},
        Backend{"HedgingOverMemory",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  // Every GET is hedged at once: duplicates must never change answers.
                  return ObjectStorePtr(NewHedgingStore(
                      NewMemoryStore(), HedgeOptions{std::chrono::milliseconds(0), 2}));
                }},
        Backend{"DiskCacheOverMemory",
                [](const std::string& dir) -> Result<ObjectStorePtr> {
                  // Memory tier off: every hit comes from the disk tier.
                  CacheOptions o{0, {}, dir + "/cache", 1 << 20};
                  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<CachingStore> c,
                                          OpenCachingStore(NewMemoryStore(), std::move(o)));
                  return ObjectStorePtr(std::move(c));
                }},
        Backend{"S3",
                [](const std::string&) -> Result<ObjectStorePtr> { return NewS3TestBucketStore(); },
                S3TestUnavailableReason},
        Backend{"HedgingOverS3",
                [](const std::string&) -> Result<ObjectStorePtr> {
                  GANNET_ASSIGN_OR_RETURN(ObjectStorePtr s3, NewS3TestBucketStore());
                  return ObjectStorePtr(NewHedgingStore(
                      std::move(s3), HedgeOptions{std::chrono::milliseconds(1), 1}));
                },
                S3TestUnavailableReason}),
    PrintBackend);

}  // namespace
}  // namespace gannet::storage
