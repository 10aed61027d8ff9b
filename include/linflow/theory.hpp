#pragma once
// The theory engine: what the results of docs/theory.md (§3 critical points, §5 stable sets, §6 rates and
// complexity) predict for one problem, network and start — and how a simulation of that start compares.
//
//   Analysis    analyze(problem, shape, θ0, solver options)            no simulation, milliseconds;
//   Observation observe(problem, shape, θ0, solver options, analysis)  runs `train` and confronts every
//                                                                       prediction with what happened.
// Everything here is in namespace linflow::theory: its types (Start, Limit, Bounds, Comparison, …) are named for
// what they are in the theory, which would be too generic at namespace linflow.
//
// Every prediction names the result it comes from and that result's tag (docs/theory.md, introduction):
//   [proved]     derived from first principles (docs/theory.md) — a disagreement with a simulation is a bug somewhere;
//   [published]  quoted from a paper — a disagreement may be a misquoted constant;
//   [checked]    observed numerically, no proof — a disagreement is a finding about the claim;
//   [heuristic]  an order-of-magnitude estimate (docs/theory.md §5 lingering time) — never a contradiction on its own.
//
// Scope of the exact theory (§4–§6): whitened data (X Xᵀ = I), a layer of width one, a balanced start
// (max_j ‖D_j‖_F ≤ SolverOptions::balance_tol · (1 + max_j ‖W_j‖_F²), the test the reduced flows apply),
// W(0) ≠ 0, depth N ≥ 2 and s_1 > s_2. Outside it the analysis says which
// results do not apply and why (`Analysis::not_applicable`) and reports what still does: convergence to a critical
// point (Bah et al. 2019), the shape of every critical point, the Eckart–Young optimum and the loss-sublevel
// condition, which holds for any start (`Analysis::still_applies`).
//
// Full-width networks (no width-one layer) from a balanced start aligned with the target's singular vectors
// (init.kind = "spectral") have a theory of their own, decoupled modes (docs/theory.md §10, Saxe et al. 2014): the
// limit, each mode's stage time, t_eps and the late-time rate (`Analysis::decoupled`); a nearly aligned start gets the
// stage times as an approximate [heuristic] prediction.
//
// Coordinates: for non-whitened data every quantity of the start (σ0, u0, v0, f0, distances) is computed for
// W̃ = W Σ^{1/2} against Q = Y Xᵀ Σ^{-1/2}, the coordinates in which L_1(W) = ½‖Q − W̃‖_F² + c (docs/theory.md §1).
#include <Eigen/Dense>
#include <optional>
#include <string>
#include <vector>

#include "linflow/hessian.hpp"
#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow::theory {

/// c_i (docs/theory.md §5) counts as zero when |c_i| ≤ kCZeroUlps · ε · (d_0 + d_N + N + s_1/g), g the smallest gap
/// s_i − s_{i+1} (s_{r+1} = 0): the rounding of c_i's own computation. Its two inner products of unit vectors round
/// by about (d_0 + d_N) ε; u0, v0 come from an SVD of the layer product (about N ε); the target's u_i, v_i are
/// determined to ε s_1/g (Davis–Kahan). A start constructed with c_1 = 0 stays below it (|c_1| ~ 1e-16), and c_1 =
/// 1e-12 is resolved (issue 16: the former 1e-12 · (d_0 + d_N) sent such starts to saddle 2; they reach the minimum).
inline constexpr double kCZeroUlps = 8.0;
/// Singular values s_i > s_{i+1} count as distinct when s_i − s_{i+1} > kDistinctRtol · s_1.
inline constexpr double kDistinctRtol = 1e-12;

/// How much a claim is worth (docs/theory.md, introduction).
enum class Tag { proved, published, checked, heuristic };
const char* to_string(Tag tag);

/// The result a prediction comes from: a name that locates it (paper, docs/theory.md section) and its tag.
struct Citation {
  std::string name;
  Tag tag = Tag::proved;
};

/// Where gradient flow ends (docs/theory.md §3, §5).
enum class Limit {
  global_min,  ///< W* = [Q]_k Σ^{-1/2}, k = min_j d_j (s_1 u_1 v_1ᵀ with a width-one layer)
  saddle,      ///< a non-optimal, non-zero critical point (s_k u_k v_kᵀ, k ≥ 2, with a width-one layer)
  origin,      ///< W = 0
  unknown,     ///< no implemented result applies (prediction) / no critical point within tolerance (observation)
};
const char* to_string(Limit limit);

