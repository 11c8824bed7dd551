#include "query/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <queue>

#include "common/task_pool.h"
#include "query/distance.h"
#include "query/full_text_match.h"
#include "query/text_search.h"

namespace gannet::query {

const Value* SegmentRowAccessor::Get(std::string_view attr) const {
  const format::Segment::Column* col = segment_.column(attr);
  if (col == nullptr) return nullptr;
  const Value& v = col->values[row_];
  return v.is_null() ? nullptr : &v;
}

std::vector<float> VectorNorms(const format::Segment& segment) {
  std::vector<float> norms(segment.rows(), 0.0f);
  if (segment.dims() == 0) return norms;
  for (size_t row = 0; row < segment.rows(); ++row) {
    norms[row] = std::sqrt(SquaredNorm(segment.vector(row), segment.dims()));
  }
  return norms;
}

namespace {

constexpr uint32_t kMaxTopK = 10000;

Status CheckAttributeName(std::string_view field, std::string_view name, const Schema& schema) {
  if (name == kIdAttr || name == kVectorAttr || schema.Find(name) != nullptr) return Status::OK();
  return Status::InvalidArgument(std::string(field) + ": unknown attribute '" + std::string(name) +
                                 "'");
}

// A ranked candidate. Smaller `key` ranks first for vector ranking; for attribute
// ordering `value` decides; ties break on id so results are deterministic.
struct Candidate {
  double key = 0;
  Value value;
  Id id;
  const format::Segment* segment = nullptr;  // source row: segment+row, or doc
  size_t row = 0;
  std::shared_ptr<const Document> doc;
};

class Ranker {
 public:
  Ranker(const RankBy& rank_by) : rank_by_(rank_by) {}
  // true when a ranks strictly before b.
  bool Before(const Candidate& a, const Candidate& b) const {
    switch (rank_by_.kind) {
      case RankBy::Kind::kVector:
        if (a.key != b.key) return a.key < b.key;
        break;
      case RankBy::Kind::kAttribute: {
        if (rank_by_.attr == kIdAttr) return rank_by_.descending ? b.id < a.id : a.id < b.id;
        // Rows lacking the attribute (null) go last in both directions.
        const bool an = a.value.is_null(), bn = b.value.is_null();
        if (an != bn) return bn;
        const int c = a.value.Compare(b.value);
        if (c != 0) return rank_by_.descending ? c > 0 : c < 0;
        break;
      }
      case RankBy::Kind::kText:  // scores: higher first
        if (a.key != b.key) return a.key > b.key;
        break;
      case RankBy::Kind::kNone:
        break;
    }
    return a.id < b.id;
  }

