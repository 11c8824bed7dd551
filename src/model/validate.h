// Write validation: strict types, checked when a write is committed.
#pragma once

#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::model {

// Checks `request` against `schema` and coerces its values to the schema's types
// (string -> uuid/datetime where declared, int -> float for float attributes, JSON
// float arrays -> vectors for "vector"). Attributes not yet in the schema get an
// inferred type that is added to `schema`; `request.schema` declarations and
// `request.distance_metric` are merged into it too.
//
// On error returns InvalidArgument naming the row id, the attribute, and the expected
// and actual type, e.g.
//   "upsert id=7: attribute 'price': expected float, got string"
// and leaves both `request` and `schema` in an unspecified state: callers validate a
// copy of the schema and keep it only on success (nothing of a rejected batch applies).
//
// Also rejected: an id of the wrong type for the namespace, string ids over 64 bytes,
// duplicate ids within one request, vectors in patches, vectors whose dimension differs
// from the schema's, non-finite vector components, attribute names that are empty, start
// with '$', or are "id", declared types that contradict existing ones, and filters
// (delete_by_filter, conditions) that name attributes with incompatible operands.
Status ValidateWrite(WriteRequest& request, Schema& schema);

// Infers the type of a JSON-derived value for attribute `name` ("vector" -> [N]f32).
Result<AttrType> InferType(std::string_view name, const Value& value);

// Coerces `value` to `type` in place, or InvalidArgument "expected T, got K".
Status CoerceValue(Value& value, const AttrType& type);

}  // namespace gannet::model
