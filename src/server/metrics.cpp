#include "server/metrics.h"

#include <cstdio>

namespace gannet::server {

namespace {

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

void Line(std::string& out, std::string_view name, std::string_view labels, std::string_view v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += v;
  out += '\n';
}

void Help(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  std::string sep = labels.empty() ? "" : std::string(labels) + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i < kBounds.size() ? FormatDouble(kBounds[i]) : "+Inf";
    Line(out, std::string(name) + "_bucket", sep + "le=\"" + le + "\"", std::to_string(cumulative));
  }
  Line(out, std::string(name) + "_sum", labels,
       FormatDouble(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9));
  Line(out, std::string(name) + "_count", labels,
       std::to_string(count_.load(std::memory_order_relaxed)));
}

void Metrics::RecordRequest(std::string_view route, int status, double seconds, uint64_t bytes_in,
                            uint64_t bytes_out) {
  bytes_in_.fetch_add(bytes_in, std::memory_order_relaxed);
  bytes_out_.fetch_add(bytes_out, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  auto it = routes_.find(route);
  if (it == routes_.end()) it = routes_.try_emplace(std::string(route)).first;
  ++it->second.by_status[status];
  it->second.latency.Observe(seconds);
}

void Metrics::RecordCommit(double seconds) { commit_latency_.Observe(seconds); }

void Metrics::RecordQueryStats(uint64_t rows_scanned, uint64_t objects_fetched, uint64_t cache_hits,
                               uint64_t bytes_read) {
  rows_scanned_.fetch_add(rows_scanned, std::memory_order_relaxed);
  objects_fetched_.fetch_add(objects_fetched, std::memory_order_relaxed);
  cache_hits_.fetch_add(cache_hits, std::memory_order_relaxed);
  bytes_read_.fetch_add(bytes_read, std::memory_order_relaxed);
}

std::string Metrics::Render(std::string_view extra) const {
  std::string out;
  {
    std::lock_guard<std::mutex> l(mu_);
    Help(out, "gannet_http_requests_total", "counter", "HTTP requests by route and status code.");
    for (const auto& [route, s] : routes_) {
      for (const auto& [status, n] : s.by_status) {
        Line(out, "gannet_http_requests_total",
             "route=\"" + route + "\",code=\"" + std::to_string(status) + "\"", std::to_string(n));
      }
    }
    Help(out, "gannet_http_errors_total", "counter", "HTTP responses with status >= 400.");
    for (const auto& [route, s] : routes_) {
      uint64_t errors = 0;
      for (const auto& [status, n] : s.by_status) {
        if (status >= 400) errors += n;
      }
      Line(out, "gannet_http_errors_total", "route=\"" + route + "\"", std::to_string(errors));
    }
    Help(out, "gannet_http_request_duration_seconds", "histogram",
         "HTTP request latency by route, from request read to response ready.");
    for (const auto& [route, s] : routes_) {
      s.latency.Render(out, "gannet_http_request_duration_seconds", "route=\"" + route + "\"");
    }
  }
  Help(out, "gannet_http_in_flight_requests", "gauge", "Requests being handled.");
  Line(out, "gannet_http_in_flight_requests", "",
       std::to_string(in_flight_.load(std::memory_order_relaxed)));
  Help(out, "gannet_http_request_bytes_total", "counter", "Request body bytes received.");
  Line(out, "gannet_http_request_bytes_total", "", std::to_string(bytes_in_.load()));
  Help(out, "gannet_http_response_bytes_total", "counter", "Response body bytes sent.");
  Line(out, "gannet_http_response_bytes_total", "", std::to_string(bytes_out_.load()));
  Help(out, "gannet_write_commit_duration_seconds", "histogram",
       "Engine time of acknowledged writes (validation, group commit, durable WAL PUT).");
  commit_latency_.Render(out, "gannet_write_commit_duration_seconds", "");
  Help(out, "gannet_query_rows_scanned_total", "counter", "Rows examined by queries.");
  Line(out, "gannet_query_rows_scanned_total", "", std::to_string(rows_scanned_.load()));
  Help(out, "gannet_query_object_fetches_total", "counter",
       "Object-store requests issued by queries.");
  Line(out, "gannet_query_object_fetches_total", "", std::to_string(objects_fetched_.load()));
  Help(out, "gannet_query_cache_hits_total", "counter",
       "Objects served from the in-process cache by queries.");
  Line(out, "gannet_query_cache_hits_total", "", std::to_string(cache_hits_.load()));
  Help(out, "gannet_query_bytes_read_total", "counter",
       "Bytes fetched from the object store by queries.");
  Line(out, "gannet_query_bytes_read_total", "", std::to_string(bytes_read_.load()));
  Help(out, "gannet_query_rejected_total", "counter",
       "Queries refused with 429 (namespace concurrency limit and queue full).");
  Line(out, "gannet_query_rejected_total", "", std::to_string(rejected_queries_.load()));
  out += extra;
  return out;
}

}  // namespace gannet::server
