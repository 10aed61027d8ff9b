#pragma once
// Training a deep linear network: gradient flow (GF) as an error-controlled ODE, or gradient descent (GD).
//
//   GF: dθ/dt = −∇L(θ), integrated with step-size control by Hairer's DOP853 (the default: Dormand–Prince 8(5,3)
//       with its 7th-order dense output) or another `Integrator`; recordings are taken from the dense output, and
//       the crossing of eps (t_eps) is located on it and polished by a secant iteration over fresh steps.
//   GD: θ ← θ − η ∇L(θ); iteration k sits at time t = k η so that GD and GF runs share a time axis.
//   exact: the closed form of docs/theory.md §4 (exact.hpp) walked panel by panel to the recording times; t_eps by
//       bisection inside the first panel that ends below eps (the excess loss is monotone along GF); `steps` counts
//       panels; rtol/atol/max_steps do not apply (the closed form's own panel budget ends a run as max_steps).
//   end_to_end, rank1: reduced gradient flows of balanced networks (same integrator), see `Method`. A start that
//       does not meet a method's hypotheses is refused with InputError saying which hypothesis fails and by how
//       much. Their final weights are rebuilt from the reduced state: rank1 exactly (the hidden directions of a
//       balanced rank-one network do not move); end_to_end as a balanced factorization of the final W whose
//       hidden bases are not those of the layer-wise flow (the reduced flow does not track them).
#include <Eigen/Dense>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "linflow/network.hpp"
#include "linflow/problem.hpp"

