// ann_bench: Gannet's vector index (src/index/) on a generated data set, for the
// comparison with in-memory ANN libraries in bench/ann/ (`make bench-ann`).
//
//   ann_bench --dir DIR --n N --dims D --queries Q [--metric l2|cosine] [--threads T]
//             [--query-threads QT] [--out FILE] [--grow F] [--next F]
//             [--vectors memory|ranged] [--replica-epsilon E] [--wide-replica-epsilon E]
//             [--index FILE]
//             [--nprobes A,B,...] [--sweep-only 1] [--cold 1]
//
// DIR holds raw little-endian files written by bench/ann/gen.py: base.f32 (N×D),
// queries.f32 (Q×D), gt.i32 (Q×10 exact neighbours), labels.u8 (N, a label 0..99) and
// gt_sel{1,10,50}.i32 (exact neighbours among rows with label < 1, 10, 50). Prints JSON:
// build time, memory, recall@10 and QPS per nprobe on one thread and on QT threads (default:
// every core; queries shared out, QPS over the wall time), at the default recall target,
// and filtered at 1%, 10% and 50% selectivity. --grow F also times what compaction
// does when a namespace grows: a build over all rows seeded by the centroids of an index
// over the first F of them, against the build from scratch. --next F times what indexing
// new rows does: the rows after the first F as a new segment, clustered from scratch and
// seeded by an index over the first F, with recall@10 on the new segment alone.
// --vectors ranged drops the vectors from memory once the index is built and re-ranks with
// rows read by pread(2) from DIR/base.f32 (what a segment whose vectors are not resident
// does from a local file or the disk cache; the file stays in the page cache, which is not
// the process's resident memory); below 256 dimensions its index has no boundary
// replicas, as the engine builds it then (--replica-epsilon overrides). For tuning:
// --index FILE loads the index from FILE when it holds one of this data (else builds it
// and saves it there), --nprobes replaces the sweep's ladder, --sweep-only 1 stops after
// the single-thread sweep (or goes on to --grow/--next); each point reports the rows
// shortlisted and re-ranked a query.
// --cold 1 also searches the index as a cold load does (IvfIndex::DecodeHead: the head of
// the encoded object, each probed list read from it by range; here from memory, so it
// times the CPU of the cold path, not I/O) at the default recall target, unfiltered and
// filtered, with the bytes of lists read a query ("cold" in the JSON).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/memory.h"
#include "index/ivf_index.h"
#include "index/kernels.h"
#include "raw_data.h"

