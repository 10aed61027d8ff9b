#include "linflow/network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/double_double.hpp"
#include "core/products.hpp"
#include "linflow/error.hpp"

namespace linflow {

using detail::Op;

const char* to_string(GradientPrecision precision) {
  switch (precision) {
    case GradientPrecision::automatic:
      return "auto";
    case GradientPrecision::standard:
      return "double";
    case GradientPrecision::extended:
      return "extended";
  }
  return "?";
}

GradientPrecision gradient_precision_from_string(const std::string& name) {
  for (auto p : {GradientPrecision::automatic, GradientPrecision::standard, GradientPrecision::extended}) {
    if (name == to_string(p)) return p;
  }
  throw InputError("solver.gradient_precision: unknown precision '" + name + "' (expected auto, double or extended)");
}

Shape::Shape(std::vector<int> widths) : widths_(std::move(widths)) {
  if (widths_.size() < 2) throw InputError("network.widths: need at least two widths [d_0, …, d_N] (depth N ≥ 1)");
  offsets_.assign(1, 0);
  for (size_t j = 0; j < widths_.size(); ++j) {
    if (widths_[j] < 1) {
      std::ostringstream os;
      os << "network.widths: width d_" << j << " = " << widths_[j] << " must be ≥ 1";
      throw InputError(os.str());
    }
    if (j > 0) offsets_.push_back(offsets_.back() + Eigen::Index{widths_[j]} * widths_[j - 1]);
  }
}

int Shape::min_width() const { return *std::min_element(widths_.begin(), widths_.end()); }

int Shape::min_hidden_width() const {
  if (depth() == 1) return std::min(widths_.front(), widths_.back());
  return *std::min_element(widths_.begin() + 1, widths_.end() - 1);
}

Eigen::Map<Eigen::MatrixXd> Shape::mutable_layer(Eigen::Ref<Eigen::VectorXd> theta, int j) const {
  return {theta.data() + offsets_[static_cast<size_t>(j - 1)], width(j), width(j - 1)};
}

Eigen::Map<const Eigen::MatrixXd> Shape::layer(const Eigen::Ref<const Eigen::VectorXd>& theta, int j) const {
  return {theta.data() + offsets_[static_cast<size_t>(j - 1)], width(j), width(j - 1)};
}

Eigen::MatrixXd Shape::end_to_end(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
  Eigen::MatrixXd W = layer(theta, 1);
  for (int j = 2; j <= depth(); ++j) W = layer(theta, j) * W;
  return W;
}

std::vector<Eigen::MatrixXd> Shape::imbalance(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
  std::vector<Eigen::MatrixXd> D;
  D.reserve(static_cast<size_t>(std::max(0, depth() - 1)));
  for (int j = 1; j < depth(); ++j) {
    const auto Wj = layer(theta, j);
    const auto Wn = layer(theta, j + 1);
    Eigen::MatrixXd Dj(width(j), width(j));
    Dj.noalias() = Wn.transpose() * Wn;
    Dj.noalias() -= Wj * Wj.transpose();
    D.push_back(std::move(Dj));
  }
  return D;
}

double Shape::max_imbalance(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
  double m = 0.0;
  for (const auto& Dj : imbalance(theta)) m = std::max(m, Dj.norm());
  return m;
}

void check_compatible(const Problem& problem, const Shape& shape) {
  if (problem.input_dim() != shape.width(0) || problem.output_dim() != shape.width(shape.depth())) {
    std::ostringstream os;
    os << "network.widths: d_0 = " << shape.width(0) << " and d_N = " << shape.width(shape.depth())
       << " must match the problem's input and output dimensions " << problem.input_dim() << " and "
       << problem.output_dim();
    throw InputError(os.str());
  }
}

// The backward sweep runs on the transposed suffixes T_j = (W_{N:j+1}ᵀ G)ᵀ = Gᵀ W_N ⋯ W_{j+1} (d_0 × d_j),
// G = sign · ∇L_1(W): T_{j−1} = T_j W_j and ∇_{W_j} L = T_jᵀ W_{j−1:1}ᵀ. Below layer N no product is of the
// Aᵀ·B kind (the natural W_jᵀ S_j), which OpenBLAS 0.3.21 runs up to 2× slower than the others for d ≤ 64 and
// libxsmm does not generate (src/core/products.hpp). Layer N starts from G itself: ∇_{W_N} L = G W_{N−1:1}ᵀ and
// T_{N−1} = Gᵀ W_N, the one Aᵀ·B product, which its plan forms from a transposed copy of G where that is faster.
Objective::Objective(const Problem& problem, const Shape& shape) : problem_(problem), shape_(shape) {
  check_compatible(problem, shape);
  const int N = shape.depth();
  const Eigen::Index d0 = shape.width(0), dN = shape.width(N);
  prefix_.emplace_back(N == 1 ? shape.width(1) : 0, N == 1 ? d0 : 0);  // W_1 is read in place when N > 1
  for (int j = 2; j <= N; ++j) prefix_.emplace_back(shape.width(j), d0);
  for (int j = 2; j < N; ++j) suffix_t_.emplace_back(d0, shape.width(j));
  g_.resize(dN, d0);
  if (!problem.whitened()) {
    scratch_.resize(dN, d0);
    whiten_.emplace_back(dN, d0, d0, Op::none, Op::none);
  }
  for (int j = 2; j <= N; ++j) forward_.emplace_back(shape.width(j), d0, shape.width(j - 1), Op::none, Op::none);
  // With T_j = op(M) (M = G, op = ᵀ for j = N; M = T_j below): ∇_{W_j} L = op(M)ᵀ W_{j−1:1}ᵀ for j ≥ 2,
  // ∇_{W_1} L = W_2ᵀ op(M)ᵀ with the M of j = 2, and T_{j−1} = op(M) W_j for j ≥ 3.
  const auto m_op = [N](int j) { return j == N ? Op::transpose : Op::none; };
  const auto flip = [](Op op) { return op == Op::none ? Op::transpose : Op::none; };
  if (N >= 2) gradient_.emplace_back(shape.width(1), d0, shape.width(2), Op::transpose, flip(m_op(2)));
  for (int j = 2; j <= N; ++j) {
    gradient_.emplace_back(shape.width(j), shape.width(j - 1), d0, flip(m_op(j)), Op::transpose);
  }
  for (int j = 3; j <= N; ++j) suffix_.emplace_back(d0, shape.width(j - 1), shape.width(j), m_op(j), Op::none);
}

Objective::Objective(Objective&&) noexcept = default;
Objective::~Objective() = default;

void Objective::forward(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  const int N = shape_.depth();
  if (N == 1) {
    prefix_[0] = shape_.layer(theta, 1);
    return;
  }
  forward_[0](prefix_[1], shape_.layer(theta, 2), shape_.layer(theta, 1));  // W_1 read in place, not copied
  for (int j = 3; j <= N; ++j) {
    forward_[static_cast<size_t>(j - 2)](prefix_[static_cast<size_t>(j - 1)], shape_.layer(theta, j),
                                         prefix_[static_cast<size_t>(j - 2)]);
  }
}

double Objective::loss(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  forward(theta);
  const Eigen::MatrixXd& W = prefix_.back();
  if (problem_.whitened()) return 0.5 * (problem_.q() - W).squaredNorm();
  whiten_.front()(scratch_, W, problem_.sigma_sqrt());
  return 0.5 * (problem_.q() - scratch_).squaredNorm() + problem_.data_constant();
}

double Objective::evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> grad) {
  return evaluate_signed(theta, grad, 1.0);
}

