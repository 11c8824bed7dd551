// ann_engine_bench: vector queries through the embedded engine (Namespace::Query with
// rank_by ANN, as a user sends them), on a data set written by bench/ann/gen.py: ingest,
// index (IndexNow until nothing is unindexed), then warm single-thread latency and
// recall@10 against the exact neighbours. Where ann_bench measures one index alone, this
// measures what a query pays on a namespace: one index per segment, the manifest check of
// a strong read, merging the segments' answers, the response rows.
//
//   ann_engine_bench --dir DIR --n N --dims D --queries Q [--data STORE_DIR]
//                    [--threads T] [--batch B] [--recall R1,R2,...] [--out FILE]
//                    [--vectors memory|ranged] [--max-segment-rows M] [--knn Q]
//                    [--grow-step S]
//
// --vectors ranged: DatabaseOptions::resident_indexed_vectors off (re-rank rows read by
// byte range from the segments). The output's memory_bytes is the namespace's own
// accounting (NamespaceInfo::memory_bytes); rss_mb also holds the input vectors.
// --max-segment-rows: DatabaseOptions::max_segment_rows (default the engine's), so that a
// data set lands in many segments (one index each) as a namespace that grows does, and
// compaction is off (compact_max_segments unbounded) so that they stay.
// --knn Q: also the warm latency of exact kNN (rank_by kNN, every row scanned) over the
// first Q queries.
// --grow-step S: the namespace grows as background maintenance would grow it: after every
// S rows written, fold the WAL tail into segments (IndexNow) and merge segments as
// compaction would (Compact, the engine's default policy), then collect the garbage; each
// step's maintenance time and segment count are printed and kept in the output ("steps").
// What this shows is that growth never rebuilds: each step indexes only the new rows (new
// segments seeded from existing clusters) and compaction maintains its largest input's
// lists. Not with --max-segment-rows (which turns compaction off).
// --recall: the ann_recall values to measure (default: the engine's default only); each
// gets its own warm latency, recall@10 and rows scanned per query.
//
// STORE_DIR: the local store (default: a fresh directory under /tmp, removed at exit); one
// that already holds N rows is queried without writing them again.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/limits.h"
#include "gannet/database.h"
#include "gannet/object_store.h"
#include "gannet/request.h"
#include "raw_data.h"

