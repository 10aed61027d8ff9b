#include "flows/block_preconditioner.hpp"

#include "flows/ode/vector_ops.hpp"

#include <algorithm>

namespace linflow::detail {
namespace {
size_t at(int j) { return static_cast<size_t>(j); }
}  // namespace

BlockPreconditioner::BlockPreconditioner(const Shape& shape)
    : shape_(shape),
      width_(shape.min_width()),
      diagonal_(shape.size()),
      inverse_diagonal_(shape.size()),
      blocks_(at(shape.depth() * shape.depth()), Eigen::ArrayXd(width_ * width_)),
      prefix_(at(shape.depth())),
      suffix_(prefix_.size()),
      corner_(prefix_.size(), Eigen::ArrayXd(width_ * width_)),
      factor_(blocks_),
      sum_(width_ * width_) {
  const Eigen::VectorXd position = Eigen::VectorXd::LinSpaced(shape.size(), 0, static_cast<double>(shape.size() - 1));
  for (int j = 1; j <= shape.depth(); ++j) {
    offset_.push_back(static_cast<Eigen::Index>(shape.layer(position, j)(0, 0)));
    rows_.push_back(shape.width(j));
  }
}

void BlockPreconditioner::set_point(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  const int N = shape_.depth();
  prefix_[0] = Eigen::MatrixXd::Identity(shape_.width(0), shape_.width(0));
  for (int j = 1; j < N; ++j) prefix_[at(j)] = shape_.layer(theta, j) * prefix_[at(j - 1)];
  suffix_[at(N - 1)] = Eigen::MatrixXd::Identity(shape_.width(N), shape_.width(N));
  for (int j = N - 1; j >= 1; --j) suffix_[at(j - 1)] = suffix_[at(j)] * shape_.layer(theta, j + 1);
  for (int j = 1; j <= N; ++j) {
    const Eigen::VectorXd columns = suffix_[at(j - 1)].colwise().squaredNorm().transpose();  // ‖S_j e_a‖²
    const Eigen::VectorXd rows = prefix_[at(j - 1)].rowwise().squaredNorm();                 // ‖e_bᵀ P_{j−1}‖²
    shape_.mutable_layer(diagonal_, j) = columns * rows.transpose();
  }
  // Block (a, b)'s entry (j, l) = (S_j e_a · S_l e_a)(e_bᵀ P_{j−1} · e_bᵀ P_{l−1}), for all a, b < m at once.
  const auto m = static_cast<Eigen::Index>(width_);
  for (int j = 1; j <= N; ++j) {
    for (int l = 1; l <= N; ++l) {
      const Eigen::VectorXd out =
          suffix_[at(j - 1)].leftCols(m).cwiseProduct(suffix_[at(l - 1)].leftCols(m)).colwise().sum().transpose();
      const Eigen::VectorXd in =
          prefix_[at(j - 1)].topRows(m).cwiseProduct(prefix_[at(l - 1)].topRows(m)).rowwise().sum();
      Eigen::Map<Eigen::MatrixXd>(blocks_[at((j - 1) * N + l - 1)].data(), m, m) = out * in.transpose();
    }
  }
}

double BlockPreconditioner::factor(double gamma) {
  const int N = shape_.depth();
  inverse_diagonal_ = (1.0 + gamma * diagonal_.array()).inverse();
  // Cholesky I + γ G_ab = L Lᵀ, every operation entrywise over the blocks. Each I + γ G_ab is symmetric positive
  // definite (G_ab is a Gram matrix), so the square roots are of positive numbers; the solve substitutes through L
  // (backward stable at any γ: γ λ reaches 1e10 on depth-6 plateaus).
  std::vector<Eigen::ArrayXd>& L = factor_;
  Eigen::ArrayXd& sum = sum_;
  for (int j = 0; j < N; ++j) {
    for (int i = j; i < N; ++i) {
      sum = gamma * blocks_[at(i * N + j)];
      if (i == j) sum += 1.0;
      for (int k = 0; k < j; ++k) sum -= L[at(i * N + k)] * L[at(j * N + k)];
      if (i == j) {
        L[at(j * N + j)] = sum.sqrt().inverse();  // the diagonal is kept inverted: the solve multiplies by it
      } else {
        L[at(i * N + j)] = sum * L[at(j * N + j)];
      }
    }
  }
  return gamma * diagonal_.maxCoeff();
}

void BlockPreconditioner::solve(const Eigen::Ref<const Eigen::VectorXd>& r, Eigen::Ref<Eigen::VectorXd> z) const {
  const int N = shape_.depth();
  const Eigen::Index m = width_, mm = m * m;
  const std::vector<Eigen::ArrayXd>& L = factor_;
  // Layer by layer: a layer of m × m entries is its own corner, solved in place in z (r copied there); a wider one
  // has its corner gathered from r first (z may be r), the rest of its entries scaled by the diagonal.
  const auto count = [&](int l) { return rows_[at(l)] * shape_.width(l); };
  const auto in_place = [&](int l) { return count(l) == mm; };
  const auto c = [&](int l) { return in_place(l) ? z.data() + offset_[at(l)] : corner_[at(l)].data(); };
  for (int l = 0; l < N; ++l) {
    const Eigen::Index begin = offset_[at(l)];
    if (in_place(l)) {
      if (z.data() != r.data()) std::copy_n(r.data() + begin, count(l), z.data() + begin);
      continue;
    }
    for (Eigen::Index b = 0; b < m; ++b) std::copy_n(r.data() + begin + b * rows_[at(l)], m, c(l) + b * m);
    vector_prod(inverse_diagonal_.data() + begin, r.data() + begin, z.data() + begin, count(l));
  }
  // L y = corner and Lᵀ x = y, entrywise over the blocks, in place.
  for (int i = 0; i < N; ++i) {  // forward: y_i = (c_i − Σ_{k<i} L_ik y_k) / L_ii
    for (int k = 0; k < i; ++k) vector_sub_prod(L[at(i * N + k)].data(), c(k), c(i), mm);
    vector_prod(L[at(i * N + i)].data(), c(i), c(i), mm);
  }
  for (int i = N - 1; i >= 0; --i) {  // back: x_i = (y_i − Σ_{k>i} L_ki x_k) / L_ii
    for (int k = i + 1; k < N; ++k) vector_sub_prod(L[at(k * N + i)].data(), c(k), c(i), mm);
    vector_prod(L[at(i * N + i)].data(), c(i), c(i), mm);
  }
  for (int l = 0; l < N; ++l) {
    if (in_place(l)) continue;
    double* to = z.data() + offset_[at(l)];
    for (Eigen::Index b = 0; b < m; ++b) std::copy_n(c(l) + b * m, m, to + b * rows_[at(l)]);
  }
}

Eigen::MatrixXd BlockPreconditioner::dense() const {
  const int N = shape_.depth();
  Eigen::MatrixXd g = diagonal_.asDiagonal();
  const auto index = [&](int j, Eigen::Index a, Eigen::Index b) {
    return offset_[at(j - 1)] + a + rows_[at(j - 1)] * b;
  };
  for (Eigen::Index b = 0; b < width_; ++b) {
    for (Eigen::Index a = 0; a < width_; ++a) {
      for (int j = 1; j <= N; ++j) {
        for (int l = 1; l <= N; ++l)
          g(index(j, a, b), index(l, a, b)) = blocks_[at((j - 1) * N + l - 1)](a + width_ * b);
      }
    }
  }
  return g;
}

}  // namespace linflow::detail
