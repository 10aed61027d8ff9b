#include "linflow/json.hpp"

#include "theory/json.hpp"

namespace linflow {

nlohmann::json to_json(const theory::Analysis& analysis) { return theory::analysis_json(analysis); }
nlohmann::json to_json(const theory::Observation& observation) { return theory::observation_json(observation); }

}  // namespace linflow
