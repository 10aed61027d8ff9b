#include "flows/monitor.hpp"

#include <algorithm>
#include <limits>

#include "linflow/error.hpp"
#include "linflow/init.hpp"

namespace linflow::detail {

Monitor::Monitor(const Problem& problem, const Shape& shape, const Problem::Optimum& optimum,
                 const Eigen::Ref<const Eigen::VectorXd>& theta0, int modes, bool sharpness)
    : problem_(problem),
      shape_(shape),
      optimum_(optimum),
      d0_(shape.imbalance(theta0)),
      modes_(std::clamp(modes, 0, std::min({shape.min_width(), problem.input_dim(), problem.output_dim()}))),
      grad_(shape.size()) {
  if (sharpness) hessian_.emplace(problem, shape);
}

double Monitor::max_drift(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
  const auto D = shape_.imbalance(theta);
  double m = 0;
  for (size_t j = 0; j < D.size(); ++j) m = std::max(m, (D[j] - d0_[j]).norm());
  return m;
}

Sample Monitor::sample(Objective& objective, const Eigen::Ref<const Eigen::VectorXd>& theta, double t) {
  const double loss = objective.evaluate(theta, grad_);
  return sample_layers(objective.end_to_end(), theta, t, loss, grad_.norm());
}

Sample Monitor::sample_layers(const Eigen::Ref<const Eigen::MatrixXd>& W,
                              const Eigen::Ref<const Eigen::VectorXd>& theta, double t, double loss, double grad_norm) {
  Sample s = measure(W, t, loss, grad_norm, max_drift(theta));
  if (hessian_) {
    hessian_->set_point(theta);
    s.sharpness = hessian_max_eigenvalue(*hessian_, kSharpnessDenseLimit);
  }
  return s;
}

Sample Monitor::sample_end_to_end(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm) {
  Sample s = measure(W, t, loss, grad_norm, 0.0);
  if (hessian_) {
    // The network a reduced flow stands for is balanced, and every balanced factorization of W has its spectrum.
    InitOptions balanced;
    balanced.kind = InitKind::balanced;
    balanced.end_to_end = W;
    try {
      hessian_->set_point(initialize(shape_, balanced));
      s.sharpness = hessian_max_eigenvalue(*hessian_, kSharpnessDenseLimit);
    } catch (const InputError&) {  // W's numerical rank above min_j d_j: no balanced network to measure
      s.sharpness = std::numeric_limits<double>::quiet_NaN();
    }
  }
  return s;
}

Sample Monitor::measure(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm,
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
