#include "query/text_search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <set>

#include "query/filter.h"

namespace gannet::query {

size_t TextPlan::AddNode(const TextRank& expr, double path_weight, const Schema& schema,
                         Status* st) {
  const size_t at = nodes_.size();
  nodes_.emplace_back();
  nodes_[at].op = expr.op;
  nodes_[at].weight = expr.weight;
  if (expr.op == TextRank::Op::kBM25) {
    const AttributeSchema* a = schema.Find(expr.attr);
    if (a == nullptr || a->full_text_search.empty()) {
      *st = Status::InvalidArgument("rank_by: attribute '" + expr.attr +
                                    "' has no full_text_search index");
      return at;
    }
    Result<std::shared_ptr<const text::Analyzer>> an =
        text::Analyzer::ForSchemaText(a->full_text_search);
    if (!an.ok()) {
      *st = an.status().WithContext("rank_by: attribute '" + expr.attr + "'");
      return at;
    }
    size_t ai = 0;
    while (ai < attrs_.size() && attrs_[ai].name != expr.attr) ++ai;
    if (ai == attrs_.size()) attrs_.push_back({expr.attr, *an});
    Leaf leaf;
    leaf.attr = ai;
    leaf.path_weight = path_weight;
    std::vector<std::string> tokens;
    if (expr.query_is_array) {
      std::vector<Value> elems;
      for (const std::string& t : expr.query_tokens) elems.push_back(Value::String(t));
      (*an)->AnalyzeValue(Value::Array(std::move(elems)), &tokens);
    } else {
      (*an)->Analyze(expr.query, &tokens);
    }
    if (expr.last_as_prefix && !tokens.empty()) {
      leaf.prefix = std::move(tokens.back());
      tokens.pop_back();
    }
    std::map<std::string, uint32_t> counts;
    for (std::string& t : tokens) ++counts[std::move(t)];
    leaf.terms.assign(counts.begin(), counts.end());
    nodes_[at].leaf = leaves_.size();
    leaves_.push_back(std::move(leaf));
    return at;
  }
  if (expr.op == TextRank::Op::kFilter) {
    nodes_[at].filter = std::make_shared<const Filter>(expr.filter.at(0));
    return at;
  }
  if (expr.op == TextRank::Op::kAttribute) {
    const AttributeSchema* a = schema.Find(expr.attr);
    if (a != nullptr &&
        (a->type.kind != AttrType::Kind::kScalar || a->type.scalar == ScalarType::kString ||
         a->type.scalar == ScalarType::kUuid || a->type.scalar == ScalarType::kBool)) {
      *st = Status::InvalidArgument("rank_by: Attribute '" + expr.attr + "' has type " +
                                    a->type.ToString() + "; expected int, uint, float or datetime");
      return at;
    }
    nodes_[at].attr = expr.attr;
    if (std::find(ranked_attrs_.begin(), ranked_attrs_.end(), expr.attr) == ranked_attrs_.end()) {
      ranked_attrs_.push_back(expr.attr);
    }
    return at;
  }
  if (expr.op == TextRank::Op::kConst) return at;
  if (expr.op == TextRank::Op::kSaturate || expr.op == TextRank::Op::kDecay ||
      expr.op == TextRank::Op::kDist) {
    nodes_[at].midpoint = expr.midpoint;
    nodes_[at].exponent = expr.exponent;
    nodes_[at].origin = expr.origin;
  }
  const double w = expr.op == TextRank::Op::kProduct ? path_weight * expr.weight : path_weight;
  for (const TextRank& c : expr.children) {
    const size_t ci = AddNode(c, w, schema, st);
    if (!st->ok()) return at;
    nodes_[at].children.push_back(ci);
  }
  return at;
}

Status BindTextRankFilters(TextRank& expr, const Schema& schema) {
  for (Filter& f : expr.filter) {
    GANNET_RETURN_IF_ERROR(BindFilter(f, schema).WithContext("rank_by"));
  }
  for (TextRank& c : expr.children) GANNET_RETURN_IF_ERROR(BindTextRankFilters(c, schema));
  return Status::OK();
}

bool TextPlan::HasBm25(size_t node) const {
  const Node& n = nodes_[node];
  if (n.op == TextRank::Op::kBM25) return true;
  return std::any_of(n.children.begin(), n.children.end(), [this](size_t c) { return HasBm25(c); });
}

double TextPlan::Bound(size_t node, const Ranges* ranges) const {
  const Node& n = nodes_[node];
  constexpr double kUnknown = std::numeric_limits<double>::infinity();
  // The range of an Attribute clause's values (nullopt when not known).
  auto range = [&](const Node& a) -> std::optional<std::pair<double, double>> {
    if (ranges == nullptr || a.op != TextRank::Op::kAttribute) return std::nullopt;
    auto it = ranges->find(a.attr);
    if (it == ranges->end() || it->second.first > it->second.second) return std::pair{0.0, 0.0};
    return it->second;
  };
  switch (n.op) {
    case TextRank::Op::kConst:
      return n.weight;
    case TextRank::Op::kFilter:
    case TextRank::Op::kSaturate:
    case TextRank::Op::kDecay:
      return 1;
    case TextRank::Op::kSum: {
      double s = 0;
      for (size_t c : n.children) s += Bound(c, ranges);
      return s;
    }
    case TextRank::Op::kMax: {
      double m = 0;
      for (size_t c : n.children) m = std::max(m, Bound(c, ranges));
      return m;
    }
    case TextRank::Op::kProduct:
      return n.weight * Bound(n.children[0], ranges);
    case TextRank::Op::kAttribute: {
      // A missing value counts 0 in a Sum or Max (and makes a Product or Dist missing).
      const auto r = range(n);
      return r ? std::max(0.0, r->second) : kUnknown;
    }
    case TextRank::Op::kDist: {
      const auto r = range(nodes_[n.children[0]]);
      return r ? std::max(std::abs(r->second - n.origin), std::abs(r->first - n.origin)) : kUnknown;
    }
    case TextRank::Op::kBM25:
      return kUnknown;
  }
  return kUnknown;
}

double TextPlan::AttributeBound(size_t node, double path_weight, const Ranges* ranges) const {
  const Node& n = nodes_[node];
  if (n.op == TextRank::Op::kBM25) return 0;
  if (!HasBm25(node)) return path_weight * Bound(node, ranges);
  if (n.op == TextRank::Op::kSum || n.op == TextRank::Op::kMax || n.op == TextRank::Op::kProduct) {
    const double w = n.op == TextRank::Op::kProduct ? path_weight * n.weight : path_weight;
    double sum = 0;
    for (size_t c : n.children) sum += AttributeBound(c, w, ranges);
    return sum;
  }
  // BM25 under Saturate, Decay or Dist: the score is not bounded by a weighted sum.
  return std::numeric_limits<double>::infinity();
}

Result<TextPlan> TextPlan::Make(const TextRank& expr, const Schema& schema) {
  TextPlan plan;
  Status st;
  plan.AddNode(expr, 1.0, schema, &st);
  if (!st.ok()) return st;
  plan.attribute_bound_ = plan.AttributeBound(0, 1.0, nullptr);
  plan.exhaustive_ = !std::isfinite(plan.attribute_bound_);
  return plan;
}

namespace {

// Score of one posting: weight · tf / (tf + norm_factor[norm]).
struct Cursor {
  index::PostingCursor postings;
  size_t leaf = 0;
  double weight = 0;                    // idf · (k1 + 1) · repetitions
  double path_weight = 1;               // Product weights above the leaf
  const double* norm_factor = nullptr;  // per norm code: k1 · (1 − b + b · dl / avgdl)
  const index::TextFieldIndex* field = nullptr;
  const uint8_t* norms = nullptr;  // field's, per row
  double ub = 0;                   // bound of path_weight · score over the whole list

