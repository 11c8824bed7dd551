// Names of filter operators (gannet/request.h).
#include "gannet/request.h"

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

}  // namespace gannet
