#pragma once
// A preconditioner for the Newton systems (I + γ ∇²L) z = r of implicit gradient flow (private; whitened problems,
// L = ½‖W_N ⋯ W_1 − Z‖²), for the implicit driver's GMRES in the integration frames (flows/ode/bdf.hpp).
//
// It is I + γ G with G the part of the Gauss–Newton matrix JᵀJ (J = ∂(W_N ⋯ W_1)/∂θ) that the frames make dominant.
// Entry (a, b) of layer j moves the product by the rank one S_j e_a e_bᵀ P_{j−1} (suffix S_j = W_N ⋯ W_{j+1}, prefix
// P_{j−1} = W_{j−1} ⋯ W_1). In the frames each layer carries mode k in its entry (k, k) and is near diagonal, so
// entry (a, b) of every layer moves mainly the product's own entry (a, b): the entries (a, b) of the N layers are
// coupled strongly — at learned modes a and b their N × N Gauss–Newton block is rank one, with eigenvalue up to
// N s^{2 − 2/N} — and the rest weakly. G is that block diagonal: for a, b below every width, the block
// G_{jl} = (S_j e_a · S_l e_a)(e_bᵀ P_{j−1} · e_bᵀ P_{l−1}) over the entries (a, b) of layers j, l = 1..N; for the
// entries of wider layers outside it, the diagonal ‖S_j e_a‖² ‖e_bᵀ P_{j−1}‖². Both are exact parts of ∇²L's
// Gauss–Newton term (its diagonal is ∇²L's own: L is quadratic in each single entry). What G leaves to GMRES —
// the residual term's couplings, which carry the next escape, and the weak Gauss–Newton couplings — puts the
// preconditioned matrix's eigenvalues within about 1 ± s_{k+1}/s_k of 1 on the plateaus (the diagonal alone left
// N − 1 of them near 1/(γ s^{2 − 2/N}) per learned pair: docs/performance.md, "Preconditioning").
#include <Eigen/Dense>
#include <vector>

#include "linflow/network.hpp"

namespace linflow::detail {

class BlockPreconditioner {
 public:
  explicit BlockPreconditioner(const Shape& shape);
  /// G at θ.
  void set_point(const Eigen::Ref<const Eigen::VectorXd>& theta);
  /// Factors I + γ G (G from the last set_point); returns γ λ̂, λ̂ = G's largest diagonal entry (the stiffest
  /// curvature it holds: its regime, gmres.cpp).
  double factor(double gamma);
  /// z = (I + γ G)⁻¹ r; r and z of size shape.size(), may alias.
  void solve(const Eigen::Ref<const Eigen::VectorXd>& r, Eigen::Ref<Eigen::VectorXd> z) const;

  /// G as a dense matrix (tests).
  Eigen::MatrixXd dense() const;

 private:
  const Shape& shape_;
  int width_;  // m = min_j d_j: the blocks are the entries (a, b) with a, b < m, each layer's top-left m × m corner
  Eigen::VectorXd diagonal_, inverse_diagonal_;
  // G's blocks and the Cholesky factors L of I + γ G, by pairs of layers and batched over the m² blocks: entry
  // a + m b of element (j − 1) N + (l − 1) is block (a, b)'s entry (j, l) (of L: its lower triangle, the diagonal
  // inverted). The factorisation and the solve run entrywise over all blocks at once (vectorised) instead of block by
  // block (m² factorisations of N × N matrices).
  std::vector<Eigen::ArrayXd> blocks_;
  std::vector<Eigen::MatrixXd> prefix_, suffix_;  // P_0 … P_{N−1}, S_1 … S_N (entry j − 1)
  mutable std::vector<Eigen::ArrayXd> corner_;    // the solve's m × m corners of r, then of z, by layer (column-major)
  std::vector<Eigen::ArrayXd> factor_;            // L
  Eigen::ArrayXd sum_;                            // the factorisation's scratch, one batched entry
  std::vector<Eigen::Index> offset_, rows_;       // layer j's first θ-index and its rows d_j (entry j − 1)
};

}  // namespace linflow::detail
