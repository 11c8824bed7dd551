// Object-store cost benchmark: write throughput and latency, cold and warm query latency,
// and the store requests each costs, on one storage setup per run:
//
//   store_bench --store local:/tmp/dir            a local directory
//   store_bench --store s3://bucket/prefix        a bucket (AWS_* environment; Ceph RGW in
//                                                 bench/store/run.sh)
//   ... --latency-ms 50                           plus LatencyStore's injected delay
//
// Prints one markdown table row (and JSON with --json). Requests are counted by a
// CountingStore directly above the backend (below any cache), so they are what a bucket
// would bill. Cold queries open a fresh Database (no snapshot, no disk cache); warm ones
// reuse it: strong queries make one consistency check, eventual ones none.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gannet/database.h"
#include "gannet/json.h"

using namespace gannet;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

struct Args {
  std::string store;
  int latency_ms = 0;
  int docs = 20000, batch = 500, dims = 64, cold = 5, warm = 50;
  std::string label;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: store_bench --store local:DIR|s3://bucket/prefix [--latency-ms N] "
               "[--docs N] [--batch N] [--dims N] [--cold N] [--warm N] [--label TEXT]\n");
  std::exit(2);
}

Result<ObjectStorePtr> OpenBase(const std::string& spec) {
  if (spec.rfind("local:", 0) == 0) return OpenLocalStore(spec.substr(6));
  if (spec.rfind("s3://", 0) == 0) {
    GANNET_ASSIGN_OR_RETURN(S3Options o, S3Options::FromUrlAndEnv(spec));
    return OpenS3Store(o);
  }
  return Status::InvalidArgument("--store: expected local:DIR or s3://bucket/prefix");
}

const char* kWords[] = {"gannet", "puffin",  "storage", "vector", "search", "ranking", "bucket",
                        "object", "segment", "index",   "query",  "write",  "durable", "cache"};

std::string Batch(int first, int n, int dims, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::string json = R"({"distance_metric": "cosine_distance", "schema": {"text":
      {"type": "string", "full_text_search": true}}, "upsert_rows": [)";
  for (int i = 0; i < n; ++i) {
    json += (i ? "," : "") + std::string(R"({"id": )") + std::to_string(first + i) + R"(, "n": )" +
            std::to_string((first + i) % 100) + R"(, "text": ")";
    for (int w = 0; w < 8; ++w) json += std::string(kWords[rng() % 14]) + " ";
    json += R"(", "vector": [)";
    for (int d = 0; d < dims; ++d) json += (d ? "," : "") + std::to_string(u(rng));
    json += "]}";
  }
  return json + "]}";
}

