#include "server/api.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <random>

#include "gannet/json.h"

namespace gannet::server {

namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) parts.push_back(PercentDecode(path.substr(pos, slash - pos), false));
    pos = slash + 1;
  }
  return parts;
}

int FilterDepth(const Filter& f) {
  int d = 0;
  for (const Filter& c : f.children) d = std::max(d, FilterDepth(c));
  return d + 1;
}

Status CheckFilterDepth(const std::optional<Filter>& f, std::string_view field, int max_depth) {
  if (f && FilterDepth(*f) > max_depth) {
    return Status::InvalidArgument(std::string(field) + ": filter nests deeper than " +
                                   std::to_string(max_depth) + " levels (server limit)");
  }
  return Status::OK();
}

Status CheckQueryLimits(const QueryRequest& q, const Limits& limits) {
  if (q.top_k > limits.max_top_k) {
    return Status::InvalidArgument("top_k: must be at most " + std::to_string(limits.max_top_k) +
                                   " (server limit), got " + std::to_string(q.top_k));
  }
  return CheckFilterDepth(q.filters, "filters", limits.max_filter_depth);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string TimeString(int64_t ms) { return Datetime{ms}.ToString(); }

bool IsWriteRoute(Route r) {
  return r == Route::kWrite || r == Route::kDeleteNamespace || r == Route::kUpdateSchema;
}

ApiResponse Ok(std::string body) { return ApiResponse{200, std::move(body), "application/json"}; }

}  // namespace

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kPreconditionFailed:
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      return 503;
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

ApiResponse ErrorResponse(int http_status, std::string_view message) {
  Json j = Json::object();
  j["status"] = "error";
  j["error"] = std::string(message);
  return ApiResponse{http_status, Dump(j), "application/json"};
}

ApiResponse ErrorResponse(const Status& status) {
  return ErrorResponse(HttpStatusFor(status), status.message());
}

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kUnknown:
      return "unknown";
    case Route::kHealthz:
      return "healthz";
    case Route::kReadyz:
      return "readyz";
    case Route::kMetrics:
      return "metrics";
    case Route::kListNamespaces:
      return "list_namespaces";
    case Route::kWrite:
      return "write";
    case Route::kDeleteNamespace:
      return "delete_namespace";
    case Route::kQuery:
      return "query";
    case Route::kMetadata:
      return "metadata";
    case Route::kGetSchema:
      return "get_schema";
    case Route::kUpdateSchema:
      return "update_schema";
    case Route::kHintCacheWarm:
      return "hint_cache_warm";
    case Route::kRecall:
      return "recall";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------- limiter

ConcurrencyLimiter::Admission ConcurrencyLimiter::Admit(const std::string& key, Task task) {
  std::lock_guard<std::mutex> l(mu_);
  Slot& s = slots_[key];
  if (s.running < max_running_) {
    ++s.running;
    return Admission::kRunNow;
  }
  if (s.queue.size() < max_queued_) {
    s.queue.push_back(std::move(task));
    return Admission::kQueued;
  }
  return Admission::kRejected;
}

ConcurrencyLimiter::Task ConcurrencyLimiter::Release(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end()) return {};
  Slot& s = it->second;
  if (!s.queue.empty()) {
    Task next = std::move(s.queue.front());
    s.queue.pop_front();
    return next;
  }
  if (s.running > 0) --s.running;
  if (s.running == 0) slots_.erase(it);
  return {};
}

// ---------------------------------------------------------------------------- routing

Api::Api(Database& db, const ServerConfig& config, Metrics& metrics)
    : db_(db), config_(config), metrics_(metrics) {}

