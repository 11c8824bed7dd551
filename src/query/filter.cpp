// Filter binding and evaluation (query/filter.h).
//
// Operator semantics (following turbopuffer's query documentation):
//   Eq / NotEq      value equality; operand null: Eq matches rows missing the attribute,
//                   NotEq rows that have it. On an array attribute the operand must be an
//                   array and the whole array is compared (use Contains for membership).
//   In / NotIn      the attribute equals one of the operand's elements (scalar attributes
//                   and the id only; on arrays use ContainsAny).
//   Lt Lte Gt Gte   numeric order for int/uint/float (compared exactly across kinds),
//                   lexicographic bytes for strings, ms for datetimes, byte order for
//                   uuids, false < true for bools. A null attribute or null operand never
//                   matches (Gannet contract; turbopuffer's docs say Lt/Lte match nulls).
//                   Not defined for array attributes (turbopuffer's AnyLt.. are not yet
//                   supported).
//   Contains        an array attribute holds the operand; NotContains is its negation.
//   ContainsAny     an array attribute holds any operand element; NotContainsAny negates.
//   Glob / IGlob    Unix glob on a string attribute, or on any element of a []string
//                   attribute; IGlob folds case. NotGlob / NotIGlob negate.
//   ContainsAllTokens / ContainsAnyToken / ContainsTokenSequence
//                   on a full_text_search attribute: the row's tokens (analyzed like the
//                   attribute's index) hold all / any of the query's tokens / the query's
//                   tokens consecutively. last_as_prefix: the last query token matches
//                   any token it is a prefix of. A query without tokens matches nothing.
//   And / Or / Not  conjunction (empty And matches all), disjunction (empty Or matches
//                   none), negation.
// Filters on non-filterable attributes or on vectors are rejected at bind time.
#include "query/filter.h"

#include <algorithm>

#include "model/filter_bind.h"
#include "text/analyzer.h"

