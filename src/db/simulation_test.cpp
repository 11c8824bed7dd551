// Deterministic simulation of the storage, commit, indexing, compaction and GC protocol.
//
// Several simulated processes (each its own Database over one shared MemoryStore) take
// seeded random turns: writes of every kind, indexing, compaction, garbage collection,
// clock advances, and crashes. Each process reaches the store through a FaultyStore
// (random failed requests and PUTs that time out after being applied) and a CrashStore
// that can kill the process after any number of further requests — mid-write,
// mid-index, mid-GC — after which it restarts with no state.
//
// After every step a random live process runs a strong read, which must equal a model
// that holds exactly the acknowledged writes. A write that failed with an ambiguous
// error may or may not have landed; the next check decides which, and the model follows.
// Violations print the seed; GANNET_SIM_SEED=<seed> replays one, GANNET_SIM_SEEDS=<n>
// sets how many run, GANNET_SIM_FIRST_SEED the first.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet {
namespace {

using json = nlohmann::json;

// Kills its process after a given number of requests: that request and every later one
// fail without effect (the process is gone). Requests may come from several threads (a
// batched GetMany runs its reads in parallel).
class CrashStore final : public ObjectStore {
 public:
  explicit CrashStore(ObjectStorePtr base) : base_(std::move(base)) {}
  void CrashAfter(int64_t requests) { budget_ = requests; }
  bool dead() const { return budget_ == 0; }

  Result<GetResult> Get(std::string_view k, std::optional<ByteRange> r) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->Get(k, r);
  }
  Result<ObjectMeta> Head(std::string_view k) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->Head(k);
  }
  Result<ListResult> List(std::string_view p, std::string_view a, size_t l) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->List(p, a, l);
  }
  Status Delete(std::string_view k) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->Delete(k);
  }
  Result<ObjectMeta> PutIfAbsent(std::string_view k, std::string_view d) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->PutIfAbsent(k, d);
  }
  Result<ObjectMeta> PutIfMatch(std::string_view k, std::string_view d,
                                std::string_view e) override {
    GANNET_RETURN_IF_ERROR(Gate());
    return base_->PutIfMatch(k, d, e);
  }
  std::string Describe() const override { return "crash(" + base_->Describe() + ")"; }

 private:
  Status Gate() {
    int64_t left = budget_.load();
    for (;;) {
      if (left == 0) return Status::Unavailable("process crashed");
      if (left < 0 || budget_.compare_exchange_weak(left, left - 1)) return Status::OK();
    }
  }
  ObjectStorePtr base_;
  std::atomic<int64_t> budget_{-1};  // -1: never crash
};

struct Doc {
  int64_t a = 0;
  std::string s;
  std::vector<float> v;
  bool operator==(const Doc&) const = default;
};
using State = std::map<uint64_t, Doc>;

struct SimProcess {
  std::shared_ptr<FaultyStore> faulty;
  std::shared_ptr<CrashStore> crash;
  std::unique_ptr<Database> db;
  std::shared_ptr<Namespace> ns;
};

struct SimFigures {
  uint64_t steps = 0, writes_acked = 0, writes_ambiguous = 0, crashes = 0, faults = 0;
  uint64_t indexes = 0, compactions = 0, gcs = 0, checks = 0;
};

class Simulation {
 public:
  explicit Simulation(uint64_t seed) : seed_(seed), rng_(seed) {
    shared_ = NewMemoryStore([this] { return now_ms_; });
  }

  // Runs `steps` steps; returns a description of the first violation, or nullopt.
  std::optional<std::string> Run(int steps) {
    for (int i = 0; i < kProcesses; ++i) Start(i);
    for (int step = 0; step < steps; ++step) {
      figures_.steps++;
      Step();
      if (auto v = Check()) return "step " + std::to_string(step) + ": " + *v;
    }
    for (auto& p : procs_) {
      figures_.faults += p.faulty->faults_injected();
      p.db->Close();
    }
    return std::nullopt;
  }
  const SimFigures& figures() const { return figures_; }

 private:
  static constexpr int kProcesses = 3;
  static constexpr uint64_t kIds = 60;

  void Start(int i) {
    if (procs_.size() <= static_cast<size_t>(i)) procs_.resize(i + 1);
    SimProcess& p = procs_[i];
    if (p.faulty) figures_.faults += p.faulty->faults_injected();
    p.faulty = NewFaultyStore(shared_);
    p.faulty->SetRandom({FaultOp::kAny, "", FaultKind::kError}, 0.02, rng_());
    p.faulty->SetRandom({FaultOp::kPutIfAbsent, "", FaultKind::kTimeoutApplied}, 0.05, rng_());
    p.crash = std::make_shared<CrashStore>(p.faulty);
    DatabaseOptions o;
    o.store = p.crash;
    o.background_indexing = false;
    o.clock_ms = [this] { return now_ms_; };
    o.gc_grace = std::chrono::milliseconds(4000);
    o.compact_max_segments = 3;
    o.max_segment_rows = 20;
    p.db = std::move(Database::Open(o)).value();
    p.ns = std::move(p.db->OpenNamespace("sim")).value();
  }