std::string QueryJson(int dims, std::mt19937_64& rng, bool eventual) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::string v;
  for (int d = 0; d < dims; ++d) v += (d ? "," : "") + std::to_string(u(rng));
  return R"({"rank_by": ["vector", "ANN", [)" + v +
         R"(]], "top_k": 10, "filters": ["n", "Lt", 50], "include_attributes": ["n"])" +
         (eventual ? R"(, "consistency": {"level": "eventual"}})" : "}");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Usage();
    const std::string v = argv[++i];
    if (k == "--store")
      a.store = v;
    else if (k == "--latency-ms")
      a.latency_ms = std::atoi(v.c_str());
    else if (k == "--docs")
      a.docs = std::atoi(v.c_str());
    else if (k == "--batch")
      a.batch = std::atoi(v.c_str());
    else if (k == "--dims")
      a.dims = std::atoi(v.c_str());
    else if (k == "--cold")
      a.cold = std::atoi(v.c_str());
    else if (k == "--warm")
      a.warm = std::atoi(v.c_str());
    else if (k == "--label")
      a.label = v;
    else
      Usage();
  }
  if (a.store.empty() || a.docs <= 0 || a.batch <= 0) Usage();
  auto base = OpenBase(a.store);
  if (!base.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", base.status().ToString().c_str());
    return 1;
  }
  auto counting = NewCountingStore(*base);
  ObjectStorePtr store = counting;
  if (a.latency_ms > 0) store = NewLatencyStore(store, std::chrono::milliseconds(a.latency_ms));
  const std::string ns_name = "bench-" + std::to_string(std::random_device()());
  // `cold_ranged`: large indexed segments load by range (DatabaseOptions::
  // cold_load_min_bytes; background maintenance then loads them whole).
  auto open = [&](bool cold_ranged = false) {
    DatabaseOptions o;
    o.store = store;
    o.background_indexing = cold_ranged;
    o.cold_load_min_bytes = cold_ranged ? 1 : 0;
    return std::move(Database::Open(o)).value();
  };
  std::mt19937_64 rng(42);

  // Writes.
  auto db = open();
  auto ns = *db->OpenNamespace(ns_name);
  std::vector<double> write_ms;
  counting->Reset();
  const auto w0 = Clock::now();
  for (int first = 0; first < a.docs; first += a.batch) {
    const int n = std::min(a.batch, a.docs - first);
    auto req = ParseWriteRequest(Batch(first, n, a.dims, rng));
    const auto t = Clock::now();
    auto r = ns->Write(std::move(req).value());
    write_ms.push_back(Ms(Clock::now() - t));
    if (!r.ok()) {
      std::fprintf(stderr, "write: %s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  const double write_s = Ms(Clock::now() - w0) / 1000;
  const double req_per_write =
      static_cast<double>(counting->counters().requests()) / static_cast<double>(write_ms.size());

  counting->Reset();
  const auto i0 = Clock::now();
  if (Status st = ns->IndexNow(); !st.ok()) {
    std::fprintf(stderr, "index: %s\n", st.ToString().c_str());
    return 1;
  }
  const double index_s = Ms(Clock::now() - i0) / 1000;
  const uint64_t index_requests = counting->counters().requests();
  db->Close();

  // Cold queries: a fresh process view each time, loading the segments whole, then by
  // range. Requests and bytes are counted when the answer is back (a ranged load's
  // warm-up may have begun by then; a whole object counts once its GET returns).
  struct Cold {
    std::vector<double> ms;
    uint64_t requests = 0, round_trips = 0, bytes = 0;
  };
  auto measure_cold = [&](bool ranged, Cold* c) {
    for (int i = 0; i < a.cold; ++i) {
      auto cdb = open(ranged);
      auto cns = *cdb->OpenNamespace(ns_name);
      auto q = ParseQueryRequest(QueryJson(a.dims, rng, false));
      counting->Reset();
      const auto t = Clock::now();
      auto r = cns->Query(*q);
      c->ms.push_back(Ms(Clock::now() - t));
      if (!r.ok()) {
        std::fprintf(stderr, "cold query: %s\n", r.status().ToString().c_str());
        return false;
      }
      c->requests = counting->counters().requests();
      c->round_trips = r->stats.round_trips;
      c->bytes = counting->counters().bytes_read;
      cdb->Close();
    }
    return true;
  };
  Cold whole, ranged;
  if (!measure_cold(false, &whole) || !measure_cold(true, &ranged)) return 1;

  // Warm queries, strong then eventual.
  auto wdb = open();
  auto wns = *wdb->OpenNamespace(ns_name);
  (void)wns->Query(*ParseQueryRequest(QueryJson(a.dims, rng, false)));
  // Runs a.warm queries; returns false on an error. *ms: latencies; *req: requests each.
  auto run_warm = [&](bool eventual, std::vector<double>* ms, double* req) {
    counting->Reset();
    for (int i = 0; i < a.warm; ++i) {
      auto q = ParseQueryRequest(QueryJson(a.dims, rng, eventual));
      const auto t = Clock::now();
      if (!wns->Query(*q).ok()) return false;
      ms->push_back(Ms(Clock::now() - t));
    }
    *req = static_cast<double>(counting->counters().requests()) / a.warm;
    return true;
  };
  std::vector<double> warm_ms, eventual_ms;
  double warm_req = 0, eventual_req = 0;
  if (!run_warm(false, &warm_ms, &warm_req) || !run_warm(true, &eventual_ms, &eventual_req)) {
    std::fprintf(stderr, "warm query failed\n");
    return 1;
  }
  (void)wdb->DeleteNamespace(ns_name);
  wdb->Close();

  const std::string label =
      a.label.empty() ? a.store + (a.latency_ms ? " +" + std::to_string(a.latency_ms) + "ms" : "")
                      : a.label;
  std::printf(
      "| %s | %.0f | %.1f | %.1f | %.2f | %.2f | %llu | %.1f | %llu | %llu | %.1f KiB | %.1f | "
      "%llu | %llu | %.1f KiB | %.2f | %.1f | %.2f | %.1f |\n",
      label.c_str(), a.docs / write_s, Percentile(write_ms, 0.5), Percentile(write_ms, 0.99),
      req_per_write, index_s, static_cast<unsigned long long>(index_requests),
      Percentile(whole.ms, 0.5), static_cast<unsigned long long>(whole.requests),
      static_cast<unsigned long long>(whole.round_trips), whole.bytes / 1024.0,
      Percentile(ranged.ms, 0.5), static_cast<unsigned long long>(ranged.requests),
      static_cast<unsigned long long>(ranged.round_trips), ranged.bytes / 1024.0,
      Percentile(warm_ms, 0.5), warm_req, Percentile(eventual_ms, 0.5), eventual_req);
  return 0;
}
