#include "query/text_search.h"

#include <algorithm>
#include <cmath>
#include <map>
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
    exhaustive_ = true;
    nodes_[at].filter = &expr.filter.at(0);
    return at;
  }
  if (expr.op == TextRank::Op::kAttribute) {
    exhaustive_ = true;
    const AttributeSchema* a = schema.Find(expr.attr);
    if (a != nullptr && (a->type.kind != AttrType::Kind::kScalar ||
                         a->type.scalar == ScalarType::kString ||
                         a->type.scalar == ScalarType::kUuid ||
                         a->type.scalar == ScalarType::kBool)) {
      *st = Status::InvalidArgument("rank_by: Attribute '" + expr.attr + "' has type " +
                                    a->type.ToString() + "; expected int, uint, float or datetime");
      return at;
    }
    nodes_[at].attr = expr.attr;
    return at;
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

Result<TextPlan> TextPlan::Make(const TextRank& expr, const Schema& schema) {
  TextPlan plan;
  Status st;
  plan.AddNode(expr, 1.0, schema, &st);
  if (!st.ok()) return st;
  return plan;
}

namespace {

// Score of one posting: weight · tf / (tf + norm_factor[norm]).
struct Cursor {
  index::PostingCursor postings;
  size_t leaf = 0;
  double weight = 0;        // idf · (k1 + 1) · repetitions
  double path_weight = 1;   // Product weights above the leaf
  const double* norm_factor = nullptr;  // per norm code: k1 · (1 − b + b · dl / avgdl)
  const index::TextFieldIndex* field = nullptr;
  double ub = 0;            // bound of path_weight · score over the whole list

  double Score(uint32_t tf, uint8_t norm) const {
    return weight * tf / (tf + norm_factor[norm]);
  }
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
  bool bb_valid = false;
  uint32_t bb_last = 0;
  double bb_value = 0;
};

// Keeps the best k hits: worst on top.
class HitHeap {
 public:
  explicit HitHeap(uint32_t k) : k_(k) {}
  static bool Better(const TextHit& a, const TextHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  }
  bool full() const { return heap_.size() >= k_; }
  double threshold() const { return heap_.top().score; }
  // Whether a row whose score is at most `bound` could enter (ties included, with slack
  // for floating-point rounding between the bound and the exact score).
  bool MayEnter(double bound) const {
    return !full() || bound >= heap_.top().score * (1 - 1e-9) - 1e-12;
  }
  void Push(TextHit h) {
    if (k_ == 0) return;
    if (!full()) {
      heap_.push(std::move(h));
    } else if (Better(h, heap_.top())) {
      heap_.pop();
      heap_.push(std::move(h));
    }
  }
  std::vector<TextHit> TakeSorted() {
    std::vector<TextHit> out;
    while (!heap_.empty()) {
      out.push_back(heap_.top());
      heap_.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  struct Worse {
    bool operator()(const TextHit& a, const TextHit& b) const { return Better(a, b); }
  };
  uint32_t k_;
  std::priority_queue<TextHit, std::vector<TextHit>, Worse> heap_;
};

}  // namespace

class TextSearcher {
 public:
  TextSearcher(const TextPlan& plan, std::vector<TextSource>& sources, uint32_t k,
               TextSearchStats* stats)
      : plan_(plan), sources_(sources), heap_(k), stats_(stats), leaves_(plan.leaves_) {}

  std::vector<TextHit> Run() {
    ExpandPrefixes();
    ComputeStatistics();
    leaf_scores_.assign(leaves_.size(), 0.0);
    for (size_t s = 0; s < sources_.size(); ++s) {
      if (plan_.exhaustive_) {
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
                             [&](std::string_view t, const index::TermInfo&) {
                               found.emplace(t);
                             });
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
        const double dl = index::DecodeFieldNorm(static_cast<uint8_t>(code));
        st.norm_factor[code] = o.k1 * (1 - o.b + o.b * dl / st.avgdl);
      }
    }
    // Namespace-wide document frequency of every leaf term.
    idf_.resize(leaves_.size());
    for (size_t l = 0; l < leaves_.size(); ++l) {
      const TextPlan::Leaf& leaf = leaves_[l];
      for (const auto& [term, reps] : leaf.terms) {
        uint64_t df = 0;
        for (const TextSource& src : sources_) {
          const index::TextFieldIndex* f = src.fields[leaf.attr].get();
          if (f == nullptr) continue;
          if (const index::TermInfo* t = f->Find(term)) df += t->df;
        }
        const double n = static_cast<double>(attr_stats_[leaf.attr].docs);
        const double d = static_cast<double>(df);
        idf_[l].push_back(std::log(1 + (n - d + 0.5) / (d + 0.5)));
      }
    }
  }

  // Exact score of the expression for `row` of `src`, the leaves' BM25 scores being in
  // leaf_scores_.
  double Evaluate(size_t node, const TextSource* src = nullptr, uint32_t row = 0) const {
    const TextPlan::Node& n = plan_.nodes_[node];
    switch (n.op) {
      case TextRank::Op::kBM25:
        return leaf_scores_[n.leaf];
      case TextRank::Op::kSum: {
        double s = 0;
        for (size_t c : n.children) s += Evaluate(c, src, row);
        return s;
      }
      case TextRank::Op::kMax: {
        double m = 0;
        for (size_t c : n.children) m = std::max(m, Evaluate(c, src, row));
        return m;
      }
      case TextRank::Op::kProduct:
        return n.weight * Evaluate(n.children[0], src, row);
      case TextRank::Op::kFilter:
        return src != nullptr && src->match && src->match(row, *n.filter) ? 1.0 : 0.0;
      case TextRank::Op::kAttribute: {
        const Value* v = src != nullptr && src->value ? src->value(row, n.attr) : nullptr;
        if (v == nullptr) return 0;
        switch (v->kind()) {
          case Value::Kind::kInt: return static_cast<double>(v->as_int());
          case Value::Kind::kUint: return static_cast<double>(v->as_uint());
          case Value::Kind::kFloat: return v->as_float();
          case Value::Kind::kDatetime: return static_cast<double>(v->as_datetime().ms);
          default: return 0;
        }
      }
    }
    return 0;
  }

  // Filter or attribute clauses: every eligible row is scored (cursors advanced along).
  void SearchEveryRow(size_t si) {
    TextSource& src = sources_[si];
    if (src.none_eligible) return;
    std::vector<Cursor> cursors = MakeCursors(src);
    for (uint32_t row = 0; row < src.rows; ++row) {
      if (src.eligible && !src.eligible(row)) continue;
      if (stats_) ++stats_->candidates;
      std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
      for (Cursor& c : cursors) {
        c.postings.Advance(row);
        if (c.postings.doc() == row) {
          leaf_scores_[c.leaf] += c.Score(c.postings.tf(), c.field->norm(row));
        }
      }
      const double score = Evaluate(0, &src, row);
      if (stats_) ++stats_->scored;
      if (score > 0 && std::isfinite(score) && heap_.MayEnter(score)) {
        heap_.Push(TextHit{score, si, row, src.id(row)});
      }
    }
  }

  // The first row >= d present in every required list (kEnd when none).
  static uint32_t Leap(std::vector<index::PostingCursor>& required, uint32_t d) {
    uint32_t target = d;
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
    return target;
  }

  // One cursor per (leaf, term) present in the source.
  std::vector<Cursor> MakeCursors(const TextSource& src) const {
    std::vector<Cursor> cursors;
    for (size_t l = 0; l < leaves_.size(); ++l) {
      const TextPlan::Leaf& leaf = leaves_[l];
      const index::TextFieldIndex* f = src.fields[leaf.attr].get();
      if (f == nullptr) continue;
      const text::FtsOptions& o = plan_.attrs_[leaf.attr].analyzer->options();
      for (size_t t = 0; t < leaf.terms.size(); ++t) {
        const index::TermInfo* info = f->Find(leaf.terms[t].first);
        if (info == nullptr) continue;
        Cursor c{index::PostingCursor(*f, *info)};
        c.leaf = l;
        c.weight = idf_[l][t] * (o.k1 + 1) * leaf.terms[t].second;
        c.path_weight = leaf.path_weight;
        c.norm_factor = attr_stats_[leaf.attr].norm_factor;
        c.field = f;
        c.ub = c.path_weight * c.Score(info->max_tf, info->min_norm);
        cursors.push_back(std::move(c));
      }
    }
    return cursors;
  }

  void SearchSource(size_t si) {
    TextSource& src = sources_[si];
    if (src.none_eligible) return;
    std::vector<Cursor> cursors = MakeCursors(src);
    if (cursors.empty()) return;
    std::sort(cursors.begin(), cursors.end(),
              [](const Cursor& a, const Cursor& b) { return a.ub < b.ub; });
    const size_t n = cursors.size();
    if (n == 1) return SearchOneCursor(src, si, cursors[0]);
    std::vector<double> prefix(n + 1, 0.0);  // prefix[i] = sum of ub of cursors [0, i)
    for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + cursors[i].ub;
    // Cursors [0, essential) cannot reach the threshold on their own.
    auto essential_from = [&]() {
      size_t e = 0;
      while (e < n && !heap_.MayEnter(prefix[e + 1])) ++e;
      return e;
    };
    size_t essential = essential_from();
    std::vector<double> contrib(n, 0.0);
    while (essential < n) {
      uint32_t d = index::PostingCursor::kEnd;
      for (size_t i = essential; i < n; ++i) d = std::min(d, cursors[i].postings.doc());
      if (d == index::PostingCursor::kEnd) break;
      if (!src.required.empty()) {
        const uint32_t t = Leap(src.required, d);
        if (t == index::PostingCursor::kEnd) break;
        if (t != d) {
          for (size_t i = essential; i < n; ++i) cursors[i].postings.Advance(t);
          continue;
        }
      }
      if (heap_.full()) {
        // Block-max skip: when even the essential cursors' block bounds (plus every
        // non-essential list's bound) cannot reach the threshold, no row up to the
        // nearest block end can; jump past it without decoding those rows.
        double block_bound = prefix[essential];
        uint32_t until = index::PostingCursor::kEnd;
        for (size_t i = essential; i < n; ++i) {
          double b = 0;
          uint32_t last = 0;
          if (!cursors[i].BoundFrom(d, &b, &last)) continue;
          block_bound += b;
          until = std::min(until, last);
        }
        if (!heap_.MayEnter(block_bound)) {
          if (until == index::PostingCursor::kEnd) break;
          for (size_t i = essential; i < n; ++i) cursors[i].postings.Advance(until + 1);
          continue;
        }
      }
      if (stats_) ++stats_->candidates;
      // Exact contributions of the essential cursors on d.
      double bound = 0;
      for (size_t i = essential; i < n; ++i) {
        Cursor& c = cursors[i];
        contrib[i] = c.postings.doc() == d
                         ? c.path_weight * c.Score(c.postings.tf(), c.field->norm(d))
                         : 0.0;
        bound += contrib[i];
      }
      bool keep = heap_.MayEnter(bound + prefix[essential]);
      // Tighten with the non-essential cursors' block bounds, largest first.
      for (size_t i = essential; keep && i-- > 0;) {
        double b = 0;
        uint32_t last = 0;
        if (cursors[i].BoundFrom(d, &b, &last)) bound += b;
        keep = heap_.MayEnter(bound + prefix[i]);
      }
      if (keep && src.eligible && !src.eligible(d)) keep = false;
      if (keep) {
        std::fill(leaf_scores_.begin(), leaf_scores_.end(), 0.0);
        for (size_t i = 0; i < n; ++i) {
          Cursor& c = cursors[i];
          if (i < essential) c.postings.Advance(d);
          if (c.postings.doc() == d) {
            leaf_scores_[c.leaf] += c.Score(c.postings.tf(), c.field->norm(d));
          }
        }
        const double score = Evaluate(0);
        if (stats_) ++stats_->scored;
        if (score > 0) {
          heap_.Push(TextHit{score, si, d, src.id(d)});
          essential = essential_from();
        }
      }
      for (size_t i = essential; i < n; ++i) {
        if (cursors[i].postings.doc() == d) cursors[i].postings.Next();
      }
    }
  }

  // One posting list (a one-token query, or one token present in this source): its
  // score is path_weight × the leaf's, so blocks are skipped on their bound alone and
  // each remaining posting is scored in place.
  void SearchOneCursor(TextSource& src, size_t si, Cursor& c) {
    uint32_t block_end = 0;  // rows up to here passed the block check
    bool block_checked = false;
    while (c.postings.doc() != index::PostingCursor::kEnd) {
      const uint32_t d = c.postings.doc();
      if (!src.required.empty()) {
        const uint32_t t = Leap(src.required, d);
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
        if (!heap_.MayEnter(c.Bound(b))) {
          c.postings.Advance(b.last_row + 1);
          continue;
        }
      }
      if (stats_) ++stats_->candidates;
      const double score = c.path_weight * c.Score(c.postings.tf(), c.field->norm(d));
      if (score > 0 && heap_.MayEnter(score) && (!src.eligible || src.eligible(d))) {
        if (stats_) ++stats_->scored;
        heap_.Push(TextHit{score, si, d, src.id(d)});
        block_checked = false;  // the threshold moved
      }
      c.postings.Next();
    }
  }

  const TextPlan& plan_;
  std::vector<TextSource>& sources_;
  HitHeap heap_;
  TextSearchStats* stats_;
  std::vector<AttrStats> attr_stats_;
  std::vector<TextPlan::Leaf> leaves_;     // the plan's, prefixes expanded
  std::vector<std::vector<double>> idf_;  // per leaf, per term
  std::vector<double> leaf_scores_;
};

std::vector<TextHit> SearchText(const TextPlan& plan, std::vector<TextSource>& sources,
                                uint32_t k, TextSearchStats* stats) {
  return TextSearcher(plan, sources, k, stats).Run();
}

}  // namespace gannet::query
