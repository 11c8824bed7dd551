// Damage to any stored object is detected and reported as Corruption: a query either
// fails with a clear error or, when it does not need the damaged object, returns exactly
// the right answer. Never a crash, never a silent wrong answer. Verify() finds all of it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "gannet/database.h"
#include "gannet/json.h"
#include "storage/test_temp_dir.h"

namespace gannet {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void WriteAll(const fs::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
}

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path();
    auto db = Database::OpenPath(root_);
    ASSERT_TRUE(db.ok());
    auto ns = (*db)->OpenNamespace("c");
    ASSERT_TRUE(ns.ok());
    auto write = [&](int from, int to) {
      std::string rows;
      for (int i = from; i < to; ++i) {
        if (i > from) rows += ",";
        rows += R"({"id": )" + std::to_string(i) + R"(, "n": )" + std::to_string(i % 7) +
                R"(, "vector": [)" + std::to_string(i) + ", 1]}";
      }
      auto r = (*ns)->Write(*ParseWriteRequest(R"({"upsert_rows": [)" + rows + "]}"));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    };
    write(0, 50);
    write(50, 100);
    ASSERT_TRUE((*ns)->IndexNow().ok());
    write(100, 120);  // 100..119 new
    auto del = (*ns)->Write(*ParseWriteRequest(R"({"deletes": [3, 4, 5]})"));
    ASSERT_TRUE(del.ok());
    ASSERT_TRUE((*ns)->IndexNow().ok());  // a deletion vector for the first segment
    write(120, 130);                      // an unindexed tail
    expected_ = Answer(**ns);
    ASSERT_TRUE(expected_.ok()) << expected_.status().ToString();
    ASSERT_EQ(expected_->size(), 127u);
    (*db)->Close();
    for (const auto& e : fs::recursive_directory_iterator(root_ + "/ns/c")) {
      if (e.is_regular_file()) objects_.push_back(e.path());
    }
    ASSERT_GE(objects_.size(), 5u);
  }

  // The full answer: every id with its n, ordered by id.
  static Result<std::vector<std::pair<std::string, int64_t>>> Answer(Namespace& ns) {
    auto q = ParseQueryRequest(
        R"({"rank_by": ["id", "asc"], "top_k": 1000, "include_attributes": ["n"]})");
    if (!q.ok()) return q.status();
    auto r = ns.Query(*q);
    if (!r.ok()) return r.status();
    std::vector<std::pair<std::string, int64_t>> out;
    for (const ResultRow& row : r->rows) {
      out.emplace_back(row.id.ToString(), row.attrs.empty() ? -1 : row.attrs[0].second.as_int());
    }
    return out;
  }

  // Opens the damaged store fresh and checks the no-wrong-answer rule. Returns whether
  // the query failed with Corruption.
  bool QueryDetects(const std::string& what) {
    auto db = Database::OpenPath(root_);
    EXPECT_TRUE(db.ok());
    auto ns = (*db)->OpenNamespace("c");
    auto got = Answer(**ns);
    (*db)->Close();
    if (got.ok()) {
      EXPECT_EQ(*got, *expected_) << what << ": a query succeeded with a wrong answer";
      return false;
    }
    EXPECT_TRUE(got.status().IsCorruption()) << what << ": " << got.status().ToString();
    return got.status().IsCorruption();
  }

  bool VerifyDetects() {
    auto db = Database::OpenPath(root_);
    auto ns = (*db)->OpenNamespace("c");
    auto report = (*ns)->Verify();
    (*db)->Close();
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() && !report->problems.empty();
  }

  // Objects a fresh reader must read: the manifest, segments, deletion vectors and the
  // WAL entries after indexed_through (the last one here).
  bool NeededByQueries(const fs::path& p) const {
    const std::string s = p.string();
    return s.find("/manifest") != std::string::npos || s.find("/segments/") != std::string::npos ||
           s.find("/deletes/") != std::string::npos || p == objects_wal_tail();
  }
  fs::path objects_wal_tail() const {
    fs::path last;
    for (const fs::path& p : objects_) {
      if (p.string().find("/wal/") != std::string::npos && p > last) last = p;
    }
    return last;
  }

  storage::TempDir dir_;
  std::string root_;
  Result<std::vector<std::pair<std::string, int64_t>>> expected_ = Status::Internal("unset");
  std::vector<fs::path> objects_;
};

TEST_F(CorruptionTest, HealthyNamespaceVerifiesClean) {
  auto db = Database::OpenPath(root_);
  auto ns = (*db)->OpenNamespace("c");
  auto report = (*ns)->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems[0];
  EXPECT_GE(report->objects_checked, 5u);
}

TEST_F(CorruptionTest, BitFlipsInAnyObjectAreDetectedNeverWrong) {
  std::mt19937 rng(99);
  int detected = 0, trials = 0;
  for (const fs::path& p : objects_) {
    const std::string original = ReadAll(p);
    for (int k = 0; k < 12; ++k) {
      std::string damaged = original;
      const size_t bit = rng() % (damaged.size() * 8);
      damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
      WriteAll(p, damaged);
      const std::string what = p.string() + " bit " + std::to_string(bit);
      const bool q = QueryDetects(what);
      if (NeededByQueries(p)) {
        EXPECT_TRUE(q) << what << ": damage to a needed object unnoticed";
      }
      EXPECT_TRUE(VerifyDetects()) << what << ": Verify missed it";
      detected += q;
      ++trials;
      if (HasFailure()) {
        WriteAll(p, original);
        return;
      }
    }
    WriteAll(p, original);
  }
  RecordProperty("corruption_trials", trials);
  EXPECT_GT(detected, 0);
}

TEST_F(CorruptionTest, TruncationsAreDetectedNeverWrong) {
  for (const fs::path& p : objects_) {
    const std::string original = ReadAll(p);
    for (size_t keep : {size_t{0}, size_t{7}, original.size() / 2, original.size() - 1}) {
      WriteAll(p, original.substr(0, keep));
      const std::string what = p.string() + " truncated to " + std::to_string(keep);
      const bool q = QueryDetects(what);
      if (NeededByQueries(p)) {
        EXPECT_TRUE(q) << what;
      }
      EXPECT_TRUE(VerifyDetects()) << what;
      if (HasFailure()) {
        WriteAll(p, original);
        return;
      }
    }
    WriteAll(p, original);
  }
}

}  // namespace
}  // namespace gannet
