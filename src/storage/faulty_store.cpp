// FaultyStore: forwards calls to the base store, failing some of them on purpose.
//
// A rule matches a call if its op is the call's op (or kAny) and the call's key starts
// with the rule's key_prefix; for List the list prefix stands in for the key. Scripted
// rules are checked first, oldest first, and each fires once; then the random rule, if
// any. Fault kinds:
//   kError          -> Unavailable, base store untouched
//   kIOError        -> IOError, base store untouched
//   kTimeoutApplied -> the call is applied to the base store, then Unavailable
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <random>

#include "gannet/object_store.h"

namespace gannet {

namespace {

std::string_view OpName(FaultOp op) {
  switch (op) {
    case FaultOp::kGet:
      return "Get";
    case FaultOp::kHead:
      return "Head";
    case FaultOp::kList:
      return "List";
    case FaultOp::kDelete:
      return "Delete";
    case FaultOp::kPutIfAbsent:
      return "PutIfAbsent";
    case FaultOp::kPutIfMatch:
      return "PutIfMatch";
    case FaultOp::kAny:
      return "Any";
  }
  return "?";
}

bool Matches(const FaultRule& rule, FaultOp op, std::string_view key) {
  return (rule.op == FaultOp::kAny || rule.op == op) && key.starts_with(rule.key_prefix);
}

class FaultyStoreImpl final : public FaultyStore {
 public:
  explicit FaultyStoreImpl(ObjectStorePtr base) : base_(std::move(base)) {}

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    return Run<GetResult>(FaultOp::kGet, key, [&] { return base_->Get(key, range); });
  }
  Result<ObjectMeta> Head(std::string_view key) override {
    return Run<ObjectMeta>(FaultOp::kHead, key, [&] { return base_->Head(key); });
  }
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override {
    return Run<ListResult>(FaultOp::kList, prefix,
                           [&] { return base_->List(prefix, start_after, limit); });
  }
  Status Delete(std::string_view key) override {
    std::optional<FaultKind> fault = NextFault(FaultOp::kDelete, key);
    if (!fault) return base_->Delete(key);
    if (*fault == FaultKind::kTimeoutApplied) base_->Delete(key).IgnoreError();
    return FaultStatus(*fault, FaultOp::kDelete, key);
  }
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override {
    return Run<ObjectMeta>(FaultOp::kPutIfAbsent, key,
                           [&] { return base_->PutIfAbsent(key, data); });
  }
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override {
    return Run<ObjectMeta>(FaultOp::kPutIfMatch, key,
                           [&] { return base_->PutIfMatch(key, data, etag); });
  }
  std::string Describe() const override { return "faulty(" + base_->Describe() + ")"; }

  void Script(FaultRule rule) override {
    std::lock_guard<std::mutex> lock(mu_);
    scripted_.push_back(std::move(rule));
  }
  void SetRandom(FaultRule rule, double p, uint64_t seed) override {
    std::lock_guard<std::mutex> lock(mu_);
    random_rule_ = std::move(rule);
    random_p_ = p;
    rng_.seed(seed);
  }
  void Clear() override {
    std::lock_guard<std::mutex> lock(mu_);
    scripted_.clear();
    random_p_ = 0;
  }
  uint64_t faults_injected() const override {
    return faults_injected_.load(std::memory_order_relaxed);
  }

 private:
  // The fault to inject into this call, if any; counts it.
  std::optional<FaultKind> NextFault(FaultOp op, std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = scripted_.begin(); it != scripted_.end(); ++it) {
      if (Matches(*it, op, key)) {
        FaultKind kind = it->kind;
        scripted_.erase(it);
        faults_injected_.fetch_add(1, std::memory_order_relaxed);
        return kind;
      }
    }
    if (random_p_ > 0 && Matches(random_rule_, op, key) &&
        std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < random_p_) {
      faults_injected_.fetch_add(1, std::memory_order_relaxed);
      return random_rule_.kind;
    }
    return std::nullopt;
  }

  static Status FaultStatus(FaultKind kind, FaultOp op, std::string_view key) {
    switch (kind) {
      case FaultKind::kTimeoutApplied:
        return Status::Unavailable("injected timeout (operation was applied)");
      case FaultKind::kIOError:
        return Status::IOError("injected I/O error: " + std::string(OpName(op)) + " '" +
                               std::string(key) + "'");
      case FaultKind::kError:
        break;
    }
    return Status::Unavailable("injected fault: " + std::string(OpName(op)) + " '" +
                               std::string(key) + "'");
  }

  template <typename T, typename Fn>
  Result<T> Run(FaultOp op, std::string_view key, Fn&& apply) {
    std::optional<FaultKind> fault = NextFault(op, key);
    if (!fault) return apply();
    if (*fault == FaultKind::kTimeoutApplied) apply().status().IgnoreError();
    return FaultStatus(*fault, op, key);
  }

  const ObjectStorePtr base_;
  std::mutex mu_;
  std::deque<FaultRule> scripted_;  // guarded by mu_
  FaultRule random_rule_;           // guarded by mu_
  double random_p_ = 0;             // guarded by mu_
  std::mt19937_64 rng_;             // guarded by mu_
  std::atomic<uint64_t> faults_injected_{0};
};

}  // namespace

std::shared_ptr<FaultyStore> NewFaultyStore(ObjectStorePtr base) {
  return std::make_shared<FaultyStoreImpl>(std::move(base));
}

}  // namespace gannet