/// Which assumptions of the exact theory hold for this problem, network and start.
struct Hypotheses {
  bool whitened = true;
  int depth = 0;                    ///< N
  std::vector<int> widths;          ///< d_0 … d_N
  int min_width = 0;                ///< k = min_j d_j
  bool width_one = false;           ///< k = 1: W is rank one for every θ
  double imbalance = 0;             ///< max_j ‖D_j(0)‖_F
  double imbalance_tolerance = 0;   ///< SolverOptions::balance_tol · (1 + max_j ‖W_j(0)‖_F²)
  bool balanced = false;            ///< imbalance ≤ imbalance_tolerance
  Eigen::VectorXd singular_values;  ///< s_1 ≥ … ≥ s_r > 0 of Q (r = numerical rank)
  double spectral_gap = 0;          ///< s_1 − s_2 (s_2 = 0 when r = 1)
  bool distinct_top = false;        ///< s_1 > s_2 (kDistinctRtol)
  bool distinct_all = false;        ///< s_1 > s_2 > … > s_r (kDistinctRtol)
  /// All of §4–§6 apply: whitened, width one, balanced, N ≥ 2, W(0) ≠ 0, s_1 > s_2.
  bool rank_one_theory = false;
};

/// The start, in the coordinates W̃ = W Σ^{1/2} (W when whitened).
struct Start {
  double sigma0 = 0;              ///< top singular value of W̃(0)
  Eigen::VectorXd u0;             ///< its left singular vector (defined up to a joint sign flip with v0)
  Eigen::VectorXd v0;             ///< its right singular vector
  double f0 = 0;                  ///< u0ᵀ Q v0 (invariant under the joint sign flip)
  double loss = 0;                ///< L(θ0)
  double optimal_loss = 0;        ///< L* over rank ≤ k
  double excess_loss = 0;         ///< L(θ0) − L*, cancellation-free
  double distance_to_target = 0;  ///< ‖Q − W̃(0)‖_F
};

/// The predicted limit of gradient flow.
struct Prediction {
  Limit limit = Limit::unknown;
  int saddle_index = 0;          ///< k ≥ 2 when limit = saddle: W → s_k u_k v_kᵀ
  Eigen::MatrixXd limit_matrix;  ///< the predicted end-to-end limit W(∞) (empty when unknown)
  /// c_i = u_iᵀ u0 + v_iᵀ v0, i = 1..r (docs/theory.md §5), when §5 applies (empty otherwise). A joint sign flip of
  /// (u0, v0) or of (u_i, v_i) flips c_i, so only |c_i| and the test c_i = 0 carry meaning.
  Eigen::VectorXd c;
  /// The modes of the predicted limit Σ_{i∈modes} s_i u_i v_iᵀ (1-based; empty for the origin and unknown).
  std::vector<int> modes;
  double c_zero_tolerance = 0;       ///< kCZeroUlps · ε · (d_0 + d_N + N + s_1/g) (see kCZeroUlps)
  std::optional<double> margin;      ///< |c_1|: the distance of the start from the boundary of the stable set
  std::optional<double> f_infinity;  ///< limit: origin — lim f(t) (0, or −s_j for the last mode present)
  Citation result;                   ///< the result the prediction comes from
  std::string reason;                ///< one line, with the numbers
};

/// One sufficient condition of docs/theory.md §5. `margin` is positive exactly when the condition holds.
struct Condition {
  bool applies = false;  ///< the result behind the condition covers this problem and start
  bool holds = false;    ///< applies and margin > 0 (for stable_set: |c_1| above the zero tolerance)
  double margin = 0;
  std::string statement;  ///< the inequality, with its numbers
  Citation result;
};

/// The nested sufficient conditions of docs/theory.md §5, strongest first: each one that holds implies the next.
struct Conditions {
  Condition deficiency_margin;  ///< c = s_min(Q) − ‖W̃(0) − Q‖_F > 0 (margin c; needs d_0 = 1 or d_N = 1 when k = 1)
  /// L(0) − L* < ½(s_k² − s_{k+1}²), k = min(min_j d_j, r), s_{r+1} = 0: below every non-optimal critical value
  /// (docs/theory.md §3, §5). Margin: the difference. Any start, balanced or not, any widths, whitened or not.
  Condition sublevel;
  Condition alignment;   ///< f0 > s_2 (margin f0 − s_2)
  Condition stable_set;  ///< c_1 ≠ 0 (margin |c_1|)
};

