#include "linflow/solver.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "core/products.hpp"
#include "flows/block_preconditioner.hpp"
#include "flows/gauss_legendre.hpp"
#include "flows/monitor.hpp"
#include "flows/ode/bdf.hpp"
#include "flows/ode/drivers.hpp"
#include "flows/reduced_flows.hpp"
#include "linflow/error.hpp"
#include "linflow/exact.hpp"
#include "linflow/hessian.hpp"
#include "linflow/init.hpp"
#include "linflow/interrupt.hpp"

namespace linflow {
namespace {

// Gradient flow of all layers: dθ/dt = −∇L(θ).
class LayerwiseFlow {
 public:
  LayerwiseFlow(Objective& objective, const Problem::Optimum& optimum) : obj_(objective), opt_(optimum) {}
  void operator()(const detail::State& x, detail::State& dxdt, double /*t*/) {
    objective().velocity(x, dxdt);
    ++evals_;
  }
  // The same on views (the implicit driver's, in place in CVODE's vectors).
  void operator()(Eigen::Ref<const Eigen::VectorXd> x, Eigen::Ref<Eigen::VectorXd> dxdt, double /*t*/) {
    objective().velocity(x, dxdt);
    ++evals_;
  }
  double excess(const detail::State& x) {
    objective().loss(x);
    return excess_fsal();
  }
  double excess_fsal() const {
    return active() ? frames_->objective.excess_loss(frames_->optimum) : obj_.excess_loss(opt_);
  }
  static double grad_norm(const detail::State& /*x*/, const detail::State& dxdt) { return dxdt.norm(); }
  long evals() const { return evals_; }
  // The exact Jacobian −∇²L for the implicit integrator (flows/ode/bdf.hpp).
  void set_jacobian_point(Eigen::Ref<const Eigen::VectorXd> x) { hessian().set_point(x); }
  void jacobian_vector(Eigen::Ref<const Eigen::VectorXd> v, Eigen::Ref<Eigen::VectorXd> out) {
    hessian().apply(v, out, -1.0);
  }
  void jacobian(Eigen::Ref<Eigen::MatrixXd> J) { hessian().dense(J, -1.0); }
  // In the frames, a preconditioner for the implicit integrator's GMRES (flows/block_preconditioner.hpp).
  bool has_preconditioner() const { return active(); }
  double set_preconditioner(Eigen::Ref<const Eigen::VectorXd> x, bool new_point, double gamma) {
    if (!preconditioner_) preconditioner_.emplace(obj_.shape());
    if (new_point) preconditioner_->set_point(x);
    return preconditioner_->factor(gamma);
  }
  void precondition(Eigen::Ref<const Eigen::VectorXd> r, Eigen::Ref<Eigen::VectorXd> z) const {
    preconditioner_->solve(r, z);
  }
  // The arithmetic of the gradient from here on (`auto` switches it when its implicit phase begins).
  void set_precision(GradientPrecision precision) {
    obj_.set_precision(precision);
    if (frames_) frames_->objective.set_precision(in_frames(precision));
  }

  // The implicit integrator's frames (flows/ode/bdf.hpp), for whitened problems. L = ½‖Z − W_N ⋯ W_1‖² is the
  // same function of W̃_j = P_jᵀ W_j P_{j−1} with the target P_Nᵀ Z P_0, for any orthogonal P_0 … P_N, so gradient
  // flow is the same flow in those bases. enter_frames takes P_N, P_0 from the SVD of Z (its singular vectors,
  // completed to bases) and P_j (hidden) from the QR factorisation of W_{j:1} P_0, whose k-th column is the image of
  // the target's k-th input direction in hidden space j: where the network carries mode k, learned or not. (Frames
  // from the SVD of W_N ⋯ W_1 instead separate only the modes already learned, and modes learned later mix with the
  // rest again: 20× larger t_eps errors at rtol 1e-8 on the problem below.) In θ's own entries each learned mode is
  // spread over every entry of a layer beside the unlearned part of size ~σ0 whose growth times the next escape;
  // CVODE's weights rtol |θ_i| then let each step move that part by rtol / σ0 of itself, and t_eps inherits it (N −
  // 2)-fold. In the frames the two sit in different entries, each held to rtol of itself (docs/performance.md,
  // "Integration frames").
  bool enter_frames(detail::State& x) {
    if (!obj_.problem().whitened()) return false;
    const Shape& s = obj_.shape();
    const int N = s.depth();
    if (!frames_) frames_ = std::make_unique<Frames>(obj_.problem(), opt_.k, s);
    frames_->objective.set_precision(in_frames(obj_.precision()));
    std::vector<Eigen::MatrixXd>& P = frames_->P;
    Eigen::MatrixXd image = P.front();  // W_{j:1} P_0
    for (int j = 1; j < N; ++j) {
      image = s.layer(x, j) * image;
      P[static_cast<size_t>(j)] = Eigen::HouseholderQR<Eigen::MatrixXd>(image).householderQ();
    }
    frames_->active = true;
    hessian_.reset();
    rotate(x, true);
    return true;
  }
  // A state in the frames back in θ's own bases (leave_frames: and the flow leaves them).
  void from_frames(detail::State& x) const { rotate(x, false); }
  void leave_frames(detail::State& x) {
    rotate(x, false);
    if (frames_) frames_->active = false;
    hessian_.reset();
  }

