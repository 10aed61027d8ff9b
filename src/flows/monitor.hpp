#pragma once
// Computes the recorded quantities of a state (one trajectory row) — private to the library.
#include <Eigen/Dense>
#include <optional>
#include <vector>

#include "linflow/hessian.hpp"
#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow::detail {

class Monitor {
 public:
  /// `theta0` fixes the reference imbalance D_j(0) for the drift column; `sharpness` adds λ_max(∇²L) to samples.
  Monitor(const Problem& problem, const Shape& shape, const Problem::Optimum& optimum,
          const Eigen::Ref<const Eigen::VectorXd>& theta0, int modes, bool sharpness = false);

  /// The full sample of θ at time t. Uses `objective` for the loss and gradient.
  Sample sample(Objective& objective, const Eigen::Ref<const Eigen::VectorXd>& theta, double t);
  /// The sample of θ with end-to-end matrix W, loss and gradient norm already evaluated (gd).
  Sample sample_layers(const Eigen::Ref<const Eigen::MatrixXd>& W, const Eigen::Ref<const Eigen::VectorXd>& theta,
                       double t, double loss, double grad_norm);
  /// The sample of an end-to-end matrix, for flows that do not carry layers: the balanced network W stands for (no
  /// drift; its sharpness from a balanced factorization of W).
  Sample sample_end_to_end(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm);

  int modes() const { return modes_; }
  /// Hessian-vector products the sharpness column has cost (with `before`, those of the run before its resumption).
  long sharpness_products() const { return sharpness_before_ + (hessian_ ? hessian_->products() : 0); }
  void resume_sharpness_products(long before) { sharpness_before_ = before; }
  double max_drift(const Eigen::Ref<const Eigen::VectorXd>& theta) const;

 private:
  Sample measure(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm,
                 double drift) const;

  const Problem& problem_;
  const Shape& shape_;
  const Problem::Optimum& optimum_;
  std::vector<Eigen::MatrixXd> d0_;
  int modes_;
  Eigen::VectorXd grad_;
  std::optional<Hessian> hessian_;  // engaged when samples carry the sharpness
  long sharpness_before_ = 0;
};

}  // namespace linflow::detail
