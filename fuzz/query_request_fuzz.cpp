// libFuzzer target: the JSON query-request parser, filter parser and response encoder
// must never crash; bad input is InvalidArgument.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gannet/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto req = gannet::ParseQueryRequest(text);
  if (!req.ok() && !req.status().IsInvalidArgument()) __builtin_trap();
  auto filter = gannet::ParseFilter(text);
  if (!filter.ok() && !filter.status().IsInvalidArgument()) __builtin_trap();
  auto schema = gannet::ParseSchema(text);
  if (schema.ok()) (void)gannet::SchemaToJson(*schema);
  return 0;
}
