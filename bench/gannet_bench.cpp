// gannet_bench: ingest, index-build and exact-query benchmarks for Gannet's embedded
// engine, with this machine's memory bandwidth as the reference limit and an optional
// numpy brute-force peer for exhaustive kNN.
//
//   gannet_bench [--data DIR] [--docs N] [--dims D] [--queries Q] [--json OUT]
//                [--writers W] [--stream-mib M] [--no-peer] [--no-memory]
//
// Everything goes through the public C++ API (gannet/database.h): requests are built as
// gannet::WriteRequest / gannet::QueryRequest structs, not JSON, so the numbers measure
// the engine. Stores are wrapped with NewCountingStore to report object-store requests.
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gannet/database.h"
#include "gannet/object_store.h"
#include "gannet/request.h"
#include "gannet/types.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// ---- Options -------------------------------------------------------------------------

struct Options {
  std::string data_dir;  // empty: a fresh temp dir, removed at exit
  size_t docs = 100000;
  uint32_t dims = 384;
  size_t queries = 200;
  size_t writers = 4;
  size_t batch = 1000;
  size_t stream_mib = 1024;
  std::string json_out;
  bool peer = true;
  bool memory_run = true;
  std::string python = "python3";
};

[[noreturn]] void Usage(const char* argv0, int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: %s [--data DIR] [--docs N] [--dims D] [--queries Q] [--json OUT]\n"
               "          [--writers W] [--batch B] [--stream-mib M] [--python PY]\n"
               "          [--no-peer] [--no-memory]\n"
               "  --data DIR      local store directory (default: a fresh temp dir)\n"
               "  --docs N        documents to ingest (default 100000)\n"
               "  --dims D        vector dimensions (default 384)\n"
               "  --queries Q     queries per query kind (default 200)\n"
               "  --json OUT      write results as JSON to OUT\n"
               "  --writers W     writer threads of the concurrent ingest (default 4)\n"
               "  --batch B       rows per write request (default 1000)\n"
               "  --stream-mib M  size of the bandwidth array in MiB (default 1024)\n"
               "  --python PY     python interpreter of the numpy peer (default python3)\n"
               "  --no-peer       skip the numpy peer\n"
               "  --no-memory     skip the MemoryStore runs\n",
               argv0);
  std::exit(code);
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: missing value\n", a.c_str());
        Usage(argv[0], 2);
      }
      return argv[++i];
    };
    auto num = [&]() -> size_t {
      const std::string v = next();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n == 0) {
        std::fprintf(stderr, "%s: expected a positive integer, got '%s'\n", a.c_str(), v.c_str());
        Usage(argv[0], 2);
      }
      return static_cast<size_t>(n);
    };
    if (a == "--data") {
      o.data_dir = next();
    } else if (a == "--docs") {
      o.docs = num();
    } else if (a == "--dims") {
      o.dims = static_cast<uint32_t>(num());
    } else if (a == "--queries") {
      o.queries = num();
    } else if (a == "--writers") {
      o.writers = num();
    } else if (a == "--batch") {
      o.batch = num();
    } else if (a == "--stream-mib") {
      o.stream_mib = num();
    } else if (a == "--json") {
      o.json_out = next();
    } else if (a == "--python") {
      o.python = next();
    } else if (a == "--no-peer") {
      o.peer = false;
    } else if (a == "--no-memory") {
      o.memory_run = false;
    } else if (a == "-h" || a == "--help") {
      Usage(argv[0], 0);
    } else {
      std::fprintf(stderr, "unknown flag: %s\n", a.c_str());
      Usage(argv[0], 2);
    }
  }
  return o;
}

template <typename T>
T Check(gannet::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "gannet_bench: %s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void Check(const gannet::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "gannet_bench: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---- Generated data ------------------------------------------------------------------

constexpr size_t kClusters = 100;
constexpr size_t kCategories = 20;
constexpr uint64_t kSeed = 20240601;
constexpr int64_t kRankRange = 1000000;

std::string CategoryName(size_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "cat_%02zu", c);
  return buf;
}

// Clustered vectors (kClusters gaussian clusters), attributes, and query vectors, all
// from a fixed seed. Vectors are row-major in one array.
struct Dataset {
  size_t n = 0;
  uint32_t dims = 0;
  std::vector<float> vectors;
  std::vector<int64_t> rank;
  std::vector<uint8_t> category;
  std::vector<double> score;
  std::vector<float> queries;  // nq * dims
  size_t nq = 0;
  uint64_t payload_bytes = 0;  // 4*dims + attribute bytes, summed over docs

  const float* vec(size_t i) const { return vectors.data() + i * dims; }
  const float* query(size_t i) const { return queries.data() + (i % nq) * dims; }
};

