// Stopword lists per language (Snowball's lists; generated into stopwords_data.cpp by
// scripts/gen_stopwords.py).
//
// Thread safety: immutable after first use.
#pragma once

#include <string_view>
#include <vector>

namespace gannet::text {

struct StopwordList {
  std::string_view language;
  std::vector<std::string_view> words;  // sorted, lowercase
};

const std::vector<StopwordList>& StopwordLists();

}  // namespace gannet::text
