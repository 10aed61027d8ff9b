#pragma once
// Second derivatives of L(θ) = L_1(W_N ⋯ W_1) (docs/theory.md §9): exact Hessian-vector products, the dense Hessian
// assembled from them, and the Hessian's extreme eigenvalues.
//
// With prefixes P_j = W_j ⋯ W_1 (P_0 = I), back-propagated residuals R_N = G = ∇L_1(W), R_{j−1} = W_jᵀ R_j, the
// gradient is ∇_{W_j} L = R_j P_{j−1}ᵀ. Differentiating along V = (V_1, …, V_N):
//   dP_j = W_j dP_{j−1} + V_j P_{j−1}  (dP_0 = 0),   dR_N = dP_N Σ  (Σ = X Xᵀ; = dP_N whitened),
//   dR_{j−1} = W_jᵀ dR_j + V_jᵀ R_j,                 d∇_{W_j} L = dR_j P_{j−1}ᵀ + R_j dP_{j−1}ᵀ.
// `set_point` forms P_j and R_j once (the gradient's products); each `apply` then costs 6(N − 1) matrix products
// (one more on data), about two gradient evaluations, and allocates nothing (OpenBLAS may allocate packing buffers
// for layers of a few hundred units, as in Objective). The products are planned once for their shapes, as the
// gradient's are (libxsmm's kernels for small layers: at widths 8 they were 38 % of a matrix-free implicit run's
// instructions through OpenBLAS's dgemm, whose call overhead dominates products of 8 × 8 matrices).
#include <Eigen/Dense>
#include <string>
#include <vector>

#include "linflow/network.hpp"
#include "linflow/problem.hpp"

namespace linflow {

namespace detail {
class Product;  // a planned matrix product (src/core/products.hpp)
}

/// The Hessian ∇²L(θ) of one problem and shape as an operator. Not thread-safe: one per thread. Keeps references to
/// `problem` and `shape`, which must outlive it.
class Hessian {
 public:
  Hessian(const Problem& problem, const Shape& shape);
  Hessian(Hessian&&) noexcept;
  ~Hessian();

  /// Linearises at θ (size shape.size()).
  void set_point(const Eigen::Ref<const Eigen::VectorXd>& theta);
  /// out = scale · ∇²L(θ) v at the last point set; v and out of size shape.size(), not aliased.
  void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out, double scale = 1.0);
  /// H = scale · ∇²L(θ), n × n, column by column from `apply` (n = shape.size() ≤ dense_limit()). The result is
  /// symmetric to rounding; it is symmetrised.
  void dense(Eigen::Ref<Eigen::MatrixXd> H, double scale = 1.0);

  /// Hessian-vector products formed so far (`apply` calls, `dense`'s n columns included).
  long products() const { return products_; }

  /// The largest parameter count for which `dense` is offered (a 4096 × 4096 Hessian is 128 MiB).
  static Eigen::Index dense_limit() { return 4096; }
  Eigen::Index size() const { return shape_.size(); }

 private:
  const Problem& problem_;
  const Shape& shape_;
  Eigen::VectorXd theta_;
  std::vector<Eigen::MatrixXd> p_, r_, dp_, dr_;  // index j = 1..N (entry 0 unused): P_j, R_j, dP_j, dR_j
  // The second term of each sum in `apply`, by layer j = 2..N (entry j − 2): V_j P_{j−1}, V_jᵀ R_j, R_j dP_{j−1}ᵀ.
  std::vector<Eigen::MatrixXd> forward_term_, back_term_, gradient_term_;
  // Planned products by layer j = 2..N (entry j − 2): forward_ A·B of d_j × d_{j−1} by d_{j−1} × d_0, back_ Aᵀ·B of
  // d_j × d_{j−1} by d_j × d_0, gradient_ A·Bᵀ of d_j × d_0 by d_{j−1} × d_0; sigma_ (data problems) dP_N Σ.
  std::vector<detail::Product> forward_, back_, gradient_, sigma_;
  Eigen::VectorXd unit_;
  long products_ = 0;
};

/// The extreme eigenvalues of ∇²L(θ) and, when computed densely, the inertia.
struct HessianSpectrum {
  std::string method;  ///< "dense" (all eigenvalues, n ≤ Hessian::dense_limit()) or "lanczos" (Spectra)
  double min_eigenvalue = 0;
  double max_eigenvalue = 0;
  double tolerance = 0;  ///< |λ| ≤ tolerance counts as zero: n · ε · max(1, |λ|_max) · 100
  int negative = -1;  ///< counts of eigenvalues below −tolerance, within ±tolerance, above (dense only; −1 else)
  int zero = -1;
  int positive = -1;
  /// The cost: Hessian-vector products spent (the dense Hessian's n columns; Lanczos's products for both ends,
  /// Spectra's count, including a failed attempt before the dense fallback) and the restarts of the implicitly
  /// restarted Lanczos iterations (0 when dense only).
  long hessian_vector_products = 0;
  long lanczos_restarts = 0;
};

/// The spectrum of ∇²L(θ): dense (Eigen's symmetric eigensolver) when shape.size() ≤ dense_limit, otherwise the two
/// extreme eigenvalues by Lanczos iterations on the Hessian-vector product (Spectra) — dense again where Lanczos
/// fails (NaN: a zero Hessian, as at the origin for N ≥ 3) and shape.size() ≤ Hessian::dense_limit(). Eigenvalues
/// within max(zero_tolerance, the rounding tolerance) of 0 count as zero. Throws InputError on a θ of the wrong size.
HessianSpectrum hessian_spectrum(const Problem& problem, const Shape& shape,
                                 const Eigen::Ref<const Eigen::VectorXd>& theta, Eigen::Index dense_limit = 1024,
                                 double zero_tolerance = 0);

/// λ_max(∇²L(θ)) at the point last set on `h` (the sharpness): as hessian_spectrum computes its max_eigenvalue, dense
/// when h.size() ≤ min(dense_limit, Hessian::dense_limit()) or h.size() < 3, otherwise by Lanczos iterations (Spectra,
/// from its fixed start vector: the same θ gives the same value). NaN when Lanczos does not converge. Lanczos costs
/// tens to hundreds of Hessian-vector products (each about two gradient evaluations); the dense path n of them and
/// an n × n symmetric eigensolve.
double hessian_max_eigenvalue(Hessian& h, Eigen::Index dense_limit = 0);

}  // namespace linflow