Dataset Generate(size_t n, uint32_t dims, size_t nq) {
  Dataset d;
  d.n = n;
  d.dims = dims;
  d.nq = nq;
  std::mt19937_64 rng(kSeed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> centers(kClusters * dims);
  for (float& c : centers) c = gauss(rng);
  const float spread = 0.35f;
  std::uniform_int_distribution<size_t> pick_cluster(0, kClusters - 1);
  std::uniform_int_distribution<size_t> pick_cat(0, kCategories - 1);
  std::uniform_int_distribution<int64_t> pick_rank(0, kRankRange - 1);
  std::uniform_real_distribution<double> pick_score(0.0, 1.0);
  d.vectors.resize(n * dims);
  d.rank.resize(n);
  d.category.resize(n);
  d.score.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float* c = &centers[pick_cluster(rng) * dims];
    float* v = &d.vectors[i * dims];
    for (uint32_t j = 0; j < dims; ++j) v[j] = c[j] + spread * gauss(rng);
    d.rank[i] = pick_rank(rng);
    d.category[i] = static_cast<uint8_t>(pick_cat(rng));
    d.score[i] = pick_score(rng);
    d.payload_bytes +=
        4ull * dims + sizeof(int64_t) + CategoryName(d.category[i]).size() + sizeof(double);
  }
  d.queries.resize(nq * dims);
  for (size_t i = 0; i < nq; ++i) {
    const float* c = &centers[pick_cluster(rng) * dims];
    for (uint32_t j = 0; j < dims; ++j) d.queries[i * dims + j] = c[j] + spread * gauss(rng);
  }
  return d;
}

gannet::Document MakeDoc(const Dataset& d, size_t i) {
  gannet::Document doc;
  doc.id = gannet::Id(static_cast<uint64_t>(i));
  // Attributes sorted by name, as Document requires.
  doc.attrs.reserve(4);
  doc.attrs.emplace_back("category", gannet::Value::String(CategoryName(d.category[i])));
  doc.attrs.emplace_back("rank", gannet::Value::Int(d.rank[i]));
  doc.attrs.emplace_back("score", gannet::Value::Float(d.score[i]));
  doc.attrs.emplace_back("vector",
                         gannet::Value::Vector(std::vector<float>(d.vec(i), d.vec(i) + d.dims)));
  return doc;
}

gannet::Schema MakeSchema(uint32_t dims) {
  using gannet::AttrType;
  using gannet::ScalarType;
  gannet::Schema s;
  s.id_type = ScalarType::kUint;
  s.distance_metric = gannet::DistanceMetric::kCosineDistance;
  s.attributes["vector"].type = AttrType::Vector(dims);
  s.attributes["rank"].type = AttrType::Scalar(ScalarType::kInt);
  s.attributes["category"].type = AttrType::Scalar(ScalarType::kString);
  s.attributes["score"].type = AttrType::Scalar(ScalarType::kFloat);
  return s;
}

// ---- Statistics ----------------------------------------------------------------------

struct Latency {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, mean_ms = 0, qps = 0;
  size_t count = 0;
};

Latency Summarize(std::vector<double> ms) {
  Latency l;
  l.count = ms.size();
  if (ms.empty()) return l;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    const double rank = p * static_cast<double>(ms.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(rank));
    const size_t hi = std::min(lo + 1, ms.size() - 1);
    return ms[lo] + (ms[hi] - ms[lo]) * (rank - static_cast<double>(lo));
  };
  l.p50_ms = pct(0.50);
  l.p95_ms = pct(0.95);
  l.p99_ms = pct(0.99);
  double sum = 0;
  for (double v : ms) sum += v;
  l.mean_ms = sum / static_cast<double>(ms.size());
  l.qps = sum > 0 ? 1000.0 * static_cast<double>(ms.size()) / sum : 0;
  return l;
}

json LatencyJson(const Latency& l) {
  return {{"count", l.count},   {"p50_ms", l.p50_ms},   {"p95_ms", l.p95_ms},
          {"p99_ms", l.p99_ms}, {"mean_ms", l.mean_ms}, {"qps", l.qps}};
}

json CountersJson(const gannet::StoreCounters& c) {
  return {{"gets", c.gets},
          {"heads", c.heads},
          {"lists", c.lists},
          {"deletes", c.deletes},
          {"puts", c.puts},
          {"requests", c.requests()},
          {"bytes_read", c.bytes_read},
          {"bytes_written", c.bytes_written}};
}

// ---- Machine -------------------------------------------------------------------------

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string m = line.substr(colon + 1);
        m.erase(0, m.find_first_not_of(" \t"));
        return m;
      }
    }
  }
  return "unknown";
}