/// A linear-rate guarantee L(t) − L* ≤ (L(0) − L*) e^{−rate·t} for all t ≥ 0 under gradient flow.
struct RateBound {
  std::string name;  ///< "kappa" (docs/theory.md §6, Eftekhari) or "deficiency_margin" (Arora et al., GF analogue)
  double rate = 0;
  double t_eps_bound = 0;  ///< ln((L(0) − L*)/eps) / rate (0 when L(0) − L* ≤ eps)
  Citation result;
};

/// Escape from a small start: the time for σ to grow from σ0 to `sigma_target` = f0/2 lies in [lower, upper],
/// from dσ/dt = N σ^{2−2/N}(f − σ) with f0 ≤ f(t) ≤ s_1 (docs/theory.md §2, §4: f is non-decreasing): `lower` is the
/// §6 integral with s = s_1, `upper` the same integral with s = f0. They coincide for a start aligned with u_1, v_1.
struct EscapeBound {
  double sigma_target = 0;
  double lower = 0;
  double upper = 0;
  Citation result;
};

/// Gradient descent: Arora, Cohen, Golowich & Hu 2018a, Theorem 1 (docs/theory.md §6), and the local step limit
/// (docs/theory.md §3).
struct GdBounds {
  bool applies = false;                    ///< every hypothesis of Theorem 1 holds, with the configured step
  std::vector<std::string> failed;         ///< the hypotheses that fail, each with its numbers
  std::optional<double> delta_max;         ///< c² / (256 N³ ‖Q‖_F^{2(N−1)/N}), when c > 0
  std::optional<double> lr_max;            ///< c^{(4N−2)/N} / (6144 N³ ‖Q‖_F^{(6N−4)/N}), when c > 0
  std::optional<double> iterations_bound;  ///< ln((L(0) − L*)/eps) / (lr c^{2(N−1)/N}), when applies
  /// 2 / λ_max(∇²L) at a balanced global minimizer: 2 / (N s_1^{2−2/N}) whitened [checked], from the Hessian on data
  std::optional<double> local_stability_lr;
  std::string local_stability_source;  ///< which of the two `local_stability_lr` is
  /// Late-time rate of GD in time units t = k·lr, −2 ln q / lr with q = max(|1 − lr h_min|, |1 − lr h_max|),
  /// h_min = asymptotic_rate/2, h_max = N s_1^{2−2/N} [checked], when §5 predicts the global minimum.
  std::optional<double> asymptotic_rate;
  Citation result;
};

struct Bounds {
  double eps = 0;                     ///< the solver's eps, for which t_eps bounds are computed
  std::vector<RateBound> rates;       ///< every linear-rate guarantee that applies (GF)
  std::optional<double> kappa;        ///< κ = 2 (f0 − s_2)/s_1 · min(σ0, f0)^{2−2/N}, when f0 > s_2 [proved]
  std::optional<double> t_eps_bound;  ///< the smallest t_eps bound in `rates`
  /// Late −d ln(L − L*)/dt [proved]: the slowest rate in `mode_rates`; 2 (s_1 − s_2) s_1^{1−2/N} when c_2 ≠ 0
  /// (the generic case of docs/theory.md §6; scalar output: 2 s_1^{2−2/N}).
  std::optional<double> asymptotic_rate;
  std::string asymptotic_mode;  ///< which mode sets it
  Citation asymptotic_result;
  /// The late-time decay rate of the excess contributed by each mode the start excites, slowest first, from the
  /// expansion of the §4 solution (x(τ) = Σ (a_i e^{s_i τ} + b_i e^{−s_i τ}) u_i + (I − UUᵀ)u0, a_i = c_i/2,
  /// b_i = (α_i − β_i)/2; rates in t, via dτ/dt → s_1^{1−2/N}):
  ///   alignment, mode i ≥ 2, when c_i ≠ 0:           2 (s_1 − s_i) s_1^{1−2/N}
  ///   alignment, outside the range of Z, when present: 2 s_1^{2−2/N}
  ///   decaying part, mode i ≥ 2, when b_i ≠ 0:       2 (s_1 + s_i) s_1^{1−2/N}
  ///   magnitude σ − s_1 (always):                     2 N s_1^{2−2/N}
  /// A start exactly aligned with (u_1, v_1) excites only the magnitude mode; a small, nearly aligned start
  /// excites the slow modes so weakly that the magnitude mode dominates every excess loss above round-off.
  struct ModeRate {
    std::string mode;
    double rate = 0;
  };
  std::vector<ModeRate> mode_rates;
  std::optional<EscapeBound> escape;  ///< when σ0 < f0/2 [proved]
  /// Heuristic time spent near s_2 u_2 v_2ᵀ by a start close to the boundary (|c_1| < 1e-2): ln(1/|c_1|) /
  /// ((s_1 − s_2) s_2^{1−2/N}) (docs/theory.md §5, [heuristic]).
  std::optional<double> lingering_estimate;
  /// Heuristic time at which round-off (relative size δ = ε (d_0 + d_N)) has grown to the size of the predicted
  /// limit's own component, so a simulation leaves a predicted saddle or origin — measure-zero sets that floating
  /// point cannot hold for ever ([heuristic]). Saddle k: ln(1/δ) / ((s_1 − s_k) s_k^{1−2/N}); origin: intrinsic
  /// time ln(1/δ)/(s_1 − f_∞) converted with the §6 collapse law (absent when it is not finite).
  std::optional<double> roundoff_escape_estimate;
  /// Transit near the origin [proved, the exact solution of docs/theory.md §4]: a start close to the set where every
  /// c_i = 0 (max_i |c_i| < 1e-2) first collapses towards W = 0 and only later grows to its limit; for N ≥ 3 the
  /// origin is non-strict and the passage lasts ~ σ_min^{−(1−2/N)}. From the exact flow: σ's minimum and the time at
  /// which σ grows back to half the limit's singular value. Only when σ dips below that target.
  struct OriginTransit {
    double sigma_min = 0;     ///< min_t σ(t)
    double t_min = 0;         ///< when σ is smallest
    double sigma_target = 0;  ///< s_k/2 for the predicted limit s_k u_k v_kᵀ
    double time = 0;          ///< first time after t_min at which σ = sigma_target
    Citation result;
  };
  std::optional<OriginTransit> origin_transit;
  GdBounds gd;
};