double Objective::velocity(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> v) {
  return evaluate_signed(theta, v, -1.0);
}

// Whether the double gradient `grad` (of θ, whose forward products are formed) may be dominated by its rounding:
// the rounding of ∇_{W_j} L = A_jᵀ ∇L_1 B_jᵀ is at most about u · d · ‖∇L_1‖-scale · ‖A_j‖ ‖B_j‖, with the scale
// of ∇L_1 the size of its terms, ‖Q‖_F + ‖W‖_F (whitened) or ‖B‖_F + ‖W‖_F ‖Σ‖_F, and ‖A_j‖ ‖B_j‖ ≤ ∏_{i≠j} ‖W_i‖_F.
bool Objective::rounding_dominates(const Eigen::Ref<const Eigen::VectorXd>& theta,
                                   const Eigen::Ref<const Eigen::VectorXd>& grad) {
  const int N = shape_.depth();
  const auto n = static_cast<size_t>(N);
  norms_.assign(2 * n + 2, 1.0);  // norms_[j] = ∏_{i<j} ‖W_i‖ (j = 1..N+1 from index 1), then suffix products
  double* before = norms_.data();
  double* after = norms_.data() + n + 1;
  for (int j = 1; j <= N; ++j) before[j] = before[j - 1] * shape_.layer(theta, j).norm();
  for (int j = N; j >= 1; --j) after[j - 1] = after[j] * shape_.layer(theta, j).norm();
  const Eigen::MatrixXd& W = prefix_.back();
  const double scale = problem_.whitened() ? problem_.cross().norm() + W.norm()
                                           : problem_.cross().norm() + W.norm() * problem_.sigma().norm();
  int widest = 0;
  for (int j = 0; j <= N; ++j) widest = std::max(widest, shape_.width(j));
  const double unit = 0.5 * std::numeric_limits<double>::epsilon() * widest * scale;
  for (int j = 1; j <= N; ++j) {
    const double bound = unit * before[j - 1] * after[j];
    if (bound > kExtendedPrecisionRatio * shape_.layer(grad, j).norm()) return true;
  }
  return false;
}

