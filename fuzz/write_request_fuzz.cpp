// libFuzzer target: the JSON write-request parser and write validation must never crash
// on any input; they either accept it or answer InvalidArgument.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gannet/json.h"
#include "model/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto req = gannet::ParseWriteRequest(text);
  if (!req.ok()) {
    if (!req.status().IsInvalidArgument()) __builtin_trap();
    return 0;
  }
  gannet::Schema schema;
  gannet::Status st = gannet::model::ValidateWrite(*req, schema);
  if (!st.ok() && !st.IsInvalidArgument()) __builtin_trap();
  return 0;
}