/// One mode of a start whose modes decouple (docs/theory.md §10).
struct Stage {
  int mode = 0;       ///< a (1-based)
  double s = 0;       ///< s_a
  double sigma0 = 0;  ///< σ_a(0) = u_aᵀ W̃(0) v_a
  double half_time = 0;  ///< t_a, when σ_a reaches s_a/2: the §6 integral of dσ/dt = N σ^{2−2/N}(s_a − σ) (0 if past)
  double plateau = 0;  ///< t_a minus the half-time of the stage before it (t_a for the first stage)
};

/// Stage-wise learning of a balanced start aligned with the target's singular vectors, W̃(0) ≈ Σ_a σ_a(0) u_a v_aᵀ
/// (Saxe et al. 2014; docs/theory.md §10). Whitened, balanced, N ≥ 2, distinct singular values, any widths.
struct DecoupledModes {
  /// misalignment ≤ kAlignedRtol: the modes decouple exactly [proved]. Otherwise (misalignment ≤
  /// kNearAlignedRtol) the same numbers are an "approximately decoupled" prediction [heuristic]: the off-diagonal
  /// part couples the modes, and a simulation reports how far the stage times move.
  bool exact = false;
  double misalignment = 0;    ///< ‖W̃(0) − Σ_a σ_a(0) u_a v_aᵀ‖_F / ‖W̃(0)‖_F
  std::vector<Stage> stages;  ///< the excited modes (σ_a(0) > 0), in the order they are learned
  std::vector<int> modes;     ///< the excited modes, 1-based, increasing: the limit is Σ_{a∈modes} s_a u_a v_aᵀ
  /// When ½Σ_a (s_a − σ_a(t))² reaches eps (only when the limit is the global minimum; for a nearly aligned start an
  /// approximation that can be far off: +19 % at misalignment 0.03, docs/theory.md finding 10).
  std::optional<double> t_eps;
  /// Late −d ln(L − L*)/dt: the slowest magnitude mode, 2N s_m^{2−2/N} with s_m the smallest excited s_a (exact only:
  /// a nearly aligned start excites slower off-diagonal modes, docs/theory.md finding 10).
  std::optional<double> late_rate;
  Citation result;
};
/// Starts farther than this from alignment (relative misalignment) get no decoupled prediction.
inline constexpr double kNearAlignedRtol = 0.1;

enum class AnalysisStatus {
  exact_theory,          ///< §5 decides the limit (balanced rank-one whitened start), or N = 1 (convex)
  sufficient_condition,  ///< the limit follows from the loss-sublevel condition alone
  no_prediction,         ///< no implemented result predicts the limit
};
const char* to_string(AnalysisStatus status);

