// Model-based test: random writes, queries and maintenance against a namespace, checked
// after every step against a plain in-memory model. A second Database on the same store
// (standing in for another process) must see exactly the same state (strong reads).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet {
namespace {

using json = nlohmann::json;

struct ModelDoc {
  int64_t a = 0;
  std::string s;
  bool has_s = false;
  std::vector<float> vec;
};

class Model {
 public:
  std::map<uint64_t, ModelDoc> docs;
};

class ModelBasedTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    store_ = NewMemoryStore([this] { return now_ms_; });
    DatabaseOptions o;
    o.store = store_;
    o.background_indexing = false;
    o.compact_max_segments = 3;
    o.max_segment_rows = 12;  // index builds of a long tail take several segments
    o.gc_grace = std::chrono::milliseconds(1000);
    o.clock_ms = [this] { return now_ms_; };
    auto a = Database::Open(o);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    db_ = std::move(a).value();
    auto b = Database::Open(o);
    ASSERT_TRUE(b.ok());
    reader_db_ = std::move(b).value();
    ns_ = *db_->OpenNamespace("model");
    reader_ = *reader_db_->OpenNamespace("model");
  }

  json DocJson(uint64_t id, const ModelDoc& d) {
    json j = {{"id", id}, {"a", d.a}, {"vector", d.vec}};
    if (d.has_s) j["s"] = d.s;
    return j;
  }

  void Write(const json& req) {
    auto parsed = ParseWriteRequest(req.dump());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << " " << req.dump();
    auto r = ns_->Write(std::move(parsed).value());
    ASSERT_TRUE(r.ok()) << r.status().ToString() << " " << req.dump();
  }

  ModelDoc RandomDoc() {
    ModelDoc d;
    d.a = static_cast<int64_t>(rng_() % 100);
    d.has_s = rng_() % 3 != 0;
    if (d.has_s) d.s = std::string(1, static_cast<char>('a' + rng_() % 5));
    for (int i = 0; i < 4; ++i) d.vec.push_back(static_cast<float>(rng_() % 1000) / 100.0f);
    return d;
  }

  void Step() {
    const uint64_t op = rng_() % 100;
    if (op < 35) {  // upsert a batch
      json rows = json::array();
      std::map<uint64_t, ModelDoc> batch;
      const size_t n = 1 + rng_() % 8;
      for (size_t i = 0; i < n; ++i) batch[rng_() % 120] = RandomDoc();
      for (const auto& [id, d] : batch) rows.push_back(DocJson(id, d));
      Write({{"upsert_rows", rows}});
      for (auto& [id, d] : batch) model_.docs[id] = d;
    } else if (op < 45) {  // patch: set a, remove s
      json rows = json::array();
      std::map<uint64_t, int64_t> batch;
      for (size_t i = 0; i < 3; ++i) batch[rng_() % 120] = static_cast<int64_t>(rng_() % 100);
      for (const auto& [id, a] : batch) rows.push_back({{"id", id}, {"a", a}, {"s", nullptr}});
      Write({{"patch_rows", rows}});
      for (const auto& [id, a] : batch) {
        auto it = model_.docs.find(id);
        if (it == model_.docs.end()) continue;
        it->second.a = a;
        it->second.has_s = false;
        it->second.s.clear();
      }
    } else if (op < 55) {  // delete ids
      json ids = json::array();
      std::set<uint64_t> batch;
      for (size_t i = 0; i < 4; ++i) batch.insert(rng_() % 120);
      for (uint64_t id : batch) ids.push_back(id);
      Write({{"deletes", ids}});
      for (uint64_t id : batch) model_.docs.erase(id);
    } else if (op < 60) {  // delete_by_filter
      const int64_t x = static_cast<int64_t>(rng_() % 15);
      Write({{"delete_by_filter", {"a", "Lt", x}}});
      std::erase_if(model_.docs, [&](const auto& kv) { return kv.second.a < x; });
    } else if (op < 67) {  // conditional upsert: only if the new a is larger
      const uint64_t id = rng_() % 120;
      ModelDoc d = RandomDoc();
      Write({{"upsert_rows", json::array({DocJson(id, d)})},
             {"upsert_condition", {"a", "Lt", {{"$ref_new", "a"}}}}});
      auto it = model_.docs.find(id);
      if (it == model_.docs.end() || it->second.a < d.a) model_.docs[id] = d;
    } else if (op < 75) {
      ASSERT_TRUE(ns_->IndexNow().ok());
    } else if (op < 80) {
      ASSERT_TRUE(ns_->Compact().ok());
    } else if (op < 84) {
      now_ms_ += 700;  // objects age past the grace period over a few steps
      ASSERT_TRUE(ns_->CollectGarbage().ok());
    } else {
      // queries only
    }
  }

  // Everything the namespace holds, ordered by id, compared with the model.
  void CheckAll(Namespace& ns, const char* who) {
    if (model_.docs.empty() && !wrote_) return;
    auto q = ParseQueryRequest(
        R"({"rank_by": ["id", "asc"], "top_k": 10000, "include_attributes": true})");
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    auto r = ns.Query(*q);
    ASSERT_TRUE(r.ok()) << who << ": " << r.status().ToString();
    ASSERT_EQ(r->rows.size(), model_.docs.size()) << who;
    size_t i = 0;
    for (const auto& [id, d] : model_.docs) {
      const ResultRow& row = r->rows[i++];
      ASSERT_EQ(row.id, Id(id)) << who;
      Document doc{row.id, row.attrs};
      const Value* a = doc.Find("a");
      ASSERT_NE(a, nullptr) << who << " id=" << id;
      EXPECT_EQ(a->as_int(), d.a) << who << " id=" << id;
      const Value* s = doc.Find("s");
      EXPECT_EQ(s != nullptr, d.has_s) << who << " id=" << id;
      if (s != nullptr && d.has_s) {
        EXPECT_EQ(s->as_string(), d.s) << who;
      }
      const Value* v = doc.Find("vector");
      ASSERT_NE(v, nullptr) << who;
      EXPECT_EQ(v->as_vector(), d.vec) << who;
    }
  }

  void CheckFilteredCountAndKnn() {
    if (model_.docs.empty()) return;
    const int64_t lo = static_cast<int64_t>(rng_() % 100);
    json filter = {"Or", json::array({json::array({"a", "Gte", lo}),
                                      json::array({"s", "In", json::array({"a", "b"})})})};
    auto cq =
        ParseQueryRequest(json({{"filters", filter}, {"aggregate_by", {{"n", {"Count"}}}}}).dump());
    ASSERT_TRUE(cq.ok()) << cq.status().ToString();
    auto cr = ns_->Query(*cq);
    ASSERT_TRUE(cr.ok()) << cr.status().ToString();
    uint64_t expected = 0;
    for (const auto& [id, d] : model_.docs) {
      if (d.a >= lo || (d.has_s && (d.s == "a" || d.s == "b"))) ++expected;
    }
    ASSERT_EQ(cr->aggregations.at("n").as_uint(), expected);

    // Exact kNN (euclidean): the k distances must equal the model's k smallest.
    std::vector<float> qv;
    for (int i = 0; i < 4; ++i) qv.push_back(static_cast<float>(rng_() % 1000) / 100.0f);
    auto kq = ParseQueryRequest(
        json({{"rank_by", {"vector", "kNN", qv}}, {"top_k", 5}, {"filters", filter}}).dump());
    ASSERT_TRUE(kq.ok()) << kq.status().ToString();
    auto kr = ns_->Query(*kq);
    ASSERT_TRUE(kr.ok()) << kr.status().ToString();
    std::vector<double> want;
    for (const auto& [id, d] : model_.docs) {
      if (!(d.a >= lo || (d.has_s && (d.s == "a" || d.s == "b")))) continue;
      double dist = 0;
      for (int i = 0; i < 4; ++i) dist += (qv[i] - d.vec[i]) * (qv[i] - d.vec[i]);
      want.push_back(dist);
    }
    std::sort(want.begin(), want.end());
    if (want.size() > 5) want.resize(5);
    ASSERT_EQ(kr->rows.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_TRUE(kr->rows[i].dist.has_value());
      EXPECT_NEAR(*kr->rows[i].dist, want[i], 1e-3 * (1 + want[i]));
    }
  }

  int64_t now_ms_ = 1'700'000'000'000;
  std::mt19937_64 rng_{GetParam()};
  ObjectStorePtr store_;
  std::unique_ptr<Database> db_, reader_db_;
  std::shared_ptr<Namespace> ns_, reader_;
  Model model_;
  bool wrote_ = false;
};

TEST_P(ModelBasedTest, RandomOperationsMatchModel) {
  Write({{"distance_metric", "euclidean_squared"},
         {"upsert_rows", json::array({DocJson(0, RandomDoc())})}});
  model_.docs.clear();
  Write({{"deletes", json::array({0})}});
  wrote_ = true;
  for (int step = 0; step < 250; ++step) {
    Step();
    if (HasFatalFailure()) return;
    CheckAll(*ns_, "writer");
    CheckAll(*reader_, "reader");
    if (HasFatalFailure()) {
      ADD_FAILURE() << "seed " << GetParam() << " failed at step " << step;
      return;
    }
    if (step % 5 == 0) CheckFilteredCountAndKnn();
  }
  auto info = ns_->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_GE(info->manifest_version, 1u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelBasedTest, ::testing::Range<uint64_t>(1, 9));

}  // namespace
}  // namespace gannet