namespace {

using gannet::bench::ReadRaw;
using gannet::bench::RssMb;

using gannet::index::IvfIndex;
using Clock = std::chrono::steady_clock;

struct Point {
  double recall = 0, qps = 0, codes = 0, shortlisted = 0, reranked = 0;
  size_t exact = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir, out, metric_name = "l2";
  size_t n = 0, dims = 0, nq = 0;
  int threads = 2;
  int query_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  uint32_t rerank = gannet::index::IvfSearchParams{}.rerank_factor;
  gannet::index::IvfBuildOptions opt;
  double grow = 0;  // > 0: also time a build seeded from an index of this share of rows
  double next = 0;  // > 0: also a new segment of the rest seeded by an index of this share
  bool ranged = false;
  std::string index_file;         // --index: load the index from here, or build and save it
  std::vector<uint32_t> nprobes;  // --nprobes a,b,c: only these points of the sweep
  bool sweep_only = false;        // --sweep-only 1: no all-cores sweep, targets or filters
  bool cold = false;              // --cold 1
  bool replicas_set = false;      // --replica-epsilon given (else as the engine builds)
  if (argc % 2 == 0) {
    std::fprintf(stderr, "ann_bench: flag %s has no value\n", argv[argc - 1]);
    return 2;
  }
  int i = 1;
  try {
    for (; i + 1 < argc; i += 2) {
      const std::string a = argv[i], v = argv[i + 1];
      if (a == "--dir")
        dir = v;
      else if (a == "--n")
        n = std::stoul(v);
      else if (a == "--dims")
        dims = std::stoul(v);
      else if (a == "--queries")
        nq = std::stoul(v);
      else if (a == "--threads")
        threads = std::stoi(v);
      else if (a == "--query-threads")
        query_threads = std::max(1, std::stoi(v));
      else if (a == "--metric")
        metric_name = v;
      else if (a == "--out")
        out = v;
      else if (a == "--rerank")
        rerank = static_cast<uint32_t>(std::stoul(v));
      else if (a == "--balance")
        opt.kmeans.max_cluster_factor = std::stod(v);
      else if (a == "--lists-per-sqrt")
        opt.lists_per_sqrt_rows = std::stod(v);
      else if (a == "--iterations")
        opt.kmeans.iterations = std::stoi(v);
      else if (a == "--train-rows")
        opt.kmeans.max_train_rows = std::stoul(v);
      else if (a == "--calibration")
        opt.calibration_queries = std::stoul(v);
      else if (a == "--grow")
        grow = std::stod(v);
      else if (a == "--seeded-iterations")
        opt.kmeans.seeded_iterations = std::stoi(v);
      else if (a == "--next")
        next = std::stod(v);
      else if (a == "--wide-replica-epsilon")
        opt.wide_replica_epsilon = std::stod(v);
      else if (a == "--replica-epsilon") {
        opt.replica_epsilon = std::stod(v);
        replicas_set = true;
      } else if (a == "--cold" && (v == "0" || v == "1"))
        cold = v == "1";
      else if (a == "--index")
        index_file = v;
      else if (a == "--sweep-only" && (v == "0" || v == "1"))
        sweep_only = v == "1";
      else if (a == "--nprobes") {
        for (size_t at = 0; at < v.size();) {
          size_t used = 0;
          const unsigned long nprobe = std::stoul(v.substr(at), &used);
          if (nprobe == 0 || nprobe > UINT32_MAX) throw std::out_of_range("nprobe");
          nprobes.push_back(static_cast<uint32_t>(nprobe));
          at += used + 1;
        }
      } else if (a == "--vectors" && (v == "memory" || v == "ranged"))
        ranged = v == "ranged";
      else {
        std::fprintf(stderr, "ann_bench: unknown flag %s\n", a.c_str());
        return 2;
      }
    }
  } catch (const std::logic_error&) {  // std::stoul / stod: not a number, or out of range
    std::fprintf(stderr, "ann_bench: %s needs %s, got '%s'\n", argv[i],
                 std::strcmp(argv[i], "--nprobes") == 0 ? "positive whole numbers, comma-separated"
                                                        : "a number",
                 argv[i + 1]);
    return 2;
  }
  if (dir.empty() || n == 0 || dims == 0 || nq == 0) {
    std::fprintf(stderr,
                 "usage: ann_bench --dir DIR --n N --dims D --queries Q [--metric l2|cosine] "
                 "[--threads T] [--query-threads QT] [--out FILE] [--grow F] [--next F]\n");
    return 2;
  }
  if (metric_name != "l2" && metric_name != "cosine") {
    std::fprintf(stderr, "ann_bench: --metric must be l2 or cosine, got '%s'\n",
                 metric_name.c_str());
    return 2;
  }
  for (const auto& [flag, share] : {std::pair{"--grow", grow}, std::pair{"--next", next}}) {
    if (share < 0 || share >= 1) {
      std::fprintf(stderr, "ann_bench: %s must be a share of the rows in (0, 1), got %g\n", flag,
                   share);
      return 2;
    }
  }
  const gannet::DistanceMetric metric = metric_name == "cosine"
                                            ? gannet::DistanceMetric::kCosineDistance
                                            : gannet::DistanceMetric::kEuclideanSquared;
  const double rss0 = RssMb();
  if (ranged && (grow > 0 || next > 0)) {
    std::fprintf(stderr, "ann_bench: --vectors ranged cannot be combined with --grow/--next\n");
    return 2;
  }
  // Huge pages where the engine's segment vectors have them (common/memory.h).
  auto base = ReadRaw<float, gannet::HugeVector<float>>("ann_bench", dir + "/base.f32", n * dims);
  const auto queries = ReadRaw<float>("ann_bench", dir + "/queries.f32", nq * dims);
  const auto gt = ReadRaw<int32_t>("ann_bench", dir + "/gt.i32", nq * 10);
  const auto labels = ReadRaw<uint8_t>("ann_bench", dir + "/labels.u8", n);
  gannet::index::VectorRows rows;
  rows.data = base.data();
  rows.rows = n;
  rows.dims = static_cast<uint32_t>(dims);