Plan Api::Prepare(const ApiRequest& request) const {
  Plan plan;
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    size_t pos = 0;
    while (pos <= qs.size()) {
      size_t amp = qs.find('&', pos);
      if (amp == std::string_view::npos) amp = qs.size();
      std::string_view kv = qs.substr(pos, amp - pos);
      if (!kv.empty()) {
        size_t eq = kv.find('=');
        std::string k = PercentDecode(kv.substr(0, eq), true);
        std::string v = eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1), true);
        plan.params[k] = v;
      }
      pos = amp + 1;
    }
  }
  const std::string& m = request.method;
  const std::vector<std::string> parts = SplitPath(path);
  auto method_not_allowed = [&](std::string_view allowed) {
    plan.immediate = ErrorResponse(405, "method " + m + " not allowed on " + std::string(path) +
                                            "; allowed: " + std::string(allowed));
  };

  // Unauthenticated probes.
  if (parts.size() == 1 && (parts[0] == "healthz" || parts[0] == "readyz")) {
    plan.route = parts[0] == "healthz" ? Route::kHealthz : Route::kReadyz;
    plan.inline_ok = true;
    if (m != "GET" && m != "HEAD") method_not_allowed("GET");
    return plan;
  }

  // Route.
  const bool v1 = !parts.empty() && parts[0] == "v1";
  const bool v2 = !parts.empty() && parts[0] == "v2";
  if (parts.size() == 1 && parts[0] == "metrics") {
    plan.route = Route::kMetrics;
    if (m != "GET") method_not_allowed("GET");
  } else if ((v1 || v2) && parts.size() >= 2 && parts[1] == "namespaces") {
    if (parts.size() == 2) {
      plan.route = Route::kListNamespaces;
      if (m != "GET") method_not_allowed("GET");
    } else {
      plan.ns = parts[2];
      std::string_view sub = parts.size() >= 4 ? std::string_view(parts[3]) : "";
      const size_t want = sub == "_debug" ? 5 : (sub.empty() ? 3 : 4);
      if (parts.size() != want || (sub == "_debug" && parts[4] != "recall")) {
        plan.immediate = ErrorResponse(404, "no such endpoint: " + std::string(path));
      } else if (sub.empty() && v2) {
        if (m == "POST") {
          plan.route = Route::kWrite;
        } else if (m == "DELETE") {
          plan.route = Route::kDeleteNamespace;
        } else {
          method_not_allowed("POST, DELETE");
        }
      } else if (sub == "query" && v2) {
        plan.route = Route::kQuery;
        plan.limited = true;
        if (m != "POST") method_not_allowed("POST");
      } else if (sub == "metadata") {
        plan.route = Route::kMetadata;
        if (m != "GET") method_not_allowed("GET");
      } else if (sub == "schema" && v1) {
        if (m == "GET") {
          plan.route = Route::kGetSchema;
        } else if (m == "POST") {
          plan.route = Route::kUpdateSchema;
        } else {
          method_not_allowed("GET, POST");
        }
      } else if (sub == "hint_cache_warm" && v1) {
        plan.route = Route::kHintCacheWarm;
        if (m != "GET") method_not_allowed("GET");
      } else if (sub == "_debug" && v1) {
        plan.route = Route::kRecall;
        plan.limited = true;
        if (m != "POST") method_not_allowed("POST");
      } else {
        plan.immediate =
            ErrorResponse(404, "no such endpoint: " + std::string(path) +
                                   (v1 && (sub.empty() || sub == "query")
                                        ? " (the v1 write and query APIs are not served; use /v2)"
                                        : ""));
      }
    }
  } else {
    plan.immediate = ErrorResponse(404, "no such endpoint: " + std::string(path));
  }
  if (plan.immediate) return plan;
  if (!plan.ns.empty()) {
    if (Status st = ValidateNamespaceName(plan.ns); !st.ok()) {
      plan.immediate = ErrorResponse(st);
      return plan;
    }
  }

  // Authenticate and authorise.
  if (!config_.api_keys.empty()) {
    std::string_view auth = request.authorization;
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || auth.substr(0, kBearer.size()) != kBearer) {
      plan.immediate = ErrorResponse(401, "missing API key: send 'Authorization: Bearer <key>'");
      return plan;
    }
    std::string_view token = auth.substr(kBearer.size());
    const ApiKey* found = nullptr;
    for (const ApiKey& k : config_.api_keys) {
      if (ConstantTimeEquals(k.key, token)) found = &k;
    }
    if (found == nullptr) {
      plan.immediate = ErrorResponse(401, "invalid API key");
      return plan;
    }
    if (found->read_only && IsWriteRoute(plan.route)) {
      plan.immediate = ErrorResponse(403, "this API key is read-only");
      return plan;
    }
    plan.key_prefix = found->prefix;
    if (!plan.ns.empty() && plan.ns.rfind(found->prefix, 0) != 0) {
      plan.immediate = ErrorResponse(
          403, "this API key may only access namespaces starting with '" + found->prefix + "'");
      return plan;
    }
  }
  return plan;
}