std::string NowIso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json MachineJson() {
  json m;
  m["nproc"] = std::thread::hardware_concurrency();
  m["cpu_model"] = CpuModel();
  m["date"] = NowIso();
  utsname u{};
  if (uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::ifstream load("/proc/loadavg");
  std::string load1;
  if (load >> load1) m["loadavg_1min_at_start"] = std::stod(load1);
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) m["mem_gib"] = static_cast<double>(pages) * page / (1 << 30);
  return m;
}

// ---- Memory bandwidth (STREAM-like read) ---------------------------------------------

// Sums `n` floats with 16 independent lanes so the loop vectorizes without -ffast-math.
float SumFloats(const float* a, size_t n) {
  float acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (size_t j = 0; j < 16; ++j) acc[j] += a[i + j];
  }
  float s = 0;
  for (; i < n; ++i) s += a[i];
  for (float v : acc) s += v;
  return s;
}

struct Bandwidth {
  double single_gbps = 0;  // best pass, one thread
  double all_gbps = 0;     // best pass, one thread per core
  size_t bytes = 0;
  int passes = 0;
};

Bandwidth MeasureBandwidth(size_t mib, int passes) {
  Bandwidth bw;
  const size_t n = mib * (size_t{1} << 20) / sizeof(float);
  bw.bytes = n * sizeof(float);
  bw.passes = passes;
  std::vector<float> a(n);
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i & 1023) * 1e-3f;
  volatile float sink = 0;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = Clock::now();
    sink = sink + SumFloats(a.data(), n);
    const double s = Seconds(t0, Clock::now());
    bw.single_gbps = std::max(bw.single_gbps, static_cast<double>(bw.bytes) / s / 1e9);
  }
  const size_t threads = std::max(1u, std::thread::hardware_concurrency());
  for (int p = 0; p < passes; ++p) {
    std::vector<float> partial(threads);
    std::vector<std::thread> pool;
    const auto t0 = Clock::now();
    for (size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        partial[t] = SumFloats(a.data() + lo, hi - lo);
      });
    }
    for (auto& th : pool) th.join();
    const double s = Seconds(t0, Clock::now());
    for (float v : partial) sink = sink + v;
    bw.all_gbps = std::max(bw.all_gbps, static_cast<double>(bw.bytes) / s / 1e9);
  }
  return bw;
}

// ---- Ingest --------------------------------------------------------------------------

struct IngestResult {
  std::string store;
  size_t writers = 0;
  size_t docs = 0;
  size_t writes = 0;
  double seconds = 0;
  double docs_per_s = 0;
  double mb_per_s = 0;
  gannet::StoreCounters counters;
  double requests_per_write = 0;
  double puts_per_write = 0;
  // IndexNow over the whole tail (single-writer runs only).
  double index_seconds = 0;
  double index_rows_per_s = 0;
  uint64_t segments = 0;  // segment count after IndexNow
  gannet::StoreCounters index_counters;
};

struct Opened {
  std::shared_ptr<gannet::CountingStore> counting;
  std::unique_ptr<gannet::Database> db;
  std::shared_ptr<gannet::Namespace> ns;
};

Opened OpenDb(gannet::ObjectStorePtr base, const std::string& ns_name) {
  Opened o;
  o.counting = gannet::NewCountingStore(std::move(base));
  gannet::DatabaseOptions opts;
  opts.store = o.counting;
  // Indexing is timed separately with IndexNow(); keep it out of the ingest numbers.
  opts.background_indexing = false;
  o.db = Check(gannet::Database::Open(std::move(opts)), "Database::Open");
  o.ns = Check(o.db->OpenNamespace(ns_name), "OpenNamespace");
  return o;
}

