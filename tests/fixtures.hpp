#pragma once
// Shared test fixtures: small random problems whose answers are known.
#include <Eigen/Dense>
#include <limits>
#include <random>
#include <vector>

#include "linflow/init.hpp"
#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow::test {

inline constexpr double kEps = std::numeric_limits<double>::epsilon();

inline Eigen::MatrixXd gaussian(int rows, int cols, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i) M(i, j) = normal(rng);
  return M;
}

/// Random unbalanced parameters: every layer i.i.d. N(0, scale²).
inline Eigen::VectorXd random_theta(const Shape& shape, std::mt19937_64& rng, double scale) {
  Eigen::VectorXd theta(shape.size());
  for (int j = 1; j <= shape.depth(); ++j) {
    shape.mutable_layer(theta, j) = gaussian(shape.width(j), shape.width(j - 1), rng, scale);
  }
  return theta;
}

/// A whitened problem with prescribed singular values and random singular vectors.
inline Problem synthetic(int dx, int dy, std::vector<double> s, unsigned long long seed) {
  std::mt19937_64 rng(seed);
  return Problem::synthetic(dx, dy, s, rng);
}

/// A non-whitened problem from random data with m samples.
inline Problem random_data(int dx, int dy, int m, unsigned long long seed) {
  std::mt19937_64 rng(seed);
  return Problem::from_data(gaussian(dx, m, rng), gaussian(dy, m, rng));
}

/// Tight gradient-flow settings for oracle comparisons: local error control at 1e-13 keeps the global error of
/// short, well-conditioned runs below about 1e-10, two orders under the tolerances of docs/theory.md §8. Runs to t_max.
inline SolverOptions tight_flow(double t_max) {
  SolverOptions o;
  o.rtol = 1e-13;
  o.atol = 1e-15;
  o.t_max = t_max;
  o.eps = 1e-300;
  o.stop_at_eps = false;
  o.grad_tol = 0;
  return o;
}

}  // namespace linflow::test
