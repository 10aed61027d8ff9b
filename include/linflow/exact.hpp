#pragma once
// The exact gradient-flow trajectory of a balanced network with a one-neuron layer on a whitened target
// (docs/theory.md §4 [proved]), evaluated by quadrature: an oracle for the integrators and a fast way to draw
// trajectories.
//
// With W(0) = σ0 u0 v0ᵀ balanced and Z = Σ_i s_i u_i v_iᵀ, W(t) = σ u vᵀ stays rank one, and in the intrinsic time
// τ (dτ/dt = σ^{1−2/N}, docs/theory.md §2 [proved]) everything is explicit except two integrals (docs/theory.md §4
// [proved]):
//
//   directions   [x; y] = e^{τH} [u0; v0],  H = [[0, Z], [Zᵀ, 0]],  u = x/ρ, v = y/ρ,  ρ = ‖x‖ = ‖y‖;
//   written out  x = Σ_i (a_i e^{s_i τ} + b_i e^{−s_i τ}) u_i + (I − UUᵀ) u0,
//                y = Σ_i (a_i e^{s_i τ} − b_i e^{−s_i τ}) v_i + (I − VVᵀ) v0,
//                a_i = (α_i + β_i)/2, b_i = (α_i − β_i)/2, α_i = u_iᵀ u0, β_i = v_iᵀ v0 (a_i = c_i/2, c_i of
//                docs/theory.md §5);
//   scale        ρ² = Σ_i a_i² e^{2 s_i τ} + Σ_i b_i² e^{−2 s_i τ} + ½(‖(I − UUᵀ)u0‖² + ‖(I − VVᵀ)v0‖²)
//                (the ρ² formula of docs/theory.md §4 with its cross terms summed: every term is ≥ 0, so ln ρ is a
//                log-sum-exp with no cancellation, and neither e^{s_1 τ} nor ρ itself is ever formed);
//   alignment    f = uᵀZv = d ln ρ/dτ = Σ_i s_i (a_i² e^{2 s_i τ} − b_i² e^{−2 s_i τ}) / ρ²;
//   magnitude    σ(τ) = ρ(τ)^N / (1/σ0 + N ∫_0^τ ρ(r)^N dr);
//   time         t(τ) = ∫_0^τ σ(r)^{2/N − 1} dr   (t = τ for N = 2).
//
// U, V are the thin singular vectors of Z (Problem::u(), v()); directions of u0, v0 outside their span are kept
// (they neither grow nor shrink), and zero singular values contribute cosh 0 = 1, sinh 0 = 0 like any other.
//
// Numerics. Everything is carried in logarithms: ln ρ, ln ∫_0^τ ρ^N and ln σ, so σ0 from 1e-8 to 1e3, starts on
// the non-generic sets of docs/theory.md §5 (c_1 = 0, the anti-aligned scalar start whose ρ decays like e^{−s_1 τ}) and
// τ far beyond e^{s_1 τ} = DBL_MAX neither overflow nor lose relative precision. No small coefficient is set to zero:
// a start that is on a non-generic set only up to rounding (c_1 ~ 1e-16) is treated as the perturbed start it is,
// and escapes once e^{(s_1 − s_2) τ} ~ 1e16, as the true flow from it would.
//
// The τ axis is cut into panels over which neither ρ^N nor σ^{2/N−1} changes by more than a factor
// e^{panel_log_range()}. On a panel both integrands are analytic and of bounded variation, so each is represented
// by its Chebyshev interpolant at `chebyshev_points()` nodes (Trefethen, Approximation Theory and Approximation
// Practice, ch. 3 and 19): the coefficients come from one cosine transform of the samples, the indefinite integral
// is the term-wise integrated series, and the panel is halved until the last coefficients of both series are below
// `series_tolerance()` of their size (geometric decay: the truncation error is of that order). The nested integral
// of docs/theory.md §4 thus costs 2 × chebyshev_points() evaluations of ρ per panel instead of a quadrature inside a
// quadrature, and any later query inside a panel (σ at τ, t(τ), its inverse by Newton's method with dt/dτ =
// σ^{2/N−1}) costs a few series evaluations. The panels are a deterministic function of the start, so every query
// gives the same answer for the same τ.
//
// Accuracy, as tested (tests/test_exact.cpp): the closed forms of docs/theory.md §4, §6 and §7 are reproduced to about
// 1e-13 relative, the escape time of docs/theory.md §6 to 1e-13 relative, and the layer-wise gradient flow at rtol
// 1e-12 agrees to ‖ΔW‖_F ≤ 3e-12, its own error. Rounding grows like ε s_1 τ: 2e-13 at s_1 τ = 800.
//
// Cost: proportional to the number of panels up to the requested time, at most N (s_1 + max(σ0, s_1)) τ(t) / 8, each
// 2 × chebyshev_points() evaluations of ρ (one exponential per distinct singular value) and two cosine transforms —
// about 3 µs, independent of the widths (bench/bench_methods: 0.16 ms for 50 panels). A `Walker` keeps the current
// panel, so queries at non-decreasing times walk the panels once; `at`, `at_tau` start from τ = 0 on every call.
#include <Eigen/Dense>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "linflow/problem.hpp"