// Upserts docs [0, n) in batches; `writers` threads take batches round-robin.
IngestResult Ingest(Opened& o, const Dataset& d, size_t writers, size_t batch,
                    const std::string& store_name) {
  IngestResult r;
  r.store = store_name;
  r.writers = writers;
  r.docs = d.n;
  // Declare the schema (and metric) up front so type inference is not part of the run.
  {
    gannet::WriteRequest req;
    req.schema = MakeSchema(d.dims);
    req.distance_metric = gannet::DistanceMetric::kCosineDistance;
    Check(o.ns->Write(std::move(req)), "Write(schema)");
  }
  const size_t nbatches = (d.n + batch - 1) / batch;
  // Build every request before the clock starts: the benchmark measures the engine.
  std::vector<gannet::WriteRequest> reqs(nbatches);
  for (size_t b = 0; b < nbatches; ++b) {
    const size_t lo = b * batch, hi = std::min(d.n, lo + batch);
    reqs[b].upserts.reserve(hi - lo);
    for (size_t i = lo; i < hi; ++i) reqs[b].upserts.push_back(MakeDoc(d, i));
  }
  o.counting->Reset();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  auto work = [&] {
    for (size_t b; (b = next.fetch_add(1)) < nbatches;) {
      auto res = o.ns->Write(std::move(reqs[b]));
      if (!res.ok()) {
        std::fprintf(stderr, "gannet_bench: Write: %s\n", res.status().ToString().c_str());
        failed = true;
        return;
      }
    }
  };
  if (writers <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < writers; ++t) pool.emplace_back(work);
    for (auto& th : pool) th.join();
  }
  r.seconds = Seconds(t0, Clock::now());
  if (failed) std::exit(1);
  r.counters = o.counting->counters();
  r.writes = nbatches;
  r.docs_per_s = static_cast<double>(d.n) / r.seconds;
  r.mb_per_s = static_cast<double>(d.payload_bytes) / r.seconds / 1e6;
  r.requests_per_write = static_cast<double>(r.counters.requests()) / static_cast<double>(nbatches);
  r.puts_per_write = static_cast<double>(r.counters.puts) / static_cast<double>(nbatches);
  return r;
}

void TimeIndex(Opened& o, IngestResult& r) {
  o.counting->Reset();
  const auto t0 = Clock::now();
  Check(o.ns->IndexNow(), "IndexNow");
  r.index_seconds = Seconds(t0, Clock::now());
  r.index_rows_per_s = static_cast<double>(r.docs) / r.index_seconds;
  r.index_counters = o.counting->counters();
  const gannet::NamespaceInfo info = Check(o.ns->Info(), "Info");
  r.segments = info.segment_count;
  if (info.unindexed_rows != 0) {
    std::fprintf(stderr, "gannet_bench: IndexNow left %llu rows unindexed\n",
                 static_cast<unsigned long long>(info.unindexed_rows));
  }
}

json IngestJson(const IngestResult& r) {
  json j = {{"store", r.store},
            {"writers", r.writers},
            {"docs", r.docs},
            {"writes", r.writes},
            {"seconds", r.seconds},
            {"docs_per_s", r.docs_per_s},
            {"mb_per_s", r.mb_per_s},
            {"requests_per_write", r.requests_per_write},
            {"puts_per_write", r.puts_per_write},
            {"store_counters", CountersJson(r.counters)}};
  if (r.index_seconds > 0) {
    j["index_now"] = {{"seconds", r.index_seconds},
                      {"rows_per_s", r.index_rows_per_s},
                      {"segments", r.segments},
                      {"store_counters", CountersJson(r.index_counters)}};
  }
  return j;
}

// ---- Queries -------------------------------------------------------------------------

gannet::Filter CategoryInFilter(size_t a, size_t b) {
  gannet::Filter f;
  f.op = gannet::Filter::Op::kIn;
  f.attr = "category";
  f.value = gannet::Value::Array(
      {gannet::Value::String(CategoryName(a)), gannet::Value::String(CategoryName(b))});
  return f;
}

struct QueryKind {
  std::string name;
  std::string description;
  std::function<gannet::QueryRequest(size_t)> make;
};

std::vector<QueryKind> QueryKinds(const Dataset& d) {
  std::vector<QueryKind> kinds;
  kinds.push_back({"knn_top10", "vector kNN top_10, exhaustive", [&d](size_t i) {
                     gannet::QueryRequest q;
                     q.rank_by.kind = gannet::RankBy::Kind::kVector;
                     q.rank_by.attr = "vector";
                     q.rank_by.vector.assign(d.query(i), d.query(i) + d.dims);
                     q.top_k = 10;
                     return q;
                   }});
  kinds.push_back(
      {"knn_top10_filter10pct", "vector kNN top_10, category In [2 of 20] (~10%)", [&d](size_t i) {
         gannet::QueryRequest q;
         q.rank_by.kind = gannet::RankBy::Kind::kVector;
         q.rank_by.attr = "vector";
         q.rank_by.vector.assign(d.query(i), d.query(i) + d.dims);
         q.filters = CategoryInFilter(i % kCategories, (i + 7) % kCategories);
         q.top_k = 10;
         return q;
       }});
  kinds.push_back(
      {"order_by_top10_filter10pct", "order by score desc top_10, ~10% filter", [](size_t i) {
         gannet::QueryRequest q;
         q.rank_by.kind = gannet::RankBy::Kind::kAttribute;
         q.rank_by.attr = "score";
         q.rank_by.descending = true;
         q.filters = CategoryInFilter(i % kCategories, (i + 7) % kCategories);
         q.top_k = 10;
         q.include_attributes.names = {"score"};
         return q;
       }});
  kinds.push_back({"count_group_by_category", "Count aggregate, group_by category", [](size_t) {
                     gannet::QueryRequest q;
                     q.aggregate_by["count"] = "Count";
                     q.group_by = {"category"};
                     q.top_k = 100;
                     return q;
                   }});
  return kinds;
}

