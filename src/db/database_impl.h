// DatabaseImpl: the set of open namespaces, the catalog, and the background thread that
// indexes, compacts and garbage-collects them.
#pragma once

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

 private:
  std::shared_ptr<NamespaceImpl> GetOrCreate(std::string_view name);
  void BackgroundLoop();

  DatabaseOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<NamespaceImpl>, std::less<>> namespaces_;  // mu_
  std::condition_variable bg_cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread background_;
};

}  // namespace gannet::db
