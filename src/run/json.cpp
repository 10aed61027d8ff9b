#include "linflow/json.hpp"

#include "theory/json.hpp"

namespace linflow {

nlohmann::json to_json(const Analysis& analysis) { return detail::analysis_json(analysis); }
nlohmann::json to_json(const Observation& observation) { return detail::observation_json(observation); }

}  // namespace linflow
