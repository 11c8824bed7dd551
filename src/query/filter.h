// Filter binding and evaluation.
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::query {

// A full-text filter leaf answered for the rows of one segment through its inverted index
// (query/full_text_match.h). Rows are best asked in ascending order.
class FullTextLeafMatch {
 public:
  virtual ~FullTextLeafMatch() = default;
  virtual bool Match(size_t row) const = 0;
};

// The query's full-text filter leaves for one segment.
struct FullTextMatches {
  std::vector<std::pair<const Filter*, std::unique_ptr<FullTextLeafMatch>>> leaves;
  const FullTextLeafMatch* Find(const Filter* leaf) const {
    for (const auto& [f, m] : leaves) {
      if (f == leaf) return m.get();
    }
    return nullptr;
  }
};

// Read access to one row's values.
class RowAccessor {
 public:
  virtual ~RowAccessor() = default;
  virtual const Id& id() const = 0;
  // The attribute's value, or nullptr when the row lacks it (treated as null).
  virtual const Value* Get(std::string_view attr) const = 0;
  // Precomputed full-text leaves for this row's segment, or null (then the row's text is
  // analyzed), and the row's position in it.
  virtual const FullTextMatches* full_text_matches() const { return nullptr; }
  virtual size_t row_index() const { return 0; }
};

// Accessor over a Document.
class DocumentAccessor final : public RowAccessor {
 public:
  explicit DocumentAccessor(const Document& doc) : doc_(doc) {}
  const Id& id() const override { return doc_.id; }
  const Value* Get(std::string_view attr) const override { return doc_.Find(attr); }

 private:
  const Document& doc_;
};

// Checks the filter against `schema` and coerces its operands to the attributes' types
// (e.g. a string operand to uuid or datetime; Glob needs a string attribute; In needs an
// array operand). The attribute "id" addresses the document id. An attribute unknown to
// the schema is allowed (it matches as null). `allow_ref_new` permits {"$ref_new": a}
// operands (write conditions). InvalidArgument names the attribute and the reason.
Status BindFilter(Filter& filter, const Schema& schema, bool allow_ref_new = false);

// Evaluates a bound filter (REQUIRES: BindFilter succeeded on it; binding sorts the
// operands of In/NotIn/ContainsAny/NotContainsAny, which matching relies on). `ref_new`
// supplies $ref_new operands (conditions); when it is null such leaves compare against
// null. Semantics: a missing attribute is null;
// Eq null matches missing; comparisons (Lt..Gte) with null never match; NotEq/NotIn/
// NotContains/NotGlob are the negation of their positive form.
bool MatchFilter(const Filter& filter, const RowAccessor& row,
                 const RowAccessor* ref_new = nullptr);

// A bound full-text filter leaf (ContainsAllTokens, ...) on one attribute value, by
// analyzing the value.
bool MatchFullTextValue(const Filter& leaf, const Value& value);

// Unix glob: '*', '?', '[abc]', '[a-z]', '[!a]'. Case-insensitive when `fold_case`.
bool GlobMatch(std::string_view pattern, std::string_view text, bool fold_case);

}  // namespace gannet::query
