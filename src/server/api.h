// The HTTP API without HTTP: routing, authentication, request handling and error mapping
// over the public C++ API (include/gannet/). The transport (http.cpp) feeds it parsed
// requests; tests can drive it directly.
//
// Thread safety: Api is safe for concurrent use; ConcurrencyLimiter too.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "gannet/database.h"
#include "server/config.h"
#include "server/metrics.h"

namespace gannet::server {

struct ApiRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path plus optional "?query"
  std::string authorization;  // the Authorization header, or ""
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// {"status":"error","error":message} with the HTTP status for `status`'s code.
ApiResponse ErrorResponse(const Status& status);
ApiResponse ErrorResponse(int http_status, std::string_view message);
// The HTTP status for a non-OK Status: InvalidArgument 400, PermissionDenied 403,
// NotFound 404, AlreadyExists/PreconditionFailed/Conflict 409, ResourceExhausted 429,
// Unavailable/IOError 503, Corruption/Internal 500.
int HttpStatusFor(const Status& status);

enum class Route {
  kUnknown,
  kHealthz,
  kReadyz,
  kMetrics,
  kListNamespaces,
  kWrite,
  kDeleteNamespace,
  kQuery,
  kMetadata,
  kGetSchema,
  kUpdateSchema,
  kHintCacheWarm,
  kRecall,
};
std::string_view RouteName(Route route);

// A routed, authenticated request, ready to execute.
struct Plan {
  Route route = Route::kUnknown;
  std::string ns;                                          // the namespace in the path, if any
  std::map<std::string, std::string, std::less<>> params;  // decoded query string
  std::string key_prefix;  // the caller's namespace prefix restriction
  // Set when the request is answered without engine work (bad route, auth failure).
  std::optional<ApiResponse> immediate;
  // Engine work that is bounded per namespace (queries): see ConcurrencyLimiter.
  bool limited = false;
  // Cheap enough to answer on the I/O thread.
  bool inline_ok = false;
};

class Api {
 public:
  Api(Database& db, const ServerConfig& config, Metrics& metrics);

  // Routing and authentication only (cheap; safe on I/O threads).
  Plan Prepare(const ApiRequest& request) const;
  // Runs the request. Never throws; bad input gives 4xx.
  ApiResponse Execute(const Plan& plan, const ApiRequest& request);

  // Readiness: false once draining has begun.
  void SetReady(bool ready) { ready_.store(ready); }

 private:
  ApiResponse Write(const Plan& p, const ApiRequest& r);
  ApiResponse Query(const Plan& p, const ApiRequest& r);
  ApiResponse ListNamespaces(const Plan& p);
  ApiResponse Metadata(const Plan& p);
  ApiResponse GetSchema(const Plan& p);
  ApiResponse UpdateSchema(const Plan& p, const ApiRequest& r);
  ApiResponse DeleteNamespace(const Plan& p);
  ApiResponse HintCacheWarm(const Plan& p);
  ApiResponse Recall(const Plan& p, const ApiRequest& r);
  ApiResponse RenderMetrics();

  Result<std::shared_ptr<Namespace>> Open(const std::string& ns);

  Database& db_;
  const ServerConfig& config_;
  Metrics& metrics_;
  std::atomic<bool> ready_{true};
  std::mutex mu_;
  std::set<std::string, std::less<>> touched_;  // namespaces used here, for /metrics lag
};

// Bounds concurrent work per key (namespace): up to `max_running` tasks run at once and
// up to `max_queued` wait; beyond that Admit refuses (the caller answers 429).
class ConcurrencyLimiter {
 public:
  using Task = std::function<void()>;
  ConcurrencyLimiter(size_t max_running, size_t max_queued)
      : max_running_(max_running), max_queued_(max_queued) {}

  enum class Admission { kRunNow, kQueued, kRejected };
  // kRunNow: the caller runs `task` now (and must call Release(key) when done).
  // kQueued: `task` will be handed out by a later Release. kRejected: task dropped.
  Admission Admit(const std::string& key, Task task);
  // Frees a slot of `key`; returns the next queued task (which takes over the slot and
  // must itself be followed by Release), or an empty function.
  Task Release(const std::string& key);

 private:
  struct Slot {
    size_t running = 0;
    std::deque<Task> queue;
  };
  const size_t max_running_, max_queued_;
  std::mutex mu_;
  std::map<std::string, Slot, std::less<>> slots_;
};

}  // namespace gannet::server