ApiResponse Api::Execute(const Plan& plan, const ApiRequest& request) {
  if (plan.immediate) return *plan.immediate;
  try {
    switch (plan.route) {
      case Route::kHealthz:
        return Ok(R"({"status":"ok"})");
      case Route::kReadyz:
        return ready_.load() ? Ok(R"({"status":"ready"})") : ErrorResponse(503, "shutting down");
      case Route::kMetrics:
        return RenderMetrics();
      case Route::kListNamespaces:
        return ListNamespaces(plan);
      case Route::kWrite:
        return Write(plan, request);
      case Route::kDeleteNamespace:
        return DeleteNamespace(plan);
      case Route::kQuery:
        return Query(plan, request);
      case Route::kMetadata:
        return Metadata(plan);
      case Route::kGetSchema:
        return GetSchema(plan);
      case Route::kUpdateSchema:
        return UpdateSchema(plan, request);
      case Route::kHintCacheWarm:
        return HintCacheWarm(plan);
      case Route::kRecall:
        return Recall(plan, request);
      case Route::kUnknown:
        break;
    }
    return ErrorResponse(404, "no such endpoint");
  } catch (const std::bad_alloc&) {
    return ErrorResponse(503, "out of memory");
  } catch (const std::exception& e) {
    return ErrorResponse(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return ErrorResponse(500, "internal error");
  }
}

Result<std::shared_ptr<Namespace>> Api::Open(const std::string& ns) {
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<Namespace> handle, db_.OpenNamespace(ns));
  std::lock_guard<std::mutex> l(mu_);
  if (touched_.size() < 10000) touched_.insert(ns);
  return handle;
}

// ---------------------------------------------------------------------------- handlers

ApiResponse Api::Write(const Plan& p, const ApiRequest& r) {
  Result<WriteRequest> req = ParseWriteRequest(r.body);
  if (!req.ok()) return ErrorResponse(req.status());
  const int depth = config_.limits.max_filter_depth;
  for (auto [f, name] : {std::pair{&req->delete_by_filter, "delete_by_filter"},
                         std::pair{&req->upsert_condition, "upsert_condition"},
                         std::pair{&req->patch_condition, "patch_condition"},
                         std::pair{&req->delete_condition, "delete_condition"}}) {
    if (Status st = CheckFilterDepth(*f, name, depth); !st.ok()) return ErrorResponse(st);
  }
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  const auto start = Clock::now();
  Result<WriteResponse> w = (*ns)->Write(std::move(req).value());
  if (!w.ok()) return ErrorResponse(w.status());
  metrics_.RecordCommit(SecondsSince(start));
  return Ok(WriteResponseToJson(*w));
}

ApiResponse Api::Query(const Plan& p, const ApiRequest& r) {
  Result<QueryBody> body = ParseQueryBody(r.body);
  if (!body.ok()) return ErrorResponse(body.status());
  for (size_t i = 0; i < body->queries.size(); ++i) {
    Status st = CheckQueryLimits(body->queries[i], config_.limits);
    if (!st.ok()) {
      return ErrorResponse(body->multi ? st.WithContext("queries[" + std::to_string(i) + "]") : st);
    }
  }
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  const bool b64 = body->queries[0].vector_encoding_base64;
  if (!body->multi) {
    Result<QueryResponse> q = (*ns)->Query(body->queries[0]);
    if (!q.ok()) return ErrorResponse(q.status());
    const QueryStats& s = q->stats;
    metrics_.RecordQueryStats(s.rows_scanned, s.objects_fetched, s.cache_hits, s.bytes_read);
    return Ok(QueryResponseToJson(*q, b64));
  }
  Result<std::vector<QueryResponse>> qs = (*ns)->MultiQuery(body->queries);
  if (!qs.ok()) return ErrorResponse(qs.status());
  for (const QueryResponse& q : *qs) {
    const QueryStats& s = q.stats;
    metrics_.RecordQueryStats(s.rows_scanned, s.objects_fetched, s.cache_hits, s.bytes_read);
  }
  return Ok(MultiQueryBodyResponseToJson(*body, *qs, b64));
}

