#include "db/parallel_fetch.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace gannet::db {

std::vector<Result<GetResult>> FetchAll(ObjectStore& store, const std::vector<std::string>& keys,
                                        size_t max_parallel) {
  std::vector<Result<GetResult>> out(keys.size(), Status::Internal("not fetched"));
  if (keys.size() <= 1) {
    for (size_t i = 0; i < keys.size(); ++i) out[i] = store.Get(keys[i]);
    return out;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < keys.size(); i = next++) out[i] = store.Get(keys[i]);
  };
  const size_t threads = std::min(keys.size(), std::max<size_t>(max_parallel, 1)) - 1;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  worker();  // the caller works too
  for (std::thread& t : pool) t.join();
  return out;
}

}  // namespace gannet::db
