// DatabaseImpl: the set of open namespaces, the catalog, and the background thread that
// indexes, compacts and garbage-collects them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "db/namespace_impl.h"
#include "gannet/database.h"

namespace gannet::db {

class DatabaseImpl final : public Database {
 public:
  explicit DatabaseImpl(DatabaseOptions options);
  ~DatabaseImpl() override;

  Result<std::shared_ptr<Namespace>> OpenNamespace(std::string_view name) override;
  Result<NamespaceList> ListNamespaces(std::string_view prefix, std::string_view cursor,
                                       size_t page_size) override;
  Status DeleteNamespace(std::string_view name) override;
  void Close() override;
  const ObjectStorePtr& store() const override { return options_.store; }

  const DatabaseOptions& options() const { return options_; }
  int64_t NowMs() const;

  // ---- memory budget (DatabaseOptions::memory_budget_bytes) ----
  // Records `ns`'s current snapshot size (after it published one) and drops the least
  // recently used other namespaces' snapshots while the total exceeds the budget.
  // REQUIRES: the caller holds no NamespaceImpl::mu_ (of any namespace).
  void Account(NamespaceImpl* ns);
  // A logical clock for least-recently-used order.
  uint64_t NextUse() { return use_clock_.fetch_add(1, std::memory_order_relaxed) + 1; }
  struct MemoryStats {
    uint64_t budget_bytes = 0, used_bytes = 0, evictions = 0;
  };
  MemoryStats memory_stats() const;

 private:
  std::shared_ptr<NamespaceImpl> GetOrCreate(std::string_view name);
  void BackgroundLoop();

  DatabaseOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<NamespaceImpl>, std::less<>> namespaces_;  // mu_
  std::condition_variable bg_cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread background_;

  uint64_t memory_budget_ = 0;  // resolved from the options
  std::atomic<uint64_t> use_clock_{0};
  mutable std::mutex memory_mu_;  // taken before NamespaceImpl::mu_, never inside one
  std::map<NamespaceImpl*, uint64_t> memory_used_;  // bytes per namespace; memory_mu_
  uint64_t memory_total_ = 0;                       // guarded by memory_mu_
  uint64_t memory_evictions_ = 0;                   // guarded by memory_mu_
};

}  // namespace gannet::db