namespace gannet::query {

namespace {

using Op = Filter::Op;

bool IsNumberKind(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kFloat;
}

Value IdAsValue(const Id& id) {
  if (id.is_uint()) return Value::Uint(id.as_uint());
  if (id.is_uuid()) return Value::FromUuid(id.as_uuid());
  return Value::String(id.as_string());
}

// ------------------------------------------------------------------------ matching

bool SameOrderClass(const Value& a, const Value& b) {
  if (IsNumberKind(a.kind()) && IsNumberKind(b.kind())) return true;
  return a.kind() == b.kind();
}

bool GlobValue(const Value& v, const std::string& pattern, bool fold) {
  if (v.kind() == Value::Kind::kString) return GlobMatch(pattern, v.as_string(), fold);
  if (v.kind() == Value::Kind::kArray) {
    for (const Value& e : v.as_array()) {
      if (e.kind() == Value::Kind::kString && GlobMatch(pattern, e.as_string(), fold)) {
        return true;
      }
    }
  }
  return false;
}

bool ArrayHas(const Value& arr, const Value& x) {
  if (arr.kind() != Value::Kind::kArray) return false;
  for (const Value& e : arr.as_array()) {
    if (e.Compare(x) == 0) return true;
  }
  return false;
}

// Membership in a set operand (In / ContainsAny). Binding sorts these operands, so large
// ones are binary-searched.
bool SetHas(const Value& set, const Value& x) {
  if (set.kind() != Value::Kind::kArray) return false;
  const auto& elems = set.as_array();
  constexpr size_t kLinearMax = 8;
  if (elems.size() <= kLinearMax) return ArrayHas(set, x);
  return std::binary_search(elems.begin(), elems.end(), x,
                            [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
}

bool TokenMatches(const std::string& query, const std::string& token, bool prefix) {
  return prefix ? token.compare(0, query.size(), query) == 0 : token == query;
}

}  // namespace

bool MatchFullTextValue(const Filter& f, const Value& attr) {
  if (f.full_text == nullptr || attr.is_null()) return false;
  const std::vector<std::string>& q = f.full_text->tokens;
  if (q.empty()) return false;
  std::vector<std::string> doc;
  f.full_text->analyzer->AnalyzeValue(attr, &doc);
  const size_t last = q.size() - 1;
  auto has = [&](size_t i) {
    const bool prefix = f.last_as_prefix && i == last;
    for (const std::string& t : doc) {
      if (TokenMatches(q[i], t, prefix)) return true;
    }
    return false;
  };
  switch (f.op) {
    case Op::kContainsAllTokens:
      for (size_t i = 0; i < q.size(); ++i) {
        if (!has(i)) return false;
      }
      return true;
    case Op::kContainsAnyToken:
      for (size_t i = 0; i < q.size(); ++i) {
        if (has(i)) return true;
      }
      return false;
    case Op::kContainsTokenSequence:
      for (size_t start = 0; start + q.size() <= doc.size(); ++start) {
        size_t i = 0;
        while (i < q.size() && TokenMatches(q[i], doc[start + i], f.last_as_prefix && i == last)) {
          ++i;
        }
        if (i == q.size()) return true;
      }
      return false;
    default:
      return false;
  }
}

namespace {

bool MatchLeaf(const Filter& f, const Value& attr, const Value& operand) {
  switch (f.op) {
    case Op::kEq:
      return attr.Compare(operand) == 0;
    case Op::kNotEq:
      return attr.Compare(operand) != 0;
    case Op::kIn:
      return !attr.is_null() && SetHas(operand, attr);
    case Op::kNotIn:
      return !(!attr.is_null() && SetHas(operand, attr));
    case Op::kLt:
    case Op::kLte:
    case Op::kGt:
    case Op::kGte: {
      if (attr.is_null() || operand.is_null() || !SameOrderClass(attr, operand)) return false;
      const int c = attr.Compare(operand);
      if (f.op == Op::kLt) return c < 0;
      if (f.op == Op::kLte) return c <= 0;
      if (f.op == Op::kGt) return c > 0;
      return c >= 0;
    }
    case Op::kContains:
      return !operand.is_null() && ArrayHas(attr, operand);
    case Op::kNotContains:
      return !(!operand.is_null() && ArrayHas(attr, operand));
    case Op::kContainsAny:
    case Op::kNotContainsAny: {
      bool any = false;
      if (attr.kind() == Value::Kind::kArray && operand.kind() == Value::Kind::kArray) {
        for (const Value& x : attr.as_array()) {
          if (SetHas(operand, x)) {
            any = true;
            break;
          }
        }
      }
      return f.op == Op::kContainsAny ? any : !any;
    }
    case Op::kGlob:
    case Op::kIGlob:
    case Op::kNotGlob:
    case Op::kNotIGlob: {
      if (operand.kind() != Value::Kind::kString)
        return f.op == Op::kNotGlob || f.op == Op::kNotIGlob;
      const bool fold = f.op == Op::kIGlob || f.op == Op::kNotIGlob;
      const bool m = GlobValue(attr, operand.as_string(), fold);
      return (f.op == Op::kGlob || f.op == Op::kIGlob) ? m : !m;
    }
    case Op::kContainsAllTokens:
    case Op::kContainsAnyToken:
    case Op::kContainsTokenSequence:
      return MatchFullTextValue(f, attr);  // (precomputed leaves: see MatchFilter)
    case Op::kAnd:
    case Op::kOr:
    case Op::kNot:
      return false;  // not leaves
  }
  return false;
}

// ------------------------------------------------------------------------ glob

constexpr size_t kNpos = static_cast<size_t>(-1);

// Decodes one UTF-8 code point at s[i]; an invalid byte decodes as itself (length 1).
uint32_t DecodeCp(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  size_t n = 0;
  uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    cp = b0 & 0x07;
  }
  if (n == 0 || i + n > s.size()) {
    *len = 1;
    return 0x110000u + b0;  // outside Unicode: matches only the same invalid byte
  }
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *len = 1;
      return 0x110000u + b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *len = n;
  return cp;
}

// Simple case mapping for ASCII, Latin-1, Greek and Cyrillic (no locale dependence).
uint32_t ToLower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}
uint32_t ToUpper(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

bool CpEqual(uint32_t a, uint32_t b, bool fold) {
  return a == b || (fold && ToLower(a) == ToLower(b));
}

// Matches a bracket expression starting at pattern[p] == '[' against code point `c`.
// Returns false when the bracket is not terminated (then '[' is a literal); otherwise
// sets *matched and *plen (the bracket's length in bytes).
bool MatchClass(std::string_view pat, size_t p, uint32_t c, bool fold, bool* matched,
                size_t* plen) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pat.size() && (pat[i] == '!' || pat[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  while (i < pat.size()) {
    if (pat[i] == ']' && !first) {
      *matched = hit != negate;
      *plen = i + 1 - p;
      return true;
    }
    first = false;
    size_t l;
    if (pat[i] == '\\' && i + 1 < pat.size()) ++i;
    const uint32_t lo = DecodeCp(pat, i, &l);
    i += l;
    uint32_t hi = lo;
    if (i + 1 < pat.size() && pat[i] == '-' && pat[i + 1] != ']') {
      ++i;
      if (pat[i] == '\\' && i + 1 < pat.size()) ++i;
      hi = DecodeCp(pat, i, &l);
      i += l;
    }
    auto in = [&](uint32_t x) { return x >= lo && x <= hi; };
    if (in(c) || (fold && (in(ToLower(c)) || in(ToUpper(c))))) hit = true;
  }
  return false;
}

}  // namespace

Status BindFilter(Filter& filter, const Schema& schema, bool allow_ref_new) {
  return model::BindFilterToSchema(filter, schema, allow_ref_new);
}

bool MatchFilter(const Filter& f, const RowAccessor& row, const RowAccessor* ref_new) {
  switch (f.op) {
    case Op::kAnd:
      for (const Filter& c : f.children) {
        if (!MatchFilter(c, row, ref_new)) return false;
      }
      return true;
    case Op::kOr:
      for (const Filter& c : f.children) {
        if (MatchFilter(c, row, ref_new)) return true;
      }
      return false;
    case Op::kNot:
      return f.children.size() == 1 && !MatchFilter(f.children[0], row, ref_new);
    default:
      break;
  }
  if (f.full_text != nullptr) {
    if (const FullTextMatches* m = row.full_text_matches()) {
      if (const FullTextLeafMatch* leaf = m->Find(&f)) return leaf->Match(row.row_index());
    }
  }
  static const Value kNull;
  // Operand.
  Value ref_holder;
  const Value* operand = &f.value;
  if (f.ref_new) {
    operand = &kNull;
    if (ref_new != nullptr) {
      if (*f.ref_new == kIdAttr) {
        ref_holder = IdAsValue(ref_new->id());
        operand = &ref_holder;
      } else if (const Value* v = ref_new->Get(*f.ref_new)) {
        operand = v;
      }
    }
  }
  // Attribute.
  if (f.attr == kIdAttr) {
    const Value id = IdAsValue(row.id());
    return MatchLeaf(f, id, *operand);
  }
  const Value* attr = row.Get(f.attr);
  return MatchLeaf(f, attr ? *attr : kNull, *operand);
}

bool GlobMatch(std::string_view pat, std::string_view text, bool fold_case) {
  // Iterative wildcard matching that backtracks only to the most recent '*': O(|p|·|t|)
  // worst case, no recursion, no exponential blowup. Works on UTF-8 code points.
  size_t p = 0, t = 0;
  size_t star_p = kNpos, star_t = 0;
  const size_t n = pat.size();
  while (t < text.size()) {
    if (p < n) {
      const char c = pat[p];
      if (c == '*') {
        while (p < n && pat[p] == '*') ++p;
        if (p == n) return true;
        star_p = p;
        star_t = t;
        continue;
      }
      size_t tlen;
      const uint32_t tc = DecodeCp(text, t, &tlen);
      bool matched = false;
      size_t plen = 1;
      if (c == '?') {
        matched = true;
      } else if (c == '[' && MatchClass(pat, p, tc, fold_case, &matched, &plen)) {
        // bracket handled
      } else {
        size_t q = p;
        if (c == '\\' && p + 1 < n) ++q;
        size_t l;
        const uint32_t pc = DecodeCp(pat, q, &l);
        matched = CpEqual(pc, tc, fold_case);
        plen = q + l - p;
      }
      if (matched) {
        p += plen;
        t += tlen;
        continue;
      }
    }
    if (star_p != kNpos) {
      size_t l;
      DecodeCp(text, star_t, &l);
      star_t += l;
      t = star_t;
      p = star_p;
      continue;
    }
    return false;
  }
  while (p < n && pat[p] == '*') ++p;
  return p == n;
}

}  // namespace gannet::query
