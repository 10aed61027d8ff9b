#pragma once
// JSON text for linflow's files (private, for the run layer and above).
#include <nlohmann/json.hpp>
#include <string>

namespace linflow::detail {

/// `j` as text, then a newline when `indent` ≥ 0 (a file) or none (a JSON line). Invalid UTF-8 in a string — a path
/// in a folder named in Latin-1, a --set value — becomes U+FFFD instead of an exception after the work is done.
template <class Json>
std::string json_text(const Json& j, int indent = -1) {
  std::string text = j.dump(indent, ' ', false, Json::error_handler_t::replace);
  if (indent >= 0) text += '\n';
  return text;
}

}  // namespace linflow::detail
