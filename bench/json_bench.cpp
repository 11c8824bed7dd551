// json_bench: parse throughput of Gannet's request decoders (gannet/json.h).
//
//   json_bench [--rows N] [--dims D] [--iters I] [--queries Q]
//
// Builds one write request of N rows (default 1000), each {"id", "vector": D floats
// (default 384), "category", "rank"}, formatted as Python's json.dumps prints f32 values
// widened to double (shortest round-trip, mostly 17 significant digits), and times
// ParseWriteRequest on it I times (best and median). For reference it also times a bare
// DOM parse of the same text with nlohmann::json, and ParseQueryBody on a small filtered
// vector query (Q times).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gannet/json.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  size_t rows = 1000;
  size_t dims = 384;
  size_t iters = 30;
  size_t queries = 20000;
};

void AppendFloat(std::string& out, float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<double>(f));
  out.append(buf, r.ptr);
}

std::string MakeWriteRequest(const Options& o) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::string s = R"({"distance_metric": "cosine_distance", "upsert_rows": [)";
  for (size_t i = 0; i < o.rows; ++i) {
    if (i) s += ", ";
    s += R"({"id": )" + std::to_string(i) + R"(, "vector": [)";
    for (size_t d = 0; d < o.dims; ++d) {
      if (d) s += ", ";
      AppendFloat(s, gauss(rng));
    }
    s += R"(], "category": "cat_)" + std::to_string(i % 20) + R"(", "rank": )" +
         std::to_string(rng() % 1000000) + "}";
  }
  s += "]}";
  return s;
}

std::string MakeQuery(size_t dims) {
  std::string s = R"({"rank_by": ["vector", "ANN", [)";
  std::mt19937_64 rng(7);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (size_t d = 0; d < dims; ++d) {
    if (d) s += ", ";
    AppendFloat(s, gauss(rng));
  }
  s += R"(]], "top_k": 10, "filters": ["And", [["category", "In", ["cat_01", "cat_02"]],)"
       R"( ["rank", "Gte", 1000]]], "include_attributes": ["category", "rank"]})";
  return s;
}

struct Timing {
  double best_s = 0, median_s = 0;
};

template <typename F>
Timing Time(size_t iters, F&& f) {
  std::vector<double> t;
  for (size_t i = 0; i < iters; ++i) {
    const auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(t.begin(), t.end());
  return {t.front(), t[t.size() / 2]};
}

void Report(const char* name, size_t bytes, const Timing& t) {
  std::printf("%-34s %9.2f %9.2f %9.1f %9.1f\n", name, t.median_s * 1e3, t.best_s * 1e3,
              bytes / t.median_s / 1e6, 1.0 / t.median_s);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto num = [&](size_t& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      out = std::strtoull(argv[++i], nullptr, 10);
    };
    if (!std::strcmp(argv[i], "--rows")) {
      num(o.rows);
    } else if (!std::strcmp(argv[i], "--dims")) {
      num(o.dims);
    } else if (!std::strcmp(argv[i], "--iters")) {
      num(o.iters);
    } else if (!std::strcmp(argv[i], "--queries")) {
      num(o.queries);
    } else {
      std::fprintf(stderr, "usage: json_bench [--rows N] [--dims D] [--iters I] [--queries Q]\n");
      return 2;
    }
  }
  if (o.rows == 0 || o.dims == 0 || o.iters == 0 || o.queries == 0) {
    std::fprintf(stderr, "json_bench: --rows, --dims, --iters and --queries must be > 0\n");
    return 2;
  }
  const std::string write = MakeWriteRequest(o);
  const std::string query = MakeQuery(o.dims);
  {  // correctness guard: the request must parse, with every row and dimension
    auto r = gannet::ParseWriteRequest(write);
    if (!r.ok() || r->upserts.size() != o.rows) {
      std::fprintf(stderr, "json_bench: write request did not parse: %s\n",
                   r.ok() ? "wrong row count" : r.status().ToString().c_str());
      return 1;
    }
    auto q = gannet::ParseQueryBody(query);
    if (!q.ok()) {
      std::fprintf(stderr, "json_bench: query did not parse: %s\n", q.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("write request: %zu rows x %zu dims, %.2f MB; query: %zu bytes\n", o.rows, o.dims,
              write.size() / 1e6, query.size());
  std::printf("%-34s %9s %9s %9s %9s\n", "", "median ms", "best ms", "MB/s", "per s");
  size_t sink = 0;
  Report("ParseWriteRequest", write.size(), Time(o.iters, [&] {
           auto r = gannet::ParseWriteRequest(write);
           sink += r.ok() ? r->upserts.size() : 0;
         }));
  Report("nlohmann::json::parse (DOM only)", write.size(), Time(o.iters, [&] {
           auto j = nlohmann::json::parse(write);
           sink += j.size();
         }));
  const Timing tq = Time(1, [&] {
    for (size_t i = 0; i < o.queries; ++i) {
      auto q = gannet::ParseQueryBody(query);
      sink += q.ok() ? q->queries.size() : 0;
    }
  });
  const Timing per_query{tq.best_s / o.queries, tq.median_s / o.queries};
  Report("ParseQueryBody (small vector query)", query.size(), per_query);
  return sink == 0 ? 1 : 0;
}