ApiResponse Api::ListNamespaces(const Plan& p) {
  std::string prefix, cursor;
  size_t page_size = 100;
  for (const auto& [k, v] : p.params) {
    if (k == "prefix") {
      prefix = v;
    } else if (k == "cursor") {
      cursor = v;
    } else if (k == "page_size") {
      if (v.empty() || v.size() > 6 ||
          !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return ErrorResponse(400, "page_size: expected an integer between 1 and 1000");
      }
      page_size = std::stoul(v);
    } else {
      return ErrorResponse(400, k + ": unknown query parameter");
    }
  }
  // A key limited to a prefix only sees its namespaces.
  if (!p.key_prefix.empty()) {
    if (prefix.rfind(p.key_prefix, 0) == 0) {
      // narrower or equal: keep
    } else if (p.key_prefix.rfind(prefix, 0) == 0) {
      prefix = p.key_prefix;
    } else {
      return Ok(R"({"namespaces":[]})");
    }
  }
  Result<NamespaceList> list = db_.ListNamespaces(prefix, cursor, page_size);
  if (!list.ok()) return ErrorResponse(list.status());
  Json j = Json::object();
  j["namespaces"] = Json::array();
  for (const std::string& n : list->names) j["namespaces"].push_back({{"id", n}});
  if (list->next_cursor) j["next_cursor"] = *list->next_cursor;
  return Ok(Dump(j));
}

ApiResponse Api::Metadata(const Plan& p) {
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  Result<NamespaceInfo> info = (*ns)->Info();
  if (!info.ok()) return ErrorResponse(info.status());
  Json j = Json::object();
  j["schema"] = Json::parse(SchemaToJson(info->schema));
  j["approx_logical_bytes"] = info->approx_logical_bytes;
  j["approx_row_count"] = info->approx_row_count;
  j["created_at"] = TimeString(info->created_at_ms);
  j["updated_at"] = TimeString(info->updated_at_ms);
  j["last_write_at"] = TimeString(info->updated_at_ms);
  j["encryption"] = {{"mode", "default"}};
  if (info->unindexed_rows == 0) {
    j["index"] = {{"status", "up-to-date"}};
  } else {
    // Bytes are estimated from the average row size: the engine counts rows.
    const uint64_t rows = std::max<uint64_t>(info->approx_row_count, 1);
    const uint64_t bytes = static_cast<uint64_t>(
        static_cast<double>(info->approx_logical_bytes) *
        std::min<double>(1.0, static_cast<double>(info->unindexed_rows) / rows));
    j["index"] = {{"status", "updating"},
                  {"unindexed_rows", info->unindexed_rows},
                  {"unindexed_bytes", bytes}};
  }
  j["gannet"] = {{"wal_sequence", info->wal_sequence},
                 {"indexed_sequence", info->indexed_sequence},
                 {"segment_count", info->segment_count},
                 {"manifest_version", info->manifest_version}};
  return Ok(Dump(j));
}

ApiResponse Api::GetSchema(const Plan& p) {
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  Result<Schema> schema = (*ns)->GetSchema();
  if (!schema.ok()) return ErrorResponse(schema.status());
  return Ok(SchemaToJson(*schema));
}

ApiResponse Api::UpdateSchema(const Plan& p, const ApiRequest& r) {
  Result<Schema> schema = ParseSchema(r.body);
  if (!schema.ok()) return ErrorResponse(schema.status());
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  WriteRequest w;
  w.schema = std::move(schema).value();
  const auto start = Clock::now();
  Result<WriteResponse> done = (*ns)->Write(std::move(w));
  if (!done.ok()) return ErrorResponse(done.status());
  metrics_.RecordCommit(SecondsSince(start));
  return GetSchema(p);
}

