#pragma once
// A deep linear network W_N ⋯ W_1 with widths d_0 = d_x, d_1, …, d_N = d_y (docs/theory.md §1).
//
// All weights live in one contiguous parameter vector θ (layer 1 first, each layer column-major), so any ODE
// engine or optimizer can drive them; `Shape::layer` gives zero-copy per-layer views.
//
// `Objective` evaluates the loss and all N layer gradients from prefix products W_{j:1} and (transposed) suffix
// products W_{N:j+1}ᵀ ∇L_1: 3N − 3 matrix products per evaluation, no recomputation, and no heap allocation per
// call (the workspace is allocated once; tests/test_allocation.cpp; Eigen may still allocate GEMM packing buffers
// above its stack limit of 128 KiB when it multiplies without a BLAS, i.e. for layers of a few hundred units,
// where that cost is negligible).
#include <Eigen/Dense>
#include <memory>
#include <string>
#include <vector>

#include "linflow/problem.hpp"

namespace linflow {

namespace detail {
class Product;  // a planned matrix product (src/core/products.hpp)
}

class Shape {
 public:
  /// widths = {d_0, …, d_N}, N ≥ 1, every width ≥ 1. Throws InputError otherwise.
  explicit Shape(std::vector<int> widths);

  int depth() const { return static_cast<int>(widths_.size()) - 1; }  ///< N
  int width(int j) const { return widths_[static_cast<size_t>(j)]; }  ///< d_j, j = 0..N
  const std::vector<int>& widths() const { return widths_; }
  int min_width() const;                                 ///< k = min_j d_j: the largest possible rank of W
  int min_hidden_width() const;                          ///< min over j = 1..N−1 (d_0 ∧ d_N when N = 1)
  Eigen::Index size() const { return offsets_.back(); }  ///< number of parameters

  /// Layer j = 1..N of θ as a d_j × d_{j−1} matrix view (read-only, and writable).
  Eigen::Map<Eigen::MatrixXd> mutable_layer(Eigen::Ref<Eigen::VectorXd> theta, int j) const;
  Eigen::Map<const Eigen::MatrixXd> layer(const Eigen::Ref<const Eigen::VectorXd>& theta, int j) const;

  /// End-to-end matrix W_{N:1}.
  Eigen::MatrixXd end_to_end(const Eigen::Ref<const Eigen::VectorXd>& theta) const;
  /// Imbalance D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ for j = 1..N−1 (docs/theory.md §2), element j−1 of the result.
  std::vector<Eigen::MatrixXd> imbalance(const Eigen::Ref<const Eigen::VectorXd>& theta) const;
  /// max_j ‖D_j‖_F (0 when N = 1).
  double max_imbalance(const Eigen::Ref<const Eigen::VectorXd>& theta) const;

 private:
  std::vector<int> widths_;
  std::vector<Eigen::Index> offsets_;
};

/// Throws InputError unless d_0 and d_N of `shape` are the problem's input and output dimensions.
void check_compatible(const Problem& problem, const Shape& shape);

/// The arithmetic of the gradient (solver.gradient_precision). Near a learned mode ∇L is a cancellation: from a start
/// of scale σ0 its plateau value is O(σ0^{N−1}) while its terms are O(‖Z‖), and in double the rounding, O(u ‖Z‖), is
/// the gradient itself at σ0 ≈ 1e-6 (N = 4): the flow then follows the rounding and an implicit integrator's Newton
/// iteration fails on it (docs/performance.md, "Rounding on the plateau").
enum class GradientPrecision {
  automatic,  ///< extended where the double gradient's rounding bound exceeds kExtendedPrecisionRatio of its size
  standard,   ///< double ("double")
  extended,   ///< every product in double-double arithmetic (~106 bits), rounded to double at the end
};
const char* to_string(GradientPrecision precision);
GradientPrecision gradient_precision_from_string(const std::string& name);  ///< throws InputError naming the valid
/// `automatic` recomputes a layer-wise gradient in extended precision when, for some layer j,
/// u · ‖∇L_1‖-scale · ∏_{i≠j} ‖W_i‖_F > this · ‖∇_{W_j} L‖_F (u = 2^−53; docs/performance.md).
inline constexpr double kExtendedPrecisionRatio = 1e-4;

/// Loss and gradient of L(W_1..W_N) = L_1(W_N ⋯ W_1) for one problem and shape, with its own workspace.
/// Not thread-safe: use one Objective per thread. Keeps references to `problem` and `shape`, which must outlive it.
class Objective {
 public:
  Objective(const Problem& problem, const Shape& shape);
  Objective(Objective&&) noexcept;
  ~Objective();

