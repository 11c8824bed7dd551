// Several OS processes writing one local directory at once, and a writer killed with
// SIGKILL at random moments. After each run every acknowledged write must be present
// exactly once, and every batch must be all-or-nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "db/batch_check_test_util.h"
#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet {
namespace {

constexpr int kDocsPerBatch = 5;

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             (name + "-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A writer child on the local directory `dir`.
[[noreturn]] void WriterProcess(const std::string& dir, const std::string& tag, int batches,
                                const std::string& ack_path) {
  auto store = OpenLocalStore(dir);
  if (!store.ok()) _exit(2);
  testing_util::WriterProcess(*store, tag, batches, kDocsPerBatch, ack_path);
}

using testing_util::ReadAcks;

// Checks every acknowledged batch is present, no batch is partial, no id repeats.
void VerifyNamespace(const std::string& dir, const std::set<std::string>& acks,
                     size_t* batches_seen = nullptr) {
  auto db = Database::OpenPath(dir);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto ns = (*db)->OpenNamespace("shared");
  ASSERT_TRUE(ns.ok());
  auto rows = testing_util::ReadAllRows(**ns);
  if (acks.empty() && !rows.ok() && rows.status().IsNotFound()) return;
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  testing_util::CheckBatches(*rows, acks, kDocsPerBatch, batches_seen);
  (*db)->Close();
}

TEST(MultiProcessTest, ConcurrentWritersLoseNothing) {
  const std::string dir = TempDir("gannet-mp");
  constexpr int kProcs = 4, kBatches = 40;
  std::vector<pid_t> pids;
  auto ack_path = [&](int p) { return dir + ".acks-" + std::to_string(p); };
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) WriterProcess(dir, "p" + std::to_string(p), kBatches, ack_path(p));
    pids.push_back(pid);
  }
  std::set<std::string> acks;
  for (int p = 0; p < kProcs; ++p) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer " << p << " failed";
    for (const std::string& a : ReadAcks(ack_path(p))) acks.insert(a);
    std::filesystem::remove(ack_path(p));
  }
  EXPECT_EQ(acks.size(), static_cast<size_t>(kProcs * kBatches));
  size_t seen = 0;
  VerifyNamespace(dir, acks, &seen);
  EXPECT_EQ(seen, acks.size());
  std::filesystem::remove_all(dir);
}

TEST(CrashTest, KilledWriterLosesNoAcknowledgedWrite) {
  const std::string dir = TempDir("gannet-crash");
  const std::string acks_path = dir + ".acks";
  std::filesystem::remove(acks_path);
  const int iterations = std::getenv("GANNET_CRASH_ITERATIONS")
                             ? std::atoi(std::getenv("GANNET_CRASH_ITERATIONS"))
                             : 25;
  std::mt19937 rng(12345);
  for (int it = 0; it < iterations; ++it) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) WriterProcess(dir, "c" + std::to_string(it), -1, acks_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 120));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early: " << status;
    VerifyNamespace(dir, ReadAcks(acks_path));
    if (HasFailure()) {
      ADD_FAILURE() << "crash iteration " << it;
      return;
    }
  }
  RecordProperty("crash_iterations", iterations);
  std::filesystem::remove_all(dir);
  std::filesystem::remove(acks_path);
}

}  // namespace
}  // namespace gannet