namespace linflow {

enum class Method {
  gf,          ///< gradient flow of all layers, by the adaptive `Integrator` (DOP853 by default)
  gd,          ///< gradient descent with constant step `lr`
  end_to_end,  ///< balanced end-to-end flow on W alone (docs/theory.md §2); balanced starts of any rank
  rank1,  ///< polar form (σ, u, v) of a balanced rank-one flow (docs/theory.md §2); needs a width-one layer, whitened
  exact,  ///< closed-form trajectory of docs/theory.md §4 (ExactRank1Flow); same hypotheses as rank1, no integrator
};
const char* to_string(Method method);
Method method_from_string(const std::string& name);  ///< throws InputError naming the valid methods

/// The integrator of the ODE methods (gf, end_to_end, rank1).
enum class Integrator {
  dopri5,          ///< adaptive Dormand–Prince 5(4) (Boost.Odeint), rtol/atol, 4th-order dense output
  rk78,            ///< adaptive Runge–Kutta–Fehlberg 7(8) (Boost.Odeint), rtol/atol; lands on recording times
  dop853,          ///< adaptive Dormand–Prince 8(5,3), Hairer's error estimate, control and 7th-order dense output
                   ///< (as scipy's DOP853); the default
  gauss_legendre,  ///< 3-stage Gauss–Legendre collocation, order 6, fixed step `dt`: conserves the imbalances
  bdf,  ///< implicit: SUNDIALS CVODE's BDF, orders 1–5, rtol/atol, Newton iterations on the exact Hessian (gf) or
        ///< difference quotients (end_to_end, rank1); for stiff runs: small starts, long plateaus (docs/theory.md §9)
  automatic,  ///< dop853 until Hairer's stiffness test says its steps are held by stability, then bdf to the end
              ///< ("auto"; Stats::implicit_from says where)
};
const char* to_string(Integrator integrator);
Integrator integrator_from_string(const std::string& name);  ///< throws InputError naming the valid ones

/// How the implicit integrator solves its Newton systems (I − γJ) δ = r.
enum class LinearSolver {
  automatic,  ///< dense when the state has at most kDenseJacobianLimit entries, krylov above ("auto")
  dense,      ///< the Jacobian formed (gf: the dense Hessian, n Hessian-vector products) and factored by LU
  krylov,     ///< matrix-free GMRES on Jacobian-vector products (gf: exact Hessian-vector products)
};
const char* to_string(LinearSolver solver);
LinearSolver linear_solver_from_string(const std::string& name);  ///< throws InputError naming the valid ones
/// The state size up to which `automatic` forms dense Jacobians (docs/performance.md, "Plateau"): GMRES on exact
/// Hessian-vector products was 2× faster than dense LU at 108 parameters and 1.8× slower at 64 (bdf, rtol 1e-9).
inline constexpr long kDenseJacobianLimit = 80;

enum class Status {
  converged,  ///< the excess loss reached `eps`
  t_max,      ///< the horizon t_max was reached first
  max_steps,  ///< the step budget (`max_steps` for GF, `steps` for GD) ran out first
  diverged,   ///< non-finite values, a loss that exploded, or a step-size underflow
  stalled,    ///< the gradient norm fell below `grad_tol` while the excess loss was above `eps`: a critical point
  /// request_interrupt() (linflow/interrupt.hpp; SIGINT/SIGTERM in the CLI) stopped the run at a step
  interrupted,
};
const char* to_string(Status status);

struct SolverOptions {
  Method method = Method::gf;
  /// GF: relative and absolute local error tolerances of the step-size control, both > 0. The defaults keep the
  /// trajectory accurate to about 1e-9 on well-scaled problems; tighten them for oracle comparisons.
  double rtol = 1e-11;
  double atol = 1e-13;
  /// gf, end_to_end, rank1 with the implicit integrator (bdf, and auto once it has switched): when > 0, the steps on a
  /// plateau — those after a step that lowered the excess loss by less than 1e-7 of itself — are held to plateau_rtol
  /// (and atol × plateau_rtol / rtol) instead, the rest to rtol and atol. A plateau's small, growing modes decide when
  /// it ends, and their error there becomes t_eps's error; the transitions' steps are mostly spent on entries whose
  /// error decays. So a loose rtol with a tight plateau_rtol reaches a t_eps accuracy in fewer steps than one
  /// tolerance everywhere (N = 4, widths 8, σ0 = 1e-3: 1448 steps instead of 2020 for t_eps within 1e-6;
  /// docs/performance.md, "Plateau tolerance"). 0 (the default): rtol everywhere. 0 ≤ plateau_rtol ≤ rtol.
  double plateau_rtol = 0.0;
  /// GF: initial step (0 = 1e-3 / (1 + ‖∇L(θ0)‖)). Adaptive afterwards.
  double dt0 = 0.0;
  /// GF, end_to_end, rank1: the integrator. automatic (the default) is dop853 until Hairer's stiffness test finds its
  /// steps held by stability, then bdf: an unswitched run is dop853's bit for bit, and on the non-stiff peer problems
  /// it costs at most 1.11× dop853 (docs/performance.md, "Plateau"). dop853 needs 2.2–3.3× fewer evaluations than
  /// dopri5 at the default tolerances (docs/performance.md); rk78 lands on the recording times instead of
  /// interpolating; gauss_legendre conserves every imbalance D_j to round-off however long the run (a quadratic
  /// invariant), at a fixed step `dt` that must keep h ‖∂f/∂θ‖ < 1.
  Integrator integrator = Integrator::automatic;
  /// bdf: how its linear systems are solved.
  LinearSolver linear_solver = LinearSolver::automatic;
  /// gf: the arithmetic of the gradient. `automatic` is double-double (`extended`) where double's rounding would
  /// dominate the gradient (a plateau from a start of scale ≲ 1e-5), with bdf and in the auto integrator's implicit
  /// phase only: the rounding hurts only an implicit integrator's Newton iteration, and the explicit integrators (and
  /// auto's explicit phase) keep their double-only runs bit for bit and at their cost. Whitened targets' implicit runs
  /// integrate in frames where that rounding no longer matters (src/flows/solver.cpp): there it is double.
  GradientPrecision gradient_precision = GradientPrecision::automatic;
  /// gauss_legendre: the fixed step, > 0.
  double dt = 0.01;
  /// GD: step size η > 0.
  double lr = 1e-2;
  /// GD: iteration budget (0 = as many as t_max / lr).
  long steps = 0;
  /// Horizon of the run in (physical) time, > 0.
  double t_max = 1e3;
  /// Target excess loss L − L* (L* over rank ≤ min_j d_j), > 0. Its first crossing is reported as t_eps.
  double eps = 1e-12;
  /// Stop as soon as the excess loss reaches eps (otherwise run on to t_max and report the crossing).
  bool stop_at_eps = true;
  /// GF: accepted-step budget; GD without `steps`: iteration budget (t_max / lr beyond it ends as max_steps). > 0.
  long max_steps = 10'000'000;
  /// end_to_end, rank1: a start counts as balanced when max_j ‖D_j‖_F ≤ balance_tol · (1 + max_j ‖W_j‖_F²).
  double balance_tol = 1e-10;
  /// Stop with `stalled` when ‖∇L‖ falls to grad_tol with the excess above eps (≥ 0; 0 disables).
  double grad_tol = 1e-13;
  /// GD: report `diverged` when the loss exceeds divergence_factor × max(1, L(θ0)) (> 1).
  double divergence_factor = 1e8;

