#pragma once
// The analysis and the observation as JSON (private): written in the theory layer, beside the citations they name,
// and published by the run layer's to_json (linflow/json.hpp).
#include <nlohmann/json.hpp>

#include "linflow/theory.hpp"

namespace linflow::theory {

nlohmann::json analysis_json(const Analysis& analysis);
nlohmann::json observation_json(const Observation& observation);

}  // namespace linflow::theory
