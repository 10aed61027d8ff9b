#include "linflow/hessian.hpp"

#include <Spectra/SymEigsSolver.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/products.hpp"
#include "linflow/error.hpp"

namespace linflow {

Hessian::Hessian(const Problem& problem, const Shape& shape) : problem_(problem), shape_(shape) {
  check_compatible(problem, shape);
  const int N = shape.depth();
  const Eigen::Index d0 = shape.width(0);
  p_.resize(static_cast<size_t>(N) + 1);
  r_.resize(p_.size());
  dp_.resize(p_.size());
  dr_.resize(p_.size());
  for (int j = 1; j <= N; ++j) {
    const auto J = static_cast<size_t>(j);
    p_[J].resize(shape.width(j), d0);
    r_[J].resize(shape.width(j), d0);
    dp_[J].resize(shape.width(j), d0);
    dr_[J].resize(shape.width(j), d0);
  }
  using detail::Op;
  for (int j = 2; j <= N; ++j) {
    const int dj = shape.width(j), dk = shape.width(j - 1);
    forward_.emplace_back(dj, d0, dk, Op::none, Op::none);
    back_.emplace_back(dk, d0, dj, Op::transpose, Op::none);
    gradient_.emplace_back(dj, dk, d0, Op::none, Op::transpose);
    forward_term_.emplace_back(dj, d0);
    back_term_.emplace_back(dk, d0);
    gradient_term_.emplace_back(dj, dk);
  }
  if (!problem.whitened()) sigma_.emplace_back(shape.width(N), d0, d0, Op::none, Op::none);
  theta_.setZero(shape.size());
  unit_.setZero(shape.size());
}

Hessian::Hessian(Hessian&&) noexcept = default;
Hessian::~Hessian() = default;

void Hessian::set_point(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  if (theta.size() != shape_.size()) throw InputError("Hessian: parameter vector has the wrong size for the network");
  theta_ = theta;
  const int N = shape_.depth();
  p_[1] = shape_.layer(theta_, 1);
  for (int j = 2; j <= N; ++j) {
    const auto J = static_cast<size_t>(j);
    forward_[J - 2](p_[J], shape_.layer(theta_, j), p_[J - 1]);
  }
  const auto n = static_cast<size_t>(N);
  problem_.end_to_end_gradient(p_[n], r_[n]);
  for (int j = N; j >= 2; --j) {
    const auto J = static_cast<size_t>(j);
    back_[J - 2](r_[J - 1], shape_.layer(theta_, j), r_[J]);
  }
}

void Hessian::apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out, double scale) {
  ++products_;
  const int N = shape_.depth();
  const auto n = static_cast<size_t>(N);
  dp_[1] = shape_.layer(v, 1);
  for (int j = 2; j <= N; ++j) {
    const auto J = static_cast<size_t>(j);
    forward_[J - 2](dp_[J], shape_.layer(theta_, j), dp_[J - 1]);
    forward_[J - 2](forward_term_[J - 2], shape_.layer(v, j), p_[J - 1]);
    dp_[J] += forward_term_[J - 2];
  }
  if (problem_.whitened()) {
    dr_[n] = scale * dp_[n];
  } else {
    sigma_.front()(dr_[n], dp_[n], problem_.sigma());
    dr_[n] *= scale;
  }
  for (int j = N; j >= 2; --j) {
    const auto J = static_cast<size_t>(j);
    back_[J - 2](dr_[J - 1], shape_.layer(theta_, j), dr_[J]);
    back_[J - 2](back_term_[J - 2], shape_.layer(v, j), r_[J]);
    dr_[J - 1] += scale * back_term_[J - 2];
  }
  shape_.mutable_layer(out, 1) = dr_[1];
  for (int j = 2; j <= N; ++j) {
    const auto J = static_cast<size_t>(j);
    auto out_j = shape_.mutable_layer(out, j);
    gradient_[J - 2](out_j, dr_[J], p_[J - 1]);
    gradient_[J - 2](gradient_term_[J - 2], r_[J], dp_[J - 1]);
    out_j += scale * gradient_term_[J - 2];
  }
}

void Hessian::dense(Eigen::Ref<Eigen::MatrixXd> H, double scale) {
  const Eigen::Index n = shape_.size();
  if (n > dense_limit() || H.rows() != n || H.cols() != n) {
    throw InputError("Hessian: dense form needs an n × n matrix with n ≤ " + std::to_string(dense_limit()) +
                     " (n = " + std::to_string(n) + ")");
  }
  for (Eigen::Index c = 0; c < n; ++c) {
    unit_(c) = 1.0;
    apply(unit_, H.col(c), scale);
    unit_(c) = 0.0;
  }
  // Symmetric in exact arithmetic; the two triangles differ by rounding in the order of the products.
  for (Eigen::Index c = 0; c < n; ++c) {
    for (Eigen::Index r = c + 1; r < n; ++r) H(r, c) = H(c, r) = 0.5 * (H(r, c) + H(c, r));
  }
}

