// Test helpers shared by the crash and multi-writer tests: read a whole namespace page by
// page (a query returns at most 10,000 rows) and check acknowledged batches against it.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet::testing_util {

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
