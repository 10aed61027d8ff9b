#pragma once
// parse_config from a TOML table parsed already (private): a sweep parses its base configuration once per thread
// and copies the table for each run instead of parsing the text again.
#include <toml++/toml.h>
#include <string>
#include <vector>

#include "linflow/config.hpp"

namespace linflow::detail {

/// Parses TOML text; a syntax error becomes InputError "ORIGIN:LINE:COLUMN: description".
toml::table parse_toml(const std::string& text, const std::string& origin);

RunConfig parse_config_table(toml::table root, const std::string& base_dir, const std::vector<std::string>& overrides,
                             const std::string& origin);

}  // namespace linflow::detail