  Doc RandomDoc() {
    Doc d;
    d.a = static_cast<int64_t>(rng_() % 50);
    d.s = std::string(1, static_cast<char>('a' + rng_() % 4));
    d.v = {static_cast<float>(rng_() % 100), static_cast<float>(rng_() % 100)};
    return d;
  }
  static json DocJson(uint64_t id, const Doc& d) {
    return {{"id", id}, {"a", d.a}, {"s", d.s}, {"vector", d.v}};
  }

  // A write and its effect on a state.
  struct SimWrite {
    json request;
    std::function<void(State&)> apply;
  };

  SimWrite RandomWrite() {
    const uint64_t kind = rng_() % 100;
    if (kind < 50) {
      std::map<uint64_t, Doc> rows;
      const size_t n = 1 + rng_() % 6;
      for (size_t i = 0; i < n; ++i) rows[rng_() % kIds] = RandomDoc();
      json arr = json::array();
      for (const auto& [id, d] : rows) arr.push_back(DocJson(id, d));
      return {{{"upsert_rows", arr}}, [rows](State& s) {
                for (const auto& [id, d] : rows) s[id] = d;
              }};
    }
    if (kind < 65) {
      const uint64_t id = rng_() % kIds;
      const int64_t a = static_cast<int64_t>(rng_() % 50);
      return {{{"patch_rows", json::array({{{"id", id}, {"a", a}}})}}, [id, a](State& s) {
                auto it = s.find(id);
                if (it != s.end()) it->second.a = a;
              }};
    }
    if (kind < 80) {
      std::set<uint64_t> ids;
      for (int i = 0; i < 3; ++i) ids.insert(rng_() % kIds);
      return {{{"deletes", json(std::vector<uint64_t>(ids.begin(), ids.end()))}}, [ids](State& s) {
                for (uint64_t id : ids) s.erase(id);
              }};
    }
    if (kind < 88) {
      const std::string victim(1, static_cast<char>('a' + rng_() % 4));
      const int64_t below = static_cast<int64_t>(rng_() % 10);
      return {
          {{"delete_by_filter",
            {"And",
             json::array({json::array({"s", "Eq", victim}), json::array({"a", "Lt", below})})}}},
          [victim, below](State& s) {
            std::erase_if(
                s, [&](const auto& kv) { return kv.second.s == victim && kv.second.a < below; });
          }};
    }
    const uint64_t id = rng_() % kIds;
    const Doc d = RandomDoc();
    return {{{"upsert_rows", json::array({DocJson(id, d)})},
             {"upsert_condition", {"a", "Lte", {{"$ref_new", "a"}}}}},
            [id, d](State& s) {
              auto it = s.find(id);
              if (it == s.end() || it->second.a <= d.a) s[id] = d;
            }};
  }

  void Step() {
    SimProcess& p = procs_[rng_() % kProcesses];
    const uint64_t op = rng_() % 100;
    if (op < 8) {
      // Crash this process within its next few requests, in the middle of whatever it
      // does next, then restart it with no state.
      p.crash->CrashAfter(static_cast<int64_t>(rng_() % 6));
      DoWriteOrMaintenance(p, rng_() % 100);
      figures_.crashes++;
      p.db->Close();
      Start(static_cast<int>(&p - procs_.data()));
      return;
    }
    if (op < 16) {
      now_ms_ += 2500;  // objects age towards (and past) the GC grace period
      return;
    }
    DoWriteOrMaintenance(p, op);
  }

  void DoWriteOrMaintenance(SimProcess& p, uint64_t op) {
    if (op < 70) {
      SimWrite w = RandomWrite();
      auto req = ParseWriteRequest(w.request.dump());
      if (!req.ok()) {
        violation_ = "generated request rejected: " + req.status().ToString();
        return;
      }
      auto r = p.ns->Write(std::move(req).value());
      if (r.ok()) {
        figures_.writes_acked++;
        w.apply(model_);
      } else if (r.status().IsInvalidArgument()) {
        violation_ = "valid write rejected: " + r.status().ToString();
      } else {
        figures_.writes_ambiguous++;
        // May or may not have landed; the check after this step decides (an entry is
        // either durable when Write returns or never will be).
        pending_ = std::move(w);
      }
    } else if (op < 78) {
      figures_.indexes++;
      p.ns->IndexNow().IgnoreError();  // failures are allowed; correctness is not
    } else if (op < 84) {
      figures_.compactions++;
      p.ns->Compact().IgnoreError();
    } else {
      figures_.gcs++;
      p.ns->CollectGarbage().IgnoreError();
    }
  }

