#pragma once
// The training problem: square loss L_1(W) = ½‖Y − W X‖_F² of an end-to-end matrix W ∈ R^{d_y×d_x}.
//
// Everything linflow needs from the data is summarised by Σ = X Xᵀ and B = Y Xᵀ (docs/theory.md §1):
//   ∇L_1(W) = W Σ − B,   L_1(W) = ½‖Q − W Σ^{1/2}‖_F² + c,   Q = B Σ^{-1/2},   c = ½(‖Y‖_F² − ‖Q‖_F²) ≥ 0.
// In the whitened setting (a target matrix Z, or X Xᵀ = I) Σ = I, Q = Z and c = 0, and linflow skips every
// product with Σ. The SVD of Q (U, s, V) is computed once; the best rank-k end-to-end matrix is
// [Q]_k Σ^{-1/2} (Eckart–Young–Mirsky, docs/theory.md §1 [proved]).
#include <Eigen/Dense>
#include <random>
#include <vector>

namespace linflow {

class Problem {
 public:
  /// Whitened problem min ½‖Z − W‖_F² for a target Z ∈ R^{d_y×d_x}. Throws InputError on NaN/Inf or empty Z.
  static Problem from_target(const Eigen::MatrixXd& Z);

  /// General data X ∈ R^{d_x×m}, Y ∈ R^{d_y×m} (columns are samples). Throws InputError when the column counts
  /// differ, a value is not finite, or X Xᵀ is rank deficient (its smallest eigenvalue is below
  /// `rank_tolerance()` times its largest): then the optimum is not unique and linflow refuses the problem.
  static Problem from_data(const Eigen::MatrixXd& X, const Eigen::MatrixXd& Y);

  /// Synthetic whitened target Z = U diag(s) Vᵀ with Haar-random orthonormal U (d_y×r), V (d_x×r), r = s.size(),
  /// drawn from `rng`. `s` must be positive, non-increasing, with r ≤ min(d_x, d_y). Throws InputError otherwise.
  static Problem synthetic(int d_x, int d_y, const std::vector<double>& s, std::mt19937_64& rng);

  int input_dim() const { return static_cast<int>(sigma_.rows()); }
  int output_dim() const { return static_cast<int>(q_.rows()); }
  bool whitened() const { return whitened_; }

  const Eigen::MatrixXd& sigma() const { return sigma_; }            ///< Σ = X Xᵀ (identity when whitened)
  const Eigen::MatrixXd& sigma_sqrt() const { return sigma_sqrt_; }  ///< Σ^{1/2}
  const Eigen::MatrixXd& cross() const { return cross_; }            ///< B = Y Xᵀ (= Z when whitened)
  const Eigen::MatrixXd& q() const { return q_; }                    ///< Q = B Σ^{-1/2} (= Z when whitened)
  const Eigen::MatrixXd& u() const { return u_; }          ///< left singular vectors of Q (d_y × min(d_x,d_y))
  const Eigen::VectorXd& s() const { return s_; }          ///< singular values of Q, non-increasing
  const Eigen::MatrixXd& v() const { return v_; }          ///< right singular vectors of Q (d_x × min(d_x,d_y))
  double data_constant() const { return data_constant_; }  ///< c = ½(‖Y‖² − ‖Q‖²)

  /// Numerical rank of Q: singular values above n·ε·s_1.
  int target_rank() const;

  /// The rank-≤k optimum (Eckart–Young–Mirsky, docs/theory.md §1 [proved]). Computed once per run and passed to
  /// `excess_loss`, so the hot path never refactors Q.
  struct Optimum {
    int k = 0;
    Eigen::MatrixXd qk;    ///< [Q]_k
    Eigen::MatrixXd tail;  ///< Q − [Q]_k
    Eigen::MatrixXd w;     ///< W* = [Q]_k Σ^{-1/2}, unique iff s_k > s_{k+1}
    double loss = 0;       ///< L* = ½ Σ_{i>k} s_i² + c
  };
  Optimum optimum(int k) const;

  /// L_1(W) = ½‖Q − W Σ^{1/2}‖_F² + c.
  double loss(const Eigen::Ref<const Eigen::MatrixXd>& W) const;
  /// L_1(W) − L* without cancellation between large numbers: with E = W Σ^{1/2} − [Q]_k and T = Q − [Q]_k,
  /// L − L* = ½‖E‖_F² − ⟨T, E⟩ (both terms vanish at the optimum). It is ≥ 0 for every W of rank ≤ k; the rounding
  /// of ⟨T, E⟩ can make the computed difference slightly negative (some −1e-17) near the optimum, where the true
  /// value is below that rounding: such a value is reported as 0, so any eps counts as reached there. NaN stays NaN.
  double excess_loss(const Eigen::Ref<const Eigen::MatrixXd>& W, const Optimum& opt) const;
  /// The same, ½‖E‖_F² − ⟨T, E⟩ clamped at 0, from E = W Σ^{1/2} − [Q]_k given as any Eigen expression (nothing
  /// allocated).
  template <class Derived>
  static double excess_from_residual(const Eigen::MatrixBase<Derived>& E, const Optimum& opt) {
    const double excess = 0.5 * E.squaredNorm() - (opt.tail.array() * E.array()).sum();
    return excess < 0 ? 0.0 : excess;  // not std::max: a NaN must stay NaN (a diverged run)
  }
  /// scale · ∇L_1(W) = scale · (W Σ − B), written into G (must be d_y × d_x); scale = −1 gives the velocity's sign in
  /// the same pass.
  void end_to_end_gradient(const Eigen::Ref<const Eigen::MatrixXd>& W, Eigen::Ref<Eigen::MatrixXd> G,
                           double scale = 1.0) const;

  /// Relative eigenvalue threshold below which X Xᵀ counts as rank deficient.
  static double rank_tolerance() { return 1e-12; }

 private:
  Problem() = default;
  void factor_target();

  bool whitened_ = true;
  Eigen::MatrixXd sigma_, sigma_sqrt_, sigma_inv_sqrt_, cross_, q_;
  Eigen::MatrixXd u_, v_;
  Eigen::VectorXd s_;
  double data_constant_ = 0.0;
};

}  // namespace linflow
