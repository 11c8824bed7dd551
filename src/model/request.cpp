// Names of filter operators, and the fusion of multi-query rankings (gannet/request.h).
#include "gannet/request.h"

#include <algorithm>
#include <map>

namespace gannet {

namespace {
struct OpName {
  Filter::Op op;
  std::string_view name;
};
constexpr OpName kOps[] = {
    {Filter::Op::kAnd, "And"},
    {Filter::Op::kOr, "Or"},
    {Filter::Op::kNot, "Not"},
    {Filter::Op::kEq, "Eq"},
    {Filter::Op::kNotEq, "NotEq"},
    {Filter::Op::kIn, "In"},
    {Filter::Op::kNotIn, "NotIn"},
    {Filter::Op::kLt, "Lt"},
    {Filter::Op::kLte, "Lte"},
    {Filter::Op::kGt, "Gt"},
    {Filter::Op::kGte, "Gte"},
    {Filter::Op::kContains, "Contains"},
    {Filter::Op::kNotContains, "NotContains"},
    {Filter::Op::kContainsAny, "ContainsAny"},
    {Filter::Op::kNotContainsAny, "NotContainsAny"},
    {Filter::Op::kGlob, "Glob"},
    {Filter::Op::kNotGlob, "NotGlob"},
    {Filter::Op::kIGlob, "IGlob"},
    {Filter::Op::kNotIGlob, "NotIGlob"},
    {Filter::Op::kContainsAllTokens, "ContainsAllTokens"},
    {Filter::Op::kContainsAnyToken, "ContainsAnyToken"},
    {Filter::Op::kContainsTokenSequence, "ContainsTokenSequence"},
};

// turbopuffer operators Gannet does not implement yet: named in errors as unsupported
// rather than unknown.
constexpr std::string_view kUnsupported[] = {
    "Regex",
    "ContainsAllTokens",
    "ContainsAnyToken",
    "ContainsTokenSequence",
    "AnyLt",
    "AnyLte",
    "AnyGt",
    "AnyGte",
    "Fuzzy",
};
}  // namespace

std::string_view FilterOpName(Filter::Op op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "Unknown";
}

Result<Filter::Op> ParseFilterOp(std::string_view name) {
  for (const auto& o : kOps) {
    if (o.name == name) return o.op;
  }
  for (std::string_view u : kUnsupported) {
    if (u == name) {
      return Status::InvalidArgument("filter operator '" + std::string(name) +
                                     "' is not supported yet");
    }
  }
  return Status::InvalidArgument("unknown filter operator '" + std::string(name.substr(0, 64)) +
                                 "'");
}

std::vector<ResultRow> FuseRankings(const std::vector<QueryRequest>& queries,
                                    const std::vector<QueryResponse>& responses,
                                    const RankFusion& fusion) {
  struct Fused {
    double score = 0;
    const ResultRow* first = nullptr;
  };
  std::map<Id, Fused> by_id;
  for (size_t q = 0; q < responses.size(); ++q) {
    const double w = q < fusion.weights.size() ? fusion.weights[q] : 1.0;
    const std::vector<ResultRow>& rows = responses[q].rows;
    const RankBy::Kind kind = q < queries.size() ? queries[q].rank_by.kind : RankBy::Kind::kNone;
    const bool has_scores = (kind == RankBy::Kind::kVector || kind == RankBy::Kind::kText) &&
                            std::all_of(rows.begin(), rows.end(),
                                        [](const ResultRow& r) { return r.dist.has_value(); });
    double lo = 0, hi = 0;
    if (has_scores && !rows.empty()) {
      lo = hi = *rows[0].dist;
      for (const ResultRow& r : rows) {
        lo = std::min(lo, *r.dist);
        hi = std::max(hi, *r.dist);
      }
    }
    for (size_t rank = 0; rank < rows.size(); ++rank) {
      const ResultRow& r = rows[rank];
      double part = 0;
      if (fusion.method == RankFusion::Method::kRrf) {
        part = 1.0 / (fusion.rank_constant + static_cast<double>(rank + 1));
      } else if (has_scores) {
        const double span = hi - lo;
        const double x = span > 0 ? (*r.dist - lo) / span : 1.0;
        part = kind == RankBy::Kind::kVector ? (span > 0 ? 1.0 - x : 1.0) : x;
      } else {
        part = 1.0 - static_cast<double>(rank) / static_cast<double>(rows.size());
      }
      Fused& f = by_id[r.id];
      f.score += w * part;
      if (f.first == nullptr) f.first = &r;
    }
  }
  std::vector<std::pair<Id, Fused>> all(by_id.begin(), by_id.end());
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second.score > b.second.score;  // ids ascending among equal scores
  });
  if (all.size() > fusion.top_k) all.resize(fusion.top_k);
  std::vector<ResultRow> out;
  out.reserve(all.size());
  for (auto& [id, f] : all) {
    ResultRow row;
    row.id = id;
    row.dist = f.score;
    row.attrs = f.first->attrs;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace gannet
