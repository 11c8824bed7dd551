// Base64 (RFC 4648, standard alphabet) and the little-endian f32 vector encoding that
// turbopuffer's API uses for "vector_encoding": "base64" and base64 vector inputs.
//
// Thread safety: free functions without shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"

namespace gannet::model {

std::string Base64Encode(std::string_view bytes);

// Accepts padded or unpadded input; ASCII whitespace is not allowed. InvalidArgument on
// a bad character, bad length or non-zero trailing bits.
Result<std::string> Base64Decode(std::string_view text);

// Decodes base64 of little-endian IEEE-754 f32 values. InvalidArgument when the decoded
// length is not a multiple of 4.
Result<std::vector<float>> DecodeBase64Floats(std::string_view text);
std::string EncodeBase64Floats(const std::vector<float>& v);

// Narrows to f32 without undefined behaviour: values beyond the f32 range become
// +-infinity (which validation then rejects as non-finite).
float ToF32(double d);

}  // namespace gannet::model
