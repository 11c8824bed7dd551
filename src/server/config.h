// Server configuration: flags, the JSON config file and API keys. No Boost here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"
#include "server/serve.h"

namespace gannet::server {

struct Limits {
  size_t max_request_bytes = 64ull << 20;  // larger bodies get 413
  uint32_t max_top_k = 10000;              // the engine's own ceiling is 10000 too
  int max_filter_depth = 32;               // And/Or/Not nesting levels in one filter
  size_t max_concurrent_queries_per_namespace = 16;
  size_t max_queued_queries_per_namespace = 32;  // beyond running + queued: 429
};

// One API key: `key [ro] [prefix=abc]`.
struct ApiKey {
  std::string key;
  bool read_only = false;
  std::string prefix;  // namespaces this key may touch start with this ("" = all)
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir;
  std::vector<ApiKey> api_keys;  // empty: authentication is off
  bool insecure_no_auth = false;
  size_t io_threads = 2;
  size_t worker_threads = 0;  // 0: one per usable core (UsableCores), at least 2
  Limits limits;
};

// Parses "host:port" ("[::1]:8080" for IPv6; ":8080" means 127.0.0.1).
Status ParseListen(std::string_view text, std::string* host, uint16_t* port);

// Parses API key lines (`key [ro] [prefix=abc]`; blank lines and '#' comments skipped).
// `source` names the origin in error messages.
Result<std::vector<ApiKey>> ParseApiKeys(std::string_view text, std::string_view source);

// Applies a JSON config document (listen, data, api_keys_file, insecure_no_auth,
// io_threads, worker_threads, limits{...}) on top of `config`.
Status ApplyConfigJson(std::string_view json, ServerConfig* config);

// Builds the configuration: defaults, then --config FILE, then flags, then API keys
// from the key file and the GANNET_API_KEYS environment variable (entries separated by
// ',' or newlines).
Result<ServerConfig> BuildConfig(const ServeArgs& args);

// True for loopback addresses (127.0.0.0/8, ::1, localhost).
bool IsLoopbackHost(std::string_view host);

}  // namespace gannet::server
