// Test helpers shared by the crash and multi-writer tests (local directory and S3): a
// writer process that logs each acknowledged batch durably, reading that log back, and
// checking a whole namespace (read page by page: a query returns at most 10,000 rows)
// against it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet::testing_util {

// Appends one line to the ack log and makes it durable before returning.
inline void Ack(int fd, const std::string& line) {
  const std::string l = line + "\n";
  if (write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) _exit(3);
  if (fsync(fd) != 0) _exit(3);
}

// An upsert of `docs` rows with ids <batch>-<i>, each tagged with its batch.
inline std::string BatchRequest(const std::string& batch, int docs) {
  std::string rows;
  for (int i = 0; i < docs; ++i) {
    if (i) rows += ",";
    rows += R"({"id":")" + batch + "-" + std::to_string(i) + R"(","batch":")" + batch +
            R"(","i":)" + std::to_string(i) + R"(,"vector":[)" + std::to_string(i) + ",1]}";
  }
  return R"({"upsert_rows":[)" + rows + "]}";
}

// Writes `batches` batches (forever if negative) named <tag>-<n> of `docs` rows into
// namespace "shared" of `store`, logging each acknowledged one in `ack_path`; indexes and
// compacts now and then. Runs in a forked child and never returns.
[[noreturn]] inline void WriterProcess(ObjectStorePtr store, const std::string& tag, int batches,
                                       int docs, const std::string& ack_path) {
  const int fd = open(ack_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) _exit(2);
  DatabaseOptions o;
  o.store = std::move(store);
  o.index_tail_rows = 40;
  o.index_idle = std::chrono::milliseconds(50);
  o.compact_max_segments = 4;
  auto db = Database::Open(o);
  if (!db.ok()) _exit(2);
  auto ns = (*db)->OpenNamespace("shared");
  if (!ns.ok()) _exit(2);
  for (int b = 0; batches < 0 || b < batches; ++b) {
    const std::string batch = tag + "-" + std::to_string(b);
    auto req = ParseWriteRequest(BatchRequest(batch, docs));
    if (!req.ok()) _exit(4);
    if ((*ns)->Write(std::move(req).value()).ok()) Ack(fd, batch);
    if (b % 7 == 3) (*ns)->IndexNow().IgnoreError();
    if (b % 17 == 11) (*ns)->Compact().IgnoreError();
  }
  (*db)->Close();
  _exit(0);
}

// The batches logged in an ack log.
inline std::set<std::string> ReadAcks(const std::string& path) {
  std::set<std::string> acks;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) acks.insert(line);
  }
  return acks;
}

// Every row of `ns` with attribute "batch", ordered by id (string ids).
inline Result<std::vector<ResultRow>> ReadAllRows(Namespace& ns) {
  std::vector<ResultRow> all;
  for (;;) {
    nlohmann::json q = {
        {"rank_by", {"id", "asc"}}, {"top_k", 10000}, {"include_attributes", {"batch"}}};
    if (!all.empty()) q["filters"] = {"id", "Gt", all.back().id.ToString()};
    auto req = ParseQueryRequest(q.dump());
    if (!req.ok()) return req.status();
    auto r = ns.Query(*req);
    if (!r.ok()) return r.status();
    const size_t n = r->rows.size();
    for (ResultRow& row : r->rows) all.push_back(std::move(row));
    if (n < 10000) return all;
  }
}

// Every acknowledged batch is present with `docs_per_batch` documents, no batch is
// partially visible, no id appears twice. `*seen` gets the number of batches present.
inline void CheckBatches(const std::vector<ResultRow>& rows, const std::set<std::string>& acks,
                         int docs_per_batch, size_t* seen = nullptr) {
  std::map<std::string, int> per_batch;
  std::set<std::string> ids;
  for (const ResultRow& row : rows) {
    ASSERT_TRUE(ids.insert(row.id.ToString()).second) << "duplicate id " << row.id.ToString();
    Document d{row.id, row.attrs};
    const Value* batch = d.Find("batch");
    ASSERT_NE(batch, nullptr);
    per_batch[batch->as_string()]++;
  }
  for (const auto& [batch, n] : per_batch) {
    EXPECT_EQ(n, docs_per_batch) << "batch " << batch << " is partially visible";
  }
  for (const std::string& batch : acks) {
    EXPECT_EQ(per_batch.count(batch), 1u) << "acknowledged batch " << batch << " is lost";
  }
  if (seen) *seen = per_batch.size();
}

}  // namespace gannet::testing_util