// The double-double workspace: below[j] = W_{j:1} (j = 2..N), the residual G = ±∇L_1, the transposed suffix
// T_j = Gᵀ W_N ⋯ W_{j+1} and the next one, and one product.
struct Objective::ExtendedWorkspace {
  std::vector<detail::DoubleDoubleMatrix> below;
  detail::DoubleDoubleMatrix residual, suffix, next, product;
  detail::DoubleDoubleProducts products;
};

// The gradient with every product in double-double arithmetic (src/core/double_double.hpp), rounded to double at
// the end, into `out` and g_ (the forward products stay the double ones, for excess_loss and end_to_end), by the
// sweeps of evaluate_standard: W_{j:1} upwards, then T_{j−1} = T_j W_j and ∇_{W_j} L = (W_{j−1:1} T_j)ᵀ downwards.
// Returns ½‖G‖² from the accurate G: the loss of a whitened problem.
double Objective::evaluate_extended(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                                    double sign) {
  const int N = shape_.depth();
  if (!extended_) {
    extended_ = std::make_unique<ExtendedWorkspace>();
    extended_->below.resize(static_cast<size_t>(N) + 1);
  }
  ExtendedWorkspace& x = *extended_;
  const auto below = [&](int j) {  // W_{j:1}, j ≥ 1
    return j == 1 ? detail::operand(shape_.layer(theta, 1)) : detail::operand(x.below[static_cast<size_t>(j)]);
  };
  for (int j = 2; j <= N; ++j) {
    x.products.multiply(x.below[static_cast<size_t>(j)], detail::operand(shape_.layer(theta, j)), below(j - 1));
  }
  if (problem_.whitened()) {
    detail::subtract(x.residual, below(N), problem_.cross(), sign);
  } else {
    x.products.multiply(x.product, below(N), detail::operand(problem_.sigma()));
    detail::subtract(x.residual, detail::operand(x.product), problem_.cross(), sign);
  }
  x.suffix.hi = x.residual.hi.transpose();  // T_N = Gᵀ
  x.suffix.lo = x.residual.lo.transpose();
  for (int j = N; j >= 2; --j) {
    x.products.multiply(x.product, below(j - 1), detail::operand(x.suffix));
    shape_.mutable_layer(out, j) = x.product.hi.transpose();
    x.products.multiply(x.next, detail::operand(x.suffix), detail::operand(shape_.layer(theta, j)));
    std::swap(x.suffix, x.next);
  }
  shape_.mutable_layer(out, 1) = x.suffix.hi.transpose();
  g_ = x.residual.hi;
  return 0.5 * detail::squared_norm(x.residual);
}

double Objective::evaluate_signed(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                                  double sign) {
  double value = 0;  // a data problem's loss, from the double forward products either route forms first
  if (precision_ == GradientPrecision::extended) {
    if (problem_.whitened()) {
      forward(theta);
    } else {
      value = loss(theta);
    }
  } else {
    value = evaluate_standard(theta, out, sign);
    if (precision_ == GradientPrecision::standard || shape_.depth() == 1 || !rounding_dominates(theta, out)) {
      return value;
    }
  }
  const double half_squared = evaluate_extended(theta, out, sign);
  return problem_.whitened() ? half_squared : value;
}

double Objective::evaluate_standard(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                                    double sign) {
  const int N = shape_.depth();
  double value;
  if (problem_.whitened()) {  // one pass over W: G = ±(W − Z), and L = ½‖G‖² is ½‖Z − W‖² to the last bit
    forward(theta);
    problem_.end_to_end_gradient(prefix_.back(), g_, sign);
    value = 0.5 * g_.squaredNorm();
  } else {
    value = loss(theta);
    problem_.end_to_end_gradient(prefix_.back(), g_, sign);
  }
  if (N == 1) {
    shape_.mutable_layer(out, 1) = g_;
    return value;
  }
  // Layer j from M, with T_j = op(M) (M = G, op = ᵀ for layer N; M = T_j below).
  const Eigen::MatrixXd* M = &g_;
  for (int j = N; j >= 2; --j) {
    const auto Wj = shape_.layer(theta, j);
    const auto J = static_cast<size_t>(j);
    if (j == 2) {
      gradient_[1](shape_.mutable_layer(out, 2), *M, shape_.layer(theta, 1));  // W_{1:1} = W_1, read in place
      gradient_[0](shape_.mutable_layer(out, 1), Wj, *M);
    } else {
      gradient_[J - 1](shape_.mutable_layer(out, j), *M, prefix_[J - 2]);
      suffix_[J - 3](suffix_t_[J - 3], *M, Wj);
      M = &suffix_t_[J - 3];
    }
  }
  return value;
}

}  // namespace linflow