struct QueryResult {
  std::string store;
  std::string kind;
  std::string description;
  Latency latency;
  double requests_per_query = 0;
  gannet::StoreCounters counters;
  double rows_scanned_per_query = 0;
  double scan_gbps = 0;  // vector bytes scanned per second at p50 (kNN without filter)
  double vs_bandwidth = 0;
};

std::vector<QueryResult> RunQueries(Opened& o, const Dataset& d, size_t nq,
                                    const std::string& store_name) {
  std::vector<QueryResult> out;
  for (const QueryKind& k : QueryKinds(d)) {
    // Warm-up: loads segments into the process cache (as a serving process would have).
    for (size_t i = 0; i < std::min<size_t>(3, nq); ++i) {
      Check(o.ns->Query(k.make(i)), k.name.c_str());
    }
    QueryResult r;
    r.store = store_name;
    r.kind = k.name;
    r.description = k.description;
    std::vector<double> ms;
    ms.reserve(nq);
    uint64_t scanned = 0;
    o.counting->Reset();
    for (size_t i = 0; i < nq; ++i) {
      const gannet::QueryRequest req = k.make(i);
      const auto t0 = Clock::now();
      gannet::QueryResponse resp = Check(o.ns->Query(req), k.name.c_str());
      ms.push_back(Seconds(t0, Clock::now()) * 1e3);
      scanned += resp.stats.rows_scanned;
      if (resp.rows.empty() && resp.aggregation_groups.empty()) {
        std::fprintf(stderr, "gannet_bench: %s returned nothing\n", k.name.c_str());
        std::exit(1);
      }
    }
    r.counters = o.counting->counters();
    r.requests_per_query = static_cast<double>(r.counters.requests()) / static_cast<double>(nq);
    r.rows_scanned_per_query = static_cast<double>(scanned) / static_cast<double>(nq);
    r.latency = Summarize(std::move(ms));
    if (k.name == "knn_top10") {
      const double bytes = static_cast<double>(d.n) * d.dims * sizeof(float);
      r.scan_gbps = bytes / (r.latency.p50_ms / 1e3) / 1e9;
    }
    out.push_back(std::move(r));
  }
  return out;
}

json QueryJson(const QueryResult& r) {
  json j = LatencyJson(r.latency);
  j["store"] = r.store;
  j["kind"] = r.kind;
  j["description"] = r.description;
  j["requests_per_query"] = r.requests_per_query;
  j["rows_scanned_per_query"] = r.rows_scanned_per_query;
  j["store_counters"] = CountersJson(r.counters);
  if (r.scan_gbps > 0) {
    j["scan_gbps_at_p50"] = r.scan_gbps;
    j["scan_vs_single_thread_bandwidth"] = r.vs_bandwidth;
  }
  return j;
}

// Checks that the engine's exact kNN matches a brute force over the generated data for
// one query (cosine distance, top 10 by distance).
bool VerifyKnn(Opened& o, const Dataset& d) {
  const float* q = d.query(0);
  double qn = 0;
  for (uint32_t j = 0; j < d.dims; ++j) qn += static_cast<double>(q[j]) * q[j];
  qn = std::sqrt(qn);
  std::vector<std::pair<double, uint64_t>> all(d.n);
  for (size_t i = 0; i < d.n; ++i) {
    const float* x = d.vec(i);
    double dot = 0, xn = 0;
    for (uint32_t j = 0; j < d.dims; ++j) {
      dot += static_cast<double>(q[j]) * x[j];
      xn += static_cast<double>(x[j]) * x[j];
    }
    all[i] = {1.0 - dot / (qn * std::sqrt(xn)), i};
  }
  std::partial_sort(all.begin(), all.begin() + 10, all.end());
  gannet::QueryRequest req;
  req.rank_by.kind = gannet::RankBy::Kind::kVector;
  req.rank_by.attr = "vector";
  req.rank_by.vector.assign(q, q + d.dims);
  req.top_k = 10;
  const gannet::QueryResponse resp = Check(o.ns->Query(req), "verify kNN");
  if (resp.rows.size() != 10) return false;
  size_t hits = 0;
  for (const auto& row : resp.rows) {
    for (size_t i = 0; i < 10; ++i) {
      if (row.id.is_uint() && row.id.as_uint() == all[i].second) ++hits;
    }
  }
  // Float rounding may swap near-ties at the boundary; demand 9 of 10.
  return hits >= 9;
}