namespace linflow {

/// One state of the exact rank-one trajectory: W(t) = sigma u vᵀ.
struct Rank1Point {
  double t = 0;          ///< physical time
  double tau = 0;        ///< intrinsic time τ(t)
  double sigma = 0;      ///< σ = ‖W‖ (the one nonzero singular value); may underflow to 0 on a collapsing run
  double log_sigma = 0;  ///< ln σ, exact where σ underflows
  Eigen::VectorXd u;     ///< unit left direction, R^{d_y}
  Eigen::VectorXd v;     ///< unit right direction, R^{d_x}
  double f = 0;          ///< uᵀ Z v, non-decreasing in t (docs/theory.md §4)

  /// W = σ u vᵀ.
  Eigen::MatrixXd end_to_end() const { return sigma * u * v.transpose(); }
};

/// A numerical failure of the closed form, never bad input: its Chebyshev series do not converge on a panel, or
/// reaching the requested time takes more than `ExactRank1Flow::max_panels()` panels or leaves double range
/// (`budget_spent()`). `train()` turns it into a status (max_steps or diverged) with this message.
class ExactFlowFailure : public std::runtime_error {
 public:
  ExactFlowFailure(const std::string& what, bool budget_spent) : std::runtime_error(what), budget_(budget_spent) {}
  bool budget_spent() const { return budget_; }

 private:
  bool budget_;
};

/// Exact balanced rank-one gradient flow of docs/theory.md §4 [proved]. Immutable after construction; all methods are
/// const and thread-safe.
class ExactRank1Flow {
 public:
  /// The flow of a depth-`depth` balanced network with a one-neuron layer on `problem`, from
  /// W(0) = sigma0 u0 v0ᵀ. u0 ∈ R^{d_y} and v0 ∈ R^{d_x} are normalised here. Throws InputError when the problem
  /// is not whitened (docs/theory.md §4 needs Z = Y Xᵀ with X Xᵀ = I), depth < 2 (depth 1 is W' = Z − W, no need for
  /// this class), sigma0 is not finite and > 0, or u0, v0 have the wrong length or are zero or not finite. Keeps copies
  /// of what it needs: `problem` may be destroyed afterwards.
  ExactRank1Flow(const Problem& problem, int depth, double sigma0, const Eigen::VectorXd& u0,
                 const Eigen::VectorXd& v0);

  /// The state at physical time t ≥ 0. Throws InputError when t is negative or not finite; ExactFlowFailure when
  /// reaching it takes more than `max_panels()` panels (see Cost above), leaves double range, or the series fail.
  Rank1Point at(double t) const;
  /// The states at `times`, non-decreasing and ≥ 0 (same errors as `at`), walking the panels once.
  std::vector<Rank1Point> trajectory(const std::vector<double>& times) const;
  /// W(t) = σ u vᵀ.
  Eigen::MatrixXd end_to_end(double t) const;

  /// The state at intrinsic time τ ≥ 0 (its `t` is t(τ)). Throws InputError when τ is negative or not finite,
  /// ExactFlowFailure as `at`.
  Rank1Point at_tau(double tau) const;
  /// t(τ) = ∫_0^τ σ^{2/N−1} (docs/theory.md §4); +∞ when it overflows a double.
  double time_of_tau(double tau) const;
  /// τ(t), the inverse of `time_of_tau`.
  double tau_of_time(double t) const;

