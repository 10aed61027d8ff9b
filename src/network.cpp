#include "linflow/network.hpp"

#include <algorithm>
#include <sstream>

#include "linflow/error.hpp"

namespace linflow {

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
    suffix_.emplace_back(shape.width(j), d0);
  }
  g_.resize(shape.width(N), d0);
  if (!problem.whitened()) scratch_.resize(shape.width(N), d0);
}

void Objective::forward(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  prefix_[0] = shape_.layer(theta, 1);
  for (int j = 2; j <= shape_.depth(); ++j) {
    prefix_[static_cast<size_t>(j - 1)].noalias() = shape_.layer(theta, j) * prefix_[static_cast<size_t>(j - 2)];
  }
}

double Objective::loss(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  forward(theta);
  const Eigen::MatrixXd& W = prefix_.back();
  if (problem_.whitened()) return 0.5 * (problem_.q() - W).squaredNorm();
  scratch_.noalias() = W * problem_.sigma_sqrt();
  return 0.5 * (problem_.q() - scratch_).squaredNorm() + problem_.data_constant();
}

double Objective::evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> grad) {
  const double value = loss(theta);
  const int N = shape_.depth();
  problem_.end_to_end_gradient(prefix_.back(), g_);
  // Backward sweep: S_N = G, S_{j−1} = W_jᵀ S_j, ∇_{W_j} L = S_j W_{j−1:1}ᵀ (and ∇_{W_1} L = S_1).
  const Eigen::MatrixXd* S = &g_;
  for (int j = N; j >= 2; --j) {
    const auto Wj = shape_.layer(theta, j);
    shape_.mutable_layer(grad, j).noalias() = *S * prefix_[static_cast<size_t>(j - 2)].transpose();
    if (j == 2) {
      shape_.mutable_layer(grad, 1).noalias() = Wj.transpose() * *S;
    } else {
      Eigen::MatrixXd& next = suffix_[static_cast<size_t>(j - 2)];
      next.noalias() = Wj.transpose() * *S;
      S = &next;
    }
  }
  if (N == 1) shape_.mutable_layer(grad, 1) = g_;
  return value;
}

}  // namespace linflow