 private:
  const RankBy& rank_by_;
};

// Keeps the best k candidates: a max-heap on "rank" (the worst on top).
class TopK {
 public:
  TopK(size_t k, const Ranker& ranker) : k_(k), cmp_{&ranker}, heap_(Cmp{&ranker}) {}
  // Whether a candidate with these fields could enter (cheap pre-check for vectors).
  bool WouldAccept(double key) const { return heap_.size() < k_ || key <= heap_.top().key; }
  void Push(Candidate c) {
    if (k_ == 0) return;
    if (heap_.size() < k_) {
      heap_.push(std::move(c));
    } else if (cmp_.ranker->Before(c, heap_.top())) {
      heap_.pop();
      heap_.push(std::move(c));
    }
  }
  std::vector<Candidate> TakeSorted() {
    std::vector<Candidate> out;
    out.reserve(heap_.size());
    while (!heap_.empty()) {
      out.push_back(std::move(const_cast<Candidate&>(heap_.top())));
      heap_.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  struct Cmp {
    const Ranker* ranker;
    bool operator()(const Candidate& a, const Candidate& b) const { return ranker->Before(a, b); }
  };
  size_t k_;
  Cmp cmp_;
  std::priority_queue<Candidate, std::vector<Candidate>, Cmp> heap_;
};

bool WantAttribute(const QueryRequest& req, std::string_view name) {
  if (std::find(req.exclude_attributes.begin(), req.exclude_attributes.end(), name) !=
      req.exclude_attributes.end()) {
    return false;
  }
  if (req.include_attributes.all) return true;
  return std::find(req.include_attributes.names.begin(), req.include_attributes.names.end(),
                   name) != req.include_attributes.names.end();
}

Result<ResultRow> Materialize(const QueryRequest& req, Candidate& c) {
  ResultRow row;
  row.id = c.id;
  if (req.rank_by.kind == RankBy::Kind::kVector || req.rank_by.kind == RankBy::Kind::kText) {
    row.dist = c.key;
  }
  const bool any = req.include_attributes.all || !req.include_attributes.names.empty();
  if (!any) return row;
  if (c.doc != nullptr) {
    for (const auto& [name, value] : c.doc->attrs) {
      if (WantAttribute(req, name)) row.attrs.emplace_back(name, value);
    }
  } else {
    GANNET_ASSIGN_OR_RETURN(Document d,
                            c.segment->GetDocument(c.row, WantAttribute(req, kVectorAttr)));
    for (auto& [name, value] : d.attrs) {
      if (WantAttribute(req, name)) row.attrs.emplace_back(name, std::move(value));
    }
  }
  return row;
}

// The rows of `cands`, materialized in order into resp->rows. Wanted vectors of rows in
// segments that do not keep them in memory are read in one batch per segment
// (Segment::GetDocuments), not one ranged read per row.
Status MaterializeAll(const QueryRequest& req, std::vector<Candidate>& cands, QueryResponse* resp) {
  if (WantAttribute(req, kVectorAttr)) {
    std::map<const format::Segment*, std::vector<size_t>> ranged;  // candidates by segment
    for (size_t i = 0; i < cands.size(); ++i) {
      const Candidate& c = cands[i];
      if (c.doc == nullptr && c.segment != nullptr && !c.segment->vectors_resident()) {
        ranged[c.segment].push_back(i);
      }
    }
    for (auto& [segment, at] : ranged) {
      if (at.size() < 2) continue;  // one row: GetDocument reads as much
      std::sort(at.begin(), at.end(),
                [&](size_t a, size_t b) { return cands[a].row < cands[b].row; });
      std::vector<uint32_t> rows;
      for (size_t i : at) rows.push_back(static_cast<uint32_t>(cands[i].row));
      std::vector<Document> docs;
      GANNET_RETURN_IF_ERROR(segment->GetDocuments(rows, &docs));
      for (size_t j = 0; j < at.size(); ++j) {
        cands[at[j]].doc = std::make_shared<const Document>(std::move(docs[j]));
      }
    }
  }
  resp->rows.reserve(resp->rows.size() + cands.size());
  for (Candidate& c : cands) {
    GANNET_ASSIGN_OR_RETURN(ResultRow row, Materialize(req, c));
    resp->rows.push_back(std::move(row));
  }
  return Status::OK();
}

// Group key for aggregations: the group_by values in order (null when absent).
struct GroupKeyLess {
  bool operator()(const std::vector<Value>& a, const std::vector<Value>& b) const {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      const int c = a[i].Compare(b[i]);
      if (c != 0) return c < 0;
    }
    return a.size() < b.size();
  }
};

Result<QueryResponse> ExecuteAggregate(const QueryRequest& req, const ExecInput& in) {
  QueryResponse resp;
  std::map<std::vector<Value>, uint64_t, GroupKeyLess> groups;
  uint64_t total = 0;
  const uint64_t visited = ForEachLiveRow(in, [&](const RowAccessor& row) {
    if (req.filters && !MatchFilter(*req.filters, row)) return true;
    ++total;
    if (!req.group_by.empty()) {
      std::vector<Value> key;
      key.reserve(req.group_by.size());
      for (const std::string& g : req.group_by) {
        if (g == kIdAttr) {
          key.push_back(Value::String(row.id().ToString()));
          continue;
        }
        const Value* v = row.Get(g);
        key.push_back(v != nullptr ? *v : Value());
      }
      ++groups[std::move(key)];
    }
    return true;
  });
  resp.stats.rows_scanned = visited;
  resp.stats.exhaustive_search_count = visited;
  if (req.group_by.empty()) {
    for (const auto& [label, fn] : req.aggregate_by) {
      (void)fn;  // only Count exists; checked by BindQuery
      resp.aggregations[label] = Value::Uint(total);
    }
    return resp;
  }
  // Groups ordered by count descending, then by key; at most top_k of them.
  std::vector<std::pair<std::vector<Value>, uint64_t>> sorted(groups.begin(), groups.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (sorted.size() > req.top_k) sorted.resize(req.top_k);
  for (auto& [key, count] : sorted) {
    std::vector<std::pair<std::string, Value>> group;
    for (size_t i = 0; i < req.group_by.size(); ++i) group.emplace_back(req.group_by[i], key[i]);
    for (const auto& [label, fn] : req.aggregate_by) {
      (void)fn;
      group.emplace_back(label, Value::Uint(count));
    }
    resp.aggregation_groups.push_back(std::move(group));
  }
  return resp;
}

// The rows of a segment searched through its vector index that a query may return (live,
// not shadowed by the tail, matching the filters), as the index's row filter: none when
// every row may be returned. Adds the rows the filters were evaluated on to *examined.
std::optional<index::RowFilter> EligibleRows(const QueryRequest& req, const SegmentInput& s,
                                             const TailMap* tail, uint64_t* examined) {
  const format::Segment& seg = *s.segment;
  const size_t rows = seg.rows();
  const bool has_deletes = s.deleted != nullptr && !s.deleted->empty();
  const bool shadowing = tail != nullptr && !tail->empty();
  std::optional<index::RowFilter> allowed;
  if (req.filters) {
    allowed.emplace(rows);
    SegmentRowAccessor acc(seg, s.full_text);
    for (size_t row = 0; row < rows; ++row) {
      if (has_deletes && (*s.deleted)[row]) continue;
      if (shadowing && tail->count(seg.id(row)) != 0) continue;
      ++*examined;
      acc.set_row(row);
      if (MatchFilter(*req.filters, acc)) allowed->Allow(row);
    }
  } else if (has_deletes || shadowing) {
    allowed.emplace(rows, /*allow_all=*/true);
    if (has_deletes) {
      for (size_t row = 0; row < rows; ++row) {
        if ((*s.deleted)[row]) allowed->Deny(row);
      }
    }
    if (shadowing && tail->size() < rows / 16) {
      for (const auto& entry : *tail) {
        if (std::optional<size_t> row = seg.Find(entry.first)) allowed->Deny(*row);
      }
    } else if (shadowing) {
      for (size_t row = 0; row < rows; ++row) {
        if (tail->count(seg.id(row)) != 0) allowed->Deny(row);
      }
    }
  }
  return allowed;
}

// rank_by ANN over one segment through its vector index, on the rows `allowed`
// (EligibleRows; null: all): the index's neighbours enter `top` with the same distance the
// exhaustive path computes. `depth`: how deep in its own top k the segment needs the
// recall target (IvfSearchParams::depth; 0: k). Returns the index entries and rows it
// examined; adds those scanned exhaustively (the index's small-filter fallback) to
// *exhaustive. Fails only when vectors that are not resident cannot be read.
Result<uint64_t> SearchIndexedSegment(const QueryRequest& req, const SegmentInput& s,
                                      const index::RowFilter* allowed, DistanceMetric metric,
                                      const float* q, float qnorm, double depth, TopK& top,
                                      uint64_t* exhaustive) {
  const format::Segment& seg = *s.segment;
  const size_t dims = seg.dims();
  index::IvfSearchParams params;
  params.k = req.top_k;
  params.recall_target = req.ann_recall.value_or(index::kDefaultRecallTarget);
  params.filter = allowed;
  params.depth = depth;
  index::IvfSearchStats st;
  Status fetch_error, list_error;  // a vector read; an index's posting list read (cold)
  params.error = &list_error;
  index::VectorRows data = index::VectorRows::Of(seg, &fetch_error);
  // Vectors not resident: the last batch the index read is kept, so that the winners'
  // distances below need no second read.
  std::vector<uint32_t> last_rows;
  std::vector<float> last_vectors;
  if (!data.resident()) {
    data.fetch = [&last_rows, &last_vectors, dims, read = std::move(data.fetch)](
                     const uint32_t* rows, size_t n, float* out) {
      if (!read(rows, n, out)) return false;
      last_rows.assign(rows, rows + n);
      last_vectors.assign(out, out + n * dims);
      return true;
    };
  }
  std::vector<index::Neighbor> found = s.ann->Search(q, data, params, &st);
  GANNET_RETURN_IF_ERROR(fetch_error);
  GANNET_RETURN_IF_ERROR(list_error);
  std::vector<const float*> vectors(found.size(), nullptr);
  if (!seg.vectors_resident()) {
    // Winners the last batch did not hold (an exact search reads in several): one read.
    std::vector<uint32_t> missing;
    for (size_t i = 0; i < found.size(); ++i) {
      auto it = std::lower_bound(last_rows.begin(), last_rows.end(), found[i].row);
      if (it != last_rows.end() && *it == found[i].row) {
        vectors[i] = last_vectors.data() + static_cast<size_t>(it - last_rows.begin()) * dims;
      } else {
        missing.push_back(found[i].row);
      }
    }
    std::sort(missing.begin(), missing.end());
    std::vector<float> more(missing.size() * dims);
    GANNET_RETURN_IF_ERROR(seg.ReadVectors(missing.data(), missing.size(), more.data()));
    for (size_t i = 0; i < found.size(); ++i) {
      if (vectors[i] != nullptr) continue;
      auto it = std::lower_bound(missing.begin(), missing.end(), found[i].row);
      vectors[i] = more.data() + static_cast<size_t>(it - missing.begin()) * dims;
    }
  }
  for (size_t i = 0; i < found.size(); ++i) {
    const index::Neighbor& nb = found[i];
    const float* x = vectors[i] != nullptr ? vectors[i] : seg.vector(nb.row);
    const float xnorm = metric == DistanceMetric::kEuclideanSquared ? 0.0f
                        : s.norms != nullptr                        ? (*s.norms)[nb.row]
                                             : std::sqrt(SquaredNorm(x, dims));
    Candidate c;
    c.key = Distance(metric, q, qnorm, x, xnorm, dims);
    c.id = seg.id(nb.row);
    c.segment = &seg;
    c.row = nb.row;
    top.Push(std::move(c));
  }
  *exhaustive += st.exact_rows;
  return st.codes_scanned + st.exact_rows;
}

void CollectFullTextLeaves(const Filter& f, std::vector<const Filter*>* out) {
  if (f.is_logical()) {
    for (const Filter& c : f.children) CollectFullTextLeaves(c, out);
  } else if (f.full_text != nullptr) {
    out->push_back(&f);
  }
}

// The index of `attr` over rows [0, rows) whose values `value(row)` gives, for one query.
std::shared_ptr<const index::TextFieldIndex> BuildFieldNow(
    const TextPlan::Attr& attr, uint32_t rows, const std::function<const Value*(uint32_t)>& value) {
  return index::BuildTextFields(rows, {{attr.name, attr.analyzer}},
                                [&](uint32_t row, const std::string&) { return value(row); })[0];
}

// Full-text filter leaves whose every token a returned row must hold: the filter itself,
// or a direct conjunct of a top-level And (ContainsAllTokens or a phrase, exact tokens).
std::vector<const Filter*> RequiredTokenLeaves(const std::optional<Filter>& filters) {
  std::vector<const Filter*> out;
  if (!filters) return out;
  auto requires_all = [](const Filter& f) {
    return f.full_text != nullptr && !f.last_as_prefix &&
           (f.op == Filter::Op::kContainsAllTokens || f.op == Filter::Op::kContainsTokenSequence);
  };
  if (requires_all(*filters)) out.push_back(&*filters);
  if (filters->op == Filter::Op::kAnd) {
    for (const Filter& c : filters->children) {
      if (requires_all(c)) out.push_back(&c);
    }
  }
  return out;
}

// Whether `filters` is nothing but required leaves (RequiredTokenLeaves finds them all):
// then a row the leaps land on (phrases checked) matches it.
bool OnlyRequiredLeaves(const std::optional<Filter>& filters,
                        const std::vector<const Filter*>& required) {
  if (!filters || required.empty()) return false;
  return filters->op != Filter::Op::kAnd || required.size() == filters->children.size();
}

// Gives `src` the posting lists of the required leaves' tokens, so BM25 candidates leap to
// rows holding all of them (rows without would fail the filter anyway), and the phrases
// to check where they land. false when it added none (no text indexes here).
bool AddRequiredLists(TextSource& src, const std::vector<const Filter*>& leaves,
                      const TextFieldSource& text) {
  if (!text) return false;
  struct List {
    const index::TextFieldIndex* field;
    const index::TermInfo* info;
    size_t phrase;  // index in phrases (SIZE_MAX: not a phrase's), and query position
    uint32_t position;
  };
  std::vector<List> lists;
  size_t phrases = 0;
  for (const Filter* leaf : leaves) {
    std::shared_ptr<const index::TextFieldIndex> field =
        text(leaf->attr, leaf->full_text->analyzer);
    if (field == nullptr || leaf->full_text->tokens.empty()) {
      src.none_eligible = true;
      return true;
    }
    src.required_fields.push_back(field);  // keeps the lists alive
    const bool phrase = leaf->op == Filter::Op::kContainsTokenSequence;
    const std::vector<std::string>& tokens = leaf->full_text->tokens;
    for (uint32_t i = 0; i < tokens.size(); ++i) {
      const index::TermInfo* info = field->Find(tokens[i]);
      if (info == nullptr) {
        src.none_eligible = true;
        return true;
      }
      lists.push_back({field.get(), info, phrase ? phrases : SIZE_MAX, i});
    }
    phrases += phrase ? 1 : 0;
  }
  // Rarest first: leaps then take the longest strides before the long lists move.
  std::stable_sort(lists.begin(), lists.end(),
                   [](const List& a, const List& b) { return a.info->df < b.info->df; });
  src.phrases.resize(phrases);
  for (const List& l : lists) {
    if (l.phrase != SIZE_MAX) {
      std::vector<uint32_t>& slots = src.phrases[l.phrase];
      if (slots.size() <= l.position) slots.resize(l.position + 1);
      slots[l.position] = static_cast<uint32_t>(src.required.size());
    }
    src.required.emplace_back(*l.field, *l.info);
  }
  return true;
}

// rank_by BM25 (and Sum/Max/Product of it): every segment and tail entry is a source.
Result<QueryResponse> ExecuteText(const QueryRequest& req, const ExecInput& in) {
  // The plan BindQuery made (the one request's analysis), or one made now.
  std::optional<TextPlan> made;
  if (req.rank_by.text_binding == nullptr) {
    GANNET_ASSIGN_OR_RETURN(made, TextPlan::Make(req.rank_by.text[0], *in.schema));
  }
  const TextPlan& plan = made ? *made : req.rank_by.text_binding->plan;
  const std::vector<TextPlan::Attr>& attrs = plan.attrs();
  const TailMap* tail = in.tail != nullptr && !in.tail->empty() ? in.tail : nullptr;
  const std::vector<const Filter*> required = RequiredTokenLeaves(req.filters);
  // Where the leaps of SearchText answer the whole filter, a candidate skips it.
  const bool leaps_filter = !plan.exhaustive() && OnlyRequiredLeaves(req.filters, required);
  std::vector<TextSource> sources;
  // Where each source's rows live: a segment, or a list of tail changes.
  struct Origin {
    const format::Segment* segment = nullptr;
    const std::vector<std::pair<Id, std::shared_ptr<const Document>>>* changes = nullptr;
  };
  std::vector<Origin> origins;

  for (const SegmentInput& s : in.segments) {
    const format::Segment& seg = *s.segment;
    const uint32_t rows = static_cast<uint32_t>(seg.rows());
    TextSource src;
    for (const TextPlan::Attr& a : attrs) {
      if (s.text) {
        src.fields.push_back(s.text(a.name, a.analyzer));
        continue;
      }
      const format::Segment::Column* col = seg.column(a.name);
      src.fields.push_back(col == nullptr ? nullptr : BuildFieldNow(a, rows, [col](uint32_t row) {
        const Value& v = col->values[row];
        return v.is_null() ? nullptr : &v;
      }));
    }
    const bool has_deletes = s.deleted != nullptr && !s.deleted->empty();
    const bool filtered = AddRequiredLists(src, required, s.text) && leaps_filter;
    src.eligible = [&s, &seg, &req, tail, has_deletes, filtered](uint32_t row) {
      if (has_deletes && (*s.deleted)[row]) return false;
      if (tail != nullptr && tail->count(seg.id(row)) != 0) return false;
      if (!req.filters || filtered) return true;
      SegmentRowAccessor acc(seg, s.full_text);
      acc.set_row(row);
      return MatchFilter(*req.filters, acc);
    };
    src.id = [&seg](uint32_t row) { return seg.id(row); };
    src.ids_ascend = true;  // a segment's rows are sorted by id
    src.rows = rows;
    src.value = [&seg](uint32_t row, const std::string& attr) -> const Value* {
      const format::Segment::Column* col = seg.column(attr);
      if (col == nullptr || col->values[row].is_null()) return nullptr;
      return &col->values[row];
    };
    src.match = [&seg, &s](uint32_t row, const Filter& f) {
      SegmentRowAccessor acc(seg, s.full_text);
      acc.set_row(row);
      return MatchFilter(f, acc);
    };
    src.range = [&seg](const std::string& attr, double* lo, double* hi) {
      const format::Segment::Column* col = seg.column(attr);
      if (col == nullptr || col->lo > col->hi) return false;
      *lo = col->lo;
      *hi = col->hi;
      return true;
    };
    sources.push_back(std::move(src));
    origins.push_back({&seg, nullptr});
  }

  // The tail: one source per WAL entry (or one for the whole map).
  std::vector<std::pair<Id, std::shared_ptr<const Document>>> flat;
  std::vector<TailEntryInput> entries = in.tail_entries;
  if (entries.empty() && tail != nullptr) {
    flat.assign(tail->begin(), tail->end());
    entries.push_back({&flat, nullptr});
  }
  for (const TailEntryInput& e : entries) {
    if (tail == nullptr) break;
    const auto& changes = *e.changes;
    TextSource src;
    for (const TextPlan::Attr& a : attrs) {
      if (e.text) {
        src.fields.push_back(e.text(a.name, a.analyzer));
        continue;
      }
      src.fields.push_back(BuildFieldNow(a, static_cast<uint32_t>(changes.size()),
                                         [&changes, &a](uint32_t row) -> const Value* {
                                           const auto& doc = changes[row].second;
                                           return doc == nullptr ? nullptr : doc->Find(a.name);
                                         }));
    }
    const bool filtered = AddRequiredLists(src, required, e.text) && leaps_filter;
    src.eligible = [&changes, &req, tail, filtered](uint32_t row) {
      const auto& [id, doc] = changes[row];
      if (doc == nullptr) return false;
      auto it = tail->find(id);
      if (it == tail->end() || it->second.get() != doc.get()) return false;  // replaced
      return !req.filters || filtered || MatchFilter(*req.filters, DocumentAccessor(*doc));
    };
    src.id = [&changes](uint32_t row) { return changes[row].first; };
    src.rows = static_cast<uint32_t>(changes.size());
    src.value = [&changes](uint32_t row, const std::string& attr) -> const Value* {
      const auto& doc = changes[row].second;
      return doc == nullptr ? nullptr : doc->Find(attr);
    };
    src.match = [&changes](uint32_t row, const Filter& f) {
      const auto& doc = changes[row].second;
      return doc != nullptr && MatchFilter(f, DocumentAccessor(*doc));
    };
    src.range = [&changes](const std::string& attr, double* lo, double* hi) {
      bool any = false;
      for (const auto& [id, doc] : changes) {
        const Value* v = doc == nullptr ? nullptr : doc->Find(attr);
        const std::optional<double> x = v == nullptr ? std::nullopt : v->AsNumber();
        if (!x) continue;
        *lo = any ? std::min(*lo, *x) : *x;
        *hi = any ? std::max(*hi, *x) : *x;
        any = true;
      }
      return any;
    };
    sources.push_back(std::move(src));
    origins.push_back({nullptr, &changes});
  }

  TextSearchStats st;
  std::vector<TextHit> hits = SearchText(plan, sources, req.top_k, &st);
  QueryResponse resp;
  std::vector<Candidate> cands(hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    Candidate& c = cands[i];
    c.key = hits[i].score;
    c.id = hits[i].id;
    const Origin& o = origins[hits[i].source];
    if (o.segment != nullptr) {
      c.segment = o.segment;
      c.row = hits[i].row;
    } else {
      c.doc = (*o.changes)[hits[i].row].second;
    }
  }
  GANNET_RETURN_IF_ERROR(MaterializeAll(req, cands, &resp));
  resp.stats.rows_scanned = st.candidates;
  resp.stats.tail_rows = tail != nullptr ? tail->size() : 0;
  return resp;
}

}  // namespace

Status BindQuery(QueryRequest& request, const Schema& schema) {
  if (request.top_k == 0 || request.top_k > kMaxTopK) {
    return Status::InvalidArgument("top_k: must be between 1 and " + std::to_string(kMaxTopK) +
                                   ", got " + std::to_string(request.top_k));
  }
  if (request.filters) {
    GANNET_RETURN_IF_ERROR(BindFilter(*request.filters, schema).WithContext("filters"));
  }
  RankBy& rb = request.rank_by;
  if (rb.kind == RankBy::Kind::kVector) {
    const AttributeSchema* vs = schema.Find(kVectorAttr);
    if (vs == nullptr || !vs->type.is_vector()) {
      return Status::InvalidArgument("rank_by: namespace has no vector attribute");
    }
    if (rb.vector.size() != vs->type.dims) {
      return Status::InvalidArgument(
          "rank_by: query vector has " + std::to_string(rb.vector.size()) +
          " dimensions, namespace vectors have " + std::to_string(vs->type.dims));
    }
    for (float f : rb.vector) {
      if (!std::isfinite(f)) return Status::InvalidArgument("rank_by: query vector is not finite");
    }
    if (request.ann_recall && !rb.approximate) {
      return Status::InvalidArgument("ann_recall: applies to rank_by ANN only");
    }
  } else if (request.ann_recall) {
    return Status::InvalidArgument("ann_recall: applies to rank_by ANN only");
  }
  if (rb.kind == RankBy::Kind::kText) {
    if (rb.text.size() != 1) return Status::InvalidArgument("rank_by: expected one expression");
    GANNET_RETURN_IF_ERROR(BindTextRankFilters(rb.text[0], schema));
    GANNET_ASSIGN_OR_RETURN(TextPlan plan, TextPlan::Make(rb.text[0], schema));
    rb.text_binding = std::make_shared<const TextRankBinding>(TextRankBinding{std::move(plan)});
  }
  if (request.ann_recall && !(*request.ann_recall > 0 && *request.ann_recall <= 1)) {
    return Status::InvalidArgument("ann_recall: must be in (0, 1]");
  }
  if (rb.kind == RankBy::Kind::kAttribute) {
    GANNET_RETURN_IF_ERROR(CheckAttributeName("rank_by", rb.attr, schema));
    if (rb.attr == kVectorAttr) {
      return Status::InvalidArgument("rank_by: cannot order by the vector attribute");
    }
    const AttributeSchema* as = schema.Find(rb.attr);
    if (as != nullptr && as->type.is_array()) {
      return Status::InvalidArgument("rank_by: cannot order by array attribute '" + rb.attr + "'");
    }
  }
  for (const std::string& name : request.include_attributes.names) {
    GANNET_RETURN_IF_ERROR(CheckAttributeName("include_attributes", name, schema));
  }
  for (const std::string& name : request.group_by) {
    GANNET_RETURN_IF_ERROR(CheckAttributeName("group_by", name, schema));
    if (name == kVectorAttr) return Status::InvalidArgument("group_by: cannot group by vector");
  }
  for (const auto& [label, fn] : request.aggregate_by) {
    if (fn != "Count") {
      return Status::InvalidArgument("aggregate_by." + label + ": unsupported aggregate '" + fn +
                                     "' (supported: Count)");
    }
  }
  if (!request.group_by.empty() && request.aggregate_by.empty()) {
    return Status::InvalidArgument("group_by: requires aggregate_by");
  }
  if (!request.aggregate_by.empty() && rb.kind != RankBy::Kind::kNone) {
    return Status::InvalidArgument("aggregate_by: cannot be combined with rank_by");
  }
  return Status::OK();
}

Result<QueryResponse> Execute(const QueryRequest& req, const ExecInput& input) {
  const auto start = std::chrono::steady_clock::now();
  // Full-text filter leaves are answered from the segments' inverted indexes.
  std::vector<const Filter*> fts_leaves;
  if (req.filters) CollectFullTextLeaves(*req.filters, &fts_leaves);
  std::vector<FullTextMatches> fts_matches;
  ExecInput with_matches;
  if (!fts_leaves.empty()) {
    with_matches = input;
    fts_matches.reserve(input.segments.size());
    for (SegmentInput& s : with_matches.segments) {
      fts_matches.push_back(MatchFullTextLeaves(fts_leaves, s.text, *s.segment));
      s.full_text = &fts_matches.back();
    }
  }
  const ExecInput& in = fts_leaves.empty() ? input : with_matches;
  Result<QueryResponse> out = [&]() -> Result<QueryResponse> {
    if (!req.aggregate_by.empty()) return ExecuteAggregate(req, in);
    if (req.rank_by.kind == RankBy::Kind::kText) return ExecuteText(req, in);

    QueryResponse resp;
    Ranker ranker(req.rank_by);
    TopK top(req.top_k, ranker);
    uint64_t visited = 0;
    uint64_t indexed_visited = 0, indexed_exhaustive = 0;  // through vector indexes
    const bool by_vector = req.rank_by.kind == RankBy::Kind::kVector;
    const bool by_attr = req.rank_by.kind == RankBy::Kind::kAttribute;
    const DistanceMetric metric =
        in.schema->distance_metric.value_or(DistanceMetric::kCosineDistance);
    const float* q = req.rank_by.vector.data();
    const size_t dims = req.rank_by.vector.size();
    const float qnorm = by_vector ? std::sqrt(SquaredNorm(q, dims)) : 0.0f;

    // The segments and the tail, in tasks run at once (RunTasks: on the cores idle at the
    // moment), each into its own top k and merged in task order (the ranking breaks ties by id, so
    // the answer does not depend on who ran what). A segment with a vector index that the query can
    // use is searched through it; the others are scanned row by row.
    auto through_index = [&](const SegmentInput& s) {
      return by_vector && req.rank_by.approximate && s.ann != nullptr &&
             s.ann->metric() == metric && s.segment->dims() == dims &&
             s.ann->CheckCompatible(s.segment->rows(), s.segment->dims()).ok();
    };
    auto scan = [&](const SegmentInput& s, size_t first, size_t last, TopK& top,
                    uint64_t& visited) -> Status {
      const format::Segment& seg = *s.segment;
      const bool has_deletes = s.deleted != nullptr && !s.deleted->empty();
      const format::Segment::Column* order_col = by_attr ? seg.column(req.rank_by.attr) : nullptr;
      SegmentRowAccessor acc(seg, s.full_text);
      const bool seg_dims_ok = !by_vector || seg.dims() == dims;
      auto push_by_distance = [&](size_t row, const float* x) {
        const float xnorm = metric == DistanceMetric::kEuclideanSquared ? 0.0f
                            : s.norms != nullptr                        ? (*s.norms)[row]
                                                 : std::sqrt(SquaredNorm(x, dims));
        Candidate c;
        c.key = Distance(metric, q, qnorm, x, xnorm, dims);
        if (!top.WouldAccept(c.key)) return;
        c.id = seg.id(row);
        c.segment = &seg;
        c.row = row;
        top.Push(std::move(c));
      };
      // Vectors not resident: the rows that pass are read and scored in batches, in row
      // order (adjacent rows share a ranged read).
      constexpr size_t kBatch = 4096;
      std::vector<uint32_t> batch;
      std::vector<float> fetched;
      auto flush = [&]() -> Status {
        fetched.resize(batch.size() * dims);
        GANNET_RETURN_IF_ERROR(seg.ReadVectors(batch.data(), batch.size(), fetched.data()));
        for (size_t i = 0; i < batch.size(); ++i) push_by_distance(batch[i], &fetched[i * dims]);
        batch.clear();
        return Status::OK();
      };
      for (size_t row = first; row < last; ++row) {
        if (has_deletes && (*s.deleted)[row]) continue;
        if (in.tail != nullptr && !in.tail->empty() && in.tail->count(seg.id(row)) != 0) continue;
        ++visited;
        if (req.filters) {
          acc.set_row(row);
          if (!MatchFilter(*req.filters, acc)) continue;
        }
        if (by_vector) {
          if (!seg_dims_ok || !seg.has_vector(row)) continue;  // rows without vectors
          if (seg.vectors_resident()) {
            push_by_distance(row, seg.vector(row));
          } else {
            batch.push_back(static_cast<uint32_t>(row));
            if (batch.size() == kBatch) GANNET_RETURN_IF_ERROR(flush());
          }
          continue;
        }
        Candidate c;
        if (by_attr) {
          if (order_col != nullptr) {
            c.value = order_col->values[row];
          }
        }
        c.id = seg.id(row);
        c.segment = &seg;
        c.row = row;
        top.Push(std::move(c));
      }
      if (!batch.empty()) GANNET_RETURN_IF_ERROR(flush());
      return Status::OK();
    };
    // The unindexed tail (a task of its own, after the segments').
    auto scan_tail = [&](TopK& top, uint64_t& visited) {
      for (const auto& [id, doc] : *in.tail) {
        if (doc == nullptr) continue;
        ++visited;
        if (req.filters && !MatchFilter(*req.filters, DocumentAccessor(*doc))) continue;
        Candidate c;
        if (by_vector) {
          const Value* v = doc->Find(kVectorAttr);
          if (v == nullptr || v->kind() != Value::Kind::kVector || v->as_vector().size() != dims) {
            continue;
          }
          const float* x = v->as_vector().data();
          c.key = Distance(metric, q, qnorm, x, std::sqrt(SquaredNorm(x, dims)), dims);
          if (!top.WouldAccept(c.key)) continue;
        } else if (by_attr && req.rank_by.attr != kIdAttr) {
          const Value* v = doc->Find(req.rank_by.attr);
          if (v != nullptr) c.value = *v;
        }
        c.id = id;
        c.doc = doc;
        top.Push(std::move(c));
      }
    };
    struct SegmentAnswer {
      Status status;
      uint64_t visited = 0;                   // rows scanned row by row
      uint64_t examined = 0, exhaustive = 0;  // through the index
      std::vector<Candidate> best;
    };
    // A task: a segment searched through its index, or rows [first, last) of one scanned
    // row by row (a large segment in chunks, so that its scan spreads over the cores too;
    // not under a full-text filter, whose posting cursors only move forward), or the tail
    // (segment kTailTask).
    struct Task {
      size_t segment, first, last;
      bool indexed;
      double depth = 0;  // an indexed segment's: of its share; 0 (k) once asked again
    };
    constexpr size_t kTailTask = SIZE_MAX;
    constexpr size_t kScanChunk = 1 << 16;
    std::vector<Task> tasks;
    for (size_t i = 0; i < in.segments.size(); ++i) {
      const SegmentInput& s = in.segments[i];
      const size_t rows = s.segment->rows();
      const bool indexed = through_index(s);
      const size_t step =
          indexed || s.full_text != nullptr ? std::max<size_t>(rows, 1) : kScanChunk;
      for (size_t b = 0; b < rows || b == 0; b += step) {
        tasks.push_back({i, b, std::min(rows, b + step), indexed});
      }
    }
    if (in.tail != nullptr && !in.tail->empty()) tasks.push_back({kTailTask, 0, 0, false});
    std::vector<SegmentAnswer> answers(tasks.size());
    // The rows each indexed segment may return, when some may not (a filter, deletions or
    // the tail's newer versions): all segments at once, before any search.
    std::vector<std::optional<index::RowFilter>> eligible(tasks.size());
    const bool shadowing = in.tail != nullptr && !in.tail->empty();
    auto narrowed = [&](size_t t) {
      if (!tasks[t].indexed) return false;
      const SegmentInput& s = in.segments[tasks[t].segment];
      return req.filters || shadowing || (s.deleted != nullptr && !s.deleted->empty());
    };
    std::vector<size_t> to_narrow;
    for (size_t t = 0; t < tasks.size(); ++t) {
      if (narrowed(t)) to_narrow.push_back(t);
    }
    RunTasks(to_narrow.size(), [&](size_t i) {
      const size_t t = to_narrow[i];
      eligible[t] = EligibleRows(req, in.segments[tasks[t].segment], in.tail, &answers[t].examined);
    });
    // A segment searched through its index is asked for the recall target only as deep as
    // its share of the eligible rows puts it in the merged top k (its expected count plus
    // three standard deviations: with 20 equal segments 3 of the top 10, not 10), and asked
    // again for all k if the merged top k holds that many of its rows (neighbours crowded
    // into it). The rest of its k rows are still returned and merged. Rows scanned without
    // an index count whole (their filter is evaluated as they are scanned).
    auto eligible_rows = [&](size_t t) {
      return eligible[t] ? static_cast<double>(eligible[t]->count())
                         : static_cast<double>(tasks[t].last - tasks[t].first);
    };
    double all_rows = shadowing ? static_cast<double>(in.tail->size()) : 0.0;
    for (size_t t = 0; t < tasks.size(); ++t) {
      if (tasks[t].segment != kTailTask) all_rows += eligible_rows(t);
    }
    const double k = static_cast<double>(req.top_k);
    for (size_t t = 0; t < tasks.size(); ++t) {
      if (!tasks[t].indexed) continue;
      const double share = eligible_rows(t) / std::max(all_rows, 1.0);
      tasks[t].depth =
          !(share < 1.0) || k <= 1
              ? k
              : std::clamp(std::ceil(k * share + 3.0 * std::sqrt(k * share * (1.0 - share))), 1.0,
                           k);
    }
    auto run_task = [&](size_t t) {
      SegmentAnswer& a = answers[t];
      TopK own(req.top_k, ranker);
      if (tasks[t].segment == kTailTask) {
        scan_tail(own, a.visited);
        a.best = own.TakeSorted();
        return;
      }
      const SegmentInput& s = in.segments[tasks[t].segment];
      if (tasks[t].indexed) {
        const index::RowFilter* allowed = eligible[t] ? &*eligible[t] : nullptr;
        Result<uint64_t> examined = SearchIndexedSegment(req, s, allowed, metric, q, qnorm,
                                                         tasks[t].depth, own, &a.exhaustive);
        if (!examined.ok()) {
          a.status = examined.status();
          return;
        }
        a.examined += *examined;
      } else {
        a.status = scan(s, tasks[t].first, tasks[t].last, own, a.visited);
        if (!a.status.ok()) return;
      }
      a.best = own.TakeSorted();
    };
    RunTasks(tasks.size(), run_task);
    // Segments asked for less than k whose rows fill that depth of the merged top k: asked
    // again for all of it (their first answers are replaced, their work counted). One
    // answered by an exact scan (a small filter's fallback) is exact to k already.
    std::vector<size_t> again;
    auto shallow = [&](size_t t) {
      return tasks[t].indexed && tasks[t].depth < static_cast<double>(req.top_k) &&
             answers[t].status.ok() && answers[t].exhaustive == 0;
    };
    bool any_shallow = false;
    for (size_t t = 0; t < tasks.size(); ++t) any_shallow = any_shallow || shallow(t);
    if (any_shallow) {
      TopK merged(req.top_k, ranker);
      for (size_t t = 0; t < tasks.size(); ++t) {
        for (const Candidate& c : answers[t].best) {
          Candidate light;  // what the vector ranking reads, and the task (as its row)
          light.key = c.key;
          light.id = c.id;
          light.row = t;
          merged.Push(std::move(light));
        }
      }
      std::vector<size_t> in_top(tasks.size(), 0);
      for (const Candidate& c : merged.TakeSorted()) ++in_top[c.row];
      for (size_t t = 0; t < tasks.size(); ++t) {
        if (shallow(t) && static_cast<double>(in_top[t]) >= tasks[t].depth) {
          tasks[t].depth = 0;
          again.push_back(t);
        }
      }
    }
    RunTasks(again.size(), [&](size_t i) { run_task(again[i]); });
    for (SegmentAnswer& a : answers) {
      GANNET_RETURN_IF_ERROR(a.status);
      for (Candidate& c : a.best) top.Push(std::move(c));
      visited += a.visited;
      indexed_visited += a.examined;
      indexed_exhaustive += a.exhaustive;
    }
    if (in.tail != nullptr) resp.stats.tail_rows = in.tail->size();
    std::vector<Candidate> best = top.TakeSorted();
    GANNET_RETURN_IF_ERROR(MaterializeAll(req, best, &resp));
    resp.stats.rows_scanned = visited + indexed_visited;
    resp.stats.exhaustive_search_count = visited + indexed_exhaustive;
    return resp;
  }();
  if (out.ok()) {
    out->stats.query_execution_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

}  // namespace gannet::query
