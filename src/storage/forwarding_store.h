// ForwardingStore: an ObjectStore wrapper that forwards every call to a base store, so a
// wrapper overrides only the calls it changes (HedgingStore, the tests' spy stores).
//
// GetMany is deliberately not forwarded: ObjectStore's default runs this store's own Get
// for each request, so an overridden Get sees every GET of a batch. A wrapper that leaves
// Get alone and wants batches to reach the base store overrides GetMany.
//
// `Interface` is ObjectStore or one of its abstract subclasses (HedgingStore).
// Thread safety: as the base store's; the wrapper adds no state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "gannet/object_store.h"

namespace gannet::storage {

template <class Interface = ObjectStore>
class ForwardingStore : public Interface {
 public:
  explicit ForwardingStore(ObjectStorePtr base) : base_(std::move(base)) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    return base_->Get(key, range);
  }
  Result<ObjectMeta> Head(std::string_view key) override { return base_->Head(key); }
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override {
    return base_->List(prefix, start_after, limit);
  }
  Status Delete(std::string_view key) override { return base_->Delete(key); }
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override {
    return base_->PutIfAbsent(key, data);
  }
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override {
    return base_->PutIfMatch(key, data, etag);
  }
  std::string Describe() const override { return base_->Describe(); }

 protected:
  const ObjectStorePtr base_;
};

}  // namespace gannet::storage
