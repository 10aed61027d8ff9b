#include "linflow/random.hpp"

#include "linflow/error.hpp"

namespace linflow {

Eigen::MatrixXd gaussian_matrix(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index j = 0; j < M.cols(); ++j) {
    for (Eigen::Index i = 0; i < M.rows(); ++i) M(i, j) = normal(rng);
  }
  return M;
}

Eigen::MatrixXd random_orthonormal(int rows, int cols, std::mt19937_64& rng) {
  if (cols > rows) throw InputError("random_orthonormal: more columns than rows");
  const Eigen::MatrixXd G = gaussian_matrix(rows, cols, rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(rows, cols);
  // Fix the signs so that R has a positive diagonal: this makes Q Haar distributed.
  const Eigen::MatrixXd& R = qr.matrixQR();
  for (int j = 0; j < cols; ++j) {
    if (R(j, j) < 0) Q.col(j) *= -1.0;
  }
  return Q;
}

Eigen::VectorXd random_unit_vector(int n, std::mt19937_64& rng) {
  Eigen::VectorXd x = gaussian_matrix(n, 1, rng);
  return x / x.norm();
}

}  // namespace linflow