  double Score(uint32_t tf, uint8_t norm) const { return weight * tf / (tf + norm_factor[norm]); }
  // Score of the current posting, which is row d.
  double ScoreAt(uint32_t d) { return Score(postings.tf(), norms[d]); }
  // The same, from the scores of the whole block computed at once (one loop the compiler
  // vectorizes; the same operations, so the same bits): for a list most of whose
  // postings are scored.
  double BlockScoreAt() { return BlockScores()[postings.block_pos()]; }
  // The current block's scores (block_len() of them).
  const double* BlockScores() {
    if (postings.block() != scored_block) {
      const uint32_t* rows = postings.block_rows();
      const uint32_t* tfs = postings.block_tfs();
      const uint32_t len = postings.block_len();
      for (uint32_t i = 0; i < len; ++i) {
        const double tf = tfs[i];
        block_scores[i] = weight * tf / (tf + norm_factor[norms[rows[i]]]);
      }
      scored_block = postings.block();
    }
    return block_scores;
  }
  uint32_t scored_block = UINT32_MAX;
  double block_scores[index::kPostingBlock] = {};
  // Bound of path_weight · score over a block.
  double Bound(const index::BlockBound& b) const {
    double best = 0;
    if (b.points == 0) {
      best = Score(b.max_tf, b.min_norm);
    } else {
      for (uint32_t i = 0; i < b.points; ++i) best = std::max(best, Score(b.tf[i], b.norm[i]));
    }
    return path_weight * best;
  }
  // Bound(block holding the first row >= d), cached per block: rows only grow, so the
  // block stays the same until d passes its last row. false past the list's end.
  bool BoundFrom(uint32_t d, double* bound, uint32_t* last) {
    if (!bb_valid || d > bb_last) {
      index::BlockBound b;
      if (!postings.BoundAt(d, &b)) return false;
      bb_last = b.last_row;
      bb_value = Bound(b);
      bb_valid = true;
    }
    *bound = bb_value;
    *last = bb_last;
    return true;
  }
  // Bound of path_weight · score over rows [start, end]: the largest of the bounds of the
  // blocks there (0 when the list has no row >= start).
  double BoundIn(uint32_t start, uint32_t end, std::vector<index::BlockBound>* scratch) {
    double b = 0;
    uint32_t last = 0;
    if (!BoundFrom(start, &b, &last)) return 0;
    if (last >= end) return b;
    postings.BoundsIn(last + 1, end, scratch);
    for (const index::BlockBound& bb : *scratch) b = std::max(b, Bound(bb));
    return b;
  }
  bool bb_valid = false;
  uint32_t bb_last = 0;
  double bb_value = 0;
};

// Keeps the best k hits: worst on top. Entries hold (score, source, row); a row's id is
// read (through its source) only to break a tie between sources, or within one whose ids
// do not ascend with its rows, and for the final hits.
class HitHeap {
 public:
  HitHeap(uint32_t k, const std::vector<TextSource>& sources) : k_(k), sources_(sources) {}
  bool full() const { return heap_.size() >= k_; }
  // Whether a row whose score is at most `bound` could enter (ties included, with slack
  // for floating-point rounding between the bound and the exact score).
  bool MayEnter(double bound) const { return bound >= enter_; }
  void Push(double score, size_t source, uint32_t row) {
    if (k_ == 0 || (full() && score < heap_.front().score)) return;
    const Entry e{score, static_cast<uint32_t>(source), row};
    const auto worse = [this](const Entry& a, const Entry& b) { return Better(a, b); };
    if (!full()) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), worse);
    } else if (Better(e, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), worse);
    }
    if (full()) enter_ = heap_.front().score * (1 - 1e-9) - 1e-12;
  }
  std::vector<TextHit> TakeSorted() {
    std::sort(heap_.begin(), heap_.end(),
              [this](const Entry& a, const Entry& b) { return Better(a, b); });
    std::vector<TextHit> out;
    out.reserve(heap_.size());
    for (const Entry& e : heap_) out.push_back(TextHit{e.score, e.source, e.row, IdOf(e)});
    heap_.clear();
    return out;
  }

 private:
  struct Entry {
    double score;
    uint32_t source, row;
  };
  Id IdOf(const Entry& e) const { return sources_[e.source].id(e.row); }
  bool Better(const Entry& a, const Entry& b) const {
    if (a.score != b.score) return a.score > b.score;
    // Equal scores are common (equal term frequencies and lengths): within a source whose
    // rows are in id order, the row numbers decide.
    if (a.source == b.source && sources_[a.source].ids_ascend) return a.row < b.row;
    return IdOf(a) < IdOf(b);
  }
  uint32_t k_;
  const std::vector<TextSource>& sources_;
  std::vector<Entry> heap_;
  double enter_ = -std::numeric_limits<double>::infinity();  // MayEnter's least bound
};

}  // namespace