  int depth() const { return depth_; }
  double sigma0() const { return sigma0_; }
  /// c_i = u_iᵀ u0 + v_iᵀ v0 for the thin singular pairs of Z (docs/theory.md §5): which critical point the flow
  /// reaches.
  Eigen::VectorXd c() const { return 2.0 * a_; }

  /// Number of Chebyshev nodes per panel (degree + 1 of each series).
  static int chebyshev_points() { return 24; }
  /// A panel is accepted when the last two Chebyshev coefficients of each integrand are ≤ this times the largest.
  static double series_tolerance() { return 1e-14; }
  /// Largest factor by which ρ^N or σ^{2/N−1} may change over one panel is e^{panel_log_range()}.
  static double panel_log_range() { return 8.0; }
  /// Panel budget of one call (seconds of work); beyond it the requested time counts as unreachable.
  static long max_panels() { return 1'000'000; }

  class Walker;

 private:
  // A point of the panel grid with the cumulative quantities there: ln σ(τ) and t(τ).
  struct Knot {
    double tau = 0, log_sigma = 0, t = 0;
  };
  // Panel [start.tau, start.tau + width]. Inside it every quantity is written relative to its start, as a
  // function of δ = τ − start.tau ∈ [0, width] (x = 2δ/width − 1 ∈ [−1, 1] for the series), so that the rounding
  // of the integrands does not grow with τ:
  //   Δg(δ) = N ln(ρ(τ)/ρ(start)),  J(δ) = ∫_0^δ e^{Δg − g_max},  D(τ)/D(start) = 1 + κ J(δ),
  //   K(δ) = ∫_0^δ (σ(τ)/σ(start))^{2/N−1},  t(τ) = start.t + σ(start)^{2/N−1} K(δ),
  // with D = 1/σ0 + N ∫_0^τ ρ^N the denominator of σ = ρ^N / D (docs/theory.md §4).
  struct Panel {
    Knot start, end;
    double width = 0;
    Eigen::ArrayXd log_terms;  // ln of the terms of ρ² at start.tau, shifted so that the largest is 0
    double log_rho2 = 0;       // log-sum-exp of log_terms
    double g_max = 0;          // max of Δg on the panel, which sits at an end because ln ρ is convex (f ↑)
    double kappa = 0;          // N σ(start) e^{g_max}
    Eigen::ArrayXd j_series;   // Chebyshev coefficients of J (in x)
    Eigen::ArrayXd k_series;   // of K (N ≥ 3)
    Eigen::ArrayXd h_series;   // of dK/dδ = (σ/σ(start))^{2/N−1} (N ≥ 3)
    double next_width = 0;     // the width the next panel tries first
  };

  Panel make_panel(const Knot& start, double width_hint) const;  // width_hint 0: the largest allowed
  bool fill_panel(Panel& p, double width) const;  // false when the series have not converged at this width
  void advance(Panel& panel, long& count) const;  // the next panel; throws when the budget is spent
  double delta_g(const Panel& p, double delta) const;
  double log_sigma_in(const Panel& p, double delta) const;
  double time_in(const Panel& p, double delta) const;
  double delta_of_time(const Panel& p, double t) const;
  Rank1Point point(double t, double tau, double log_sigma) const;

