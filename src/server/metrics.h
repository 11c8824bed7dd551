// Server metrics, rendered in Prometheus text format by /metrics. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace gannet::server {

// A fixed-bucket latency histogram in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(double seconds);
  // Appends `name_bucket{labels,le=...}`, `name_sum{labels}` and `name_count{labels}`.
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

class Metrics {
 public:
  // One finished HTTP request on `route` (e.g. "query") with its status and latency.
  void RecordRequest(std::string_view route, int status, double seconds, uint64_t bytes_in,
                     uint64_t bytes_out);
  // Engine time of one acknowledged write (validation + group commit + durable PUT).
  void RecordCommit(double seconds);
  void RecordQueryStats(uint64_t rows_scanned, uint64_t objects_fetched, uint64_t cache_hits,
                        uint64_t bytes_read);
  void RecordRejectedQuery() { rejected_queries_.fetch_add(1, std::memory_order_relaxed); }
  void AddInFlight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }

  // Everything recorded, plus `extra` (already formatted lines, e.g. WAL lag gauges).
  std::string Render(std::string_view extra) const;

 private:
  struct RouteStats {
    std::map<int, uint64_t> by_status;
    Histogram latency;
  };
  mutable std::mutex mu_;
  std::map<std::string, RouteStats, std::less<>> routes_;  // guarded by mu_
  Histogram commit_latency_;
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0};
  std::atomic<uint64_t> rows_scanned_{0}, objects_fetched_{0}, cache_hits_{0}, bytes_read_{0};
  std::atomic<uint64_t> rejected_queries_{0};
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace gannet::server
