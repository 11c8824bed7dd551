// libFuzzer target: the HTTP API without sockets (server::Api: routing, query-string and
// path decoding, authentication, request decoding and the handlers over an in-memory
// database). Whatever the requests, the server must not crash, must never answer 500
// (bad input is a 4xx), and every JSON answer must be valid JSON, errors shaped
// {"status": "error", "error": "..."}.
//
// Input: up to 8 requests separated by the byte 0x1E, each "METHOD TARGET\nAUTH\nBODY"
// (AUTH is the Authorization header, e.g. "Bearer fuzz-admin-key", or empty). A fresh
// database serves each input, so a sequence can write and then query a namespace.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/database.h"
#include "gannet/object_store.h"
#include "server/api.h"
#include "server/config.h"
#include "server/metrics.h"

namespace {

constexpr size_t kMaxRequests = 8;

gannet::server::ApiRequest Decode(std::string_view record) {
  gannet::server::ApiRequest r;
  auto take_line = [&record]() {
    const size_t nl = record.find('\n');
    std::string_view line = record.substr(0, nl);
    record = nl == std::string_view::npos ? std::string_view() : record.substr(nl + 1);
    return line;
  };
  const std::string_view first = take_line();
  const size_t sp = first.find(' ');
  r.method = std::string(first.substr(0, sp));
  r.target = sp == std::string_view::npos ? "/" : std::string(first.substr(sp + 1));
  r.authorization = std::string(take_line());
  r.body = std::string(record);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<gannet::server::ApiRequest> requests;
  while (requests.size() < kMaxRequests) {
    const size_t sep = input.find('\x1e');
    requests.push_back(Decode(input.substr(0, sep)));
    if (sep == std::string_view::npos) break;
    input.remove_prefix(sep + 1);
  }

  gannet::DatabaseOptions options;
  options.store = gannet::NewMemoryStore();
  options.background_indexing = false;
  auto db = gannet::Database::Open(std::move(options));
  if (!db.ok()) __builtin_trap();
  gannet::server::ServerConfig config;
  config.api_keys = {
      {"fuzz-admin-key", false, ""}, {"fuzz-read-key", true, ""}, {"fuzz-tenant-key", false, "t-"}};
  config.limits.max_top_k = 1000;
  gannet::server::Metrics metrics;
  gannet::server::Api api(**db, config, metrics);

  for (const auto& request : requests) {
    const gannet::server::Plan plan = api.Prepare(request);
    const gannet::server::ApiResponse response = api.Execute(plan, request);
    if (response.status < 200 || response.status > 599) __builtin_trap();
    if (response.status == 500) __builtin_trap();  // bad input must never be a 500
    if (response.content_type == "application/json") {
      auto j = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) __builtin_trap();
      if (response.status >= 400 && !(j.is_object() && j.value("status", "") == "error" &&
                                      j.contains("error") && j["error"].is_string())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