namespace {

using gannet::bench::ReadRaw;
using gannet::bench::RssMb;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Fail(const std::string& what, const gannet::Status& st) {
  std::fprintf(stderr, "ann_engine_bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, out, data_dir;
  size_t n = 0, dims = 0, nq = 0, batch = 10000, max_segment_rows = 0, knn_queries = 0,
         grow_step = 0;
  int threads = 2;
  std::vector<std::optional<double>> targets;
  bool ranged = false;
  if (argc % 2 == 0) {
    std::fprintf(stderr, "ann_engine_bench: flag %s has no value\n", argv[argc - 1]);
    return 2;
  }
  int i = 1;
  try {
    for (; i + 1 < argc; i += 2) {
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--dir") {
        dir = v;
      } else if (a == "--n") {
        n = std::stoul(v);
      } else if (a == "--dims") {
        dims = std::stoul(v);
      } else if (a == "--queries") {
        nq = std::stoul(v);
      } else if (a == "--data") {
        data_dir = v;
      } else if (a == "--threads") {
        threads = std::stoi(v);
      } else if (a == "--batch") {
        batch = std::stoul(v);
      } else if (a == "--max-segment-rows") {
        max_segment_rows = std::stoul(v);
      } else if (a == "--grow-step") {
        grow_step = std::stoul(v);
      } else if (a == "--knn") {
        knn_queries = std::stoul(v);
      } else if (a == "--recall") {
        for (size_t pos = 0; pos <= v.size();) {
          const size_t comma = std::min(v.find(',', pos), v.size());
          if (comma > pos) targets.emplace_back(std::stod(v.substr(pos, comma - pos)));
          pos = comma + 1;
        }
      } else if (a == "--out") {
        out = v;
      } else if (a == "--vectors" && (v == "memory" || v == "ranged")) {
        ranged = v == "ranged";
      } else {
        std::fprintf(stderr, "ann_engine_bench: unknown flag %s\n", a.c_str());
        return 2;
      }
    }
  } catch (const std::logic_error&) {  // std::stoul / stod: not a number, or out of range
    std::fprintf(stderr, "ann_engine_bench: %s needs a number, got '%s'\n", argv[i], argv[i + 1]);
    return 2;
  }
  if (grow_step > 0 && max_segment_rows > 0) {
    std::fprintf(stderr,
                 "ann_engine_bench: --grow-step runs compaction, which --max-segment-rows turns "
                 "off: give one of them\n");
    return 2;
  }
  if (dir.empty() || n == 0 || dims == 0 || nq == 0 || batch == 0) {
    std::fprintf(stderr,
                 "usage: ann_engine_bench --dir DIR --n N --dims D --queries Q [--data STORE_DIR] "
                 "[--threads T] [--batch B] [--recall R1,R2,...] [--out FILE] "
                 "[--vectors memory|ranged] [--max-segment-rows M | --grow-step S] [--knn Q]\n");
    return 2;
  }
  const bool temp_store = data_dir.empty();
  if (temp_store) {
    data_dir = "/tmp/ann_engine_bench." + std::to_string(getpid());
  }
  const auto base = ReadRaw<float>("ann_engine_bench", dir + "/base.f32", n * dims);
  const auto queries = ReadRaw<float>("ann_engine_bench", dir + "/queries.f32", nq * dims);
  const auto gt = ReadRaw<int32_t>("ann_engine_bench", dir + "/gt.i32", nq * 10);

  auto store = gannet::OpenLocalStore(data_dir);
  if (!store.ok()) Fail("open store", store.status());
  gannet::DatabaseOptions o;
  o.store = *store;
  o.background_indexing = false;
  o.ann_build_threads = threads;
  o.resident_indexed_vectors = !ranged;
  if (max_segment_rows > 0) {  // and no compaction merging them back
    o.max_segment_rows = max_segment_rows;
    o.compact_max_segments = SIZE_MAX;
  }
  if (grow_step > 0) o.gc_grace = std::chrono::milliseconds(0);  // keep the disk bounded
  auto db = gannet::Database::Open(o);
  if (!db.ok()) Fail("open", db.status());
  auto ns = (*db)->OpenNamespace("bench");
  if (!ns.ok()) Fail("namespace", ns.status());

  // Ingest in batches, then fold everything into indexed segments (a --data store that
  // already holds the rows is reused as it is). With --grow-step, maintenance runs after
  // every step instead, and its time is counted as indexing.
  auto before = (*ns)->Info();
  const bool reuse = before.ok() && before->approx_row_count >= n;
  double ingest_s = 0, index_s = 0;
  nlohmann::json steps = nlohmann::json::array();
  auto index_all = [&] {
    for (;;) {
      auto info = (*ns)->Info();
      if (!info.ok()) Fail("info", info.status());
      if (info->unindexed_rows == 0) return;
      gannet::Status st = (*ns)->IndexNow();
      if (!st.ok()) Fail("index", st);
    }
  };
  size_t next_step = grow_step;
  for (size_t start = 0; start < n && !reuse; start += batch) {
    const auto t_write = Clock::now();
    gannet::WriteRequest w;
    if (start == 0) w.distance_metric = gannet::DistanceMetric::kEuclideanSquared;
    for (size_t r = start; r < std::min(n, start + batch); ++r) {
      gannet::Document d;
      d.id = gannet::Id(static_cast<uint64_t>(r));
      d.Set("vector", gannet::Value::Vector(std::vector<float>(
                          base.begin() + static_cast<std::ptrdiff_t>(r * dims),
                          base.begin() + static_cast<std::ptrdiff_t>((r + 1) * dims))));
      w.upserts.push_back(std::move(d));
    }
    auto done = (*ns)->Write(std::move(w));
    if (!done.ok()) Fail("write", done.status());
    ingest_s += Seconds(t_write);
    const size_t written = std::min(n, start + batch);
    if (grow_step == 0 || (written < next_step && written < n)) continue;
    next_step = written + grow_step;
    const auto t_step = Clock::now();
    index_all();
    const double indexed_s = Seconds(t_step);
    // Compact as background maintenance would: again while each pass merges something.
    auto info = (*ns)->Info();
    for (uint64_t segments = 0; info.ok() && info->segment_count != segments;) {
      segments = info->segment_count;
      if (gannet::Status st = (*ns)->Compact(); !st.ok()) Fail("compact", st);
      info = (*ns)->Info();
    }
    if (!info.ok()) Fail("info", info.status());
    const double compacted_s = Seconds(t_step) - indexed_s;
    if (gannet::Status st = (*ns)->CollectGarbage(); !st.ok()) Fail("gc", st);
    index_s += Seconds(t_step);
    std::fprintf(stderr,
                 "ann_engine_bench: %zu rows: index %.1fs, compact %.1fs, %llu segments, "
                 "%.0f MB held\n",
                 written, indexed_s, compacted_s,
                 static_cast<unsigned long long>(info->segment_count),
                 static_cast<double>(info->memory_bytes) / 1e6);
    steps.push_back({{"rows", written},
                     {"index_s", indexed_s},
                     {"compact_s", compacted_s},
                     {"segments", info->segment_count},
                     {"memory_bytes", info->memory_bytes}});
  }
  const auto t_index = Clock::now();
  index_all();
  index_s += Seconds(t_index);
  auto info = (*ns)->Info();
  if (!info.ok()) Fail("info", info.status());
  std::fprintf(stderr, "ann_engine_bench: ingest %.1fs, index %.1fs, %llu segments\n", ingest_s,
               index_s, static_cast<unsigned long long>(info->segment_count));

  nlohmann::json res;
  res["n"] = n;
  res["dims"] = dims;
  res["ingest_s"] = ingest_s;
  res["index_s"] = index_s;
  res["segments"] = info->segment_count;
  res["vectors"] = ranged ? "ranged" : "memory";
  res["memory_bytes"] = info->memory_bytes;
  res["build_threads"] = threads;
  if (grow_step > 0) res["steps"] = steps;
  auto ask_with = [&](size_t i, gannet::Consistency consistency, std::optional<double> ann_recall,
                      bool exact = false) {
    gannet::QueryRequest q;
    q.rank_by.kind = gannet::RankBy::Kind::kVector;
    q.rank_by.attr = "vector";
    q.rank_by.approximate = !exact;
    q.rank_by.vector.assign(queries.begin() + static_cast<std::ptrdiff_t>(i * dims),
                            queries.begin() + static_cast<std::ptrdiff_t>((i + 1) * dims));
    q.top_k = 10;
    q.consistency = consistency;
    q.ann_recall = ann_recall;
    auto r = (*ns)->Query(q);
    if (!r.ok()) Fail("query", r.status());
    return std::move(r).value();
  };
  // One warm pass per setting: p50/p95/mean latency, recall@10, rows scanned per query.
  auto measure = [&](gannet::Consistency consistency, std::optional<double> ann_recall) {
    auto ask = [&](size_t i) { return ask_with(i, consistency, ann_recall); };
    for (size_t i = 0; i < nq; ++i) (void)ask(i);  // warm: everything loaded
    std::vector<double> lat;
    size_t hits = 0;
    uint64_t scanned = 0;
    for (size_t i = 0; i < nq; ++i) {
      const auto t0 = Clock::now();
      const gannet::QueryResponse r = ask(i);
      lat.push_back(Seconds(t0) * 1e3);
      scanned += r.stats.rows_scanned;
      for (const gannet::ResultRow& row : r.rows) {
        for (size_t j = 0; j < 10; ++j) {
          hits += row.id.is_uint() && gt[i * 10 + j] == static_cast<int32_t>(row.id.as_uint());
        }
      }
    }
    std::sort(lat.begin(), lat.end());
    double sum = 0;
    for (double v : lat) sum += v;
    const double recall = static_cast<double>(hits) / static_cast<double>(nq * 10);
    const char* name = consistency == gannet::Consistency::kStrong ? "strong" : "eventual";
    std::fprintf(stderr,
                 "ann_engine_bench: %s, ann_recall %s: p50 %.3f ms p95 %.3f ms recall@10 %.4f, "
                 "%.0f rows scanned\n",
                 name, ann_recall ? std::to_string(*ann_recall).c_str() : "default",
                 lat[lat.size() / 2], lat[lat.size() * 95 / 100], recall,
                 static_cast<double>(scanned) / static_cast<double>(nq));
    nlohmann::json m = {{"p50_ms", lat[lat.size() / 2]},
                        {"p95_ms", lat[lat.size() * 95 / 100]},
                        {"mean_ms", sum / static_cast<double>(lat.size())},
                        {"recall", recall},
                        {"rows_scanned", static_cast<double>(scanned) / static_cast<double>(nq)}};
    if (ann_recall) m["ann_recall"] = *ann_recall;
    return m;
  };
  res["strong"] = measure(gannet::Consistency::kStrong, std::nullopt);
  res["eventual"] = measure(gannet::Consistency::kEventual, std::nullopt);
  if (knn_queries > 0) {  // exact kNN, warm
    const size_t m = std::min(knn_queries, nq);
    for (size_t i = 0; i < m; ++i) (void)ask_with(i, gannet::Consistency::kEventual, {}, true);
    std::vector<double> lat;
    for (size_t i = 0; i < m; ++i) {
      const auto t0 = Clock::now();
      (void)ask_with(i, gannet::Consistency::kEventual, {}, true);
      lat.push_back(Seconds(t0) * 1e3);
    }
    std::sort(lat.begin(), lat.end());
    std::fprintf(stderr, "ann_engine_bench: eventual, exact kNN: p50 %.3f ms p95 %.3f ms\n",
                 lat[lat.size() / 2], lat[lat.size() * 95 / 100]);
    res["knn"] = {{"p50_ms", lat[lat.size() / 2]}, {"p95_ms", lat[lat.size() * 95 / 100]}};
  }
  {  // Throughput: one client a usable core, each asking every query (eventual, default).
    const unsigned clients = gannet::UsableCores();
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned c = 0; c < clients; ++c) {
      pool.emplace_back([&, c] {
        for (size_t i = 0; i < nq; ++i)
          (void)ask_with((i + c * nq / clients) % nq, gannet::Consistency::kEventual, std::nullopt);
      });
    }
    for (std::thread& t : pool) t.join();
    const double qps = static_cast<double>(clients * nq) / Seconds(t0);
    std::fprintf(stderr, "ann_engine_bench: %u clients, eventual, ann_recall default: %.0f QPS\n",
                 clients, qps);
    res["all_cores"] = {{"clients", clients}, {"qps", qps}};
  }
  for (const std::optional<double>& t : targets) {
    res["curve"].push_back(measure(gannet::Consistency::kStrong, t));
  }
  res["rss_mb"] = RssMb();
  (*db)->Close();
  if (temp_store) std::filesystem::remove_all(data_dir);
  return gannet::bench::WriteResult("ann_engine_bench", res.dump(2), out);
}