struct Analysis {
  AnalysisStatus status = AnalysisStatus::no_prediction;
  std::string message;  ///< one line: the prediction, the result behind it and its key numbers
  Method method = Method::gf;
  Hypotheses hypotheses;
  Start start;
  Prediction prediction;
  Conditions conditions;
  Bounds bounds;
  std::optional<DecoupledModes> decoupled;  ///< aligned and nearly aligned balanced starts (docs/theory.md §10)
  std::vector<std::string> not_applicable;  ///< results that do not apply here, and why (with numbers)
  std::vector<std::string> still_applies;   ///< results that hold for this problem and start regardless
};

/// Analyzes the start θ0 of `shape` on `problem` for the solver `options` (method, lr and eps are used).
/// Throws InputError when the options are invalid, θ0 has the wrong size or non-finite entries, or the shape does
/// not match the problem. Never simulates.
Analysis analyze(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0,
                 const SolverOptions& options);

/// Time for σ to move from `sigma_from` to `sigma_to` under dσ/dt = N σ^{2−2/N}(f − σ) with f fixed (docs/theory.md §2
/// polar form; §6 escape integral ∫ dx / (N x^{2−2/N}(f − x))), by adaptive Gauss–Kronrod quadrature in ln x to ~1e-12
/// relative. Positive when σ moves towards f; +∞ when f lies between the two values (σ never gets there).
/// Throws InputError unless depth ≥ 1 and both values are finite and > 0.
double magnitude_travel_time(int depth, double f, double sigma_from, double sigma_to);

/// Options of `observe`. Defaults suit the small problems of the test suite and the CLI.
struct ObserveOptions {
  /// Recorded times (second pass): this many uniform on [0, t_end] and log-spaced on [t_min, t_end] (≥ 0 each),
  /// plus `samples_window` uniform ones on the late-time fit window and on the escape bracket when there is one.
  int samples_uniform = 200;
  int samples_log = 200;
  int samples_window = 200;
  double t_min = 1e-3;  ///< first log-spaced time (> 0; lowered to t_end/10 for very short runs)
  /// The final state has reached a critical point C when ‖W̃ − C‖_F ≤ limit_rtol · s_r (s_r: the smallest nonzero
  /// singular value of Q, half the distance between the closest two critical points). In (0, 0.5).
  double limit_rtol = 1e-2;
  /// Late-time rate fit window, relative to E_ref = min(L(0) − L*, ½‖Q‖_F²): excess losses in
  /// [fit_lo · E_ref, fit_hi · E_ref], floored where the integrator's error reaches 1e-4 of the excess.
  /// 0 < fit_lo < fit_hi < 1. fit_hi is low because the asymptotic rate is a limit: at excess ~1e-3 the faster
  /// modes 2(s_1 − s_i)s_1^{1−2/N}, i ≥ 3, still bias the slope by percents on random starts; by 1e-6 they have died
  /// out. Needs eps ≲ fit_lo · E_ref for a full window.
  double fit_hi = 1e-6;
  double fit_lo = 1e-10;
  int fit_min_points = 8;  ///< fewer points in the window: no fit (≥ 3)
  /// Relative slack when an observation is compared with a bound (t_eps, iterations, escape bracket, the excess
  /// envelope e^{−rate·t}): absorbs the integrator's error in crossing times (rtol ~ 1e-11 moves t_eps by ~1e-7
  /// relative). A real violation of a correct bound is never this small. > 0.
  double bound_rtol = 1e-6;
  /// A fitted late-time rate contradicts the asymptotic rate when |fit/predicted − 1| > rate_rtol, the fit is
  /// settled (the rates fitted on the two halves of the window agree to rate_rtol/4) and it matches no faster mode
  /// (which means the window is not asymptotic yet). Fit bias at fit_hi = 1e-6 is ~1e-5, so 1e-2 is safe. > 0.
  double rate_rtol = 1e-2;
  /// Record the sharpness λ_max(∇²L) at every recorded time (output.sharpness; the `sharpness` column).
  bool sharpness = false;

  bool is_valid(std::string* why) const;
};