  bool is_valid(std::string* why) const;
};

/// One recorded state: a row of trajectory.csv.
struct Sample {
  double t = 0;
  double loss = 0;
  double excess_loss = 0;
  double dist_to_opt = 0;           ///< ‖W − W*‖_F, W* = best rank-min_j d_j end-to-end matrix
  double grad_norm = 0;             ///< ‖∇L(θ)‖ over all layers
  double imbalance_drift = 0;       ///< max_j ‖D_j(t) − D_j(0)‖_F
  Eigen::VectorXd singular_values;  ///< top singular values of W (sample.modes of them)
  Eigen::VectorXd alignments;       ///< u_iᵀ W Σ^{1/2} v_i with the singular vectors of Q (= u_iᵀ W v_i whitened)
  /// RecordOptions::sharpness: λ_max(∇²L(θ)), the top eigenvalue of the Hessian over all layers (NaN when Lanczos
  /// does not converge). For the reduced methods (end_to_end, rank1, exact), that of the balanced network they stand
  /// for, a balanced factorization of W (every one has the same spectrum, docs/theory.md §9). Absent otherwise.
  std::optional<double> sharpness;
};

struct RecordOptions {
  /// Times at which to record a Sample, increasing, within [0, t_max]. The final state is always recorded too.
  std::vector<double> times;
  /// Number of singular values / alignments per sample (capped at min(min_j d_j, d_x, d_y)).
  int modes = 8;
  /// Record the sharpness λ_max(∇²L(θ)) in every sample (Sample::sharpness): a Lanczos run on exact Hessian-vector
  /// products per sample (dense up to kSharpnessDenseLimit parameters), tens to hundreds of gradient evaluations'
  /// work each, so off by default. Never changes the run's steps.
  bool sharpness = false;
};
/// Sample::sharpness is computed from the dense Hessian up to this many parameters (n Hessian-vector products and a
/// small symmetric eigensolve), by Lanczos above (Spectra; the dense route again if it does not converge). Lanczos
/// was faster at every size measured, 8 to 192 parameters (bench_objective's BM_Sharpness: 4.7 against 9.5 µs at 8,
/// 53 against 114 µs at 32, 107 µs against 1.8 ms at 128; docs/performance.md), so only the smallest are dense.
inline constexpr long kSharpnessDenseLimit = 2;

struct Stats {
  long steps = 0;                       ///< accepted steps (GF), iterations (GD) or panels (exact)
  long rejected_steps = 0;              ///< GF steps rejected by the error control
  long rhs_evals = 0;                   ///< gradient evaluations
  long jacobians = 0;                   ///< bdf: Jacobians formed (dense) or linearisation points set (krylov)
  long jacobian_vector_products = 0;    ///< bdf with krylov: Hessian-vector products
  std::optional<double> implicit_from;  ///< auto: the time it switched from dop853 to bdf (none: it did not)
  /// record.sharpness: Hessian-vector products spent on the sharpness column (a dense Hessian's n per row, Lanczos's
  /// tens to hundreds; a resumed run's include those before its checkpoint)
  long sharpness_products = 0;
  double wall_seconds = 0;
};

struct Summary {
  Status status = Status::t_max;
  std::string message;  ///< human-readable, with the numbers involved
  double t_final = 0;
  double loss = 0;
  double excess_loss = 0;
  std::optional<double> t_eps;  ///< first time the excess loss reached eps, to the integrator's accuracy
  double initial_loss = 0;
  double initial_excess_loss = 0;
  double initial_imbalance = 0;  ///< max_j ‖D_j(0)‖_F
  Stats stats;
};

struct Progress {
  double t = 0;
  double t_max = 0;
  double excess_loss = 0;
  long steps = 0;
};

using SampleSink = std::function<void(const Sample&)>;
using ProgressSink = std::function<void(const Progress&)>;

/// How far a run of `options` has come at `p`, in [0, 1], for an estimate of the time left: the larger of the time
/// fraction t / t_end (t_end = t_max, or steps · lr for gd with a step budget below it) and, when the run stops at
/// eps, the log-excess fraction log(E0 / E) / log(E0 / eps) from the excess loss E0 = `initial_excess` at the start
/// (1 once E ≤ eps). Excess loss falls in bursts between plateaus, so the estimate is rough; it never exceeds 1.
double progress_fraction(const Progress& p, double initial_excess, const SolverOptions& options);

/// The resumable state of a run between two steps, from which train() goes on bit for bit: the same steps, t_eps,
/// counts, recordings and final weights as the run that was not stopped. Taken at the end of an accepted step of an
/// explicit integrator or gauss_legendre, at an iteration of gd, and for bdf at its restarts (CVODE's history cannot
/// be saved, so bdf restarts from its current state every kBdfRestartSteps steps — and, integrating in frames,
/// at the first plateau after each learned mode — interrupted or not, and the checkpoints are taken there). exact takes
/// none: it recomputes its closed form.
struct Checkpoint {
  Method method = Method::gf;
  Integrator integrator = Integrator::dop853;
  bool implicit = false;  ///< auto: taken in its bdf phase
  double t = 0;
  double dt = 0;                        ///< the next step the step-size control proposed
  Eigen::VectorXd state;                ///< θ (gf, gd) or the reduced state (end_to_end, rank1)
  std::vector<Eigen::VectorXd> stages;  ///< gauss_legendre: the compensation and the three stage guesses
  double excess = 0;
  double grad_norm = 0;
  std::optional<double> t_eps;
  std::optional<double> implicit_from;  ///< auto in its bdf phase: where it switched
  long steps = 0;
  long rejected = 0;
  long rhs_evals = 0;
  long jacobians = 0;
  long jacobian_vector_products = 0;
  long next_sample = 0;  ///< recording times already recorded
  int stiff = 0;         ///< auto: the counts of DOP853's stiffness test
  int non_stiff = 0;
  double ceiling = 0;           ///< gd: the loss above which it reports divergence
  long sharpness_products = 0;  ///< Stats::sharpness_products so far
};

/// bdf restarts every this many steps (see Checkpoint); a restart costs a few steps while its order builds up again.
inline constexpr long kBdfRestartSteps = 2000;

/// What train() does about checkpoints.
struct CheckpointOptions {
  std::function<void(const Checkpoint&)> save;  ///< receives each checkpoint (empty: none are taken)
  double every_seconds = 5;                     ///< wall time between checkpoints; 0: at every step where one can be
  /// Continue from this checkpoint (of a run of the same problem, start and options; θ passed to train() is still
  /// the start, which fixes the initial losses and the drift column).
  const Checkpoint* resume = nullptr;
};

/// Trains θ (updated in place to the final state) and streams samples to `sink`. Never prints, never throws on
/// numerical failure (see Summary::status); throws InputError when options are invalid, θ has the wrong size or
/// `checkpoints.resume` does not fit the run. An interrupted run (Status::interrupted) hands its last state to
/// `checkpoints.save` when it can (every method and integrator but bdf, whose last restart is its checkpoint).
Summary train(const Problem& problem, const Shape& shape, Eigen::VectorXd& theta, const SolverOptions& options,
              const RecordOptions& record = {}, const SampleSink& sink = {}, const ProgressSink& progress = {},
              const CheckpointOptions& checkpoints = {});

/// Sample times: `count` points on [0, t_max], uniform or log-spaced from t_min (plus t = 0), merged and sorted.
std::vector<double> sample_times(double t_max, int uniform_count, int log_count, double t_min);

}  // namespace linflow