ApiResponse Api::DeleteNamespace(const Plan& p) {
  Status st = db_.DeleteNamespace(p.ns);
  if (!st.ok()) return ErrorResponse(st);
  return Ok(R"({"status":"OK"})");
}

ApiResponse Api::HintCacheWarm(const Plan& p) {
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());
  // Loading the namespace's current snapshot is what warms this process's cache.
  Result<NamespaceInfo> info = (*ns)->Info();
  if (!info.ok()) return ErrorResponse(info.status());
  return Ok(R"({"status":"ACCEPTED","message":"cache warm hint accepted"})");
}

ApiResponse Api::Recall(const Plan& p, const ApiRequest& r) {
  Json body = Json::object();
  if (!r.body.empty()) {
    body = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return ErrorResponse(400, "malformed JSON");
    if (!body.is_object()) return ErrorResponse(400, "request: expected an object");
  }
  uint64_t num = 25, top_k = 10;
  bool ground_truth = false;
  std::optional<Filter> filters;
  std::optional<QueryRequest> explicit_rank;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (v.is_null()) continue;
    if (k == "num" || k == "top_k") {
      const uint64_t max = k == "num" ? 1000 : config_.limits.max_top_k;
      if (!v.is_number_unsigned() || v.get<uint64_t>() < 1 || v.get<uint64_t>() > max) {
        return ErrorResponse(400, k + ": expected an integer between 1 and " + std::to_string(max));
      }
      (k == "num" ? num : top_k) = v.get<uint64_t>();
    } else if (k == "include_ground_truth") {
      if (!v.is_boolean()) return ErrorResponse(400, k + ": expected a bool");
      ground_truth = v.get<bool>();
    } else if (k == "filters") {
      Result<Filter> f = ParseFilter(Dump(v));
      if (!f.ok()) return ErrorResponse(f.status());
      filters = std::move(f).value();
    } else if (k == "rank_by") {
      Result<QueryRequest> q = ParseQueryRequest(Dump(Json{{"rank_by", v}}));
      if (!q.ok()) return ErrorResponse(q.status());
      if (q->rank_by.kind != RankBy::Kind::kVector) {
        return ErrorResponse(400,
                             "rank_by: expected a vector ranking [\"vector\", \"ANN\", [...]]");
      }
      explicit_rank = std::move(q).value();
    } else {
      return ErrorResponse(400, k + ": unknown field");
    }
  }
  if (explicit_rank && body.contains("num") && !body["num"].is_null() && num != 1) {
    return ErrorResponse(400, "num: must be null or 1 when rank_by is set");
  }
  if (Status st = CheckFilterDepth(filters, "filters", config_.limits.max_filter_depth); !st.ok()) {
    return ErrorResponse(st);
  }
  Result<std::shared_ptr<Namespace>> ns = Open(p.ns);
  if (!ns.ok()) return ErrorResponse(ns.status());

  // Query vectors: the given one, or a random sample of stored vectors.
  std::vector<std::vector<float>> vectors;
  if (explicit_rank) {
    vectors.push_back(explicit_rank->rank_by.vector);
  } else {
    QueryRequest sample;
    sample.rank_by.kind = RankBy::Kind::kAttribute;
    sample.rank_by.attr = std::string(kIdAttr);
    sample.top_k = 1000;
    sample.include_attributes.names = {std::string(kVectorAttr)};
    sample.filters = filters;
    Result<QueryResponse> rows = (*ns)->Query(sample);
    if (!rows.ok()) return ErrorResponse(rows.status());
    for (const ResultRow& row : rows->rows) {
      for (const auto& [name, value] : row.attrs) {
        if (name == kVectorAttr && value.kind() == Value::Kind::kVector) {
          vectors.push_back(value.as_vector());
        }
      }
    }
    if (vectors.empty()) {
      return ErrorResponse(400, "namespace '" + p.ns + "' has no vectors to sample" +
                                    (filters ? " matching the filters" : ""));
    }
    std::mt19937_64 rng(std::random_device{}());
    std::shuffle(vectors.begin(), vectors.end(), rng);
    if (vectors.size() > num) vectors.resize(num);
  }

  double recall_sum = 0, ann_sum = 0, exact_sum = 0;
  Json truth = Json::array();
  for (const std::vector<float>& v : vectors) {
    QueryRequest q;
    q.rank_by.kind = RankBy::Kind::kVector;
    q.rank_by.attr = std::string(kVectorAttr);
    q.rank_by.vector = v;
    q.top_k = static_cast<uint32_t>(top_k);
    q.filters = filters;
    q.rank_by.approximate = true;
    Result<std::vector<QueryResponse>> both =
        (*ns)->MultiQuery({q, [&] {
                             QueryRequest e = q;
                             e.rank_by.approximate = false;
                             e.include_attributes.names = {std::string(kVectorAttr)};
                             return e;
                           }()});
    if (!both.ok()) return ErrorResponse(both.status());
    const QueryResponse& ann = (*both)[0];
    const QueryResponse& exact = (*both)[1];
    size_t hits = 0;
    for (const ResultRow& e : exact.rows) {
      for (const ResultRow& a : ann.rows) {
        if (a.id == e.id) {
          ++hits;
          break;
        }
      }
    }
    recall_sum += exact.rows.empty() ? 1.0 : static_cast<double>(hits) / exact.rows.size();
    ann_sum += static_cast<double>(ann.rows.size());
    exact_sum += static_cast<double>(exact.rows.size());
    if (ground_truth) {
      Json neighbors = Json::parse(QueryResponseToJson(exact))["rows"];
      truth.push_back({{"query_vector", v}, {"nearest_neighbors", neighbors}});
    }
  }
  const double n = static_cast<double>(vectors.size());
  Json out = {{"avg_recall", recall_sum / n},
              {"avg_ann_count", ann_sum / n},
              {"avg_exhaustive_count", exact_sum / n}};
  if (ground_truth) out["ground_truth"] = std::move(truth);
  return Ok(Dump(out));
}

