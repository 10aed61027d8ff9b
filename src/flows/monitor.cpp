#include "flows/monitor.hpp"

#include <algorithm>

namespace linflow::detail {

Monitor::Monitor(const Problem& problem, const Shape& shape, const Problem::Optimum& optimum,
                 const Eigen::Ref<const Eigen::VectorXd>& theta0, int modes)
    : problem_(problem),
      shape_(shape),
      optimum_(optimum),
      d0_(shape.imbalance(theta0)),
      modes_(std::clamp(modes, 0, std::min({shape.min_width(), problem.input_dim(), problem.output_dim()}))),
      grad_(shape.size()) {}

double Monitor::max_drift(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
  const auto D = shape_.imbalance(theta);
  double m = 0;
  for (size_t j = 0; j < D.size(); ++j) m = std::max(m, (D[j] - d0_[j]).norm());
  return m;
}

Sample Monitor::sample(Objective& objective, const Eigen::Ref<const Eigen::VectorXd>& theta, double t) {
  const double loss = objective.evaluate(theta, grad_);
  return sample_end_to_end(objective.end_to_end(), t, loss, grad_.norm(), max_drift(theta));
}

Sample Monitor::sample_end_to_end(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm,
                                  double drift) const {
  Sample s;
  s.t = t;
  s.loss = loss;
  s.excess_loss = problem_.excess_loss(W, optimum_);
  s.dist_to_opt = (W - optimum_.w).norm();
  s.grad_norm = grad_norm;
  s.imbalance_drift = drift;
  if (modes_ > 0) {
    Eigen::BDCSVD<Eigen::MatrixXd> svd(W);
    s.singular_values = svd.singularValues().head(modes_);
    s.alignments.resize(modes_);
    const Eigen::MatrixXd WS = problem_.whitened() ? Eigen::MatrixXd(W) : Eigen::MatrixXd(W * problem_.sigma_sqrt());
    for (int i = 0; i < modes_; ++i) {
      s.alignments(i) = problem_.u().col(i).dot(WS * problem_.v().col(i));
    }
  }
  return s;
}

}  // namespace linflow::detail