/// One prediction beside its observation.
struct Comparison {
  /// "t_eps (<bound>)", "envelope (<bound>)" (the excess against e^{−rate t} at every recorded point, observed:
  /// max of ln((L(t) − L*)/(L(0) − L*)) + rate·t), "late_time_rate", "escape_time", "iterations".
  std::string quantity;
  std::string relation;             ///< "<=" (a bound on the observation), "==" (asymptotic equality), "in" (a bracket)
  std::optional<double> predicted;  ///< the bound or value (the upper end for brackets)
  std::optional<double> predicted_lower;  ///< the lower end of a bracket
  std::optional<double> observed;
  std::optional<double> ratio;  ///< observed / predicted
  bool contradiction = false;
  std::string note;
  Citation result;
};

struct Observation {
  Summary summary;              ///< of the simulation (identical in both passes)
  Eigen::VectorXd theta;        ///< final parameters
  std::vector<Sample> samples;  ///< the recorded trajectory (second pass)
  /// The critical point nearest to the final W̃: C_S = Σ_{i∈S} s_i u_i v_iᵀ with S = {i : u_iᵀ W̃ v_i > s_i/2}.
  Limit limit = Limit::unknown;
  int saddle_index = 0;           ///< k when limit = saddle and S = {k}
  std::vector<int> modes;         ///< S, 1-based
  double distance = 0;            ///< ‖W̃ − C_S‖_F
  double distance_tolerance = 0;  ///< limit_rtol · s_r
  double distance_origin = 0;     ///< ‖W̃‖_F
  std::vector<double> distances;  ///< ‖W̃ − s_i u_i v_iᵀ‖_F, i = 1..r
  std::optional<double> rate;     ///< fitted late-time −d ln(L − L*)/dt
  int rate_points = 0;
  double rate_t_begin = 0, rate_t_end = 0, rate_rms_residual = 0;
  std::optional<double> escape_after, escape_by;  ///< σ crossed the escape target in (escape_after, escape_by]
  std::optional<long> iterations;                 ///< GD: iterations until the excess loss reached eps
  std::vector<Comparison> comparisons;
  std::vector<std::string> contradictions;  ///< every prediction the simulation contradicts, with numbers
  std::vector<std::string> notes;           ///< mismatches that are not contradictions (horizon, round-off, GD)
  std::string message;
};

/// Simulates the start with `train` (GF, or GD when options.method = gd) and compares with `analysis` (which must
/// come from `analyze` on the same arguments). Runs twice: a first pass finds the end time and the fit window,
/// a second records samples there (both passes follow the same trajectory: recording never changes the steps).
/// Throws InputError on invalid options or mismatched arguments; numerical failure is in summary.status.
Observation observe(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0,
                    const SolverOptions& options, const Analysis& analysis, const ObserveOptions& observe_options = {},
                    const ProgressSink& progress = {});

/// What kind of point θ is, read from its gradient and Hessian (docs/theory.md §9): the instrument behind
/// `linflow analyze --hessian` (output.hessian).
struct PointKind {
  HessianSpectrum spectrum;       ///< extreme eigenvalues; the inertia when dense (zero within `zero_tolerance`)
  double grad_norm = 0;           ///< ‖∇L(θ)‖
  double excess_loss = 0;         ///< L(θ) − L*
  double critical_tolerance = 0;  ///< θ counts as critical when grad_norm ≤ this: 1e-5 · max(1, ‖Q‖_F)
  double zero_tolerance = 0;  ///< |λ| ≤ this counts as zero: the spectrum's rounding tolerance, and at a critical
                              ///< point at least 10 · grad_norm (θ may be only nearly critical)
  /// Dimension of the tangent space of the rescaling orbit W_j ↦ G_j W_j G_{j−1}^{−1} at θ: zero eigenvalues the
  /// symmetry forces (docs/theory.md §9). −1 when not computed (beyond the dense limit).
  int symmetry_zeros = -1;
  /// "minimum" (excess ≤ 1e-8 · max(1, ‖Q‖_F²): at a global minimizer to that accuracy, whatever the gradient),
  /// "strict_saddle" (critical, above it, a negative eigenvalue below −zero_tolerance), "non_strict_saddle"
  /// (critical, above it, none), "not_critical" (neither), "unknown" (critical, above it, but the smallest eigenvalue
  /// could not be computed: Lanczos did not converge).
  /// Deep linear networks have no spurious local minima (Kawaguchi 2016), so a critical point above the minimum
  /// value is a saddle.
  std::string kind;
};

/// Classifies θ. `dense_limit` as for hessian_spectrum: above it only the extreme eigenvalues are computed (Lanczos).
PointKind classify_point(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta,
                         Eigen::Index dense_limit = 1024);

}  // namespace linflow::theory
