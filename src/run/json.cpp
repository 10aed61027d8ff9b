#include "linflow/json.hpp"

#include "theory/json.hpp"

namespace linflow {

nlohmann::json to_json(const theory::Analysis& analysis) { return theory::analysis_json(analysis); }
nlohmann::json to_json(const theory::Observation& observation) { return theory::observation_json(observation); }

nlohmann::json to_json(const theory::PointKind& point) {
  const HessianSpectrum& s = point.spectrum;
  nlohmann::json j{{"kind", point.kind},
                   {"grad_norm", point.grad_norm},
                   {"excess_loss", point.excess_loss},
                   {"critical_tolerance", point.critical_tolerance},
                   {"method", s.method},
                   {"min_eigenvalue", s.min_eigenvalue},
                   {"max_eigenvalue", s.max_eigenvalue},
                   {"zero_tolerance", point.zero_tolerance},
                   {"hessian_vector_products", s.hessian_vector_products},
                   {"lanczos_restarts", s.lanczos_restarts}};
  if (s.negative >= 0) {
    j["negative"] = s.negative;
    j["zero"] = s.zero;
    j["positive"] = s.positive;
    j["symmetry_zeros"] = point.symmetry_zeros;
  }
  return j;
}

}  // namespace linflow