 private:
  // What stays for the whole run: P_0, P_N (the target's singular vectors, completed to bases) and the rotated
  // problem; the hidden P_j are chosen again at each CVODE run.
  struct Frames {
    Frames(const Problem& original, int k, const Shape& shape)
        : P(static_cast<size_t>(shape.depth()) + 1),
          problem(rotated(original, P)),
          optimum(problem.optimum(k)),
          objective(problem, shape) {}
    static Problem rotated(const Problem& original, std::vector<Eigen::MatrixXd>& P) {
      const Eigen::MatrixXd& Z = original.q();
      constexpr unsigned kFull = Eigen::ComputeFullU | Eigen::ComputeFullV;
      const auto take = [&](const auto& svd) {
        P.front() = svd.matrixV();
        P.back() = svd.matrixU();
      };
      if (std::max(Z.rows(), Z.cols()) <= kJacobiSvdLimit) {
        take(Eigen::JacobiSVD<Eigen::MatrixXd>(Z, kFull));
      } else {
        take(Eigen::BDCSVD<Eigen::MatrixXd>(Z, kFull));
      }
      return Problem::from_target(P.back().transpose() * Z * P.front());
    }
    // One-sided Jacobi (the most accurate SVD) for small targets, divide and conquer above (Jacobi's O(d³) sweeps get
    // slow; BDCSVD itself switches to Jacobi below 16, on a rescaled copy).
    static constexpr Eigen::Index kJacobiSvdLimit = 16;
    std::vector<Eigen::MatrixXd> P;  // P_0 … P_N
    Problem problem;                 // the target P_Nᵀ Z P_0
    Problem::Optimum optimum;
    Objective objective;
    bool active = false;  // between enter_frames and leave_frames
  };
  bool active() const { return frames_ && frames_->active; }
  Objective& objective() { return active() ? frames_->objective : obj_; }
  // In the frames the learned modes and the unlearned part no longer share entries, so the gradient's small entries
  // are not differences of large terms: double's rounding no longer dominates them, and `auto` precision is double
  // there (same t_eps and steps as double-double, 1.4–1.6× faster: docs/performance.md, "Integration frames").
  static GradientPrecision in_frames(GradientPrecision precision) {
    return precision == GradientPrecision::automatic ? GradientPrecision::standard : precision;
  }
  Hessian& hessian() {
    if (!hessian_) hessian_.emplace(active() ? frames_->problem : obj_.problem(), obj_.shape());
    return *hessian_;
  }
  // W_j → P_jᵀ W_j P_{j−1} (into the frames) or back.
  void rotate(detail::State& x, bool into) const {
    if (!active()) return;
    const Shape& s = obj_.shape();
    for (int j = 1; j <= s.depth(); ++j) {
      auto layer = s.mutable_layer(x, j);
      const Eigen::MatrixXd& out = frames_->P[static_cast<size_t>(j)];
      const Eigen::MatrixXd& in = frames_->P[static_cast<size_t>(j) - 1];
      if (into) {
        layer = (out.transpose() * layer * in).eval();
      } else {
        layer = (out * layer * in.transpose()).eval();
      }
    }
  }

