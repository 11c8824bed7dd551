// ObjectStore::GetMany's default: the batch's Gets on a few threads.
#include <algorithm>
#include <atomic>
#include <thread>

#include "gannet/object_store.h"

namespace gannet {

std::vector<Result<GetResult>> ObjectStore::GetMany(const std::vector<GetRequest>& requests) {
  std::vector<Result<GetResult>> out(requests.size(), Status::Internal("not fetched"));
  if (requests.size() <= 1) {
    for (size_t i = 0; i < requests.size(); ++i) out[i] = Get(requests[i].key, requests[i].range);
    return out;
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < requests.size(); i = next++) {
      out[i] = Get(requests[i].key, requests[i].range);
    }
  };
  const size_t helpers = std::min(requests.size(), kGetManyThreads) - 1;
  std::vector<std::thread> pool;
  pool.reserve(helpers);
  for (size_t t = 0; t < helpers; ++t) pool.emplace_back(worker);
  worker();  // the caller works too
  for (std::thread& t : pool) t.join();
  return out;
}

}  // namespace gannet
