// fts_query_bench: times full-text queries through the embedded C++ API, without any
// binding: each query's JSON body is parsed once, then Namespace::Query runs it.
//
//   fts_query_bench DATA_DIR NAMESPACE QUERIES.tsv [REPS] [--json]
//
// QUERIES.tsv: one "kind<TAB>query body JSON" per line. Prints p50/mean per kind; with
// --json the parse and the response serialisation are timed in the loop too.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gannet/database.h"
#include "gannet/json.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DATA_DIR NAMESPACE QUERIES.tsv [REPS] [--json]\n", argv[0]);
    return 2;
  }
  const int reps = argc > 4 ? std::atoi(argv[4]) : 20;
  if (reps < 1) {
    std::fprintf(stderr, "REPS: must be a positive number, got '%s'\n", argv[4]);
    return 2;
  }
  const bool with_json = argc > 5 && std::string(argv[5]) == "--json";
  auto db = gannet::Database::OpenPath(argv[1]);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    return 1;
  }
  auto ns = (*db)->OpenNamespace(argv[2]);
  if (!ns.ok()) {
    std::fprintf(stderr, "namespace: %s\n", ns.status().ToString().c_str());
    return 1;
  }
  std::map<std::string, std::vector<std::pair<std::string, gannet::QueryRequest>>> kinds;
  std::ifstream in(argv[3]);
  if (!in) {
    std::fprintf(stderr, "%s: cannot be read\n", argv[3]);
    return 1;
  }
  std::vector<std::string> order;
  size_t lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      std::fprintf(stderr, "%s:%zu: expected kind<TAB>query body\n", argv[3], lineno);
      return 1;
    }
    std::string kind = line.substr(0, tab), body = line.substr(tab + 1);
    auto req = gannet::ParseQueryRequest(body);
    if (!req.ok()) {
      std::fprintf(stderr, "%s:%zu: %s\n", argv[3], lineno, req.status().ToString().c_str());
      return 1;
    }
    if (!kinds.count(kind)) order.push_back(kind);
    kinds[kind].emplace_back(body, *req);
  }
  if (order.empty()) {
    std::fprintf(stderr, "%s: no queries\n", argv[3]);
    return 1;
  }
  // Every query once: errors stop here, so the timed loops below can assume success.
  for (const auto& kind : order) {
    for (const auto& [body, req] : kinds[kind]) {
      auto res = (*ns)->Query(req);
      if (!res.ok()) {
        std::fprintf(stderr, "query %s: %s\n", body.c_str(), res.status().ToString().c_str());
        return 1;
      }
    }
  }
  {  // The codec alone: parse every body, serialise one response, 10k times each.
    std::vector<std::string> all;
    for (const auto& kind : order) {
      for (const auto& q : kinds[kind]) all.push_back(q.first);
    }
    auto res = (*ns)->Query(kinds[order[0]][0].second);
    const auto t0 = std::chrono::steady_clock::now();
    size_t n = 0;
    for (int i = 0; i < 10000; ++i) n += gannet::ParseQueryRequest(all[i % all.size()]).ok();
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i) n += gannet::QueryResponseToJson(*res).size();
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("parse %.2f us, serialise (%zu rows) %.2f us  (%zu)\n",
                std::chrono::duration<double, std::micro>(t1 - t0).count() / 10000,
                res->rows.size(),
                std::chrono::duration<double, std::micro>(t2 - t1).count() / 10000, n);
  }
  for (const auto& kind : order) {
    auto& qs = kinds[kind];
    std::vector<double> lat;
    size_t sink = 0;
    uint64_t scanned = 0;
    for (int r = -1; r < reps; ++r) {
      for (const auto& [body, req] : qs) {
        const auto t0 = std::chrono::steady_clock::now();
        if (with_json) {
          auto parsed = gannet::ParseQueryRequest(body);
          auto res = (*ns)->Query(*parsed);
          sink += gannet::QueryResponseToJson(*res).size();
        } else {
          auto res = (*ns)->Query(req);
          sink += res->rows.size();
          if (r == 0) scanned += res->stats.rows_scanned;
        }
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count();
        if (r >= 0) lat.push_back(us);
      }
    }
    std::sort(lat.begin(), lat.end());
    double sum = 0;
    for (double v : lat) sum += v;
    std::printf("%-9s p50 %7.2f us  mean %7.2f us  rows scanned/query %.0f\n", kind.c_str(),
                lat[lat.size() / 2], sum / lat.size(), static_cast<double>(scanned) / qs.size());
    (void)sink;
  }
  return 0;
}