  Objective& obj_;
  const Problem::Optimum& opt_;
  long evals_ = 0;
  std::optional<Hessian> hessian_;
  std::optional<detail::BlockPreconditioner> preconditioner_;
  std::unique_ptr<Frames> frames_;
};

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

std::string describe(const Summary& s, const SolverOptions& o) {
  std::ostringstream os;
  os.precision(3);
  switch (s.status) {
    case Status::converged:
      os << "converged: excess loss " << s.excess_loss << " ≤ eps " << o.eps << " at t = " << s.t_final;
      break;
    case Status::t_max:
      os << "reached t_max = " << o.t_max << " with excess loss " << s.excess_loss << " > eps " << o.eps;
      break;
    case Status::max_steps:
      os << "step budget exhausted (" << s.stats.steps << " steps) at t = " << s.t_final << " with excess loss "
         << s.excess_loss;
      break;
    case Status::diverged:
      os << "diverged at t = " << s.t_final;
      break;
    case Status::stalled:
      // The plateau of a small start looks the same from here (‖∇L‖ ~ σ0^{N−1}): say how to go on.
      os << "stalled at a critical point: gradient norm ≤ grad_tol " << o.grad_tol << " at t = " << s.t_final
         << " with excess loss " << s.excess_loss << " > eps " << o.eps
         << " (if this is the plateau of a small start, solver.grad_tol = 0 runs on to its escape)";
      break;
    case Status::interrupted:
      os << "interrupted at t = " << s.t_final << " (of t_max = " << o.t_max << ") with excess loss " << s.excess_loss
         << " after " << s.stats.steps << " steps";
      break;
  }
  if (s.t_eps && s.status != Status::converged) os << "; excess loss first reached eps at t = " << *s.t_eps;
  return os.str();
}

// Integrates `flow` from state x and turns the driver's result into a Summary.
template <class F, class OnSample>
Summary integrate(F& flow, Eigen::VectorXd& x, const SolverOptions& o, const RecordOptions& record,
                  OnSample&& on_sample, const ProgressSink& progress, detail::Checkpoints& checkpoints) {
  auto on_progress = [&](double t, double excess, long steps) {
    if (progress) progress(Progress{t, o.t_max, excess, steps});
  };
  const detail::DriverOptions d{o, record.times, false, checkpoints};
  detail::DriverResult r;
  std::optional<double> implicit_from;
  switch (o.integrator) {
    case Integrator::dopri5:
      r = detail::integrate_dopri5(flow, x, d, on_sample, on_progress);
      break;
    case Integrator::rk78:
      r = detail::integrate_rk78(flow, x, d, on_sample, on_progress);
      break;
    case Integrator::dop853:
      r = detail::integrate_dop853(flow, x, d, on_sample, on_progress);
      break;
    case Integrator::gauss_legendre:
      r = detail::integrate_gauss_legendre(flow, x, d, on_sample, on_progress);
      break;
    case Integrator::bdf:
      r = detail::integrate_bdf(flow, x, d, on_sample, on_progress);
      break;
    case Integrator::automatic: {
      // The gradient's precision of the implicit phase (run_gf keeps the explicit phase in double under "auto": its
      // rounding hurts only the implicit integrator's Newton iteration, and a run that never switches is then
      // dop853's bit for bit and at its cost).
      const auto implicit_precision = [&] {
        if constexpr (requires { flow.set_precision(o.gradient_precision); }) flow.set_precision(o.gradient_precision);
      };
      const Checkpoint* resume = checkpoints.pending_resume();
      if (resume && resume->implicit) {  // a checkpoint of the bdf phase
        implicit_from = checkpoints.implicit_from = resume->implicit_from;
        implicit_precision();
        r = detail::integrate_bdf(flow, x, d, on_sample, on_progress);
        break;
      }
      const detail::DriverOptions explicit_part{o, record.times, true, checkpoints};
      r = detail::integrate_dop853(flow, x, explicit_part, on_sample, on_progress);
      if (r.stiff) {
        implicit_from = r.t;
        checkpoints.implicit_from = r.t;
        implicit_precision();
        r = detail::integrate_bdf(flow, x, d, on_sample, on_progress, &r);
      }
      break;
    }
  }
  Summary s;
  s.status = r.status;
  s.t_final = r.t;
  s.t_eps = r.t_eps;
  s.stats.steps = r.steps;
  s.stats.rejected_steps = r.rejected;
  s.stats.rhs_evals = flow.evals() + r.evals_offset;
  s.stats.jacobians = r.jacobians;
  s.stats.jacobian_vector_products = r.jacobian_vector_products;
  s.stats.implicit_from = implicit_from;
  if (!r.reason.empty()) s.message = r.reason;
  return s;
}

// Everything a method's run reads, set up once by train(): the problem and network, the options and recording
// asked for, the optimum the excess loss is measured against, the shared objective and sample monitor, and where
// samples and progress go.
struct RunContext {
  const Problem& problem;
  const Shape& shape;
  const SolverOptions& options;
  const RecordOptions& record;
  const Problem::Optimum& optimum;
  Objective& objective;
  detail::Monitor& monitor;
  const SampleSink& sink;
  const ProgressSink& progress;
  detail::Checkpoints& checkpoints;
};

Summary run_gf(const RunContext& c, Eigen::VectorXd& theta) {
  // "auto" precision is for the implicit integrator only (the auto integrator's implicit phase: integrate()).
  const GradientPrecision precision = c.options.gradient_precision;
  c.objective.set_precision(precision == GradientPrecision::automatic && c.options.integrator != Integrator::bdf
                                ? GradientPrecision::standard
                                : precision);
  LayerwiseFlow flow(c.objective, c.optimum);
  Objective sampler(c.problem, c.shape);  // keeps the flow's FSAL cache intact while sampling
  return integrate(
      flow, theta, c.options, c.record,
      [&](const detail::State& x, double t) {
        if (c.sink) c.sink(c.monitor.sample(sampler, x, t));
      },
      c.progress, c.checkpoints);
}

// Samples of a reduced flow: it carries no layers, and the network it stands for is balanced (no drift).
template <class F>
auto reduced_sampler(const F& flow, const Problem& problem, detail::Monitor& monitor, const SampleSink& sink) {
  return [&flow, &problem, &monitor, &sink](const detail::State& state, double t) {
    if (!sink) return;
    const Eigen::MatrixXd W = flow.end_to_end(state);
    sink(monitor.sample_end_to_end(W, t, problem.loss(W), flow.grad_norm(state, state)));
  };
}

// The hypothesis shared by the reduced flows: a balanced start (docs/theory.md §2).
void require_balanced(const Shape& shape, const Eigen::VectorXd& theta, const SolverOptions& o) {
  double scale = 0;
  for (int j = 1; j <= shape.depth(); ++j) scale = std::max(scale, shape.layer(theta, j).squaredNorm());
  const double imbalance = shape.max_imbalance(theta);
  const double tol = o.balance_tol * (1 + scale);
  if (imbalance > tol) {
    throw InputError(std::string("solver.method = \"") + to_string(o.method) +
                     "\" needs a balanced start: max_j ‖D_j‖_F = " + fmt(imbalance) +
                     " exceeds balance_tol·(1 + max‖W_j‖²) = " + fmt(tol) +
                     " (use init.kind = balanced or balanced_rank1, or solver.method = gf)");
  }
}

Summary run_end_to_end(const RunContext& c, Eigen::VectorXd& theta) {
  require_balanced(c.shape, theta, c.options);
  const Eigen::MatrixXd W0 = c.shape.end_to_end(theta);
  Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(W0.data(), W0.size());
  detail::EndToEndFlow flow(c.problem, c.shape.depth(), c.shape.min_width(), c.optimum);
  Summary s = integrate(flow, x, c.options, c.record, reduced_sampler(flow, c.problem, c.monitor, c.sink), c.progress,
                        c.checkpoints);
  // Rebuild layers as a balanced factorization of the final W (fixed seed: hidden bases are not tracked).
  InitOptions rebuild;
  rebuild.kind = InitKind::balanced;
  rebuild.end_to_end = flow.end_to_end(x);
  rebuild.seed = 0;
  theta = initialize(c.shape, rebuild);
  return s;
}

// A balanced network with a width-one hidden layer is W_j = σ^{1/N} a_j a_{j−1}ᵀ (docs/theory.md §2 [proved]); its
// hidden directions a_1..a_{N−1} do not move under GF (each ∇_{W_j} L is parallel to W_j for 1 < j < N), so the layers
// are rebuilt exactly from (σ, u, v) and the initial hidden directions.
struct BalancedRank1 {
  double sigma0 = 0;
  Eigen::VectorXd u0, v0;
  std::vector<Eigen::VectorXd> hidden;  // a_1 … a_{N−1}

