#pragma once
// Computes the recorded quantities of a state (one trajectory row) — private to the library.
#include <Eigen/Dense>
#include <vector>

#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow::detail {

class Monitor {
 public:
  /// `theta0` fixes the reference imbalance D_j(0) for the drift column.
  Monitor(const Problem& problem, const Shape& shape, const Problem::Optimum& optimum,
          const Eigen::Ref<const Eigen::VectorXd>& theta0, int modes);

  /// The full sample of θ at time t. Uses `objective` for the loss and gradient.
  Sample sample(Objective& objective, const Eigen::Ref<const Eigen::VectorXd>& theta, double t);
  /// The sample of an end-to-end matrix, for flows that do not carry layers (gradient norm and drift given).
  Sample sample_end_to_end(const Eigen::Ref<const Eigen::MatrixXd>& W, double t, double loss, double grad_norm,
                           double drift) const;

  int modes() const { return modes_; }
  double max_drift(const Eigen::Ref<const Eigen::VectorXd>& theta) const;

 private:
  const Problem& problem_;
  const Shape& shape_;
  const Problem::Optimum& optimum_;
  std::vector<Eigen::MatrixXd> d0_;
  int modes_;
  Eigen::VectorXd grad_;
};

}  // namespace linflow::detail