  std::optional<bool> ReadState(State* out, std::string* error) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      SimProcess& p = procs_[rng_() % kProcesses];
      auto q = ParseQueryRequest(
          R"({"rank_by": ["id", "asc"], "top_k": 10000, "include_attributes": true})");
      auto r = p.ns->Query(*q);
      if (!r.ok()) {
        if (r.status().IsNotFound() && model_.empty() && !ever_acked_) {
          out->clear();
          return true;
        }
        if (r.status().IsUnavailable()) continue;  // an injected fault; try again
        *error = r.status().ToString();
        return std::nullopt;
      }
      out->clear();
      for (const ResultRow& row : r->rows) {
        Document d{row.id, row.attrs};
        Doc doc;
        if (const Value* a = d.Find("a")) doc.a = a->as_int();
        if (const Value* s = d.Find("s")) doc.s = s->as_string();
        if (const Value* v = d.Find("vector")) doc.v = v->as_vector();
        (*out)[row.id.as_uint()] = doc;
      }
      return true;
    }
    *error = "no read succeeded in 20 attempts";
    return std::nullopt;
  }

  std::optional<std::string> Check() {
    if (violation_) return violation_;
    if (figures_.writes_acked > 0) ever_acked_ = true;
    figures_.checks++;
    State seen;
    std::string error;
    if (!ReadState(&seen, &error)) return "strong read failed: " + error;
    if (pending_) {
      State with = model_;
      pending_->apply(with);
      if (seen == with) {
        model_ = with;
        pending_.reset();
      } else if (seen == model_) {
        pending_.reset();
      } else {
        return "state matches neither with nor without the ambiguous write " +
               pending_->request.dump();
      }
    }
    if (seen != model_) {
      std::string diff;
      for (const auto& [id, d] : model_) {
        auto it = seen.find(id);
        if (it == seen.end()) {
          diff += " lost id " + std::to_string(id) + ";";
        } else if (!(it->second == d)) {
          diff += " wrong id " + std::to_string(id) + ";";
        }
      }
      for (const auto& [id, d] : seen) {
        if (model_.count(id) == 0) diff += " unexpected id " + std::to_string(id) + ";";
      }
      return "state differs from the model:" + diff;
    }
    return std::nullopt;
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  int64_t now_ms_ = 1'700'000'000'000;
  ObjectStorePtr shared_;
  std::vector<SimProcess> procs_;
  State model_;
  std::optional<SimWrite> pending_;
  std::optional<std::string> violation_;
  bool ever_acked_ = false;
  SimFigures figures_;
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(SimulationTest, ManySeedsKeepEveryInvariant) {
  const uint64_t only = EnvOr("GANNET_SIM_SEED", 0);
  const uint64_t first = only != 0 ? only : EnvOr("GANNET_SIM_FIRST_SEED", 1);
  const uint64_t count = only != 0 ? 1 : EnvOr("GANNET_SIM_SEEDS", 60);
  const int steps = static_cast<int>(EnvOr("GANNET_SIM_STEPS", 300));
  SimFigures total;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    Simulation sim(seed);
    std::optional<std::string> v = sim.Run(steps);
    ASSERT_FALSE(v.has_value()) << "simulation seed " << seed << " failed at " << *v
                                << "\nreplay: GANNET_SIM_SEED=" << seed
                                << " build/db_test --gtest_filter=SimulationTest.*";
    const SimFigures& f = sim.figures();
    total.steps += f.steps;
    total.writes_acked += f.writes_acked;
    total.writes_ambiguous += f.writes_ambiguous;
    total.crashes += f.crashes;
    total.faults += f.faults;
    total.indexes += f.indexes;
    total.compactions += f.compactions;
    total.gcs += f.gcs;
    total.checks += f.checks;
  }
  std::printf(
      "simulation: %llu seeds, %llu steps, %llu acknowledged writes, %llu ambiguous, %llu "
      "crashes, %llu injected faults, %llu index / %llu compact / %llu gc runs, %llu checks\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(total.steps),
      static_cast<unsigned long long>(total.writes_acked),
      static_cast<unsigned long long>(total.writes_ambiguous),
      static_cast<unsigned long long>(total.crashes), static_cast<unsigned long long>(total.faults),
      static_cast<unsigned long long>(total.indexes),
      static_cast<unsigned long long>(total.compactions),
      static_cast<unsigned long long>(total.gcs), static_cast<unsigned long long>(total.checks));
  EXPECT_GT(total.writes_acked, 0u);
  EXPECT_GT(total.crashes, 0u);
}

}  // namespace
}  // namespace gannet