  BalancedRank1(const Problem& problem, const Shape& shape, const Eigen::VectorXd& theta, const SolverOptions& o) {
    const std::string name = std::string("solver.method = \"") + to_string(o.method) + "\"";
    if (shape.min_hidden_width() != 1 || shape.depth() < 2) {
      throw InputError(name + " needs a hidden layer of width one (network.widths has minimum hidden width " +
                       std::to_string(shape.min_hidden_width()) + ")");
    }
    if (!problem.whitened()) throw InputError(name + " needs a whitened target (problem.target or synthetic)");
    require_balanced(shape, theta, o);
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(shape.end_to_end(theta), Eigen::ComputeThinU | Eigen::ComputeThinV);
    sigma0 = svd.singularValues()(0);
    if (!(sigma0 > 0)) throw InputError(name + " needs W(0) ≠ 0 (the polar form is undefined at 0)");
    u0 = svd.matrixU().col(0);
    v0 = svd.matrixV().col(0);
    Eigen::VectorXd a = v0;
    for (int j = 1; j < shape.depth(); ++j) {
      a = shape.layer(theta, j) * a;
      a.normalize();
      hidden.push_back(a);
    }
  }

  void rebuild(const Shape& shape, double sigma, const Eigen::VectorXd& u, const Eigen::VectorXd& v,
               Eigen::VectorXd& theta) const {
    const int N = shape.depth();
    const double root = std::pow(sigma, 1.0 / N);
    Eigen::VectorXd prev = v.normalized();
    for (int j = 1; j <= N; ++j) {
      const Eigen::VectorXd next = j == N ? Eigen::VectorXd(u.normalized()) : hidden[static_cast<size_t>(j - 1)];
      shape.mutable_layer(theta, j) = root * next * prev.transpose();
      prev = next;
    }
  }
};

Summary run_rank1(const RunContext& c, Eigen::VectorXd& theta) {
  const BalancedRank1 start(c.problem, c.shape, theta, c.options);
  detail::Rank1Flow flow(c.problem, c.shape.depth(), c.optimum);
  Eigen::VectorXd x = detail::Rank1Flow::pack(start.sigma0, start.u0, start.v0);
  Summary s = integrate(flow, x, c.options, c.record, reduced_sampler(flow, c.problem, c.monitor, c.sink), c.progress,
                        c.checkpoints);
  const int dy = c.problem.output_dim(), dx = c.problem.input_dim();
  start.rebuild(c.shape, std::exp(x(0)), x.segment(1, dy), x.segment(1 + dy, dx), theta);
  return s;
}

// The exact flow of a balanced start aligned with the target's singular vectors (docs/theory.md §10): the modes
// decouple, each σ_a on its own scalar flow. A balanced network with end-to-end matrix U_S diag(σ_S) V_Sᵀ is
// W_j = R_j diag(σ_S)^{1/N} R_{j−1}ᵀ with R_0 = V_S, R_N = U_S; its hidden bases R_j do not move under GF (every
// gradient is R_j (diagonal) R_{j−1}ᵀ), so the layers are rebuilt exactly from σ_S(t).
Summary run_exact_decoupled(const RunContext& c, Eigen::VectorXd& theta) {
  const std::string name = "solver.method = \"exact\"";
  const int N = c.shape.depth();
  if (N < 2) throw InputError(name + " needs depth ≥ 2");
  if (!c.problem.whitened()) throw InputError(name + " needs a whitened target (problem.target or synthetic)");
  require_balanced(c.shape, theta, c.options);
  const Alignment al = alignment_with_target(c.problem, c.shape.end_to_end(theta));
  if (al.misalignment > kAlignedRtol) {
    throw InputError(name + " needs a hidden layer of width one or a start aligned with the target's singular " +
                     "vectors (init.kind = \"spectral\"): misalignment ‖W − Σ_a (u_aᵀWv_a) u_a v_aᵀ‖_F/‖W‖_F = " +
                     fmt(al.misalignment) + " > " + fmt(kAlignedRtol));
  }
  const double scale = al.sigma.cwiseAbs().maxCoeff();
  for (Eigen::Index a = 0; a < al.sigma.size(); ++a) {
    if (al.sigma(a) < -kAlignedRtol * scale) {
      throw InputError(name + ": mode " + std::to_string(a + 1) +
                       " of the start points away from the target (u_aᵀ W v_a = " + fmt(al.sigma(a)) +
                       " < 0); the decoupled closed form needs every σ_a(0) ≥ 0");
    }
  }
  std::vector<int> excited;  // S: the modes present in the start
  for (Eigen::Index a = 0; a < al.sigma.size(); ++a)
    if (al.sigma(a) > kAlignedRtol * scale) excited.push_back(static_cast<int>(a));
  if (excited.empty()) throw InputError(name + " needs W(0) ≠ 0");
  Eigen::VectorXd sigma0 = Eigen::VectorXd::Zero(excited.back() + 1);
  for (int a : excited) sigma0(a) = al.sigma(a);
  const ExactDecoupledFlow flow(c.problem, N, sigma0);
  const auto n = static_cast<Eigen::Index>(excited.size());
  std::vector<Eigen::MatrixXd> R(static_cast<size_t>(N + 1));
  R[0] = Eigen::MatrixXd(c.problem.v().rows(), n);
  R[static_cast<size_t>(N)] = Eigen::MatrixXd(c.problem.u().rows(), n);
  Eigen::VectorXd inv_root(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const int a = excited[static_cast<size_t>(i)];
    R[0].col(i) = c.problem.v().col(a);
    R[static_cast<size_t>(N)].col(i) = c.problem.u().col(a);
    inv_root(i) = std::pow(sigma0(a), -1.0 / N);
  }
  for (int j = 1; j < N; ++j)
    R[static_cast<size_t>(j)] = c.shape.layer(theta, j) * R[static_cast<size_t>(j - 1)] * inv_root.asDiagonal();

  Summary s;
  s.status = Status::t_max;
  try {
    s.t_eps = flow.time_to_excess(c.problem, c.optimum, c.options.eps, c.options.t_max);
    s.t_final = s.t_eps && c.options.stop_at_eps ? *s.t_eps : c.options.t_max;
    if (s.t_eps) s.status = Status::converged;
    Eigen::MatrixXd G(c.problem.output_dim(), c.problem.input_dim()), V(G.rows(), G.cols());
    for (double t : c.record.times) {
      if (t > s.t_final) break;
      if (!c.sink) break;
      const Eigen::MatrixXd W = flow.end_to_end(t);
      c.problem.end_to_end_gradient(W, G);
      const double grad_sq = detail::balanced_velocity(W, G, N, c.shape.min_width(), V);
      c.sink(c.monitor.sample_end_to_end(W, t, c.problem.loss(W), std::sqrt(std::max(grad_sq, 0.0))));
    }
  } catch (const ExactFlowFailure& e) {
    s.status = e.budget_spent() ? Status::max_steps : Status::diverged;
    s.message = e.what();
    s.t_final = 0.0;
  }
  const Eigen::VectorXd sigma = flow.sigmas(s.t_final);
  Eigen::VectorXd root(n);
  for (Eigen::Index i = 0; i < n; ++i) root(i) = std::pow(sigma(excited[static_cast<size_t>(i)]), 1.0 / N);
  for (int j = 1; j <= N; ++j) {
    c.shape.mutable_layer(theta, j) =
        R[static_cast<size_t>(j)] * root.asDiagonal() * R[static_cast<size_t>(j - 1)].transpose();
  }
  return s;
}

Summary run_exact(const RunContext& c, Eigen::VectorXd& theta) {
  if (c.shape.min_hidden_width() != 1) return run_exact_decoupled(c, theta);
  const BalancedRank1 start(c.problem, c.shape, theta, c.options);
  const int N = c.shape.depth();
  const ExactRank1Flow flow(c.problem, N, start.sigma0, start.u0, start.v0);
  auto excess = [&](const Rank1Point& p) { return c.problem.excess_loss(p.end_to_end(), c.optimum); };
  // One walk along the panels. The excess loss is non-increasing along GF, so its first crossing below eps lies in
  // the first panel that ends at or below eps; bisection inside that panel (each probe a few series evaluations)
  // locates it to rounding. Recording times are sampled as the walk passes them.
  Summary s;
  s.status = Status::t_max;
  std::optional<ExactRank1Flow::Walker> walker;
  try {
    walker.emplace(flow);
    if (excess(walker->at(0.0)) <= c.options.eps) s.t_eps = 0.0;
    auto t_end = [&] { return s.t_eps && c.options.stop_at_eps ? *s.t_eps : c.options.t_max; };
    auto next_time = c.record.times.begin();
    for (;;) {
      const double lo = walker->start_time(), hi = std::min(walker->end_time(), c.options.t_max);
      if (!s.t_eps && excess(walker->at(hi)) <= c.options.eps) {
        double a = lo, b = hi;
        while (b - a > 4 * std::numeric_limits<double>::epsilon() * std::max(1.0, b)) {
          const double mid = 0.5 * (a + b);
          if (mid <= a || mid >= b) break;
          (excess(walker->at(mid)) <= c.options.eps ? b : a) = mid;
        }
        s.t_eps = b;
      }
      const double until = std::min(hi, t_end());
      for (; next_time != c.record.times.end() && *next_time <= until; ++next_time) {
        if (!c.sink) continue;
        const Rank1Point p = walker->at(*next_time);
        const Eigen::MatrixXd W = p.end_to_end();
        const double grad = detail::rank1_grad_norm(c.problem, N, p.sigma, p.u, p.v);
        c.sink(c.monitor.sample_end_to_end(W, p.t, c.problem.loss(W), grad));
      }
      if (hi >= t_end()) break;
      if (interrupt_requested()) {  // at the end of the panel walked, where the samples stop
        s.status = Status::interrupted;
        s.t_final = hi;
        break;
      }
      walker->advance();
    }
    if (s.status != Status::interrupted) {
      s.t_final = t_end();
      if (s.t_eps && (c.options.stop_at_eps || excess(walker->at(s.t_final)) <= c.options.eps))
        s.status = Status::converged;
    }
  } catch (const ExactFlowFailure& e) {
    // The closed form cannot go further: the run ends where its last complete panel starts (the start itself when
    // the first panel failed), with the reason as its message.
    s.status = e.budget_spent() ? Status::max_steps : Status::diverged;
    s.message = e.what();
    s.t_final = walker ? walker->start_time() : 0.0;
  }
  if (!walker) return s;
  s.stats.steps = walker->panels();
  const Rank1Point last = walker->at(s.t_final);
  start.rebuild(c.shape, last.sigma, last.u, last.v, theta);
  return s;
}

Summary run_gd(const RunContext& c, Eigen::VectorXd& theta) {
  Summary s;
  const long budget_t = static_cast<long>(std::min(std::floor(c.options.t_max / c.options.lr + 1e-9), 9.0e18));
  // Without `steps` the horizon sets the iterations, bounded by max_steps: t_max = 1e12 at lr = 1e-3 would be 1e15.
  const long budget_steps = c.options.steps > 0 ? c.options.steps : c.options.max_steps;
  const long budget = std::min<long>(budget_steps, budget_t);
  Eigen::VectorXd grad(c.shape.size());
  size_t next_sample = 0;
  double ceiling = 0;
  long k = 0;
  const Checkpoint* resume = c.checkpoints.take_resume(false);
  if (resume) {
    theta = resume->state;
    k = resume->steps;
    next_sample = static_cast<size_t>(resume->next_sample);
    ceiling = resume->ceiling;
    s.t_eps = resume->t_eps;
    s.stats.rhs_evals = resume->rhs_evals;
  }
  // Iteration k as a checkpoint: θ_k before its gradient is evaluated.
  auto save = [&] {
    Checkpoint cp;
    cp.t = static_cast<double>(k) * c.options.lr;
    cp.dt = c.options.lr;
    cp.state = theta;
    cp.steps = k;
    cp.next_sample = static_cast<long>(next_sample);
    cp.ceiling = ceiling;
    cp.t_eps = s.t_eps;
    cp.rhs_evals = s.stats.rhs_evals;
    c.checkpoints.save(std::move(cp));
  };
  const long first = k;
  for (;; ++k) {
    const double t = static_cast<double>(k) * c.options.lr;
    if (k > first && c.checkpoints.due()) save();
    if (interrupt_requested()) {  // before the evaluation: the state is θ_k, as a checkpoint holds it
      s.status = Status::interrupted;
      s.t_final = t;
      if (c.checkpoints.enabled()) save();
      break;
    }
    const double loss = c.objective.evaluate(theta, grad);
    ++s.stats.rhs_evals;
    if (k == 0) ceiling = c.options.divergence_factor * std::max(1.0, loss);
    const double excess = c.objective.problem().excess_loss(c.objective.end_to_end(), c.optimum);
    s.t_final = t;
    if (!std::isfinite(loss) || !grad.allFinite() || loss > ceiling) {
      s.status = Status::diverged;
      s.message = std::isfinite(loss) ? "loss " + fmt(loss) + " exceeded " + fmt(ceiling) + " at iteration " +
                                            std::to_string(k) + " (t = " + fmt(t) + ")"
                                      : "non-finite loss or gradient at iteration " + std::to_string(k);
      break;
    }
    bool sampled = false;
    while (next_sample < c.record.times.size() && c.record.times[next_sample] <= t) {
      ++next_sample;
      if (!sampled && c.sink) c.sink(c.monitor.sample_layers(c.objective.end_to_end(), theta, t, loss, grad.norm()));
      sampled = true;
    }
    if (excess <= c.options.eps && !s.t_eps) {
      s.t_eps = t;
      if (c.options.stop_at_eps) {
        s.status = Status::converged;
        break;
      }
    }
    if (c.options.grad_tol > 0 && grad.norm() <= c.options.grad_tol && excess > c.options.eps) {
      s.status = Status::stalled;
      break;
    }
    if (k >= budget) {
      s.status = (s.t_eps && excess <= c.options.eps) ? Status::converged
                 : budget_steps <= budget_t           ? Status::max_steps
                                                      : Status::t_max;
      break;
    }
    theta.noalias() -= c.options.lr * grad;
    if (c.progress && (k & 1023) == 0) c.progress(Progress{t, c.options.t_max, excess, k});
  }
  s.stats.steps = k;
  return s;
}

// Refuses a checkpoint that is not of a run of these options and sizes (the run layer also compares the
// configurations that took and resume it).
void check_resumable(const Checkpoint& c, const Problem& problem, const Shape& shape, const SolverOptions& o,
                     const RecordOptions& record) {
  const bool integrated = o.method == Method::gf || o.method == Method::end_to_end || o.method == Method::rank1;
  if (o.method == Method::exact) throw InputError("solver.method = \"exact\" takes no checkpoints: run it again");
  if (c.method != o.method || (integrated && c.integrator != o.integrator)) {
    throw InputError(std::string("the checkpoint is of a run with solver.method = \"") + to_string(c.method) +
                     "\" and solver.integrator = \"" + to_string(c.integrator) + "\"");
  }
  const long dy = problem.output_dim(), dx = problem.input_dim();
  const long size = o.method == Method::end_to_end ? dy * dx : o.method == Method::rank1 ? 1 + dy + dx : shape.size();
  const bool stages_fit = integrated && o.integrator == Integrator::gauss_legendre
                              ? c.stages.size() == 4 && std::all_of(c.stages.begin(), c.stages.end(),
                                                                    [&](const auto& v) { return v.size() == size; })
                              : c.stages.empty();
  if (c.state.size() != size || !stages_fit || !(c.t >= 0 && c.t <= o.t_max) || c.steps < 0 || c.next_sample < 0 ||
      static_cast<size_t>(c.next_sample) > record.times.size() || (c.implicit && !integrated)) {
    throw InputError("the checkpoint does not fit this run (its state, time or counts)");
  }
}

}  // namespace

const char* to_string(Method method) {
  switch (method) {
    case Method::gf:
      return "gf";
    case Method::gd:
      return "gd";
    case Method::end_to_end:
      return "end_to_end";
    case Method::rank1:
      return "rank1";
    case Method::exact:
      return "exact";
  }
  return "?";
}

const char* to_string(Integrator integrator) {
  switch (integrator) {
    case Integrator::dopri5:
      return "dopri5";
    case Integrator::rk78:
      return "rk78";
    case Integrator::dop853:
      return "dop853";
    case Integrator::gauss_legendre:
      return "gauss_legendre";
    case Integrator::bdf:
      return "bdf";
    case Integrator::automatic:
      return "auto";
  }
  return "?";
}

const char* to_string(LinearSolver solver) {
  switch (solver) {
    case LinearSolver::automatic:
      return "auto";
    case LinearSolver::dense:
      return "dense";
    case LinearSolver::krylov:
      return "krylov";
  }
  return "?";
}

LinearSolver linear_solver_from_string(const std::string& name) {
  for (auto l : {LinearSolver::automatic, LinearSolver::dense, LinearSolver::krylov}) {
    if (name == to_string(l)) return l;
  }
  throw InputError("solver.linear_solver: unknown linear solver '" + name + "' (expected auto, dense or krylov)");
}

Integrator integrator_from_string(const std::string& name) {
  for (auto i : {Integrator::dopri5, Integrator::rk78, Integrator::dop853, Integrator::gauss_legendre, Integrator::bdf,
                 Integrator::automatic}) {
    if (name == to_string(i)) return i;
  }
  throw InputError("solver.integrator: unknown integrator '" + name +
                   "' (expected dopri5, rk78, dop853, gauss_legendre, bdf or auto)");
}

Method method_from_string(const std::string& name) {
  for (auto m : {Method::gf, Method::gd, Method::end_to_end, Method::rank1, Method::exact}) {
    if (name == to_string(m)) return m;
  }
  throw InputError("solver.method: unknown method '" + name + "' (expected gf, gd, end_to_end, rank1 or exact)");
}

const char* to_string(Status status) {
  switch (status) {
    case Status::converged:
      return "converged";
    case Status::t_max:
      return "t_max";
    case Status::max_steps:
      return "max_steps";
    case Status::diverged:
      return "diverged";
    case Status::stalled:
      return "stalled";
    case Status::interrupted:
      return "interrupted";
  }
  return "?";
}

bool SolverOptions::is_valid(std::string* why) const {
  auto bad = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  if (!positive(rtol)) return bad("solver.rtol: must be finite and > 0, got " + fmt(rtol));
  if (!positive(atol)) return bad("solver.atol: must be finite and > 0, got " + fmt(atol));
  if (!(dt0 >= 0) || !std::isfinite(dt0)) return bad("solver.dt0: must be finite and ≥ 0, got " + fmt(dt0));
  if (!positive(dt)) return bad("solver.dt: must be finite and > 0, got " + fmt(dt));
  if (!positive(lr)) return bad("solver.lr: must be finite and > 0, got " + fmt(lr));
  if (steps < 0) return bad("solver.steps: must be ≥ 0, got " + std::to_string(steps));
  if (!positive(t_max)) return bad("solver.t_max: must be finite and > 0, got " + fmt(t_max));
  if (!positive(eps)) return bad("solver.eps: must be finite and > 0, got " + fmt(eps));
  if (max_steps <= 0) return bad("solver.max_steps: must be > 0, got " + std::to_string(max_steps));
  if (!(plateau_rtol >= 0) || plateau_rtol > rtol) {
    return bad("solver.plateau_rtol: must be ≥ 0 (0: as rtol) and at most solver.rtol = " + fmt(rtol) + ", got " +
               fmt(plateau_rtol));
  }
  if (!(grad_tol >= 0) || !std::isfinite(grad_tol))
    return bad("solver.grad_tol: must be finite and ≥ 0, got " + fmt(grad_tol));
  if (!positive(balance_tol)) return bad("solver.balance_tol: must be finite and > 0, got " + fmt(balance_tol));
  if (!(divergence_factor > 1)) return bad("solver.divergence_factor: must be > 1, got " + fmt(divergence_factor));
  if (method == Method::gd && lr > t_max) {
    return bad("solver.lr = " + fmt(lr) + " exceeds solver.t_max = " + fmt(t_max) +
               ": gradient descent would end before its first step");
  }
  return true;
}

double progress_fraction(const Progress& p, double initial_excess, const SolverOptions& options) {
  double t_end = options.t_max;
  if (options.method == Method::gd && options.steps > 0) {
    t_end = std::min(t_end, static_cast<double>(options.steps) * options.lr);
  }
  double fraction = t_end > 0 ? std::clamp(p.t / t_end, 0.0, 1.0) : 0.0;
  if (options.stop_at_eps) {
    if (p.excess_loss <= options.eps) return 1.0;
    if (initial_excess > options.eps && p.excess_loss < initial_excess) {
      const double f = std::log(initial_excess / p.excess_loss) / std::log(initial_excess / options.eps);
      if (std::isfinite(f)) fraction = std::max(fraction, std::min(f, 1.0));
    }
  }
  return fraction;
}

std::vector<double> sample_times(double t_max, int uniform_count, int log_count, double t_min) {
  std::vector<double> times{0.0};
  for (int i = 1; i <= uniform_count; ++i) times.push_back(t_max * i / uniform_count);
  if (log_count > 0 && t_min > 0 && t_min < t_max) {
    const double a = std::log(t_min), b = std::log(t_max);
    for (int i = 0; i < log_count; ++i) {
      times.push_back(log_count == 1 ? t_max : std::exp(a + (b - a) * i / (log_count - 1)));
    }
    times.back() = t_max;
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

Summary train(const Problem& problem, const Shape& shape, Eigen::VectorXd& theta, const SolverOptions& options,
              const RecordOptions& record, const SampleSink& sink, const ProgressSink& progress,
              const CheckpointOptions& checkpoint_options) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError(why);
  if (theta.size() != shape.size()) throw InputError("parameter vector has the wrong size for the network shape");
  if (checkpoint_options.resume) check_resumable(*checkpoint_options.resume, problem, shape, options, record);
  if (options.method == Method::gf &&
      (options.integrator == Integrator::bdf || options.integrator == Integrator::automatic) &&
      options.linear_solver == LinearSolver::dense && shape.size() > Hessian::dense_limit()) {
    throw InputError(R"(solver.linear_solver = "dense": the network has )" + std::to_string(shape.size()) +
                     " parameters, more than the dense Hessian's limit of " + std::to_string(Hessian::dense_limit()) +
                     R"( (use "krylov" or "auto"))");
  }
  const bool implicit_integrator = options.integrator == Integrator::bdf || options.integrator == Integrator::automatic;
  if (options.plateau_rtol > 0 && options.method != Method::gd && options.method != Method::exact &&
      !implicit_integrator) {
    const bool fixed = options.integrator == Integrator::gauss_legendre;
    throw InputError(std::string("solver.plateau_rtol applies to the implicit integrator (integrator = \"bdf\" or "
                                 "\"auto\"), not to \"") +
                     to_string(options.integrator) +
                     (fixed ? "\": its step is fixed (solver.dt)"
                            : "\": an explicit method's plateau steps are held by stability, not by its tolerance"));
  }
  detail::prepare_kernels();
  const auto start = std::chrono::steady_clock::now();
  Objective objective(problem, shape);
  const Problem::Optimum optimum = problem.optimum(shape.min_width());
  detail::Monitor monitor(problem, shape, optimum, theta, record.modes, record.sharpness);
  const double loss0 = objective.loss(theta);
  const double excess0 = problem.excess_loss(objective.end_to_end(), optimum);
  const double imbalance0 = shape.max_imbalance(theta);

  // Checkpoints carry the sharpness column's cost so far, which the monitor (not the drivers) keeps.
  CheckpointOptions with_monitor = checkpoint_options;
  if (checkpoint_options.save && record.sharpness) {
    with_monitor.save = [&](const Checkpoint& c) {
      Checkpoint k = c;
      k.sharpness_products = monitor.sharpness_products();
      checkpoint_options.save(k);
    };
  }
  if (checkpoint_options.resume) monitor.resume_sharpness_products(checkpoint_options.resume->sharpness_products);
  detail::Checkpoints checkpoints(with_monitor, options.method, options.integrator);
  const RunContext context{problem, shape, options, record, optimum, objective, monitor, sink, progress, checkpoints};
  Summary s;
  switch (options.method) {
    case Method::gf:
      s = run_gf(context, theta);
      break;
    case Method::gd:
      s = run_gd(context, theta);
      break;
    case Method::end_to_end:
      s = run_end_to_end(context, theta);
      break;
    case Method::rank1:
      s = run_rank1(context, theta);
      break;
    case Method::exact:
      s = run_exact(context, theta);
      break;
  }

  Objective final_eval(problem, shape);
  s.loss = final_eval.loss(theta);
  s.excess_loss = problem.excess_loss(final_eval.end_to_end(), optimum);
  s.initial_loss = loss0;
  s.initial_excess_loss = excess0;
  s.initial_imbalance = imbalance0;
  if (sink && (record.times.empty() || record.times.back() != s.t_final)) {
    sink(monitor.sample(final_eval, theta, s.t_final));
  }
  s.stats.sharpness_products = monitor.sharpness_products();
  const std::string reason = s.message;
  s.message = describe(s, options);
  if (!reason.empty()) s.message += " (" + reason + ")";
  s.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace linflow
