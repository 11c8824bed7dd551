#include "common/task_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/limits.h"

namespace gannet {
namespace {

struct Job {
  Job(const std::function<void(size_t)>& f, size_t count) : fn(f), n(count) {}
  const std::function<void(size_t)>& fn;  // valid while done < n (the caller waits)
  const size_t n;
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;            // guarded by mu
  std::exception_ptr thrown;  // the first task's exception; guarded by mu
};

// Claims and runs the job's tasks until none is left. A task's exception is kept for the
// caller (on a pool thread it would end the process; on the caller it would unwind the
// stack the other tasks still use).
void Work(Job& job) {
  size_t ran = 0;
  for (size_t i; (i = job.next.fetch_add(1, std::memory_order_relaxed)) < job.n; ++ran) {
    try {
      job.fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(job.mu);
      if (!job.thrown) job.thrown = std::current_exception();
    }
  }
  if (ran == 0) return;
  std::lock_guard<std::mutex> lock(job.mu);
  job.done += ran;
  if (job.done == job.n) job.cv.notify_all();
}

// Threads that take offers of jobs to help with. Lives as long as the process (never
// destroyed: its threads are detached and blocked, or working, when the process exits).
class Pool {
 public:
  explicit Pool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) {
      try {
        std::thread([this] { Loop(); }).detach();
        ++threads_;
      } catch (const std::system_error&) {
        break;  // no more threads to be had: fewer helpers
      }
    }
  }
  unsigned threads() const { return threads_; }
  // Asks up to `helpers` idle threads to work on `job`. An offer taken after the job is
  // finished finds no task left and is dropped.
  void Offer(const std::shared_ptr<Job>& job, size_t helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < helpers; ++i) offers_.push_back(job);
    }
    if (helpers == 1) {
      cv_.notify_one();
    } else {
      cv_.notify_all();
    }
  }

 private:
  void Loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !offers_.empty(); });
        job = std::move(offers_.front());
        offers_.pop_front();
      }
      Work(*job);
    }
  }

  unsigned threads_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> offers_;  // guarded by mu_
};

// Set in a child process forked after the pool started: its threads did not come along
// (a fork copies only the forking thread), so the child runs every task itself.
std::atomic<bool> forked{false};

Pool& ThePool() {
  static Pool* const pool = [] {
    pthread_atfork(nullptr, nullptr, [] { forked.store(true, std::memory_order_relaxed); });
    return new Pool(UsableCores() - 1);
  }();
  return *pool;
}

}  // namespace

unsigned TaskPoolThreads() {
  const unsigned threads = ThePool().threads();
  return forked.load(std::memory_order_relaxed) ? 0 : threads;
}

void RunTasks(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  Pool& pool = ThePool();
  // Callers in RunTasks now, this one included: when every core has one, they are busy,
  // and helpers would only take turns with them (2 cores, two clients of GCIDE in 13
  // segments: ~7% fewer queries a second with help offered regardless).
  static std::atomic<unsigned> callers{0};
  struct Count {
    unsigned now = callers.fetch_add(1, std::memory_order_relaxed) + 1;
    ~Count() { callers.fetch_sub(1, std::memory_order_relaxed); }
  } count;
  if (n == 1 || TaskPoolThreads() == 0 || count.now > pool.threads()) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>(fn, n);
  pool.Offer(job, std::min<size_t>(n - 1, pool.threads()));
  Work(*job);
  std::unique_lock<std::mutex> lock(job->mu);
  job->cv.wait(lock, [&] { return job->done == job->n; });
  if (job->thrown) std::rethrow_exception(job->thrown);
}

}  // namespace gannet