  int depth_ = 2;
  double sigma0_ = 1;
  Eigen::MatrixXd u_basis_, v_basis_;  // thin U, V of Z
  Eigen::VectorXd s_, a_, b_;          // singular values; a = (α + β)/2, b = (α − β)/2
  Eigen::VectorXd u_perp_, v_perp_;    // (I − UUᵀ) u0, (I − VVᵀ) v0
  // ρ²(τ) = Σ_j exp(log_coef_j + rate_j τ): a_i² e^{2 s_i τ}, then b_i² e^{−2 s_i τ}, then ½(‖u_perp‖² + ‖v_perp‖²);
  // a zero coefficient has log −∞.
  Eigen::ArrayXd log_coef_, rate_;
  // The same sum with equal rates merged and zero terms dropped: what every evaluation of ρ uses.
  Eigen::ArrayXd rho_log_coef_, rho_rate_;
  // The indices in rho_rate_ of each rate r ≥ 0 and of −r (−1 when absent; r = 0 has only `plus`).
  struct RatePair {
    double rate;
    int plus, minus;
  };
  std::vector<RatePair> rate_pairs_;
  double s1_ = 0;
};

/// A forward walk along an exact trajectory. It keeps the panel it is on, so a query at a time inside that panel
/// costs a few Chebyshev-series evaluations and queries at non-decreasing times cost one walk in total — what a
/// search for the first time a condition holds needs (the solver's t_eps). Not thread-safe; `flow` must outlive it.
class ExactRank1Flow::Walker {
 public:
  explicit Walker(const ExactRank1Flow& flow);
  /// The state at physical time t ≥ start_time(); advances panel by panel until t is inside the current one.
  /// Throws InputError as `ExactRank1Flow::at` does.
  Rank1Point at(double t);
  /// The time span [start_time(), end_time()] of the current panel.
  double start_time() const { return panel_.start.t; }
  double end_time() const { return panel_.end.t; }
  /// Moves to the next panel.
  void advance();
  /// Panels built so far.
  long panels() const { return count_; }

 private:
  const ExactRank1Flow* flow_;
  Panel panel_;
  long count_ = 1;
};

/// Decoupled modes (docs/theory.md §10 [proved]; Saxe, McClelland & Ganguli 2014): a balanced start whose end-to-end
/// matrix is aligned with the singular vectors of a whitened target, W(0) = Σ_a σ_a(0) u_a v_aᵀ (any widths ≥ the
/// number of modes), keeps its singular vectors, and each σ_a follows dσ_a/dt = N σ_a^{2−2/N}(s_a − σ_a) alone: the
/// width-one flow of docs/theory.md §2 with f ≡ s_a. Each mode is therefore an `ExactRank1Flow` on the 1 × 1 target
/// s_a (same panels, same accuracy); a mode with σ_a(0) = 0 stays at 0. Immutable; thread-safe.
class ExactDecoupledFlow {
 public:
  /// `sigma0(a)` ≥ 0 for the modes a = 1 … sigma0.size() ≤ rank of Z. Throws InputError when the problem is not
  /// whitened, depth < 2, or sigma0 has too many, negative or non-finite entries.
  ExactDecoupledFlow(const Problem& problem, int depth, const Eigen::VectorXd& sigma0);
  /// σ_a(t), a = 1 … number of modes. Throws as `ExactRank1Flow::at`.
  Eigen::VectorXd sigmas(double t) const;
  /// W(t) = Σ_a σ_a(t) u_a v_aᵀ.
  Eigen::MatrixXd end_to_end(double t) const;
  /// The first time in [0, t_max] at which `problem.excess_loss(W(t), optimum)` ≤ eps (it never increases along
  /// GF): a doubling search brackets it, bisection locates it to rounding. Empty when it is not reached by t_max.
  std::optional<double> time_to_excess(const Problem& problem, const Problem::Optimum& optimum, double eps,
                                       double t_max) const;
  int depth() const { return depth_; }

 private:
  int depth_ = 2;
  Eigen::MatrixXd u_, v_;              // the thin singular vectors of the modes
  std::vector<ExactRank1Flow> modes_;  // one per mode with σ_a(0) > 0
  std::vector<int> index_;             // its mode (0-based)
  int count_ = 0;
};

/// The alignment of W with the singular vectors of a whitened target (docs/theory.md §10): σ_a = u_aᵀ W v_a for
/// a = 1 … r (r = rank of Z) and the relative misalignment ‖W − Σ_a σ_a u_a v_aᵀ‖_F / ‖W‖_F (0 when W = 0).
struct Alignment {
  Eigen::VectorXd sigma;
  double misalignment = 0;
};
Alignment alignment_with_target(const Problem& problem, const Eigen::Ref<const Eigen::MatrixXd>& W);
/// A start counts as aligned (the modes decouple exactly) when its misalignment is at most this: a spectral
/// initialization is aligned to rounding, ~1e-15 per entry of its factors.
inline constexpr double kAlignedRtol = 1e-10;

}  // namespace linflow
