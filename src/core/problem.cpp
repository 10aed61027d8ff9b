#include "linflow/problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "linflow/error.hpp"
#include "linflow/random.hpp"

namespace linflow {
namespace {

void require_finite(const Eigen::MatrixXd& M, const char* name) {
  if (M.size() == 0) throw InputError(std::string(name) + " is empty");
  if (!M.allFinite()) throw InputError(std::string(name) + " contains NaN or Inf");
}

}  // namespace

Problem Problem::from_target(const Eigen::MatrixXd& Z) {
  require_finite(Z, "target");
  Problem p;
  p.whitened_ = true;
  const auto dx = Z.cols();
  p.sigma_ = Eigen::MatrixXd::Identity(dx, dx);
  p.sigma_sqrt_ = p.sigma_;
  p.sigma_inv_sqrt_ = p.sigma_;
  p.cross_ = Z;
  p.q_ = Z;
  p.data_constant_ = 0.0;
  p.factor_target();
  return p;
}

Problem Problem::from_data(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y) {
  require_finite(X, "data x");
  require_finite(Y, "data y");
  if (X.cols() != Y.cols()) {
    std::ostringstream os;
    os << "data x has " << X.cols() << " samples (columns) but y has " << Y.cols();
    throw InputError(os.str());
  }
  Problem p;
  p.whitened_ = false;
  p.sigma_.noalias() = X * X.transpose();
  p.cross_.noalias() = Y * X.transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(p.sigma_);
  const Eigen::VectorXd& lambda = eig.eigenvalues();
  const double lmax = lambda.maxCoeff();
  if (!(lambda.minCoeff() > rank_tolerance() * lmax)) {
    std::ostringstream os;
    os << "data x: X Xᵀ is rank deficient (smallest eigenvalue " << lambda.minCoeff() << ", largest " << lmax
       << "); need at least d_x = " << X.rows() << " linearly independent samples";
    throw InputError(os.str());
  }
  const Eigen::MatrixXd& E = eig.eigenvectors();
  p.sigma_sqrt_ = E * lambda.cwiseSqrt().asDiagonal() * E.transpose();
  p.sigma_inv_sqrt_ = E * lambda.cwiseSqrt().cwiseInverse().asDiagonal() * E.transpose();
  p.q_.noalias() = p.cross_ * p.sigma_inv_sqrt_;
  p.data_constant_ = 0.5 * std::max(0.0, Y.squaredNorm() - p.q_.squaredNorm());
  p.factor_target();
  return p;
}

Problem Problem::synthetic(int d_x, int d_y, const std::vector<double>& s, std::mt19937_64& rng) {
  if (d_x < 1 || d_y < 1) throw InputError("problem.dims: dimensions must be ≥ 1");
  const int r = static_cast<int>(s.size());
  if (r < 1 || r > std::min(d_x, d_y)) {
    std::ostringstream os;
    os << "problem.singular_values: need between 1 and min(d_x, d_y) = " << std::min(d_x, d_y) << " values, got " << r;
    throw InputError(os.str());
  }
  for (int i = 0; i < r; ++i) {
    if (!(s[i] > 0.0) || !std::isfinite(s[i]) || (i > 0 && s[i] > s[i - 1])) {
      throw InputError("problem.singular_values: must be finite, positive and non-increasing");
    }
  }
  const Eigen::MatrixXd U = random_orthonormal(d_y, r, rng);
  const Eigen::MatrixXd V = random_orthonormal(d_x, r, rng);
  const Eigen::VectorXd sv = Eigen::Map<const Eigen::VectorXd>(s.data(), r);
  return from_target(U * sv.asDiagonal() * V.transpose());
}

void Problem::factor_target() {
  Eigen::BDCSVD<Eigen::MatrixXd> svd(q_, Eigen::ComputeThinU | Eigen::ComputeThinV);
  u_ = svd.matrixU();
  v_ = svd.matrixV();
  s_ = svd.singularValues();
}

int Problem::target_rank() const {
  if (s_.size() == 0) return 0;
  const double tol =
      std::numeric_limits<double>::epsilon() * static_cast<double>(std::max(q_.rows(), q_.cols())) * s_(0);
  return static_cast<int>((s_.array() > tol).count());
}

Problem::Optimum Problem::optimum(int k) const {
  Optimum opt;
  opt.k = std::clamp<int>(k, 0, static_cast<int>(s_.size()));
  opt.qk = u_.leftCols(opt.k) * s_.head(opt.k).asDiagonal() * v_.leftCols(opt.k).transpose();
  opt.tail = q_ - opt.qk;
  opt.w = whitened_ ? opt.qk : Eigen::MatrixXd(opt.qk * sigma_inv_sqrt_);
  opt.loss = 0.5 * s_.tail(s_.size() - opt.k).squaredNorm() + data_constant_;
  return opt;
}

double Problem::loss(const Eigen::Ref<const Eigen::MatrixXd>& W) const {
  if (whitened_) return 0.5 * (q_ - W).squaredNorm();
  return 0.5 * (q_ - W * sigma_sqrt_).squaredNorm() + data_constant_;
}

double Problem::excess_loss(const Eigen::Ref<const Eigen::MatrixXd>& W, const Optimum& opt) const {
  if (whitened_) return excess_from_residual(W - opt.qk, opt);
  const Eigen::MatrixXd WS = W * sigma_sqrt_;
  return excess_from_residual(WS - opt.qk, opt);
}

void Problem::end_to_end_gradient(const Eigen::Ref<const Eigen::MatrixXd>& W, Eigen::Ref<Eigen::MatrixXd> G,
                                  double scale) const {
  if (whitened_) {
    G = scale * (W - cross_);
  } else {
    G.noalias() = scale * W * sigma_;
    G -= scale * cross_;
  }
}

}  // namespace linflow
