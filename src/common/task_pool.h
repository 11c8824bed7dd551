// Spreading one request's independent pieces of work (a query's segments) over the cores
// the process may use, without making a request wait for a pool.
//
// RunTasks(n, fn) runs fn(0) ... fn(n - 1), each exactly once, and returns when all have
// returned. The calling thread claims tasks itself, and the threads of one process-wide
// pool (UsableCores() - 1 of them, started on first use) claim what they can while they
// are idle: when they are busy with other requests' tasks, the caller runs everything
// itself, as if there were no pool, so a request is never slower for waiting on one and
// concurrent requests never deadlock. When as many callers are in RunTasks as there are
// usable cores, the cores are taken and a caller runs its tasks alone, without offering
// them (throughput under load stays that of running each request on one thread). Tasks
// are claimed in index order.
//
// A child process forked after the pool started has none of its threads (a fork copies
// only the forking one): there RunTasks runs every task on the caller, and
// TaskPoolThreads() is 0.
//
// An exception a task throws (std::bad_alloc: the server answers 503) is rethrown by
// RunTasks once every task has finished (the first, if several threw); the other tasks
// still run.
//
// REQUIRES: fn does not call RunTasks (a task waits for nothing).
// Thread safety: RunTasks may be called from any number of threads at once; fn runs on
// several threads at once, each call with its own index.
#pragma once

#include <cstddef>
#include <functional>

namespace gannet {

void RunTasks(size_t n, const std::function<void(size_t)>& fn);

// The pool's threads (0 on a one-core process: RunTasks then runs every task itself).
unsigned TaskPoolThreads();

}  // namespace gannet
