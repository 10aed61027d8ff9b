#include "linflow/network.hpp"

#include <algorithm>
#include <sstream>

#include "detail/gemm.hpp"
#include "linflow/error.hpp"

namespace linflow {

using detail::Op;

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

Objective::Objective(const Problem& problem, const Shape& shape) : problem_(problem), shape_(shape) {
  check_compatible(problem, shape);
  const int N = shape.depth();
  const int d0 = shape.width(0);
  for (int j = 1; j <= N; ++j) {
    prefix_.emplace_back(shape.width(j), d0);
    suffix_t_.emplace_back(d0, shape.width(j));
  }
  g_.resize(shape.width(N), d0);
  if (!problem.whitened()) scratch_.resize(shape.width(N), d0);
}

void Objective::forward(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  prefix_[0] = shape_.layer(theta, 1);
  for (int j = 2; j <= shape_.depth(); ++j) {
    detail::gemm(prefix_[static_cast<size_t>(j - 1)], Op::none, shape_.layer(theta, j), Op::none,
                 prefix_[static_cast<size_t>(j - 2)]);
  }
}

double Objective::loss(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  forward(theta);
  const Eigen::MatrixXd& W = prefix_.back();
  if (problem_.whitened()) return 0.5 * (problem_.q() - W).squaredNorm();
  detail::gemm(scratch_, Op::none, W, Op::none, problem_.sigma_sqrt());
  return 0.5 * (problem_.q() - scratch_).squaredNorm() + problem_.data_constant();
}

double Objective::evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> grad) {
  return evaluate_signed(theta, grad, 1.0);
}

double Objective::velocity(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> v) {
  return evaluate_signed(theta, v, -1.0);
}

// The backward sweep runs on the transposed suffixes T_j = (W_{N:j+1}ᵀ G)ᵀ = Gᵀ W_N ⋯ W_{j+1} (d_0 × d_j),
// G = sign · ∇L_1(W): T_{j−1} = T_j W_j and ∇_{W_j} L = T_jᵀ W_{j−1:1}ᵀ. Below layer N no product is of the
// Aᵀ·B kind (the natural W_jᵀ S_j), which OpenBLAS 0.3.21 runs up to 2× slower than the others for d ≤ 64 (no
// small-matrix kernel, extra packing). Layer N starts from G: transposed explicitly when it is small (the copy is
// cheap there and saves one Aᵀ·B), used as Aᵀ in one product otherwise (the copy would cost more than it saves).
double Objective::evaluate_signed(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                                  double sign) {
  constexpr Eigen::Index kTransposeLimit = 24 * 24;
  const double value = loss(theta);
  const int N = shape_.depth();
  problem_.end_to_end_gradient(prefix_.back(), g_);
  if (N == 1) {
    shape_.mutable_layer(out, 1) = sign * g_;
    return value;
  }
  // Layer j from M, where T_j = α op(M): its gradient α op(M)ᵀ W_{j−1:1}ᵀ, then T_{j−1} = α op(M) W_j — or, for
  // j = 2, ∇_{W_1} L = α W_2ᵀ op(M)ᵀ.
  auto sweep = [&](int j, const Eigen::MatrixXd& M, Op op, double alpha) {
    const auto Wj = shape_.layer(theta, j);
    detail::gemm(shape_.mutable_layer(out, j), detail::flip(op), M, Op::transpose, prefix_[static_cast<size_t>(j - 2)],
                 alpha);
    if (j == 2) {
      detail::gemm(shape_.mutable_layer(out, 1), Op::transpose, Wj, detail::flip(op), M, alpha);
    } else {
      detail::gemm(suffix_t_[static_cast<size_t>(j - 2)], op, M, Op::none, Wj, alpha);
    }
  };
  if (g_.size() <= kTransposeLimit) {
    suffix_t_.back() = sign * g_.transpose();
    sweep(N, suffix_t_.back(), Op::none, 1.0);
  } else {
    sweep(N, g_, Op::transpose, sign);
  }
  for (int j = N - 1; j >= 2; --j) sweep(j, suffix_t_[static_cast<size_t>(j - 1)], Op::none, 1.0);
  return value;
}

}  // namespace linflow