  /// Returns L(θ) and writes ∇L(θ) into `grad` (size shape.size()).
  double evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> grad);
  /// Returns L(θ) and writes the gradient-flow velocity −∇L(θ) into `v`, at the cost of `evaluate` (the sign is
  /// folded into ∇L_1, no extra pass).
  double velocity(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> v);
  /// L(θ) only (N − 1 products plus the loss).
  double loss(const Eigen::Ref<const Eigen::VectorXd>& theta);

  /// After `evaluate` or `loss`: the end-to-end matrix W_{N:1} of the last θ.
  const Eigen::MatrixXd& end_to_end() const { return prefix_.back(); }

  /// After `evaluate`, `velocity` or `loss`: L − L* of the last θ (Problem::excess_loss), from the products already
  /// formed, without allocating.
  double excess_loss(const Problem::Optimum& opt) const {
    return Problem::excess_from_residual(problem_.whitened() ? prefix_.back() - opt.qk : scratch_ - opt.qk, opt);
  }

  const Problem& problem() const { return problem_; }
  const Shape& shape() const { return shape_; }

  /// The arithmetic of `evaluate` and `velocity` (standard by default).
  void set_precision(GradientPrecision precision) { precision_ = precision; }
  GradientPrecision precision() const { return precision_; }

 private:
  void forward(const Eigen::Ref<const Eigen::VectorXd>& theta);
  double evaluate_signed(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out, double sign);
  double evaluate_standard(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                           double sign);
  bool rounding_dominates(const Eigen::Ref<const Eigen::VectorXd>& theta,
                          const Eigen::Ref<const Eigen::VectorXd>& grad);
  double evaluate_extended(const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Ref<Eigen::VectorXd> out,
                           double sign);

  const Problem& problem_;
  const Shape& shape_;
  std::vector<Eigen::MatrixXd> prefix_;  // prefix_[j] = W_{j+1:1}, j = 1..N−1; prefix_[0] = W_1 only if N = 1
  std::vector<Eigen::MatrixXd> suffix_t_;  // suffix_t_[j − 2] = T_j = ±(W_{N:j+1}ᵀ ∇L_1)ᵀ, j = 2..N−1 (d_0 × d_j)
  Eigen::MatrixXd g_;                      // ±∇L_1(W)
  Eigen::MatrixXd scratch_;                // W Σ^{1/2} for the non-whitened loss
  // The products, planned for their shapes once: forward_[j − 2] forms W_{j:1} (j = 2..N), gradient_[j − 1] forms
  // ∇_{W_j} L (j = 1..N), suffix_[j − 3] forms T_{j−1} (j = 3..N), whiten_ (data problems) forms W Σ^{1/2}.
  std::vector<detail::Product> forward_, gradient_, suffix_, whiten_;
  GradientPrecision precision_ = GradientPrecision::standard;
  std::vector<double> norms_;  // ‖W_j‖_F and their partial products, for rounding_dominates
  // The double-double workspace of evaluate_extended (src/core/network.cpp), made at its first use.
  struct ExtendedWorkspace;
  std::unique_ptr<ExtendedWorkspace> extended_;
};

}  // namespace linflow