// ---- numpy peer ----------------------------------------------------------------------

const char* kNumpyScript = R"PY(
import json, sys, time
try:
    import numpy as np
except ImportError:
    print(json.dumps({"skipped": "numpy not importable"}))
    sys.exit(0)
vec_path, q_path, n, dims, nq = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
X = np.fromfile(vec_path, dtype=np.float32).reshape(n, dims)
Q = np.fromfile(q_path, dtype=np.float32).reshape(nq, dims)
norms = np.linalg.norm(X, axis=1)  # precomputed once, as a naive brute force would
def knn(q, k=10):
    d = 1.0 - (X @ q) / (norms * np.linalg.norm(q))
    idx = np.argpartition(d, k)[:k]
    return idx[np.argsort(d[idx])]
for i in range(min(3, nq)):
    knn(Q[i])
ms = []
for i in range(nq):
    t0 = time.perf_counter()
    knn(Q[i])
    ms.append((time.perf_counter() - t0) * 1e3)
ms.sort()
def pct(p):
    r = p * (len(ms) - 1); lo = int(r); hi = min(lo + 1, len(ms) - 1)
    return ms[lo] + (ms[hi] - ms[lo]) * (r - lo)
print(json.dumps({"numpy": np.__version__, "count": nq, "p50_ms": pct(0.5), "p95_ms": pct(0.95),
                  "p99_ms": pct(0.99), "mean_ms": sum(ms) / nq, "qps": 1e3 * nq / sum(ms)}))
)PY";

bool WriteFloats(const std::string& path, const float* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n * sizeof(float)));
  return static_cast<bool>(out);
}

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the numpy brute force, single-threaded BLAS (Gannet's query is single-threaded).
json RunNumpyPeer(const Options& opt, const Dataset& d, const fs::path& tmp) {
  const std::string vec_path = (tmp / "peer_vectors.f32").string();
  const std::string q_path = (tmp / "peer_queries.f32").string();
  const std::string script_path = (tmp / "peer_numpy.py").string();
  if (!WriteFloats(vec_path, d.vectors.data(), d.vectors.size()) ||
      !WriteFloats(q_path, d.queries.data(), d.queries.size())) {
    return {{"skipped", "could not write peer data"}};
  }
  {
    std::ofstream s(script_path);
    s << kNumpyScript;
  }
  const std::string cmd = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 " +
                          ShellQuote(opt.python) + " " + ShellQuote(script_path) + " " +
                          ShellQuote(vec_path) + " " + ShellQuote(q_path) + " " +
                          std::to_string(d.n) + " " + std::to_string(d.dims) + " " +
                          std::to_string(d.nq) + " 2>/dev/null";
  std::string output;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, got);
    const int rc = pclose(p);
    if (rc != 0 && output.empty()) {
      const int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : rc;
      return {{"skipped", "python exited with status " + std::to_string(code)}};
    }
  } else {
    return {{"skipped", "could not start python"}};
  }
  fs::remove(vec_path);
  fs::remove(q_path);
  fs::remove(script_path);
  const size_t nl = output.find_last_not_of("\n");
  const size_t start = output.rfind('\n', nl);
  const std::string last = output.substr(start == std::string::npos ? 0 : start + 1);
  json j = json::parse(last, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return {{"skipped", "unreadable python output"}};
  return j;
}

// ---- Output --------------------------------------------------------------------------

void PrintRule() { std::printf("%s\n", std::string(96, '-').c_str()); }

void PrintIngest(const std::vector<IngestResult>& ingests) {
  std::printf("\nINGEST (upserts of %zu docs in batches, WriteRequest structs)\n",
              ingests.empty() ? size_t{0} : ingests[0].docs);
  PrintRule();
  std::printf("%-8s %7s %9s %11s %9s %10s %10s %14s\n", "store", "writers", "seconds", "docs/s",
              "MB/s", "reqs/write", "puts/write", "IndexNow rows/s");
  PrintRule();
  for (const IngestResult& r : ingests) {
    char idx[32] = "-";
    if (r.index_seconds > 0) std::snprintf(idx, sizeof idx, "%.0f", r.index_rows_per_s);
    std::printf("%-8s %7zu %9.2f %11.0f %9.1f %10.2f %10.2f %14s\n", r.store.c_str(), r.writers,
                r.seconds, r.docs_per_s, r.mb_per_s, r.requests_per_write, r.puts_per_write, idx);
  }
}

