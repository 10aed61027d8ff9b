#pragma once
// Reduced gradient flows of balanced networks (private). Both satisfy the driver's Flow concept.
//
//   EndToEndFlow: the balanced end-to-end flow of docs/theory.md §2 [published, Arora, Cohen & Hazan 2018]
//     dW/dt = −Σ_{j=1}^{N} (W Wᵀ)^{(N−j)/N} ∇L_1(W) (Wᵀ W)^{(j−1)/N},   M^0 = I,
//     evaluated in the eigenbases P of W Wᵀ and Q of Wᵀ W: dW/dt = −P (Λ ∘ Pᵀ G Q) Qᵀ with
//     Λ_ab = Σ_j λ_a^{(N−j)/N} μ_b^{(j−1)/N}. Its cost does not depend on the hidden widths.
//   Rank1Flow: the polar form of docs/theory.md §2 [proved] for W = σ u vᵀ, whitened target, state (ln σ, u, v):
//     d ln σ/dt = N σ^{1−2/N} (f − σ),  du/dt = σ^{1−2/N} (I − uuᵀ) Z v,  dv/dt = σ^{1−2/N} (I − vvᵀ) Zᵀ u.
//     ln σ keeps tiny starts (σ0 = 1e-8) at full relative accuracy.
// In both, Σ_j ‖∇_{W_j} L‖² = ⟨Λ, (Pᵀ G Q)∘(Pᵀ G Q)⟩ for a balanced network, which gives the gradient norm
// without the layers.
#include <Eigen/Dense>

#include "linflow/problem.hpp"

namespace linflow::detail {

/// Eigenvalues of a PSD Gram matrix below this multiple of ε·max(dim)·λ_max are exact zeros of the underlying
/// rank-deficient W: their fractional powers are taken as 0 (and 0^0 = 1), not (round-off)^{1/N}.
inline constexpr double kGramZeroFactor = 16.0;

/// Balanced end-to-end velocity V = Σ_j (WWᵀ)^{(N−j)/N} G (WᵀW)^{(j−1)/N} (the flow is dW/dt = −V).
/// Returns Σ_j ‖∇_{W_j} L‖² = ⟨V, G⟩ of the balanced network with end-to-end matrix W.
/// `max_rank` = min_j d_j: W has rank ≤ max_rank by construction, so only the top max_rank eigenvalues of each
/// Gram matrix are kept. Without this, integration round-off outside the rank-k manifold would be amplified by
/// the end-to-end equation (which does not know the widths), e.g. at rate 2 s_b for N = 2.
/// If `truncated` is given, it receives [W]_{max_rank}, the projection of W on the top max_rank eigenvectors of WWᵀ.
double balanced_velocity(const Eigen::Ref<const Eigen::MatrixXd>& W, const Eigen::Ref<const Eigen::MatrixXd>& G,
                         int depth, int max_rank, Eigen::Ref<Eigen::MatrixXd> V, Eigen::MatrixXd* truncated = nullptr);

/// Σ_j ‖∇_{W_j} L‖ of the balanced rank-one network W = σ u vᵀ (u, v unit) on a whitened target:
/// σ^{1−1/N} [N (uᵀGv)² + ‖(I − uuᵀ) G v‖² + ‖(I − vvᵀ) Gᵀ u‖²]^{1/2}, G = W − Z.
double rank1_grad_norm(const Problem& problem, int depth, double sigma, const Eigen::Ref<const Eigen::VectorXd>& u,
                       const Eigen::Ref<const Eigen::VectorXd>& v);

class EndToEndFlow {
 public:
  EndToEndFlow(const Problem& problem, int depth, int max_rank, const Problem::Optimum& optimum);
  void operator()(const Eigen::VectorXd& x, Eigen::VectorXd& dxdt, double t);
  double excess(const Eigen::VectorXd& x) const;
  double excess_fsal() const { return last_excess_; }
  double grad_norm(const Eigen::VectorXd& x, const Eigen::VectorXd& dxdt) const;
  long evals() const { return evals_; }
  Eigen::Map<const Eigen::MatrixXd> matrix(const Eigen::VectorXd& x) const {
    return {x.data(), problem_.output_dim(), problem_.input_dim()};
  }
  /// The reported end-to-end matrix [W]_k, k = max_rank: W has rank ≤ k by construction, and the excess loss is
  /// first-order sensitive to integration round-off outside the rank-k manifold (through ⟨Q − [Q]_k, E⟩), so every
  /// reported quantity uses the truncation.
  Eigen::MatrixXd end_to_end(const Eigen::VectorXd& x) const;

 private:
  const Problem& problem_;
  int depth_;
  int max_rank_;
  const Problem::Optimum& optimum_;
  Eigen::MatrixXd G_, V_, Wk_;
  double last_excess_ = 0;
  long evals_ = 0;
};

class Rank1Flow {
 public:
  /// Requires a whitened problem (InputError otherwise).
  Rank1Flow(const Problem& problem, int depth, const Problem::Optimum& optimum);
  /// State layout: [ln σ, u (d_y), v (d_x)].
  static Eigen::VectorXd pack(double sigma, const Eigen::VectorXd& u, const Eigen::VectorXd& v);
  /// W = σ u vᵀ of a state.
  Eigen::MatrixXd end_to_end(const Eigen::VectorXd& x) const;
  void operator()(const Eigen::VectorXd& x, Eigen::VectorXd& dxdt, double t);
  double excess(const Eigen::VectorXd& x) const { return problem_.excess_loss(end_to_end(x), optimum_); }
  double excess_fsal() const { return last_excess_; }
  double grad_norm(const Eigen::VectorXd& x, const Eigen::VectorXd& dxdt) const;
  long evals() const { return evals_; }

 private:
  const Problem& problem_;
  int depth_;
  const Problem::Optimum& optimum_;
  Eigen::VectorXd zv_, ztu_;
  double last_excess_ = 0;
  long evals_ = 0;
};

}  // namespace linflow::detail
