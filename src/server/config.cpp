#include "server/config.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gannet::server {

namespace {

using Json = nlohmann::json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<uint64_t> ParseCount(std::string_view text, std::string_view what, uint64_t min,
                            uint64_t max) {
  uint64_t v = 0;
  if (text.empty() || text.size() > 19) {
    return Status::InvalidArgument(std::string(what) + ": expected an integer");
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(std::string(what) + ": expected an integer, got '" +
                                     std::string(text) + "'");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) {
    return Status::InvalidArgument(std::string(what) + ": must be between " + std::to_string(min) +
                                   " and " + std::to_string(max));
  }
  return v;
}

Result<uint64_t> JsonCount(const Json& j, std::string_view what, uint64_t min, uint64_t max) {
  if (!j.is_number_unsigned()) {
    return Status::InvalidArgument(std::string(what) + ": expected a non-negative integer");
  }
  return ParseCount(std::to_string(j.get<uint64_t>()), what, min, max);
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Status ParseListen(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("--listen: expected host:port, got '" + std::string(text) + "'");
  }
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  GANNET_ASSIGN_OR_RETURN(uint64_t p,
                          ParseCount(text.substr(colon + 1), "--listen port", 0, 65535));
  *host = h.empty() ? "127.0.0.1" : std::string(h);
  *port = static_cast<uint16_t>(p);
  return Status::OK();
}

Result<std::vector<ApiKey>> ParseApiKeys(std::string_view text, std::string_view source) {
  std::vector<ApiKey> keys;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of("\n,", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::istringstream words{std::string(line)};
    std::string word;
    ApiKey key;
    bool first = true;
    while (words >> word) {
      if (first) {
        key.key = word;
        first = false;
      } else if (word == "ro") {
        key.read_only = true;
      } else if (word == "rw") {
        key.read_only = false;
      } else if (word.rfind("prefix=", 0) == 0) {
        key.prefix = word.substr(7);
      } else {
        return Status::InvalidArgument(std::string(source) + " entry " + std::to_string(line_no) +
                                       ": unknown key option '" + word +
                                       "' (expected: key [ro] [prefix=abc])");
      }
    }
    if (first) continue;  // blank or comment
    if (key.key.size() < 8) {
      return Status::InvalidArgument(std::string(source) + " entry " + std::to_string(line_no) +
                                     ": keys must be at least 8 characters");
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

Status ApplyConfigJson(std::string_view text, ServerConfig* config) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("config: expected a JSON object");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "listen") {
      if (!v.is_string()) return Status::InvalidArgument("config.listen: expected a string");
      GANNET_RETURN_IF_ERROR(ParseListen(v.get<std::string>(), &config->host, &config->port));
    } else if (k == "data") {
      if (!v.is_string()) return Status::InvalidArgument("config.data: expected a string");
      config->data_dir = v.get<std::string>();
    } else if (k == "api_keys_file") {
      if (!v.is_string()) {
        return Status::InvalidArgument("config.api_keys_file: expected a string");
      }
      GANNET_ASSIGN_OR_RETURN(std::string text, ReadFile(v.get<std::string>()));
      GANNET_ASSIGN_OR_RETURN(auto keys, ParseApiKeys(text, v.get<std::string>()));
      config->api_keys.insert(config->api_keys.end(), keys.begin(), keys.end());
    } else if (k == "insecure_no_auth") {
      if (!v.is_boolean()) {
        return Status::InvalidArgument("config.insecure_no_auth: expected a bool");
      }
      config->insecure_no_auth = v.get<bool>();
    } else if (k == "io_threads") {
      GANNET_ASSIGN_OR_RETURN(config->io_threads, JsonCount(v, "config.io_threads", 1, 256));
    } else if (k == "worker_threads") {
      GANNET_ASSIGN_OR_RETURN(config->worker_threads,
                              JsonCount(v, "config.worker_threads", 0, 1024));
    } else if (k == "limits") {
      if (!v.is_object()) return Status::InvalidArgument("config.limits: expected an object");
      Limits& l = config->limits;
      for (auto li = v.begin(); li != v.end(); ++li) {
        const std::string what = "config.limits." + li.key();
        if (li.key() == "max_request_bytes") {
          GANNET_ASSIGN_OR_RETURN(l.max_request_bytes, JsonCount(*li, what, 1024, 1ull << 32));
        } else if (li.key() == "max_top_k") {
          GANNET_ASSIGN_OR_RETURN(uint64_t t, JsonCount(*li, what, 1, 10000));
          l.max_top_k = static_cast<uint32_t>(t);
        } else if (li.key() == "max_filter_depth") {
          GANNET_ASSIGN_OR_RETURN(uint64_t d, JsonCount(*li, what, 1, 64));
          l.max_filter_depth = static_cast<int>(d);
        } else if (li.key() == "max_concurrent_queries_per_namespace") {
          GANNET_ASSIGN_OR_RETURN(l.max_concurrent_queries_per_namespace,
                                  JsonCount(*li, what, 1, 4096));
        } else if (li.key() == "max_queued_queries_per_namespace") {
          GANNET_ASSIGN_OR_RETURN(l.max_queued_queries_per_namespace,
                                  JsonCount(*li, what, 0, 1 << 20));
        } else {
          return Status::InvalidArgument(what + ": unknown field");
        }
      }
    } else {
      return Status::InvalidArgument("config." + k + ": unknown field");
    }
  }
  return Status::OK();
}

Result<ServerConfig> BuildConfig(const ServeArgs& args) {
  ServerConfig config;
  auto opt = [&](std::string_view name) -> const std::string* {
    auto it = args.options.find(name);
    return it == args.options.end() ? nullptr : &it->second;
  };
  if (const std::string* path = opt("config")) {
    GANNET_ASSIGN_OR_RETURN(std::string text, ReadFile(*path));
    Status st = ApplyConfigJson(text, &config);
    if (!st.ok()) return st.WithContext(*path);
  }
  if (const std::string* listen = opt("listen")) {
    GANNET_RETURN_IF_ERROR(ParseListen(*listen, &config.host, &config.port));
  }
  if (const std::string* data = opt("data")) config.data_dir = *data;
  if (config.data_dir.empty()) config.data_dir = args.default_data_dir;
  if (const std::string* file = opt("api-keys-file")) {
    GANNET_ASSIGN_OR_RETURN(std::string text, ReadFile(*file));
    GANNET_ASSIGN_OR_RETURN(auto keys, ParseApiKeys(text, *file));
    config.api_keys.insert(config.api_keys.end(), keys.begin(), keys.end());
  }
  if (const char* env = std::getenv("GANNET_API_KEYS"); env != nullptr && *env != '\0') {
    GANNET_ASSIGN_OR_RETURN(auto keys, ParseApiKeys(env, "GANNET_API_KEYS"));
    config.api_keys.insert(config.api_keys.end(), keys.begin(), keys.end());
  }
  if (args.flags.count("insecure-no-auth")) config.insecure_no_auth = true;
  if (const std::string* n = opt("io-threads")) {
    GANNET_ASSIGN_OR_RETURN(config.io_threads, ParseCount(*n, "--io-threads", 1, 256));
  }
  if (const std::string* n = opt("worker-threads")) {
    GANNET_ASSIGN_OR_RETURN(config.worker_threads, ParseCount(*n, "--worker-threads", 0, 1024));
  }
  if (const std::string* n = opt("max-request-bytes")) {
    GANNET_ASSIGN_OR_RETURN(config.limits.max_request_bytes,
                            ParseCount(*n, "--max-request-bytes", 1024, 1ull << 32));
  }
  if (config.api_keys.empty() && !config.insecure_no_auth && !IsLoopbackHost(config.host)) {
    return Status::InvalidArgument(
        "refusing to listen on non-loopback address '" + config.host +
        "' without API keys: configure keys (--api-keys-file, GANNET_API_KEYS) or pass "
        "--insecure-no-auth");
  }
  return config;
}

}  // namespace gannet::server