void PrintQueries(const std::vector<QueryResult>& qs, size_t docs) {
  std::printf("\nEXACT QUERIES (%zu docs, after IndexNow; single thread, strong consistency)\n",
              docs);
  PrintRule();
  std::printf("%-8s %-28s %9s %9s %9s %9s %10s %12s\n", "store", "query", "p50 ms", "p95 ms",
              "p99 ms", "QPS", "reqs/query", "rows scanned");
  PrintRule();
  for (const QueryResult& r : qs) {
    std::printf("%-8s %-28s %9.3f %9.3f %9.3f %9.1f %10.2f %12.0f\n", r.store.c_str(),
                r.kind.c_str(), r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms, r.latency.qps,
                r.requests_per_query, r.rows_scanned_per_query);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  json out;
  out["machine"] = MachineJson();
  out["config"] = {{"docs", opt.docs},
                   {"dims", opt.dims},
                   {"queries", opt.queries},
                   {"batch", opt.batch},
                   {"writers", opt.writers},
                   {"clusters", kClusters},
                   {"categories", kCategories},
                   {"seed", kSeed},
                   {"metric", "cosine_distance"},
                   {"stream_mib", opt.stream_mib}};

  // Scratch space: the local store (unless --data) and the peer's data files.
  fs::path tmp =
      fs::temp_directory_path() / ("gannet_bench." + std::to_string(getpid()) + "." +
                                   std::to_string(Clock::now().time_since_epoch().count()));
  fs::create_directories(tmp);
  const fs::path data_dir = opt.data_dir.empty() ? tmp / "data" : fs::path(opt.data_dir);
  fs::create_directories(data_dir);
  if (!opt.data_dir.empty() && !fs::is_empty(data_dir)) {
    std::fprintf(stderr, "gannet_bench: --data %s is not empty\n", data_dir.c_str());
    return 2;
  }

  std::printf("gannet_bench: %zu docs x %u dims, %zu queries/kind, %u cpus (%s)\n", opt.docs,
              opt.dims, opt.queries, std::thread::hardware_concurrency(), CpuModel().c_str());
  std::printf("store dir: %s\n", data_dir.c_str());
  std::fflush(stdout);

  auto t0 = Clock::now();
  const Dataset d = Generate(opt.docs, opt.dims, opt.queries);
  std::printf("generated data in %.1fs (%.1f MB payload)\n", Seconds(t0, Clock::now()),
              static_cast<double>(d.payload_bytes) / 1e6);
  std::fflush(stdout);
  out["config"]["payload_bytes"] = d.payload_bytes;
  out["config"]["vector_bytes"] = static_cast<uint64_t>(d.vectors.size() * sizeof(float));

  std::vector<IngestResult> ingests;
  std::vector<QueryResult> queries;

  // 1. Local store, single writer, then IndexNow and queries.
  {
    Opened o = OpenDb(
        Check(gannet::OpenLocalStore((data_dir / "single").string()), "OpenLocalStore"), "bench");
    ingests.push_back(Ingest(o, d, 1, opt.batch, "local"));
    TimeIndex(o, ingests.back());
    std::printf("local ingest %.1fs, IndexNow %.1fs (%llu segments)\n", ingests.back().seconds,
                ingests.back().index_seconds,
                static_cast<unsigned long long>(ingests.back().segments));
    std::fflush(stdout);
    if (!VerifyKnn(o, d)) {
      std::fprintf(stderr, "gannet_bench: kNN results disagree with brute force\n");
      return 1;
    }
    auto q = RunQueries(o, d, opt.queries, "local");
    queries.insert(queries.end(), q.begin(), q.end());
    o.db->Close();
  }
  // 2. Local store, concurrent writers (group commit).
  if (opt.writers > 1) {
    Opened o =
        OpenDb(Check(gannet::OpenLocalStore((data_dir / "concurrent").string()), "OpenLocalStore"),
               "bench");
    ingests.push_back(Ingest(o, d, opt.writers, opt.batch, "local"));
    std::printf("local ingest with %zu writers %.1fs\n", opt.writers, ingests.back().seconds);
    std::fflush(stdout);
    o.db->Close();
  }
  fs::remove_all(data_dir / "concurrent");
  // 3. Memory store: the same without storage cost.
  if (opt.memory_run) {
    Opened o = OpenDb(gannet::NewMemoryStore(), "bench");
    ingests.push_back(Ingest(o, d, 1, opt.batch, "memory"));
    TimeIndex(o, ingests.back());
    std::printf("memory ingest %.1fs, IndexNow %.1fs\n", ingests.back().seconds,
                ingests.back().index_seconds);
    std::fflush(stdout);
    auto q = RunQueries(o, d, opt.queries, "memory");
    queries.insert(queries.end(), q.begin(), q.end());
    o.db->Close();
  }
  if (opt.memory_run && opt.writers > 1) {
    Opened o = OpenDb(gannet::NewMemoryStore(), "bench");
    ingests.push_back(Ingest(o, d, opt.writers, opt.batch, "memory"));
    o.db->Close();
  }

  // 4. Reference limit: memory read bandwidth.
  const Bandwidth bw = MeasureBandwidth(opt.stream_mib, 5);
  for (QueryResult& r : queries) {
    if (r.scan_gbps > 0) r.vs_bandwidth = r.scan_gbps / bw.single_gbps;
  }

  // 5. Peer: numpy brute force on the same vectors and queries.
  json peer = {{"skipped", "--no-peer"}};
  if (opt.peer) peer = RunNumpyPeer(opt, d, tmp);

  // ---- Report ----
  PrintIngest(ingests);
  PrintQueries(queries, d.n);

  std::printf("\nMEMORY BANDWIDTH (sum over a %zu MiB float array, best of %d passes)\n",
              opt.stream_mib, bw.passes);
  PrintRule();
  std::printf("single thread: %.2f GB/s   all %u threads: %.2f GB/s\n", bw.single_gbps,
              std::thread::hardware_concurrency(), bw.all_gbps);
  const double vec_mb = static_cast<double>(d.vectors.size() * sizeof(float)) / 1e6;
  for (const QueryResult& r : queries) {
    if (r.scan_gbps > 0) {
      std::printf(
          "%-6s exhaustive kNN scans %.1f MB of vectors at %.2f GB/s (p50) = %.2fx of "
          "single-thread read bandwidth\n",
          r.store.c_str(), vec_mb, r.scan_gbps, r.vs_bandwidth);
    }
  }

  std::printf("\nPEER: exhaustive float kNN top_10 (cosine), same vectors and queries\n");
  PrintRule();
  json peer_cmp = json::object();
  if (peer.contains("skipped")) {
    std::printf("numpy brute force: skipped (%s)\n", peer["skipped"].get<std::string>().c_str());
  } else {
    const double np50 = peer.value("p50_ms", 0.0), npq = peer.value("qps", 0.0);
    std::printf("%-28s %9s %9s %9s %9s %14s\n", "engine", "p50 ms", "p95 ms", "p99 ms", "QPS",
                "gannet/numpy");
    std::printf("%-28s %9.3f %9.3f %9.3f %9.1f %14s\n",
                ("numpy " + peer.value("numpy", std::string("?")) + " (1 thread)").c_str(), np50,
                peer.value("p95_ms", 0.0), peer.value("p99_ms", 0.0), npq, "1.00");
    for (const QueryResult& r : queries) {
      if (r.kind != "knn_top10") continue;
      const double ratio = npq > 0 ? r.latency.qps / npq : 0;
      std::printf("%-28s %9.3f %9.3f %9.3f %9.1f %14.2f\n", ("gannet " + r.store).c_str(),
                  r.latency.p50_ms, r.latency.p95_ms, r.latency.p99_ms, r.latency.qps, ratio);
      peer_cmp["gannet_" + r.store + "_qps_over_numpy_qps"] = ratio;
      peer_cmp["gannet_" + r.store + "_p50_over_numpy_p50"] =
          np50 > 0 ? r.latency.p50_ms / np50 : 0;
    }
    std::printf("(gannet/numpy is the QPS ratio: above 1 means Gannet is faster)\n");
  }

  json ingest_json = json::array();
  for (const IngestResult& r : ingests) ingest_json.push_back(IngestJson(r));
  json query_json = json::array();
  for (const QueryResult& r : queries) query_json.push_back(QueryJson(r));
  out["ingest"] = ingest_json;
  out["queries"] = query_json;
  out["memory_bandwidth"] = {{"array_bytes", bw.bytes},
                             {"passes", bw.passes},
                             {"single_thread_gbps", bw.single_gbps},
                             {"all_threads_gbps", bw.all_gbps}};
  out["peer_numpy"] = peer;
  out["peer_comparison"] = peer_cmp;

  if (!opt.json_out.empty()) {
    const fs::path p(opt.json_out);
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    std::ofstream f(p);
    f << out.dump(2) << "\n";
    if (!f) {
      std::fprintf(stderr, "gannet_bench: could not write %s\n", opt.json_out.c_str());
      return 1;
    }
    std::printf("\nresults written to %s\n", opt.json_out.c_str());
  }
  fs::remove_all(tmp);
  return 0;
}