namespace {

// The Hessian as Spectra's matrix operation (y = H x); Spectra holds it by const reference.
class HessianOp {
 public:
  using Scalar = double;
  explicit HessianOp(Hessian& h) : h_(&h) {}
  Eigen::Index rows() const { return h_->size(); }
  Eigen::Index cols() const { return h_->size(); }
  void perform_op(const double* x_in, double* y_out) const {
    h_->apply(Eigen::Map<const Eigen::VectorXd>(x_in, rows()), Eigen::Map<Eigen::VectorXd>(y_out, rows()));
  }

 private:
  Hessian* h_;
};

// One extreme eigenvalue by Lanczos (NaN where it fails); adds its restarts to `*restarts` (its Hessian-vector
// products are h.products()'s).
double lanczos_extreme(Hessian& h, Spectra::SortRule rule, long* restarts = nullptr) {
  HessianOp op(h);
  const Eigen::Index n = h.size();
  const Eigen::Index ncv = std::min<Eigen::Index>(n, 40);
  Spectra::SymEigsSolver<HessianOp> eigs(op, 1, ncv);
  eigs.init();
  auto count = [&] {
    if (restarts) *restarts += static_cast<long>(eigs.num_iterations());
  };
  try {
    eigs.compute(rule, 1000, 1e-10);
  } catch (const InputError&) {
    throw;
  } catch (const std::runtime_error&) {  // Spectra's own failures, e.g. on a zero Hessian (the origin for N ≥ 3):
    count();
    return std::numeric_limits<double>::quiet_NaN();  // "TridiagEigen: eigen decomposition failed"
  }
  count();
  if (eigs.info() != Spectra::CompInfo::Successful) return std::numeric_limits<double>::quiet_NaN();
  return eigs.eigenvalues()(0);
}

// The zero tolerance of a spectrum with extremes lo, hi of an n × n Hessian: its rounding, 100 n ε max(1, |λ|), or
// the caller's, whichever is larger.
double zero_tolerance_of(Eigen::Index n, double lo, double hi, double requested) {
  const double top = std::max({1.0, std::abs(lo), std::abs(hi)});
  return std::max(requested, 100.0 * static_cast<double>(n) * std::numeric_limits<double>::epsilon() * top);
}

}  // namespace

double hessian_max_eigenvalue(Hessian& h, Eigen::Index dense_limit) {
  const Eigen::Index n = h.size();
  const auto dense = [&] {
    Eigen::MatrixXd H(n, n);
    h.dense(H);
    return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(H, Eigen::EigenvaluesOnly).eigenvalues()(n - 1);
  };
  if (n <= std::min(dense_limit, Hessian::dense_limit()) || n < 3) return dense();
  const double lambda = lanczos_extreme(h, Spectra::SortRule::LargestAlge);
  // Lanczos can fail where the dense route cannot (no convergence within its restarts): fall back while n allows.
  return std::isnan(lambda) && n <= Hessian::dense_limit() ? dense() : lambda;
}

HessianSpectrum hessian_spectrum(const Problem& problem, const Shape& shape,
                                 const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Index dense_limit,
                                 double zero_tolerance) {
  Hessian h(problem, shape);
  h.set_point(theta);
  const Eigen::Index n = shape.size();
  HessianSpectrum s;
  if (n > std::min(dense_limit, Hessian::dense_limit()) && n >= 3) {
    s.method = "lanczos";
    s.max_eigenvalue = lanczos_extreme(h, Spectra::SortRule::LargestAlge, &s.lanczos_restarts);  // dense fallback below
    s.min_eigenvalue = lanczos_extreme(h, Spectra::SortRule::SmallestAlge, &s.lanczos_restarts);
    s.tolerance = zero_tolerance_of(n, s.min_eigenvalue, s.max_eigenvalue, zero_tolerance);
    // Lanczos fails on a zero Hessian (the origin at N ≥ 3) and can fail to converge: the dense route where n allows.
    const bool failed = std::isnan(s.min_eigenvalue) || std::isnan(s.max_eigenvalue);
    s.hessian_vector_products = h.products();
    if (!failed || n > Hessian::dense_limit()) return s;
  }
  Eigen::MatrixXd H(n, n);
  h.dense(H);
  s.hessian_vector_products = h.products();  // a failed Lanczos's products and one per column
  const Eigen::VectorXd lambda =
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(H, Eigen::EigenvaluesOnly).eigenvalues();
  s.method = "dense";
  s.min_eigenvalue = lambda(0);
  s.max_eigenvalue = lambda(n - 1);
  s.tolerance = zero_tolerance_of(n, s.min_eigenvalue, s.max_eigenvalue, zero_tolerance);
  s.negative = static_cast<int>((lambda.array() < -s.tolerance).count());
  s.positive = static_cast<int>((lambda.array() > s.tolerance).count());
  s.zero = static_cast<int>(n) - s.negative - s.positive;
  return s;
}

}  // namespace linflow
