// LocalStore specifics: the file layout, safety across processes, reserved names, and
// recovery details. The behaviour every backend shares is in the conformance suite.
#include "storage/local_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gannet/object_store.h"
#include "storage/test_temp_dir.h"

namespace gannet::storage {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class LocalStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/root";
    Result<ObjectStorePtr> store = OpenLocalStore(root_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
  }

  TempDir dir_;
  std::string root_;
  ObjectStorePtr store_;
};

TEST_F(LocalStoreTest, ObjectsAreFilesAtTheirKeyPath) {
  ASSERT_TRUE(store_->PutIfAbsent("ns/wal/00000000000000000001", "entry").ok());
  EXPECT_EQ(ReadFile(root_ + "/ns/wal/00000000000000000001"), "entry");
  EXPECT_EQ(store_->Describe(), "local:" + std::filesystem::canonical(root_).string());
  // No temp files are left behind.
  EXPECT_TRUE(std::filesystem::is_empty(root_ + "/.tmp"));
}

TEST_F(LocalStoreTest, EtagIsContentHashAndSurvivesReopenAndMissingXattr) {
  Result<ObjectMeta> a = store_->PutIfAbsent("a", "same bytes");
  Result<ObjectMeta> b = store_->PutIfAbsent("b", "same bytes");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->etag, b->etag) << "the etag derives from the bytes";
  EXPECT_EQ(a->etag.size(), 16u);

  Result<ObjectStorePtr> reopened = OpenLocalStore(root_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  ASSERT_TRUE((*reopened)->Head("a").ok());
  EXPECT_EQ((*reopened)->Head("a")->etag, a->etag);

  // Without the cached xattr (another tool copied the file), the etag is recomputed.
  ::removexattr((root_ + "/a").c_str(), "user.gannet.etag");
  ASSERT_TRUE(store_->Head("a").ok());
  EXPECT_EQ(store_->Head("a")->etag, a->etag);
  Result<ObjectMeta> cas = store_->PutIfMatch("a", "new", a->etag);
  EXPECT_TRUE(cas.ok()) << cas.status().ToString();
}

TEST_F(LocalStoreTest, ReservedAndNestedKeysAreRejected) {
  EXPECT_TRUE(store_->PutIfAbsent(".tmp/x", "x").status().IsInvalidArgument());
  EXPECT_TRUE(store_->PutIfAbsent(".locks", "x").status().IsInvalidArgument());
  EXPECT_TRUE(store_->Get(".locks/000").status().IsInvalidArgument());
  ASSERT_TRUE(store_->PutIfAbsent("x/.tmp", "allowed below the root").ok());

  ASSERT_TRUE(store_->PutIfAbsent("obj", "file").ok());
  Result<ObjectMeta> below = store_->PutIfAbsent("obj/child", "x");
  EXPECT_TRUE(below.status().IsInvalidArgument()) << below.status().ToString();
  ASSERT_TRUE(store_->PutIfAbsent("dir/child", "x").ok());
  Result<ObjectMeta> over = store_->PutIfAbsent("dir", "x");
  EXPECT_TRUE(over.status().IsInvalidArgument()) << over.status().ToString();
  EXPECT_TRUE(store_->PutIfMatch("dir", "x", "e").status().IsPreconditionFailed());

  Result<ListResult> all = store_->List("");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (const ObjectMeta& meta : all->objects) keys.push_back(meta.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"dir/child", "obj", "x/.tmp"}));
}

TEST_F(LocalStoreTest, ListSkipsForeignFiles) {
  ASSERT_TRUE(store_->PutIfAbsent("ns/a", "a").ok());
  ASSERT_EQ(::symlink((root_ + "/ns/a").c_str(), (root_ + "/ns/link").c_str()), 0);
  ASSERT_EQ(::mkfifo((root_ + "/ns/fifo").c_str(), 0644), 0);
  std::ofstream(root_ + "/ns/bad\x01name") << "x";
  Result<ListResult> listed = store_->List("ns/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].key, "ns/a");
  EXPECT_TRUE(store_->Get("ns/link").status().IsNotFound());
  EXPECT_TRUE(store_->Get("ns/fifo").status().IsNotFound());
}

TEST_F(LocalStoreTest, DeleteRemovesEmptyDirectories) {
  ASSERT_TRUE(store_->PutIfAbsent("ns/segments/s1/columns", "c").ok());
  ASSERT_TRUE(store_->PutIfAbsent("ns/segments/s2/columns", "c").ok());
  ASSERT_TRUE(store_->Delete("ns/segments/s1/columns").ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/ns/segments/s1"));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/ns/segments/s2/columns"));
  ASSERT_TRUE(store_->Delete("ns/segments/s2/columns").ok());
  EXPECT_FALSE(std::filesystem::exists(root_ + "/ns"));
  EXPECT_TRUE(std::filesystem::exists(root_)) << "the root itself stays";
}

