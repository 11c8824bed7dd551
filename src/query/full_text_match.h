// Full-text filter leaves (ContainsAllTokens, ContainsAnyToken, ContainsTokenSequence)
// answered for a segment's rows through its inverted index instead of analyzing each
// row's text:
//   - without last_as_prefix: one posting cursor per distinct query token, advanced to
//     each row asked (rows ascending; a smaller row restarts them); a phrase then checks
//     the tokens' positions. Cost follows the rows asked, so a BM25 query pays only for
//     its candidates.
//   - with last_as_prefix: the rows of every token (the last one's expansions merged)
//     are counted once into a bitmap; a phrase verifies its candidates on the row's text.
//
// Thread safety: a matcher keeps cursor state; use it from one query (one thread).
#pragma once

#include <memory>
#include <vector>

#include "format/segment.h"
#include "query/executor.h"
#include "query/filter.h"

namespace gannet::query {

// One matcher per leaf for the segment whose text indexes `text` supplies. Empty when
// `text` is empty (the row-by-row path answers then).
FullTextMatches MatchFullTextLeaves(const std::vector<const Filter*>& leaves,
                                    const TextFieldSource& text, const format::Segment& segment);

}  // namespace gannet::query
