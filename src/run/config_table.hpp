#pragma once
// The parsed TOML behind a ConfigTemplate (private to the run and sweep layers).
#include <toml++/toml.h>

#include "linflow/config.hpp"

namespace linflow::detail {

struct ConfigTable {
  toml::table root;
};

}  // namespace linflow::detail