  opt.threads = threads;
  // As the engine builds indexes whose vectors are read by range (db/maintenance.cpp).
  if (ranged && !replicas_set && dims < gannet::index::kMinBinaryDims) opt.replica_epsilon = -1;
  const auto t0 = Clock::now();
  gannet::Result<std::shared_ptr<const IvfIndex>> built =
      gannet::Status::NotFound("ann_bench: no index file");
  std::string encoded;  // the index object, for --cold
  if (!index_file.empty()) {
    std::ifstream in(index_file, std::ios::binary);
    if (in) {
      const std::string bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      built = IvfIndex::Decode(bytes, /*keep_sq8_codes=*/false);  // as the engine loads
      if (built.ok() && cold) {  // the object as written today (a file may be older)
        auto with_codes = IvfIndex::Decode(bytes);
        if (with_codes.ok()) encoded = (*with_codes)->Encode();
      }
      if (built.ok() && (!(*built)->CheckCompatible(n, static_cast<uint32_t>(dims)).ok() ||
                         (*built)->metric() != metric)) {
        built = gannet::Status::InvalidArgument("ann_bench: the index file is of other data");
      }
      if (!built.ok()) {
        std::fprintf(stderr, "ann_bench: %s: %s; building\n", index_file.c_str(),
                     built.status().ToString().c_str());
      }
    }
  }
  const bool loaded = built.ok();
  if (!loaded) {
    gannet::Result<std::shared_ptr<IvfIndex>> fresh = IvfIndex::Build(rows, metric, opt);
    gannet::ReleaseFreeMemory();  // as the engine does after a build (db/maintenance.cpp)
    if (fresh.ok()) {
      if (!index_file.empty()) {
        std::ofstream save(index_file, std::ios::binary);
        if (!(save << (*fresh)->Encode()) || !save.flush()) {
          std::fprintf(stderr, "ann_bench: cannot write %s\n", index_file.c_str());
        }
      }
      if (cold) encoded = (*fresh)->Encode();
      (*fresh)->ReleaseSq8Codes();  // as the engine does once the index is stored
      built = std::shared_ptr<const IvfIndex>(std::move(*fresh));
    } else {
      built = fresh.status();
    }
  }
  const double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!built.ok()) {
    std::fprintf(stderr, "ann_bench: %s\n", built.status().ToString().c_str());
    return 1;
  }
  const IvfIndex& ix = **built;
  int fd = -1;
  if (ranged) {
    gannet::HugeVector<float>().swap(base);
    fd = ::open((dir + "/base.f32").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "ann_bench: cannot open %s/base.f32\n", dir.c_str());
      return 1;
    }
    rows.data = nullptr;
    rows.fetch = [fd, row_bytes = dims * sizeof(float)](const uint32_t* r, size_t k, float* out) {
      for (size_t i = 0; i < k; ++i) {
        if (::pread(fd, out + i * (row_bytes / sizeof(float)), row_bytes,
                    static_cast<off_t>(r[i] * row_bytes)) != static_cast<ssize_t>(row_bytes)) {
          return false;
        }
      }
      return true;
    };
  }
  const double rss_built = RssMb();

  // Queries i ≡ t (mod nthreads) on thread t; QPS over the wall time of all of them.
  auto run_on = [&](const IvfIndex& index, const std::vector<int32_t>& truth,
                    gannet::index::IvfSearchParams p, int nthreads = 1) {
    Point pt;
    std::vector<size_t> hits_of(nthreads, 0), codes_of(nthreads, 0), exact_of(nthreads, 0),
        short_of(nthreads, 0), rerank_of(nthreads, 0);
    auto work = [&](int t) {
      for (size_t i = t; i < nq; i += nthreads) {
        gannet::index::IvfSearchStats one;
        auto got = index.Search(queries.data() + i * dims, rows, p, &one);
        codes_of[t] += one.codes_scanned;
        short_of[t] += one.shortlisted;
        rerank_of[t] += one.reranked;
        exact_of[t] += one.exact_fallback ? 1 : 0;
        for (const auto& nb : got) {
          for (size_t j = 0; j < 10; ++j) {
            hits_of[t] += truth[i * 10 + j] == static_cast<int32_t>(nb.row);
          }
        }
      }
    };
    // Passes over the queries until 0.2 s have passed (one pass can take a few ms, too
    // short to time); every pass finds the same, so the counts are divided by passes.
    const auto s0 = Clock::now();
    size_t passes = 0;
    do {
      if (nthreads == 1) {
        work(0);
      } else {
        std::vector<std::thread> pool;
        for (int t = 0; t < nthreads; ++t) pool.emplace_back(work, t);
        for (std::thread& th : pool) th.join();
      }
      ++passes;
    } while (std::chrono::duration<double>(Clock::now() - s0).count() < 0.2);
    const double secs =
        std::chrono::duration<double>(Clock::now() - s0).count() / static_cast<double>(passes);
    size_t hits = 0;
    gannet::index::IvfSearchStats st;
    for (int t = 0; t < nthreads; ++t) {
      hits += hits_of[t] / passes;
      st.codes_scanned += codes_of[t] / passes;
      st.shortlisted += short_of[t] / passes;
      st.reranked += rerank_of[t] / passes;
      pt.exact += exact_of[t] / passes;
    }
    size_t want = 0;
    for (int32_t t : truth) want += t >= 0;
    pt.recall = static_cast<double>(hits) / static_cast<double>(want);
    pt.qps = static_cast<double>(nq) / secs;
    pt.codes = static_cast<double>(st.codes_scanned) / nq;
    pt.shortlisted = static_cast<double>(st.shortlisted) / nq;
    pt.reranked = static_cast<double>(st.reranked) / nq;
    return pt;
  };
  auto run = [&](const std::vector<int32_t>& truth, gannet::index::IvfSearchParams p) {
    return run_on(ix, truth, p);
  };

  nlohmann::json res;
  res["library"] = ranged ? "gannet-ranged" : "gannet";
  res["vectors"] = ranged ? "ranged (pread)" : "memory";
  // Below kMinBinaryDims the default scan reads SQ8 codes only; from it one-bit codes,
  // then four-bit codes of a shortlist. The shortlist and the re-rank are bounded by the
  // estimates' errors (ivf_index.h).
  const bool wide = dims >= gannet::index::kMinBinaryDims;
  res["config"] = std::string(wide ? "IVF, 1-bit codes, error-bound 4-bit shortlist" : "IVF-SQ8") +
                  ", nlist=" + std::to_string(ix.lists()) +
                  ", re-rank <= " + std::to_string(rerank) + "k by " + (wide ? "4-bit" : "SQ8") +
                  " error" + (ix.postings() == ix.indexed_rows() ? ", no replicas" : "");
  res["kernel_target"] = gannet::index::KernelTarget();
  res["build_s"] = build_s;  // the time to load it with --index FILE that held it
  res["index_loaded"] = loaded;
  res["build_threads"] = threads;
  res["index_bytes"] = ix.MemoryBytes();
  res["vector_bytes"] = n * dims * sizeof(float);
  // The index keeps no copy of the vectors but re-ranks with them, so they count (unless
  // ranged: then they were dropped before this reading).
  res["memory_mb"] = rss_built - rss0;
  res["lists"] = ix.lists();
  size_t largest = 0;
  for (size_t j = 0; j < ix.lists(); ++j) largest = std::max(largest, ix.list_size(j));
  res["largest_list"] = largest;
  res["mean_list"] = static_cast<double>(ix.indexed_rows()) / static_cast<double>(ix.lists());
  std::fprintf(stderr, "gannet lists=%zu largest=%zu build=%.1fs\n", ix.lists(), largest, build_s);
  // recall@10 and QPS per nprobe, on `nthreads` query threads.
  auto sweep = [&](int nthreads) {
    nlohmann::json curve = nlohmann::json::array();
    // Steps of about √2, on until recall 0.999 or every list (hard data, e.g. real
    // embeddings, needs hundreds of lists for 0.95).
    std::vector<uint32_t> ladder = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128};
    while (ladder.back() < ix.lists()) ladder.push_back(ladder[ladder.size() - 2] * 2);
    if (!nprobes.empty()) ladder = nprobes;
    for (uint32_t nprobe : ladder) {
      nprobe = std::min<uint32_t>(nprobe, static_cast<uint32_t>(ix.lists()));
      gannet::index::IvfSearchParams p;
      p.nprobe = nprobe;
      p.rerank_factor = rerank;
      const Point pt = run_on(ix, gt, p, nthreads);
      curve.push_back({{"param", "nprobe=" + std::to_string(nprobe)},
                       {"recall", pt.recall},
                       {"qps", pt.qps},
                       {"codes_per_query", pt.codes},
                       {"shortlisted_per_query", pt.shortlisted},
                       {"reranked_per_query", pt.reranked}});
      std::fprintf(stderr,
                   "gannet nprobe=%u threads=%d recall=%.4f qps=%.0f codes=%.0f short=%.0f "
                   "reranked=%.1f\n",
                   nprobe, nthreads, pt.recall, pt.qps, pt.codes, pt.shortlisted, pt.reranked);
      if (pt.recall > 0.999) break;
    }
    return curve;
  };
  res["curve"] = sweep(1);
  // The rows labelled below `pct` (pct% of them) and their exact neighbours.
  auto selective = [&](int pct) {
    auto truth =
        ReadRaw<int32_t>("ann_bench", dir + "/gt_sel" + std::to_string(pct) + ".i32", nq * 10);
    gannet::index::RowFilter filter(n);
    for (size_t r = 0; r < n; ++r) {
      if (labels[r] < pct) filter.Allow(r);
    }
    return std::make_pair(std::move(truth), std::move(filter));
  };
  if (cold) {
    // The index as a cold load has it: its head, lists read by range (from memory here).
    size_t bytes_read = 0, reads = 0;
    const uint64_t need =
        IvfIndex::HeadPrefixBytes(std::string_view(encoded).substr(0, IvfIndex::kHeadProbeBytes),
                                  encoded.size())
            .value();
    auto head = IvfIndex::DecodeHead(
        std::string_view(encoded).substr(0, need), encoded.size(),
        [&](const std::vector<gannet::ByteRange>& ranges, std::vector<std::string>* out) {
          out->clear();
          for (const gannet::ByteRange& r : ranges) {
            out->push_back(encoded.substr(r.offset, r.length));
            bytes_read += r.length;
          }
          ++reads;
          return gannet::Status::OK();
        });
    if (!head.ok()) {
      std::fprintf(stderr, "ann_bench: cold: %s\n", head.status().ToString().c_str());
      return 1;
    }
    nlohmann::json c;
    c["object_bytes"] = encoded.size();
    c["head_bytes"] = need;
    c["head_memory_bytes"] = (*head)->MemoryBytes();
    auto point = [&](const std::vector<int32_t>& truth, gannet::index::IvfSearchParams p) {
      bytes_read = reads = 0;
      const Point pt = run_on(**head, truth, p);
      const double per_query =
          reads == 0 ? 0.0 : static_cast<double>(bytes_read) / static_cast<double>(reads);
      return nlohmann::json{{"recall", pt.recall},
                            {"qps", pt.qps},
                            {"codes_per_query", pt.codes},
                            {"reranked_per_query", pt.reranked},
                            {"list_bytes_per_read", per_query}};
    };
    c["default"] = point(gt, {});
    std::fprintf(stderr, "gannet cold default: %s\n", c["default"].dump().c_str());
    for (int pct : {1, 10, 50}) {
      const auto [truth, filter] = selective(pct);
      gannet::index::IvfSearchParams p;
      p.filter = &filter;
      c["filtered_" + std::to_string(pct)] = point(truth, p);
      std::fprintf(stderr, "gannet cold filter %d%%: %s\n", pct,
                   c["filtered_" + std::to_string(pct)].dump().c_str());
    }
    res["cold"] = c;
  }
  if (sweep_only && grow <= 0 && next <= 0) {
    std::printf("%s\n", res.dump(2).c_str());
    return 0;
  }
  if (!sweep_only) {
    res["curve_all_cores"] = sweep(query_threads);
    res["query_threads_all_cores"] = query_threads;
    nlohmann::json targets = nlohmann::json::array();
    for (double target : {0.8, 0.9, 0.95, 0.99}) {
      gannet::index::IvfSearchParams p;
      p.recall_target = target;
      const Point pt = run(gt, p);
      targets.push_back({{"ann_recall", target},
                         {"nprobe", ix.NprobeFor(target)},
                         {"recall", pt.recall},
                         {"qps", pt.qps}});
      std::fprintf(stderr, "gannet ann_recall=%.2f nprobe=%u recall=%.4f qps=%.0f\n", target,
                   ix.NprobeFor(target), pt.recall, pt.qps);
    }
    res["recall_targets"] = targets;
    nlohmann::json filtered = nlohmann::json::array();
    for (int pct : {1, 10, 50}) {
      const auto [truth, filter] = selective(pct);
      gannet::index::IvfSearchParams p;
      p.filter = &filter;
      const Point pt = run(truth, p);
      filtered.push_back({{"selectivity", pct / 100.0},
                          {"recall", pt.recall},
                          {"qps", pt.qps},
                          {"exact_fallback_share", static_cast<double>(pt.exact) / nq}});
      std::fprintf(stderr,
                   "gannet filter %d%% recall=%.4f qps=%.0f exact=%zu codes=%.0f short=%.0f "
                   "reranked=%.1f\n",
                   pct, pt.recall, pt.qps, pt.exact, pt.codes, pt.shortlisted, pt.reranked);
    }
    res["filtered"] = filtered;
  }
  // A build and its wall time in seconds.
  auto timed_build = [&](const gannet::index::VectorRows& data,
                         const gannet::index::IvfBuildOptions& o) {
    const auto t0 = Clock::now();
    auto built = IvfIndex::Build(data, metric, o);
    return std::make_pair(std::move(built),
                          std::chrono::duration<double>(Clock::now() - t0).count());
  };
  if (next > 0) {
    // What indexing the WAL tail would do: an older segment (the first `next` share of the
    // rows) is indexed, then a new segment of the remaining rows is indexed from scratch
    // and seeded by the older index; recall@10 on the new segment alone (exact truth
    // computed here), per nprobe.
    gannet::index::VectorRows older = rows, newer = rows;
    older.rows = static_cast<size_t>(next * static_cast<double>(n));
    newer.data = base.data() + older.rows * dims;
    newer.rows = n - older.rows;
    auto [old_ix, old_s] = timed_build(older, opt);
    auto [scratch, scratch_s] = timed_build(newer, opt);
    gannet::index::IvfBuildOptions seeded = opt;
    seeded.seed = old_ix.ok() ? old_ix->get() : nullptr;
    auto [from_seed, seeded_s] = timed_build(newer, seeded);
    if (!old_ix.ok() || !scratch.ok() || !from_seed.ok()) {
      std::fprintf(stderr, "ann_bench: next build failed\n");
      return 1;
    }
    const size_t nq_next = std::min<size_t>(nq, 300);
    std::vector<std::vector<uint32_t>> truth(nq_next);
    for (size_t i = 0; i < nq_next; ++i) {
      const float* q = queries.data() + i * dims;
      const float qn = std::sqrt(gannet::index::Dot(q, q, dims));
      std::vector<std::pair<float, uint32_t>> d(newer.rows);
      for (size_t r = 0; r < newer.rows; ++r) {
        d[r] = {gannet::index::ExactDistance(metric, q, qn, newer.row(r), dims),
                static_cast<uint32_t>(r)};
      }
      const size_t depth = std::min<size_t>(10, d.size());
      std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(depth), d.end());
      for (size_t j = 0; j < depth; ++j) truth[i].push_back(d[j].second);
    }
    nlohmann::json curves;
    for (const auto& [name, ix_next] :
         {std::pair<const char*, const IvfIndex*>{"scratch", scratch->get()},
          std::pair<const char*, const IvfIndex*>{"seeded", from_seed->get()}}) {
      std::fprintf(stderr, "gannet next %s lists=%zu\n", name, ix_next->lists());
      for (uint32_t nprobe : {1u, 2u, 4u, 8u, 16u, 32u, 64u, 0u}) {
        gannet::index::IvfSearchParams p;
        p.nprobe = nprobe;  // 0: the default knob
        size_t hits = 0;
        gannet::index::IvfSearchStats st;
        const auto t0 = std::chrono::steady_clock::now();
        for (size_t i = 0; i < nq_next; ++i) {
          for (const auto& nb : ix_next->Search(queries.data() + i * dims, newer, p, &st)) {
            hits += std::count(truth[i].begin(), truth[i].end(), nb.row);
          }
        }
        const double qps =
            static_cast<double>(nq_next) /
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        size_t want = 0;
        for (const auto& t : truth) want += t.size();
        const double recall =
            static_cast<double>(hits) / static_cast<double>(std::max<size_t>(1, want));
        const double codes = static_cast<double>(st.codes_scanned) /
                             static_cast<double>(std::max<size_t>(1, nq_next));
        curves[name].push_back(
            {{"nprobe", nprobe}, {"recall", recall}, {"qps", qps}, {"codes", codes}});
        std::fprintf(stderr, "gannet next %s nprobe=%u recall=%.4f qps=%.0f codes=%.0f\n", name,
                     nprobe, recall, qps, codes);
      }
    }
    res["next"] = {{"older_rows", older.rows},   {"older_build_s", old_s},
                   {"newer_rows", newer.rows},   {"scratch_build_s", scratch_s},
                   {"seeded_build_s", seeded_s}, {"curves", curves}};
    std::fprintf(stderr, "gannet next: scratch build %.1fs, seeded %.1fs\n", scratch_s, seeded_s);
  }
  if (grow > 0) {
    // Incremental maintenance, as compaction does it: an index over the first `grow`
    // share of the rows, then the index over all rows, its clustering maintained from the
    // first's (the rows it held keep their lists: what compaction does), and, for
    // comparison, k-means seeded by its centroids (what indexing new rows does).
    gannet::index::VectorRows part = rows;
    part.rows = static_cast<size_t>(grow * static_cast<double>(n));
    auto [first, first_s] = timed_build(part, opt);
    if (!first.ok()) {
      std::fprintf(stderr, "ann_bench: grow build failed\n");
      return 1;
    }
    std::vector<uint32_t> seed_rows(n, gannet::index::kNoSeedRow);
    for (uint32_t r = 0; r < part.rows; ++r) seed_rows[r] = r;
    nlohmann::json grown_json = {{"first_rows", part.rows},
                                 {"first_build_s", first_s},
                                 {"scratch_build_s", build_s},
                                 {"scratch_lists", ix.lists()}};
    const Point from_scratch = run(gt, {});
    grown_json["scratch_recall"] = from_scratch.recall;
    grown_json["scratch_qps"] = from_scratch.qps;
    for (const bool maintain : {true, false}) {
      const char* name = maintain ? "maintained" : "seeded";
      gannet::index::IvfBuildOptions o = opt;
      o.seed = first->get();
      if (maintain) o.seed_rows = &seed_rows;
      gannet::index::IvfBuildReport report;
      const auto t0 = Clock::now();
      auto grown = IvfIndex::Build(rows, metric, o, &report);
      const double grown_s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!grown.ok()) {
        std::fprintf(stderr, "ann_bench: grow build failed\n");
        return 1;
      }
      const Point at_default = run_on(**grown, gt, {});
      nlohmann::json curve = nlohmann::json::array();
      for (uint32_t nprobe : {1u, 2u, 4u, 8u, 16u, 32u, 64u}) {
        gannet::index::IvfSearchParams p;
        p.nprobe = nprobe;
        const Point pt = run_on(**grown, gt, p);
        curve.push_back({{"nprobe", nprobe}, {"recall", pt.recall}, {"qps", pt.qps}});
        std::fprintf(stderr, "gannet %s nprobe=%u recall=%.4f qps=%.0f\n", name, nprobe, pt.recall,
                     pt.qps);
      }
      size_t largest = 0;
      for (size_t j = 0; j < (*grown)->lists(); ++j) {
        largest = std::max(largest, (*grown)->list_size(j));
      }
      const gannet::index::MaintenanceStats& m = report.maintenance;
      grown_json[name] = {{"build_s", grown_s},
                          {"clustering_s", report.clustering_s},
                          {"sample_s", report.sample_s},
                          {"assembly_s", report.assembly_s},
                          {"clustering", static_cast<int>(report.clustering)},
                          {"lists", (*grown)->lists()},
                          {"largest_list", largest},
                          {"default_nprobe", (*grown)->NprobeFor(0.95)},
                          {"recall", at_default.recall},
                          {"qps", at_default.qps},
                          {"splits", m.splits},
                          {"merges", m.merges},
                          {"reassigned", m.reassigned},
                          {"refined", m.refined},
                          {"refine_passes", m.refine_passes},
                          {"codes_at_default", static_cast<double>((*grown)->NprobeFor(0.95)) *
                                                   static_cast<double>((*grown)->postings()) /
                                                   static_cast<double>((*grown)->lists())},
                          {"curve", curve}};
      std::fprintf(stderr,
                   "gannet grow from %zu rows, %s: build %.1fs (clustering %.1fs, sample %.1fs, "
                   "assembly %.1fs), %zu lists (largest %zu; %zu splits, %zu merges, %zu rows "
                   "reassigned), default nprobe %u: recall %.4f at %.0f QPS\n",
                   part.rows, name, grown_s, report.clustering_s, report.sample_s,
                   report.assembly_s, (*grown)->lists(), largest, m.splits, m.merges, m.reassigned,
                   (*grown)->NprobeFor(0.95), at_default.recall, at_default.qps);
    }
    std::fprintf(
        stderr,
        "gannet grow: scratch build %.1fs, %zu lists, default nprobe %u (%.0f codes): recall "
        "%.4f at %.0f QPS\n",
        build_s, ix.lists(), ix.NprobeFor(0.95),
        static_cast<double>(ix.NprobeFor(0.95)) * static_cast<double>(ix.postings()) /
            static_cast<double>(ix.lists()),
        from_scratch.recall, from_scratch.qps);
    res["grow"] = grown_json;
  }
  return gannet::bench::WriteResult("ann_bench", res.dump(2), out);
}
