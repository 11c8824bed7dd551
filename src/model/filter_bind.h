// Binding of filter expressions to a namespace schema. Implementation behind
// query::BindFilter (query/filter.h documents the semantics), placed in the model layer
// because write validation needs it and layers never call upward.
#pragma once

#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::model {

// See query::BindFilter.
Status BindFilterToSchema(Filter& filter, const Schema& schema, bool allow_ref_new);

// Attaches the analyzer and query tokens to full-text leaves that have none: a filter
// decoded from a WAL entry (bindings are not stored). Leaves whose attribute has no valid
// full_text_search options stay unbound and match nothing.
void BindFullTextLeaves(Filter& filter, const Schema& schema);

}  // namespace gannet::model
