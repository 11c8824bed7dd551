#include "common/task_pool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <thread>
#include <vector>

#include "common/limits.h"

namespace gannet {
namespace {

TEST(TaskPoolTest, RunsEveryTaskOnceBeforeReturning) {
  EXPECT_EQ(TaskPoolThreads(), UsableCores() - 1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{1000}}) {
    std::vector<std::atomic<int>> runs(n);
    RunTasks(n, [&](size_t i) { runs[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << n << " " << i;
  }
}

// Callers on many threads at once, more than the pool has: each finishes with every one
// of its tasks run (the callers run what no helper takes; nobody waits on a busy pool).
TEST(TaskPoolTest, ConcurrentCallersAllFinish) {
  constexpr size_t kCallers = 8, kTasks = 200;
  std::vector<std::thread> callers;
  std::vector<std::vector<int>> runs(kCallers, std::vector<int>(kTasks, 0));
  for (size_t c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 20; ++round) {
        RunTasks(kTasks, [&](size_t i) { ++runs[c][i]; });  // each index once: no race
      }
    });
  }
  for (std::thread& t : callers) t.join();
  for (size_t c = 0; c < kCallers; ++c) {
    for (size_t i = 0; i < kTasks; ++i) EXPECT_EQ(runs[c][i], 20) << c << " " << i;
  }
}

// With a pool, an idle helper takes tasks while the caller runs one: task 0 waits until
// another task has started on a different thread (it would wait forever on the caller's
// thread alone, so the wait is bounded and the test asserts the other thread came).
TEST(TaskPoolTest, IdleHelpersTakeTasksWhileTheCallerWorks) {
  if (TaskPoolThreads() == 0) GTEST_SKIP() << "one usable core: no pool";
  std::atomic<bool> other_started{false};
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> ran_elsewhere{false};
  RunTasks(2, [&](size_t i) {
    if (std::this_thread::get_id() != caller) ran_elsewhere = true;
    if (i == 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!other_started && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
    } else {
      other_started = true;
    }
  });
  EXPECT_TRUE(ran_elsewhere.load());
  EXPECT_TRUE(other_started.load());
}

// Regression: a task's exception (a std::bad_alloc, which the server turns into a 503)
// ended the process when a pool thread ran the task, and unwound the stack the others
// still used when the caller did. It now comes out of RunTasks after every task ran.
TEST(TaskPoolTest, AnExceptionComesOutOnceEveryTaskHasRun) {
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> runs(16);
    EXPECT_THROW(RunTasks(16,
                          [&](size_t i) {
                            runs[i].fetch_add(1);
                            if (i % 5 == 1) throw std::bad_alloc();
                          }),
                 std::bad_alloc);
    for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
  }
}

// A child forked after the pool started has none of its threads (a fork copies only the
// forking one): it runs every task itself, where it used to queue an offer a query for
// helpers that do not exist.
TEST(TaskPoolTest, ForkedChildRunsItsTasksItself) {
  RunTasks(4, [](size_t) {});  // the pool has started
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<int> runs(100, 0);
    RunTasks(100, [&](size_t i) { ++runs[i]; });
    bool ok = TaskPoolThreads() == 0;
    for (int r : runs) ok = ok && r == 1;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace gannet