class TextSearcher {
 public:
  TextSearcher(const TextPlan& plan, std::vector<TextSource>& sources, uint32_t k,
               TextSearchStats* stats)
      : plan_(plan), sources_(sources), heap_(k, sources), stats_(stats), leaves_(plan.leaves_) {}

  std::vector<TextHit> Run() {
    ExpandPrefixes();
    ComputeStatistics();
    leaf_scores_.assign(leaves_.size(), 0.0);
    BoundAttributeClauses();
    for (size_t s = 0; s < sources_.size(); ++s) {
      if (exhaustive_) {
        SearchEveryRow(s);
      } else {
        SearchSource(s);
      }
    }
    return heap_.TakeSorted();
  }

 private:
  struct AttrStats {
    double avgdl = 0;
    uint64_t docs = 0;
    double norm_factor[256];
  };

  // Where the expression alone leaves the clauses without BM25 unbounded (a bare
  // Attribute or Dist), bounds them from the ranges of their attributes over every
  // source (TextPlan::DataBound), so that the search prunes instead of evaluating every
  // row.
  void BoundAttributeClauses() {
    if (!exhaustive_ || plan_.ranked_attrs().empty()) return;
    TextPlan::Ranges ranges;
    for (const std::string& attr : plan_.ranked_attrs()) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo;
      for (const TextSource& src : sources_) {
        double a = 0, b = 0;
        if (!src.range) return;  // a source that cannot tell: stay exhaustive
        if (src.range(attr, &a, &b)) {
          lo = std::min(lo, a);
          hi = std::max(hi, b);
        }
      }
      ranges.emplace(attr, std::pair{lo, hi});
    }
    const double bound = plan_.DataBound(ranges);
    if (std::isfinite(bound)) {
      attribute_bound_ = bound;
      exhaustive_ = false;
    }
  }

  // last_as_prefix: the terms starting with the leaf's prefix in any source (at most
  // kMaxPrefixTerms, the first in byte order) join its terms.
  void ExpandPrefixes() {
    constexpr size_t kMaxPrefixTerms = 64;
    for (TextPlan::Leaf& leaf : leaves_) {
      if (leaf.prefix.empty()) continue;
      std::set<std::string> found;
      for (const TextSource& src : sources_) {
        const index::TextFieldIndex* f = src.fields[leaf.attr].get();
        if (f == nullptr) continue;
        f->ForEachWithPrefix(leaf.prefix, kMaxPrefixTerms,
                             [&](std::string_view t, const index::TermInfo&) { found.emplace(t); });
      }
      std::map<std::string, uint32_t> terms(leaf.terms.begin(), leaf.terms.end());
      size_t added = 0;
      for (const std::string& t : found) {
        if (added++ == kMaxPrefixTerms) break;
        ++terms[t];
      }
      leaf.terms.assign(terms.begin(), terms.end());
    }
  }

  void ComputeStatistics() {
    // Decoded norm codes (token counts), computed once per process.
    static const std::array<double, 256> kDocLength = [] {
      std::array<double, 256> dl{};
      for (int code = 0; code < 256; ++code) {
        dl[code] = index::DecodeFieldNorm(static_cast<uint8_t>(code));
      }
      return dl;
    }();
    const auto& attrs = plan_.attrs_;
    attr_stats_.resize(attrs.size());
    for (size_t a = 0; a < attrs.size(); ++a) {
      uint64_t docs = 0, tokens = 0;
      for (const TextSource& src : sources_) {
        if (src.fields[a] == nullptr) continue;
        docs += src.fields[a]->docs();
        tokens += src.fields[a]->tokens();
      }
      AttrStats& st = attr_stats_[a];
      st.docs = docs;
      st.avgdl = docs == 0 ? 1.0 : static_cast<double>(tokens) / static_cast<double>(docs);
      const text::FtsOptions& o = attrs[a].analyzer->options();
      for (int code = 0; code < 256; ++code) {
        st.norm_factor[code] = o.k1 * (1 - o.b + o.b * kDocLength[code] / st.avgdl);
      }
    }
    // Namespace-wide document frequency of every leaf term; the dictionary entries found
    // are kept for MakeCursors (terms_[source * term_count_ + leaf_base_[leaf] + term]).
    leaf_base_.assign(leaves_.size(), 0);
    term_count_ = 0;
    for (size_t l = 0; l < leaves_.size(); ++l) {
      leaf_base_[l] = term_count_;
      term_count_ += leaves_[l].terms.size();
    }
    terms_.assign(sources_.size() * term_count_, nullptr);
    idf_.resize(leaves_.size());
    for (size_t l = 0; l < leaves_.size(); ++l) {
      const TextPlan::Leaf& leaf = leaves_[l];
      for (size_t t = 0; t < leaf.terms.size(); ++t) {
        uint64_t df = 0;
        for (size_t s = 0; s < sources_.size(); ++s) {
          const index::TextFieldIndex* f = sources_[s].fields[leaf.attr].get();
          if (f == nullptr) continue;
          const index::TermInfo* info = f->Find(leaf.terms[t].first);
          terms_[s * term_count_ + leaf_base_[l] + t] = info;
          if (info != nullptr) df += info->df;
        }
        const double n = static_cast<double>(attr_stats_[leaf.attr].docs);
        const double d = static_cast<double>(df);
        idf_[l].push_back(std::log(1 + (n - d + 0.5) / (d + 0.5)));
      }
    }
  }

  // An Attribute clause's value where the row has none; Product and Dist carry it, Sum
  // and Max count it as 0, Saturate and Decay make it 0, and a root left with it scores 0.
  static constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  static double OrZero(double v) { return std::isnan(v) ? 0 : v; }

  // Exact score of the expression for `row` of `src`, the leaves' BM25 scores being in
  // leaf_scores_ (kMissing for a value the row lacks).
  double Evaluate(size_t node, const TextSource* src = nullptr, uint32_t row = 0) const {
    const TextPlan::Node& n = plan_.nodes_[node];
    switch (n.op) {
      case TextRank::Op::kBM25:
        return leaf_scores_[n.leaf];
      case TextRank::Op::kSum: {
        double s = 0;
        for (size_t c : n.children) s += OrZero(Evaluate(c, src, row));
        return s;
      }
      case TextRank::Op::kMax: {
        double m = 0;
        for (size_t c : n.children) m = std::max(m, OrZero(Evaluate(c, src, row)));
        return m;
      }
      case TextRank::Op::kProduct:
        return n.weight * Evaluate(n.children[0], src, row);
      case TextRank::Op::kFilter:
        return src != nullptr && src->match && src->match(row, *n.filter) ? 1.0 : 0.0;
      case TextRank::Op::kConst:
        return n.weight;
      case TextRank::Op::kSaturate:
      case TextRank::Op::kDecay: {
        // x^p / (x^p + m^p) = 1 / (1 + (m/x)^p), and m^p / (x^p + m^p) = 1 / (1 + (x/m)^p):
        // no overflow for large x, m or p (an infinite ratio gives 0, x = 0 gives 0 and 1).
        const double v = Evaluate(n.children[0], src, row);
        if (std::isnan(v)) return 0;  // a missing value (not Decay(0) = 1)
        const double x = std::max(0.0, v);
        const double ratio = n.op == TextRank::Op::kSaturate ? n.midpoint / x : x / n.midpoint;
        return 1 / (1 + (n.exponent == 1 ? ratio : std::pow(ratio, n.exponent)));
      }
      case TextRank::Op::kDist:
        return std::abs(Evaluate(n.children[0], src, row) - n.origin);
      case TextRank::Op::kAttribute: {
        const Value* v = src != nullptr && src->value ? src->value(row, n.attr) : nullptr;
        if (v == nullptr) return kMissing;
        return v->AsNumber().value_or(0);
      }
    }
    return 0;
  }

  // Filter or attribute clauses: every eligible row is scored (cursors advanced along).
  void SearchEveryRow(size_t si) {
    TextSource& src = sources_[si];
    if (src.none_eligible) return;
    std::vector<Cursor> cursors = MakeCursors(si);
    for (uint32_t row = 0; row < src.rows; ++row) {
      if (src.eligible && !src.eligible(row)) continue;
      if (stats_) ++stats_->candidates;
      std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
      for (Cursor& c : cursors) {
        c.postings.Advance(row);
        if (c.postings.doc() == row) {
          leaf_scores_[c.leaf] += c.ScoreAt(row);
        }
      }
      const double score = Evaluate(0, &src, row);
      if (stats_) ++stats_->scored;
      if (score > 0 && std::isfinite(score) && heap_.MayEnter(score)) {
        heap_.Push(score, si, row);
      }
    }
  }

  // The first row >= d present in every required list where every phrase holds (kEnd
  // when none).
  static uint32_t Leap(TextSource& src, uint32_t d) {
    std::vector<index::PostingCursor>& required = src.required;
    for (uint32_t target = d;; ++target) {
      for (bool moved = true; moved;) {
        moved = false;
        for (index::PostingCursor& r : required) {
          r.Advance(target);
          if (r.doc() == index::PostingCursor::kEnd) return index::PostingCursor::kEnd;
          if (r.doc() != target) {
            target = r.doc();
            moved = true;
          }
        }
      }
      bool holds = true;
      for (size_t p = 0; p < src.phrases.size() && holds; ++p) {
        holds = PhraseAt(required, src.phrases[p]);
      }
      if (holds) return target;
    }
  }

  // Every list sits on one row: does some position of the first token start the whole
  // sequence (token i at that position + i)?
  static bool PhraseAt(std::vector<index::PostingCursor>& required,
                       const std::vector<uint32_t>& slots) {
    index::PostingCursor& first = required[slots[0]];
    const uint32_t n0 = first.tf();
    for (uint32_t k = 0; k < n0; ++k) {
      const uint32_t start = first.Positions()[k];
      bool all = true;
      for (size_t i = 1; i < slots.size() && all; ++i) {
        index::PostingCursor& c = required[slots[i]];
        const uint32_t* pos = c.Positions();
        all = std::binary_search(pos, pos + c.tf(), start + static_cast<uint32_t>(i));
      }
      if (all) return true;
    }
    return false;
  }

  // One cursor per (leaf, term) present in source si.
  std::vector<Cursor> MakeCursors(size_t si) const {
    const TextSource& src = sources_[si];
    std::vector<Cursor> cursors;
    for (size_t l = 0; l < leaves_.size(); ++l) {
      const TextPlan::Leaf& leaf = leaves_[l];
      const index::TextFieldIndex* f = src.fields[leaf.attr].get();
      if (f == nullptr) continue;
      const text::FtsOptions& o = plan_.attrs_[leaf.attr].analyzer->options();
      for (size_t t = 0; t < leaf.terms.size(); ++t) {
        const index::TermInfo* info = terms_[si * term_count_ + leaf_base_[l] + t];
        if (info == nullptr) continue;
        Cursor c{index::PostingCursor(*f, *info)};
        c.leaf = l;
        c.weight = idf_[l][t] * (o.k1 + 1) * leaf.terms[t].second;
        c.path_weight = leaf.path_weight;
        c.norm_factor = attr_stats_[leaf.attr].norm_factor;
        c.field = f;
        c.norms = f->norms();
        c.ub = c.path_weight * c.Score(info->max_tf, info->min_norm);
        cursors.push_back(std::move(c));
      }
    }
    return cursors;
  }

  // MaxScore over windows of rows (as Lucene's MaxScoreBulkScorer): a window runs from
  // `start` to the nearest end of the blocks holding the first row >= start of the lists
  // that can still matter (those whose whole-list bounds, with the lower ones', reach the
  // k-th score: a frequent, low-scoring list's many blocks do not cut the range into tiny
  // windows), and within it each list is bounded by its blocks there rather than by its
  // whole list. Lists whose window bounds together cannot reach the k-th score are
  // non-essential: only the essential lists produce candidates, and the others are
  // advanced to a candidate only while its bound can still reach the threshold. (Reading
  // the essential lists in bulk into per-row sums, as Lucene does, measured slower here.)
  // The bound of clauses without BM25 (TextPlan::attribute_bound) is added to every
  // row's: with it, rows holding a query token are searched as above, then the rows
  // holding none (SearchRowsWithoutTerms) while that bound alone can still enter.
  void SearchSource(size_t si) {
    TextSource& src = sources_[si];
    if (src.none_eligible) return;
    const bool attribute_clauses = attribute_bound_ > 0;
    std::vector<index::PostingCursor> required_at_start;
    if (attribute_clauses) required_at_start = src.required;  // the second pass restarts
    std::vector<Cursor> cursors = MakeCursors(si);
    if (cursors.size() == 1 && src.required.empty() && !attribute_clauses) {
      SearchBlocksByBound(src, si, cursors[0]);
    } else if (cursors.size() == 1) {
      SearchOneCursor(src, si, cursors[0]);
    }
    if (cursors.size() > 1) SearchTerms(src, si, cursors);
    if (attribute_clauses && heap_.MayEnter(attribute_bound_)) {
      src.required = std::move(required_at_start);
      SearchRowsWithoutTerms(si);
    }
  }

  void SearchTerms(TextSource& src, size_t si, std::vector<Cursor>& cursors) {
    constexpr uint32_t kEnd = index::PostingCursor::kEnd;
    const double extra = attribute_bound_;
    const size_t n = cursors.size();
    // Scratch, n + 1 entries each (n >= 2 here).
    std::vector<size_t> order(n + 1);   // cursor indexes by window bound, ascending
    std::vector<double> wub(n + 1);     // per cursor: its bound over the window
    std::vector<double> prefix(n + 1);  // prefix[k]: sum of wub of order[0, k)
    std::vector<double> raw(n + 1);     // per cursor: the leaf score at the candidate
    std::vector<char> at(n + 1);        // per cursor: whether its list holds it
    std::vector<index::BlockBound> scratch;
    // The same by whole-list bound, which does not change.
    std::vector<size_t> by_ub(n);
    std::vector<double> prefix_ub(n + 1);
    for (size_t i = 0; i < n; ++i) by_ub[i] = i;
    std::sort(by_ub.begin(), by_ub.end(),
              [&](size_t x, size_t y) { return cursors[x].ub < cursors[y].ub; });
    for (size_t k = 0; k < n; ++k) prefix_ub[k + 1] = prefix_ub[k] + cursors[by_ub[k]].ub;
    // Lists order[0, e) (by_ub[0, e)) cannot reach the threshold together.
    auto essential_from = [&](const std::vector<double>& sums) {
      return EssentialFrom(sums, n, extra);
    };
    for (uint32_t start = 0;;) {
      const size_t matter = essential_from(prefix_ub);
      uint32_t end = kEnd;
      bool any = false;
      for (size_t k = matter; k < n; ++k) {
        double b = 0;
        uint32_t last = 0;
        if (cursors[by_ub[k]].BoundFrom(start, &b, &last)) {
          any = true;
          end = std::min(end, last);
        }
      }
      if (!any) return;  // the lists left cannot reach the threshold together
      for (size_t i = 0; i < n; ++i) wub[i] = cursors[i].BoundIn(start, end, &scratch);
      for (size_t i = 0; i < n; ++i) order[i] = i;
      std::sort(order.begin(), order.begin() + n,
                [&](size_t x, size_t y) { return wub[x] < wub[y]; });
      for (size_t k = 0; k < n; ++k) prefix[k + 1] = prefix[k] + wub[order[k]];
      size_t essential = essential_from(prefix);
      for (size_t k = essential; k < n; ++k) cursors[order[k]].postings.Advance(start);
      // The essential lists' smallest row.
      auto first_row = [&]() {
        uint32_t d = kEnd;
        for (size_t k = essential; k < n; ++k) d = std::min(d, cursors[order[k]].postings.doc());
        return d;
      };
      // Leaps to a row in every required list where the phrases hold, or false past them.
      auto leap = [&](uint32_t& d) {
        const uint32_t t = Leap(src, d);
        if (t != d && t != kEnd) {
          for (size_t k = essential; k < n; ++k) cursors[order[k]].postings.Advance(t);
          d = first_row();
        }
        return t != kEnd;
      };
      if (src.required.empty()) {
        ScoreWindowInChunks(src, si, cursors, order, prefix, essential, first_row(), end);
        if (end == kEnd) return;
        start = end + 1;
        continue;
      }
      for (uint32_t d = first_row(); essential < n && d <= end && d != kEnd;) {
        // Under a token filter, the leap (the required lists, and positions for phrases)
        // comes first while the heap fills; once it is full, after the essential lists'
        // scores, so that rows that cannot enter cost no leap.
        const bool leap_first = !src.required.empty() && !heap_.full();
        if (leap_first) {
          const uint32_t was = d;
          if (!leap(d)) return;
          if (d != was) continue;
        }
        if (stats_) ++stats_->candidates;
        // Exact scores of the essential lists, then the others (largest bound first)
        // while the row can still enter.
        double bound = 0;
        for (size_t k = essential; k < n; ++k) {
          const size_t i = order[k];
          Cursor& c = cursors[i];
          at[i] = c.postings.doc() == d;
          // The score at the cursor's posting, kept only if it is row d: a multiply rather
          // than a branch the predictor cannot learn (PostingCursor::NextIf below too).
          raw[i] = c.BlockScoreAt() * static_cast<double>(at[i]);
          bound += c.path_weight * raw[i];
        }
        bool keep = heap_.MayEnter(bound + prefix[essential] + extra);
        if (keep && !src.required.empty() && !leap_first) {
          const uint32_t was = d;
          if (!leap(d)) return;
          if (d != was) continue;
        }
        keep = keep && ProbeOthers(cursors, order, prefix, essential, d, &bound, raw, at);
        if (keep && src.eligible && !src.eligible(d)) keep = false;
        if (keep) {
          // The leaves' scores summed in cursor order, whatever the window's order (a
          // row's score must not depend on the window it falls in).
          std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
          for (size_t i = 0; i < n; ++i) {
            if (at[i]) leaf_scores_[cursors[i].leaf] += raw[i];
          }
          const double score = Evaluate(0, &src, d);
          if (stats_) ++stats_->scored;
          if (score > 0 && heap_.MayEnter(score)) {
            heap_.Push(score, si, d);
            essential = essential_from(prefix);
          }
        }
        // Past d, and the next smallest row, in one pass.
        uint32_t next = kEnd;
        for (size_t k = essential; k < n; ++k) {
          index::PostingCursor& p = cursors[order[k]].postings;
          p.NextIf(p.doc() == d);
          next = std::min(next, p.doc());
        }
        d = next;
      }
      if (end == kEnd) return;
      start = end + 1;
    }
  }

  // Candidates taken at a time by ScoreWindowInChunks.
  static constexpr size_t kChunk = 32;

  // The candidates of window [first, end] (no token filter), the same rows scored the
  // same way as in SearchTerms' row-at-a-time loop, with fewer branches the predictor
  // cannot learn: a chunk of up to kChunk rows of the essential lists' union is gathered
  // first, each row's essential scores summed and kept in a buffer, the row kept when
  // that sum and the other lists' bounds may still enter (counted, not branched on); then
  // the rows kept are probed in the other lists and pushed, in row order, against the
  // threshold of that moment. The essential lists are those of the chunk's start: a list
  // that stops being essential inside a chunk still brings its rows there (their scores
  // are exact, so they are only more candidates), and is probed from the next chunk on.
  void ScoreWindowInChunks(TextSource& src, size_t si, std::vector<Cursor>& cursors,
                           const std::vector<size_t>& order, const std::vector<double>& prefix,
                           size_t essential, uint32_t first, uint32_t end) {
    constexpr uint32_t kEnd = index::PostingCursor::kEnd;
    const double extra = attribute_bound_;
    const size_t n = cursors.size();
    chunk_scores_.resize(kChunk * n);
    chunk_rows_.resize(kChunk);
    chunk_essential_.resize(n);
    raw_.resize(n);
    at_.resize(n);
    for (uint32_t d = first; essential < n && d <= end && d != kEnd;) {
      const size_t e0 = essential;
      for (size_t k = 0; k < n; ++k) chunk_essential_[order[k]] = k >= e0;
      const double others = prefix[e0] + extra;  // the bound of the lists not essential
      size_t m = 0;
      while (m < kChunk && d <= end && d != kEnd) {
        double* slot = chunk_scores_.data() + m * n;
        double bound = 0;
        uint32_t next = kEnd;
        for (size_t k = e0; k < n; ++k) {
          const size_t i = order[k];
          Cursor& c = cursors[i];
          const bool here = c.postings.doc() == d;
          // The score at the cursor's posting, kept only if it is row d: a multiply
          // rather than a branch.
          slot[i] = c.BlockScoreAt() * static_cast<double>(here);
          bound += c.path_weight * slot[i];
          c.postings.NextIf(here);
          next = std::min(next, c.postings.doc());
        }
        if (stats_) ++stats_->candidates;
        chunk_rows_[m] = d;
        m += heap_.MayEnter(bound + others);  // the slot is reused when not
        d = next;
      }
      for (size_t j = 0; j < m; ++j) {
        const uint32_t row = chunk_rows_[j];
        const double* slot = chunk_scores_.data() + j * n;
        double bound = 0;
        for (size_t k = e0; k < n; ++k) bound += cursors[order[k]].path_weight * slot[order[k]];
        bool keep = heap_.MayEnter(bound + others) &&
                    ProbeOthers(cursors, order, prefix, e0, row, &bound, raw_, at_);
        if (keep && src.eligible && !src.eligible(row)) keep = false;
        if (!keep) continue;
        // The leaves' scores summed in cursor order, as in SearchTerms (an absent list's
        // score is 0, which leaves a sum as it was).
        std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
        for (size_t i = 0; i < n; ++i) {
          leaf_scores_[cursors[i].leaf] += chunk_essential_[i] ? slot[i] : raw_[i];
        }
        const double score = Evaluate(0, &src, row);
        if (stats_) ++stats_->scored;
        if (score > 0 && heap_.MayEnter(score)) {
          heap_.Push(score, si, row);
          essential = EssentialFrom(prefix, n, extra);
        }
      }
    }
  }

  // The lists order[0, e) that are not essential, largest bound first, probed at `row`
  // while it can still enter: their scores go to raw and at (per cursor) and *bound.
  // Whether the row can still enter after all of them.
  bool ProbeOthers(std::vector<Cursor>& cursors, const std::vector<size_t>& order,
                   const std::vector<double>& prefix, size_t e, uint32_t row, double* bound,
                   std::vector<double>& raw, std::vector<char>& at) {
    for (size_t k = e; k-- > 0;) {
      const size_t i = order[k];
      Cursor& c = cursors[i];
      c.postings.Advance(row);
      at[i] = c.postings.doc() == row;
      // Times 0 or 1 rather than a branch on whether the list holds the row.
      raw[i] = c.ScoreAt(row) * static_cast<double>(at[i]);
      *bound += c.path_weight * raw[i];
      if (!heap_.MayEnter(*bound + prefix[k] + attribute_bound_)) return false;
    }
    return true;
  }

  // Lists [0, e) of an order whose prefix sums of bounds are `sums` cannot reach the
  // threshold together (with the clauses without BM25): the smallest essential index.
  size_t EssentialFrom(const std::vector<double>& sums, size_t n, double extra) const {
    size_t e = 0;
    while (e < n && !heap_.MayEnter(sums[e + 1] + extra)) ++e;
    return e;
  }

  // One posting list (a one-token query, or one token present in this source): its
  // score is path_weight × the leaf's, so blocks are skipped on their bound alone and
  // each remaining posting is scored in place.
  void SearchOneCursor(TextSource& src, size_t si, Cursor& c) {
    const double extra = attribute_bound_;
    uint32_t block_end = 0;  // rows up to here passed the block check
    bool block_checked = false;
    while (c.postings.doc() != index::PostingCursor::kEnd) {
      const uint32_t d = c.postings.doc();
      if (!src.required.empty()) {
        const uint32_t t = Leap(src, d);
        if (t == index::PostingCursor::kEnd) break;
        if (t != d) {
          c.postings.Advance(t);
          continue;
        }
      }
      if (heap_.full() && (!block_checked || d > block_end)) {
        index::BlockBound b;
        if (!c.postings.BoundAt(d, &b)) break;
        block_end = b.last_row;
        block_checked = true;
        if (!heap_.MayEnter(c.Bound(b) + extra)) {
          c.postings.Advance(b.last_row + 1);
          continue;
        }
      }
      if (stats_) ++stats_->candidates;
      double score = c.path_weight * c.BlockScoreAt();
      if (extra > 0 && heap_.MayEnter(score + extra)) {
        std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
        leaf_scores_[c.leaf] = c.BlockScoreAt();
        score = Evaluate(0, &src, d);
      }
      if (score > 0 && heap_.MayEnter(score) && (!src.eligible || src.eligible(d))) {
        if (stats_) ++stats_->scored;
        heap_.Push(score, si, d);
        block_checked = false;  // the threshold moved
      }
      c.postings.Next();
    }
  }

  // A lone list, nothing to leap through and no attribute clauses: its blocks best bound
  // first (impact order), so that the heap holds the best rows early and the search ends
  // at the first block whose bound cannot enter. The heap breaks ties by row, so the
  // answer is the row-order search's. (GCIDE's 1-term queries: 357 rows scored a query
  // against 511 in row order, a quarter less time natively.)
  void SearchBlocksByBound(TextSource& src, size_t si, Cursor& c) {
    const uint32_t blocks = c.postings.blocks();
    if (blocks == 0) return;
    // (bound, -block) pairs in a max-heap: the best bound first, the earlier block
    // first among equal bounds.
    std::vector<std::pair<double, int64_t>>& order = block_order_;
    order.resize(blocks);
    for (uint32_t b = 0; b < blocks; ++b) {
      index::BlockBound bound;
      c.postings.BlockBoundOf(b, &bound);
      order[b] = {c.Bound(bound), -static_cast<int64_t>(b)};
    }
    std::make_heap(order.begin(), order.end());
    for (auto end = order.end(); end != order.begin(); --end) {
      std::pop_heap(order.begin(), end);
      const auto [bound, neg_block] = *(end - 1);
      if (!heap_.MayEnter(bound)) break;  // nor can any block after it
      c.postings.SeekBlock(static_cast<uint32_t>(-neg_block));
      const uint32_t len = c.postings.block_len();
      const uint32_t* rows = c.postings.block_rows();
      const double* scores = c.BlockScores();
      if (stats_) stats_->candidates += len;
      for (uint32_t i = 0; i < len; ++i) {
        const double score = c.path_weight * scores[i];
        if (score > 0 && heap_.MayEnter(score) && (!src.eligible || src.eligible(rows[i]))) {
          if (stats_) ++stats_->scored;
          heap_.Push(score, si, rows[i]);
        }
      }
    }
  }

  // The rows of a source holding no query token, scored by the clauses without BM25
  // alone, while attribute_bound can still enter (SearchSource).
  void SearchRowsWithoutTerms(size_t si) {
    constexpr uint32_t kEnd = index::PostingCursor::kEnd;
    const double extra = attribute_bound_;
    TextSource& src = sources_[si];
    std::vector<Cursor> cursors = MakeCursors(si);  // from the start: to skip their rows
    std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
    for (uint32_t row = 0; row < src.rows && heap_.MayEnter(extra); ++row) {
      if (!src.required.empty()) {
        row = Leap(src, row);
        if (row == kEnd) return;
      }
      bool holds_term = false;
      for (Cursor& c : cursors) {
        c.postings.Advance(row);
        holds_term = holds_term || c.postings.doc() == row;
      }
      if (holds_term || (src.eligible && !src.eligible(row))) continue;
      if (stats_) ++stats_->candidates;
      const double score = Evaluate(0, &src, row);
      if (stats_) ++stats_->scored;
      if (score > 0 && std::isfinite(score) && heap_.MayEnter(score)) heap_.Push(score, si, row);
    }
  }

  const TextPlan& plan_;
  std::vector<TextSource>& sources_;
  HitHeap heap_;
  TextSearchStats* stats_;
  std::vector<AttrStats> attr_stats_;
  std::vector<TextPlan::Leaf> leaves_;         // the plan's, prefixes expanded
  std::vector<std::vector<double>> idf_;       // per leaf, per term
  std::vector<size_t> leaf_base_;              // per leaf: its first term's index
  size_t term_count_ = 0;                      // terms of all leaves
  std::vector<const index::TermInfo*> terms_;  // per source, per term: null when absent

  // The plan's, or bounded from the data by BoundAttributeClauses.
  double attribute_bound_ = plan_.attribute_bound_;
  bool exhaustive_ = plan_.exhaustive_;
  std::vector<double> leaf_scores_;
  std::vector<std::pair<double, int64_t>> block_order_;  // SearchBlocksByBound's scratch
  // ScoreWindowInChunks' scratch: per chunk row, per cursor, the essential lists' scores;
  // the chunk's rows; per cursor, whether it was essential for the chunk; and the other
  // lists' scores (and presence) at the row being probed.
  std::vector<double> chunk_scores_;
  std::vector<uint32_t> chunk_rows_;
  std::vector<char> chunk_essential_;
  std::vector<double> raw_;
  std::vector<char> at_;
};

std::vector<TextHit> SearchText(const TextPlan& plan, std::vector<TextSource>& sources, uint32_t k,
                                TextSearchStats* stats) {
  return TextSearcher(plan, sources, k, stats).Run();
}

}  // namespace gannet::query
