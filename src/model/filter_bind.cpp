// Filter binding against a schema (model/filter_bind.h). Lives in the model layer so
// that write validation (model) can bind delete_by_filter and conditions without calling
// up into the query layer; query::BindFilter delegates here.
#include "model/filter_bind.h"

#include <algorithm>

#include "text/analyzer.h"

namespace gannet::model {

namespace {

using Op = Filter::Op;

std::string OpName(Op op) { return std::string(FilterOpName(op)); }

bool IsOrderOp(Op op) { return op == Op::kLt || op == Op::kLte || op == Op::kGt || op == Op::kGte; }
bool IsEqOp(Op op) { return op == Op::kEq || op == Op::kNotEq; }
bool IsInOp(Op op) { return op == Op::kIn || op == Op::kNotIn; }
bool IsContainsOp(Op op) { return op == Op::kContains || op == Op::kNotContains; }
bool IsContainsAnyOp(Op op) { return op == Op::kContainsAny || op == Op::kNotContainsAny; }
bool IsGlobOp(Op op) {
  return op == Op::kGlob || op == Op::kNotGlob || op == Op::kIGlob || op == Op::kNotIGlob;
}
bool IsFullTextOp(Op op) {
  return op == Op::kContainsAllTokens || op == Op::kContainsAnyToken ||
         op == Op::kContainsTokenSequence;
}
bool IsNumberKind(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kFloat;
}

// Coerces a scalar filter operand to scalar type `t`. Numbers are accepted for every
// numeric type unchanged (Value::Compare orders them exactly across kinds), so
// ["price", "Lt", 2.5] on an int attribute means what it says.
Status CoerceScalarOperand(Value& v, ScalarType t) {
  if (v.is_null()) return Status::OK();
  const Value::Kind k = v.kind();
  switch (t) {
    case ScalarType::kInt:
    case ScalarType::kUint:
    case ScalarType::kFloat:
      if (IsNumberKind(k)) return Status::OK();
      break;
    case ScalarType::kDatetime:
      if (k == Value::Kind::kDatetime) return Status::OK();
      if (k == Value::Kind::kString) {
        auto d = Datetime::Parse(v.as_string());
        if (!d.ok()) return d.status();
        v = Value::Time(*d);
        return Status::OK();
      }
      if (k == Value::Kind::kInt) {  // milliseconds since the epoch
        v = Value::Time(Datetime{v.as_int()});
        return Status::OK();
      }
      break;
    case ScalarType::kUuid:
      if (k == Value::Kind::kUuid) return Status::OK();
      if (k == Value::Kind::kString) {
        auto u = Uuid::Parse(v.as_string());
        if (!u.ok()) return u.status();
        v = Value::FromUuid(*u);
        return Status::OK();
      }
      break;
    case ScalarType::kString:
      if (k == Value::Kind::kString) return Status::OK();
      break;
    case ScalarType::kBool:
      if (k == Value::Kind::kBool) return Status::OK();
      break;
  }
  return Status::InvalidArgument("expected " + std::string(ScalarTypeName(t)) + ", got " +
                                 std::string(v.KindName()));
}

Status CoerceArrayOperand(Value& v, ScalarType t) {
  if (v.kind() != Value::Kind::kArray) {
    return Status::InvalidArgument("expected array, got " + std::string(v.KindName()));
  }
  auto& elems = v.as_array();
  for (size_t i = 0; i < elems.size(); ++i) {
    if (elems[i].is_null()) {
      return Status::InvalidArgument("element " + std::to_string(i) + ": null not allowed");
    }
    Status s = CoerceScalarOperand(elems[i], t);
    if (!s.ok()) return s.WithContext("element " + std::to_string(i));
  }
  return Status::OK();
}

// Id operands become Value::Uint / FromUuid / String, matching IdAsValue below.
Status CoerceIdOperand(Value& v, const std::optional<ScalarType>& id_type) {
  if (v.is_null()) return Status::OK();
  const Value::Kind k = v.kind();
  if (k == Value::Kind::kInt && v.as_int() >= 0 && (!id_type || *id_type == ScalarType::kUint)) {
    v = Value::Uint(static_cast<uint64_t>(v.as_int()));
    return Status::OK();
  }
  if (k == Value::Kind::kUint && (!id_type || *id_type == ScalarType::kUint)) {
    return Status::OK();
  }
  if (k == Value::Kind::kUuid && (!id_type || *id_type == ScalarType::kUuid)) {
    return Status::OK();
  }
  if (k == Value::Kind::kString) {
    if (!id_type || *id_type == ScalarType::kString) return Status::OK();
    if (*id_type == ScalarType::kUuid) {
      auto u = Uuid::Parse(v.as_string());
      if (!u.ok()) return u.status();
      v = Value::FromUuid(*u);
      return Status::OK();
    }
  }
  const std::string want = id_type ? std::string(ScalarTypeName(*id_type)) + " id"
                                   : std::string("non-negative integer or string id");
  return Status::InvalidArgument("expected " + want + ", got " + std::string(v.KindName()));
}

Status BindLeaf(Filter& f, const Schema& schema, bool allow_ref_new) {
  const std::string where = "filter on '" + f.attr + "' (" + OpName(f.op) + ")";
  auto bad = [&](const std::string& why) { return Status::InvalidArgument(where + ": " + why); };

  if (f.attr.empty()) return bad("empty attribute name");
  if (f.ref_new) {
    if (!allow_ref_new) return bad("$ref_new is only allowed in write conditions");
    if (f.ref_new->empty()) return bad("$ref_new names no attribute");
    // The referenced value is a validated new row's value; check the types agree.
    if (*f.ref_new != kIdAttr && f.attr != kIdAttr) {
      const AttributeSchema* a = schema.Find(f.attr);
      const AttributeSchema* r = schema.Find(*f.ref_new);
      if (a && r && !(a->type == r->type) &&
          !(IsContainsOp(f.op) && a->type.is_array() && r->type.kind == AttrType::Kind::kScalar &&
            r->type.scalar == a->type.scalar)) {
        return bad("$ref_new attribute '" + *f.ref_new + "' has type " + r->type.ToString() +
                   ", expected " + a->type.ToString());
      }
    }
    if (f.attr != kIdAttr) {
      if (const AttributeSchema* a = schema.Find(f.attr); a && a->type.is_vector()) {
        return bad("vector attributes cannot be filtered");
      }
    }
    return Status::OK();
  }

  if (IsFullTextOp(f.op)) {
    if (f.attr == kIdAttr) return bad("the id has no full-text index");
    const AttributeSchema* a = schema.Find(f.attr);
    if (a == nullptr || a->full_text_search.empty()) {
      return bad("attribute has no full_text_search index");
    }
    const bool text_operand =
        f.value.kind() == Value::Kind::kString ||
        (f.value.kind() == Value::Kind::kArray &&
         std::all_of(f.value.as_array().begin(), f.value.as_array().end(),
                     [](const Value& e) { return e.kind() == Value::Kind::kString; }));
    if (!text_operand) {
      return bad("expected query text (a string or an array of strings), got " +
                 std::string(f.value.KindName()));
    }
    Result<std::shared_ptr<const text::Analyzer>> an =
        text::Analyzer::ForSchemaText(a->full_text_search);
    if (!an.ok()) return bad("full_text_search: " + an.status().message());
    auto binding = std::make_shared<FullTextFilterBinding>();
    binding->analyzer = *an;
    binding->analyzer->AnalyzeValue(f.value, &binding->tokens);
    f.full_text = std::move(binding);
    return Status::OK();
  }
  if (f.last_as_prefix) return bad("last_as_prefix applies to full-text filters only");

  // Operand shape checks that hold whatever the attribute's type.
  if ((IsInOp(f.op) || IsContainsAnyOp(f.op)) && f.value.kind() != Value::Kind::kArray) {
    return bad("expected an array operand, got " + std::string(f.value.KindName()));
  }
  if (IsGlobOp(f.op) && f.value.kind() != Value::Kind::kString) {
    return bad("expected a glob pattern string, got " + std::string(f.value.KindName()));
  }
  if ((IsContainsOp(f.op) || IsOrderOp(f.op)) && f.value.kind() == Value::Kind::kArray) {
    return bad("expected a single value, got array");
  }

  if (f.attr == kIdAttr) {
    if (IsContainsOp(f.op) || IsContainsAnyOp(f.op)) return bad("the id is not an array");
    if (IsGlobOp(f.op) && schema.id_type && *schema.id_type != ScalarType::kString) {
      return bad("glob needs string ids; this namespace has " +
                 std::string(ScalarTypeName(*schema.id_type)) + " ids");
    }
    if (IsInOp(f.op)) {
      auto& elems = f.value.as_array();
      for (size_t i = 0; i < elems.size(); ++i) {
        Status s = CoerceIdOperand(elems[i], schema.id_type);
        if (!s.ok()) return bad("element " + std::to_string(i) + ": " + s.message());
      }
      return Status::OK();
    }
    if (IsGlobOp(f.op)) return Status::OK();
    Status s = CoerceIdOperand(f.value, schema.id_type);
    return s.ok() ? s : bad(s.message());
  }

  const AttributeSchema* a = schema.Find(f.attr);
  if (a == nullptr) return Status::OK();  // unknown attribute: every row has it null
  const AttrType& t = a->type;
  if (t.is_vector()) return bad("vector attributes cannot be filtered");
  if (!a->filterable) return bad("attribute is not filterable (schema has filterable: false)");

  Status s;
  if (t.is_array()) {
    if (IsEqOp(f.op)) {
      if (f.value.is_null()) return Status::OK();
      if (f.value.kind() != Value::Kind::kArray) {
        return bad("attribute has type " + t.ToString() +
                   "; Eq compares whole arrays (use Contains for membership)");
      }
      s = CoerceArrayOperand(f.value, t.scalar);
    } else if (IsInOp(f.op)) {
      return bad("attribute has type " + t.ToString() + "; use ContainsAny");
    } else if (IsOrderOp(f.op)) {
      return bad("attribute has type " + t.ToString() + "; ordering is not defined on arrays");
    } else if (IsContainsOp(f.op)) {
      if (f.value.is_null())
        return bad("expected " + std::string(ScalarTypeName(t.scalar)) + ", got null");
      s = CoerceScalarOperand(f.value, t.scalar);
    } else if (IsContainsAnyOp(f.op)) {
      s = CoerceArrayOperand(f.value, t.scalar);
    } else if (IsGlobOp(f.op)) {
      if (t.scalar != ScalarType::kString) {
        return bad("glob needs a string or []string attribute, attribute has type " + t.ToString());
      }
    }
  } else {  // scalar
    if (IsContainsOp(f.op) || IsContainsAnyOp(f.op)) {
      return bad("attribute has type " + t.ToString() + "; " + OpName(f.op) +
                 " needs an array attribute");
    }
    if (IsGlobOp(f.op)) {
      if (t.scalar != ScalarType::kString) {
        return bad("glob needs a string or []string attribute, attribute has type " + t.ToString());
      }
      return Status::OK();
    }
    if (IsInOp(f.op)) {
      s = CoerceArrayOperand(f.value, t.scalar);
    } else {
      s = CoerceScalarOperand(f.value, t.scalar);
    }
  }
  return s.ok() ? s : bad(s.message());
}

Status Bind(Filter& f, const Schema& schema, bool allow_ref_new, int depth) {
  constexpr int kMaxDepth = 64;
  if (depth > kMaxDepth) {
    return Status::InvalidArgument("filter nesting deeper than " + std::to_string(kMaxDepth) +
                                   " levels");
  }
  if (f.is_logical()) {
    if (f.op == Op::kNot && f.children.size() != 1) {
      return Status::InvalidArgument("Not takes exactly one filter, got " +
                                     std::to_string(f.children.size()));
    }
    for (Filter& c : f.children) {
      GANNET_RETURN_IF_ERROR(Bind(c, schema, allow_ref_new, depth + 1));
    }
    return Status::OK();
  }
  GANNET_RETURN_IF_ERROR(BindLeaf(f, schema, allow_ref_new));
  // Set operands are kept sorted and unique so that matching can binary-search them.
  if (!f.ref_new && (IsInOp(f.op) || IsContainsAnyOp(f.op)) &&
      f.value.kind() == Value::Kind::kArray) {
    auto& elems = f.value.as_array();
    std::sort(elems.begin(), elems.end(),
              [](const Value& a, const Value& b) { return a.Compare(b) < 0; });
    elems.erase(std::unique(elems.begin(), elems.end(),
                            [](const Value& a, const Value& b) { return a.Compare(b) == 0; }),
                elems.end());
  }
  return Status::OK();
}

}  // namespace

Status BindFilterToSchema(Filter& filter, const Schema& schema, bool allow_ref_new) {
  return Bind(filter, schema, allow_ref_new, 1);
}

void BindFullTextLeaves(Filter& filter, const Schema& schema) {
  for (Filter& c : filter.children) BindFullTextLeaves(c, schema);
  if (!IsFullTextOp(filter.op) || filter.full_text != nullptr || filter.ref_new) return;
  Status ignored = BindLeaf(filter, schema, /*allow_ref_new=*/false);
  (void)ignored;  // an unbound leaf matches nothing
}

}  // namespace gannet::model
