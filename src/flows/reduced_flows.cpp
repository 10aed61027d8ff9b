#include "flows/reduced_flows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "linflow/error.hpp"

namespace linflow::detail {
namespace {

// Eigen-decomposition of a PSD Gram matrix of rank ≤ max_rank, with round-off zeros set to exact zeros.
void gram_eigen(const Eigen::MatrixXd& gram, int max_rank, Eigen::MatrixXd& basis, Eigen::VectorXd& values) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  basis = eig.eigenvectors();
  values = eig.eigenvalues();  // ascending
  const Eigen::Index excess_rank = values.size() - max_rank;
  if (excess_rank > 0) values.head(excess_rank).setZero();
  const double top = std::max(0.0, values.maxCoeff());
  const double floor =
      kGramZeroFactor * std::numeric_limits<double>::epsilon() * static_cast<double>(gram.rows()) * top;
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    if (values(i) <= floor) values(i) = 0.0;
  }
}

double power(double x, double p) { return p == 0.0 ? 1.0 : (x == 0.0 ? 0.0 : std::pow(x, p)); }

}  // namespace

double balanced_velocity(const Eigen::Ref<const Eigen::MatrixXd>& W, const Eigen::Ref<const Eigen::MatrixXd>& G,
                         int depth, int max_rank, Eigen::Ref<Eigen::MatrixXd> V, Eigen::MatrixXd* truncated) {
  Eigen::MatrixXd P, Q;
  Eigen::VectorXd lambda, mu;
  gram_eigen(W * W.transpose(), max_rank, P, lambda);
  gram_eigen(W.transpose() * W, max_rank, Q, mu);
  Eigen::MatrixXd M = P.transpose() * G * Q;
  const double N = depth;
  double grad_sq = 0;
  for (Eigen::Index b = 0; b < M.cols(); ++b) {
    for (Eigen::Index a = 0; a < M.rows(); ++a) {
      double rate = 0;
      for (int j = 1; j <= depth; ++j) rate += power(lambda(a), (N - j) / N) * power(mu(b), (j - 1) / N);
      grad_sq += rate * M(a, b) * M(a, b);
      M(a, b) *= rate;
    }
  }
  V.noalias() = P * M * Q.transpose();
  if (truncated) {
    const Eigen::Index k = std::min<Eigen::Index>(max_rank, P.cols());
    const auto Pk = P.rightCols(k);  // eigenvalues ascend: the top k are last
    *truncated = Pk * (Pk.transpose() * W);
  }
  return grad_sq;
}

EndToEndFlow::EndToEndFlow(const Problem& problem, int depth, int max_rank, const Problem::Optimum& optimum)
    : problem_(problem),
      depth_(depth),
      max_rank_(max_rank),
      optimum_(optimum),
      G_(problem.output_dim(), problem.input_dim()),
      V_(problem.output_dim(), problem.input_dim()) {}

void EndToEndFlow::operator()(const Eigen::VectorXd& x, Eigen::VectorXd& dxdt, double /*t*/) {
  const auto W = matrix(x);
  problem_.end_to_end_gradient(W, G_);
  balanced_velocity(W, G_, depth_, max_rank_, V_, &Wk_);
  last_excess_ = problem_.excess_loss(Wk_, optimum_);
  dxdt = -Eigen::Map<const Eigen::VectorXd>(V_.data(), V_.size());
  ++evals_;
}

Eigen::MatrixXd EndToEndFlow::end_to_end(const Eigen::VectorXd& x) const {
  const auto W = matrix(x);
  if (max_rank_ >= std::min(W.rows(), W.cols())) return W;
  Eigen::BDCSVD<Eigen::MatrixXd> svd(W, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return svd.matrixU().leftCols(max_rank_) * svd.singularValues().head(max_rank_).asDiagonal() *
         svd.matrixV().leftCols(max_rank_).transpose();
}

double EndToEndFlow::excess(const Eigen::VectorXd& x) const { return problem_.excess_loss(end_to_end(x), optimum_); }

double EndToEndFlow::grad_norm(const Eigen::VectorXd& x, const Eigen::VectorXd& /*dxdt*/) const {
  const Eigen::MatrixXd W = end_to_end(x);
  Eigen::MatrixXd G(problem_.output_dim(), problem_.input_dim()), V(G.rows(), G.cols());
  problem_.end_to_end_gradient(W, G);
  return std::sqrt(std::max(0.0, balanced_velocity(W, G, depth_, max_rank_, V)));
}

Rank1Flow::Rank1Flow(const Problem& problem, int depth, const Problem::Optimum& optimum)
    : problem_(problem), depth_(depth), optimum_(optimum) {
  if (!problem.whitened())
    throw InputError("solver.method = \"rank1\" needs a whitened target (problem.target or synthetic)");
}

Eigen::VectorXd Rank1Flow::pack(double sigma, const Eigen::VectorXd& u, const Eigen::VectorXd& v) {
  Eigen::VectorXd x(1 + u.size() + v.size());
  x << std::log(sigma), u, v;
  return x;
}

Eigen::MatrixXd Rank1Flow::end_to_end(const Eigen::VectorXd& x) const {
  const int dy = problem_.output_dim(), dx = problem_.input_dim();
  return std::exp(x(0)) * x.segment(1, dy) * x.segment(1 + dy, dx).transpose();
}

void Rank1Flow::operator()(const Eigen::VectorXd& x, Eigen::VectorXd& dxdt, double /*t*/) {
  const int dy = problem_.output_dim(), dx = problem_.input_dim();
  const double N = depth_;
  const double sigma = std::exp(x(0));
  const auto u = x.segment(1, dy);
  const auto v = x.segment(1 + dy, dx);
  const Eigen::MatrixXd& Z = problem_.q();
  zv_.noalias() = Z * v;
  ztu_.noalias() = Z.transpose() * u;
  const double f = u.dot(zv_);
  const double speed = std::pow(sigma, 1.0 - 2.0 / N);
  dxdt.resize(x.size());
  dxdt(0) = N * speed * (f - sigma);
  dxdt.segment(1, dy) = speed * (zv_ - u * u.dot(zv_));
  dxdt.segment(1 + dy, dx) = speed * (ztu_ - v * v.dot(ztu_));
  // Excess loss of W = σ u vᵀ for the FSAL end-of-step query, without forming W: ½‖E‖² − ⟨T, E⟩ with E = W − [Z]_k.
  last_excess_ = problem_.excess_loss(sigma * u * v.transpose(), optimum_);
  ++evals_;
}

double rank1_grad_norm(const Problem& problem, int depth, double sigma, const Eigen::Ref<const Eigen::VectorXd>& u,
                       const Eigen::Ref<const Eigen::VectorXd>& v) {
  const double N = depth;
  const Eigen::MatrixXd G = sigma * u * v.transpose() - problem.q();
  const Eigen::VectorXd Gv = G * v, Gtu = G.transpose() * u;
  const double c = u.dot(Gv);
  const double sq = N * c * c + (Gv - c * u).squaredNorm() + (Gtu - c * v).squaredNorm();
  return std::sqrt(std::pow(sigma, 2.0 - 2.0 / N) * sq);
}

double Rank1Flow::grad_norm(const Eigen::VectorXd& x, const Eigen::VectorXd& /*dxdt*/) const {
  const int dy = problem_.output_dim(), dx = problem_.input_dim();
  return rank1_grad_norm(problem_, depth_, std::exp(x(0)), x.segment(1, dy).normalized(),
                         x.segment(1 + dy, dx).normalized());
}

}  // namespace linflow::detail