TEST_F(LocalStoreTest, CreateRacesWithDirectoryRemoval) {
  // Writers keep creating and deleting keys in one directory, so Delete removes the
  // directory under a concurrent PutIfAbsent, which must recreate it and succeed.
  constexpr int kThreads = 4;
  constexpr int kRounds = 100;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds && errors[t].empty(); ++i) {
        const std::string key = "gc/deep/dir/t" + std::to_string(t) + "-" + std::to_string(i);
        Status put = store_->PutIfAbsent(key, "x").status();
        Status del = store_->Delete(key);
        if (!put.ok()) errors[t] = put.ToString();
        if (!del.ok()) errors[t] = del.ToString();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");
  Result<ListResult> left = store_->List("gc/");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->objects.empty());
}

TEST_F(LocalStoreTest, OpenSweepsStaleTempFiles) {
  const std::string stale = root_ + "/.tmp/1-dead-0";
  const std::string fresh = root_ + "/.tmp/1-live-0";
  std::ofstream(stale) << "partial";
  std::ofstream(fresh) << "in flight";
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 2 * 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), times, 0), 0);
  ASSERT_TRUE(OpenLocalStore(root_).ok());
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(fresh));
}

TEST(LocalStoreOpen, FailsOnAFile) {
  TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  Result<ObjectStorePtr> store = OpenLocalStore(dir.path() + "/file");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(OpenLocalStore("").ok());
}

// ---- Many processes on one directory -------------------------------------------------

constexpr int kProcesses = 4;
constexpr int kIncrementsPerProcess = 50;
constexpr int kSharedKeys = 20;

// Body of a child process: CAS-increments "counter" and races PutIfAbsent on shared keys,
// reporting each key it created as two bytes (child, key) on `report_fd`. Returns an exit
// code: 0 on success.
int ChildMain(const std::string& root, int child, int report_fd) {
  Result<ObjectStorePtr> opened = OpenLocalStore(root);  // its own instance
  if (!opened.ok()) return 10;
  ObjectStorePtr store = *opened;
  for (int i = 0; i < kIncrementsPerProcess; ++i) {
    for (int attempt = 0;; ++attempt) {
      if (attempt > 100000) return 11;
      Result<GetResult> got = store->Get("counter");
      if (!got.ok()) return 12;
      const std::string next = std::to_string(std::stoll(got->data) + 1);
      Result<ObjectMeta> put = store->PutIfMatch("counter", next, got->meta.etag);
      if (put.ok()) break;
      if (!put.status().IsPreconditionFailed()) return 13;
    }
    if (i < kSharedKeys) {
      const std::string key = "shared/" + std::to_string(i % 4) + "/key-" + std::to_string(i);
      Result<ObjectMeta> put = store->PutIfAbsent(key, "child-" + std::to_string(child));
      if (put.ok()) {
        const char record[2] = {static_cast<char>(child), static_cast<char>(i)};
        if (::write(report_fd, record, 2) != 2) return 14;
      } else if (!put.status().IsAlreadyExists()) {
        return 15;
      }
    }
  }
  return 0;
}

TEST_F(LocalStoreTest, ManyProcessesCompareAndSwapAndCreate) {
  ASSERT_TRUE(store_->PutIfAbsent("counter", "0").ok());
  int start[2], report[2];
  ASSERT_EQ(::pipe(start), 0);
  ASSERT_EQ(::pipe(report), 0);
  std::vector<pid_t> children;
  for (int c = 0; c < kProcesses; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      ::close(start[1]);
      ::close(report[0]);
      char byte;
      while (::read(start[0], &byte, 1) < 0 && errno == EINTR) {
      }  // EOF: the parent released every child at once
      ::_exit(ChildMain(root_, c, report[1]));
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(report[1]);
  ::close(start[1]);  // go

  std::string records;
  char buf[256];
  while (true) {
    ssize_t n = ::read(report[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    records.append(buf, static_cast<size_t>(n));
  }
  ::close(report[0]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child " << pid << " crashed";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << pid << " failed";
  }

  Result<GetResult> counter = store_->Get("counter");
  ASSERT_TRUE(counter.ok()) << counter.status().ToString();
  EXPECT_EQ(counter->data, std::to_string(kProcesses * kIncrementsPerProcess));

  ASSERT_EQ(records.size() % 2, 0u);
  std::map<int, int> creator_of;  // key index -> child
  for (size_t i = 0; i < records.size(); i += 2) {
    const int child = records[i], key = records[i + 1];
    EXPECT_FALSE(creator_of.count(key)) << "key " << key << " created twice";
    creator_of[key] = child;
  }
  EXPECT_EQ(creator_of.size(), static_cast<size_t>(kSharedKeys));
  for (const auto& [key, child] : creator_of) {
    Result<GetResult> got =
        store_->Get("shared/" + std::to_string(key % 4) + "/key-" + std::to_string(key));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->data, "child-" + std::to_string(child));
  }
}

}  // namespace
}  // namespace gannet::storage
