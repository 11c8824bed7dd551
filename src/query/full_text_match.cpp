#include "query/full_text_match.h"

#include <algorithm>
#include <string>

namespace gannet::query {

namespace {

using index::PostingCursor;
using index::TextFieldIndex;

// The distinct (token, is prefix) pairs of a leaf's query, and each query token's slot.
struct DistinctTokens {
  std::vector<std::pair<std::string, bool>> tokens;
  std::vector<size_t> slot;  // query position -> index in tokens
};

DistinctTokens Distinct(const Filter& f) {
  DistinctTokens d;
  const std::vector<std::string>& q = f.full_text->tokens;
  for (size_t i = 0; i < q.size(); ++i) {
    std::pair<std::string, bool> t{q[i], f.last_as_prefix && i + 1 == q.size()};
    auto it = std::find(d.tokens.begin(), d.tokens.end(), t);
    d.slot.push_back(static_cast<size_t>(it - d.tokens.begin()));
    if (it == d.tokens.end()) d.tokens.push_back(std::move(t));
  }
  return d;
}

class NoMatch final : public FullTextLeafMatch {
 public:
  bool Match(size_t) const override { return false; }
};

// Exact tokens: cursors advanced row by row.
class CursorMatch final : public FullTextLeafMatch {
 public:
  CursorMatch(const Filter& f, std::shared_ptr<const TextFieldIndex> field, DistinctTokens d)
      : op_(f.op), field_(std::move(field)), d_(std::move(d)) {
    Restart();
  }

  bool Match(size_t row_index) const override {
    const uint32_t row = static_cast<uint32_t>(row_index);
    if (row < last_) Restart();
    last_ = row;
    size_t present = 0;
    for (std::unique_ptr<PostingCursor>& c : cursors_) {
      if (c == nullptr) continue;
      c->Advance(row);
      present += c->doc() == row;
    }
    switch (op_) {
      case Filter::Op::kContainsAnyToken:
        return present > 0;
      case Filter::Op::kContainsAllTokens:
        return present == cursors_.size() && known_;
      default:
        return present == cursors_.size() && known_ && PhraseAt();
    }
  }

 private:
  void Restart() const {
    cursors_.clear();
    known_ = true;
    for (const auto& t : d_.tokens) {
      const index::TermInfo* info = field_->Find(t.first);
      known_ &= info != nullptr;
      cursors_.push_back(info == nullptr ? nullptr
                                         : std::make_unique<PostingCursor>(*field_, *info));
    }
    last_ = 0;
  }

  // Every cursor sits on the row: does some position start the whole sequence?
  bool PhraseAt() const {
    std::vector<const uint32_t*> pos(cursors_.size());
    std::vector<uint32_t> len(cursors_.size());
    for (size_t c = 0; c < cursors_.size(); ++c) {
      pos[c] = cursors_[c]->Positions();
      len[c] = cursors_[c]->tf();
    }
    const size_t c0 = d_.slot[0];
    for (uint32_t k = 0; k < len[c0]; ++k) {
      const uint32_t start = pos[c0][k];
      bool all = true;
      for (size_t i = 1; i < d_.slot.size() && all; ++i) {
        const size_t c = d_.slot[i];
        all = std::binary_search(pos[c], pos[c] + len[c], start + static_cast<uint32_t>(i));
      }
      if (all) return true;
    }
    return false;
  }

  const Filter::Op op_;
  const std::shared_ptr<const TextFieldIndex> field_;
  const DistinctTokens d_;
  mutable std::vector<std::unique_ptr<PostingCursor>> cursors_;  // null: token unknown
  mutable bool known_ = true;
  mutable uint32_t last_ = 0;
};

// With a prefix token: rows counted once into a bitmap.
class BitmapMatch final : public FullTextLeafMatch {
 public:
  BitmapMatch(const Filter& f, const TextFieldIndex& field, const DistinctTokens& d,
              const format::Segment& seg) {
    const uint32_t rows = field.rows();
    bits_.assign(rows, false);
    std::vector<uint32_t> count(rows, 0), seen(rows, UINT32_MAX);
    for (uint32_t i = 0; i < d.tokens.size(); ++i) {
      auto visit = [&](const index::TermInfo& t) {
        for (PostingCursor c(field, t); c.doc() != PostingCursor::kEnd; c.Next()) {
          if (seen[c.doc()] != i) {
            seen[c.doc()] = i;
            ++count[c.doc()];
          }
        }
      };
      if (d.tokens[i].second) {
        field.ForEachWithPrefix(d.tokens[i].first, SIZE_MAX,
                                [&](std::string_view, const index::TermInfo& t) { visit(t); });
      } else if (const index::TermInfo* t = field.Find(d.tokens[i].first)) {
        visit(*t);
      }
    }
    const uint32_t need = static_cast<uint32_t>(d.tokens.size());
    const format::Segment::Column* col = seg.column(f.attr);
    for (uint32_t row = 0; row < rows; ++row) {
      if (f.op == Filter::Op::kContainsAnyToken) {
        bits_[row] = count[row] > 0;
      } else if (f.op == Filter::Op::kContainsAllTokens) {
        bits_[row] = count[row] == need;
      } else {  // a phrase: verify the candidates on the text
        bits_[row] =
            count[row] == need && col != nullptr && MatchFullTextValue(f, col->values[row]);
      }
    }
  }
  bool Match(size_t row) const override { return row < bits_.size() && bits_[row]; }

 private:
  std::vector<bool> bits_;
};

}  // namespace

FullTextMatches MatchFullTextLeaves(const std::vector<const Filter*>& leaves,
                                    const TextFieldSource& text, const format::Segment& segment) {
  FullTextMatches m;
  if (!text) return m;
  for (const Filter* f : leaves) {
    std::shared_ptr<const TextFieldIndex> field = text(f->attr, f->full_text->analyzer);
    std::unique_ptr<FullTextLeafMatch> match;
    if (field == nullptr || f->full_text->tokens.empty()) {
      match = std::make_unique<NoMatch>();
    } else if (f->last_as_prefix) {
      match = std::make_unique<BitmapMatch>(*f, *field, Distinct(*f), segment);
    } else {
      match = std::make_unique<CursorMatch>(*f, std::move(field), Distinct(*f));
    }
    m.leaves.emplace_back(f, std::move(match));
  }
  return m;
}

}  // namespace gannet::query