ApiResponse Api::RenderMetrics() {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> l(mu_);
    names.assign(touched_.begin(), touched_.end());
  }
  std::string extra;
  extra +=
      "# HELP gannet_wal_unindexed_rows Rows in the WAL tail not yet folded into segments.\n"
      "# TYPE gannet_wal_unindexed_rows gauge\n";
  std::string rows_lines =
      "# HELP gannet_namespace_approx_rows Approximate live rows per namespace.\n"
      "# TYPE gannet_namespace_approx_rows gauge\n";
  std::string memory_lines =
      "# HELP gannet_namespace_memory_bytes Bytes a loaded namespace holds in memory.\n"
      "# TYPE gannet_namespace_memory_bytes gauge\n";
  size_t shown = 0;
  for (const std::string& name : names) {
    if (shown >= 1000) break;
    Result<std::shared_ptr<Namespace>> ns = db_.OpenNamespace(name);
    if (!ns.ok()) continue;
    Result<NamespaceInfo> info = (*ns)->Info();
    if (!info.ok()) continue;  // deleted meanwhile
    ++shown;
    extra += "gannet_wal_unindexed_rows{namespace=\"" + name + "\"} " +
             std::to_string(info->unindexed_rows) + "\n";
    rows_lines += "gannet_namespace_approx_rows{namespace=\"" + name + "\"} " +
                  std::to_string(info->approx_row_count) + "\n";
    memory_lines += "gannet_namespace_memory_bytes{namespace=\"" + name + "\"} " +
                    std::to_string(info->memory_bytes) + "\n";
  }
  extra += rows_lines;
  extra += memory_lines;
  extra += "# HELP gannet_ready 1 while serving, 0 while draining.\n# TYPE gannet_ready gauge\n";
  extra += std::string("gannet_ready ") + (ready_.load() ? "1" : "0") + "\n";
  return ApiResponse{200, metrics_.Render(extra), "text/plain; version=0.0.4"};
}

}  // namespace gannet::server
