#include "flows/ode/bdf.hpp"

#include "flows/ode/gmres.hpp"
#include "flows/ode/step_logic.hpp"
#include "flows/ode/vector_ops.hpp"

#include <cvode/cvode.h>
#include <nvector/nvector_serial.h>
#include <sunmatrix/sunmatrix_dense.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace linflow::detail {
namespace {

constexpr int kMaxErrorTestFailures = 30;  // per step (CVODE's default: 7); see integrate_bdf
// In frames, a run restarts (and its frames are chosen again) at the next plateau after a mode has been learned:
// once the excess loss has fallen below kReframeDrop of its value at the run's start and a step lowers it by less
// than 1 − kPlateauDrop, at least kReframeMinSteps steps in. The frames chosen before that transition (every 2000
// steps otherwise) mix the learned mode with the next mode's small part. With the 2000-step restarts only, 2 of 8 runs
// (N = 5, widths 6, σ0 = 1e-5, rtol 1e-9, atol perturbed by parts in 1e8) put t_eps off by 4.5e-4 and 1.4e-3
// against ±1e-6 for the rest; with this rule all 8 were within 3.5–4.1e-7, for 1 % more steps (restarting at every
// halving of the excess instead also held them, for 13 % more; docs/performance.md, "Integration frames").
constexpr double kReframeDrop = 0.5;
constexpr long kReframeMinSteps = 20;
constexpr double kPlateauDrop = 0.99;

// solver.plateau_rtol's plateau: the steps after one that lowered the excess loss by less than kPlateauStep of itself.
// Per-step drops of a run (N = 4, widths 8, σ0 = 1e-3, rtol 3e-7, plateau_rtol 3e-9, 1448 steps): plateau steps
// (h ≥ 10) 1e-14 … 1e-6, most 1e-12 … 1e-8; the escapes' 1e-5 … 0.3; the settling after each escape (h < 1) falls
// below 1e-7 too and is held to plateau_rtol (some 200 steps). With K = rtol / plateau_rtol, the same t_eps accuracy
// took 1465 and 1598 steps with K = 30 and thresholds 1e-8 and 1e-6, 1448 with K = 100 and 1e-7
// (docs/performance.md, "Plateau tolerance").
constexpr double kPlateauStep = 1e-7;

// What CVODE's callbacks reach through their user-data pointer.
struct Callbacks {
  Callbacks(ImplicitFlow& f, double e, const State& x0) : flow(f), eps(e), dxdt(x0.size()) {}
  ImplicitFlow& flow;
  double eps;
  State dxdt;                 // the driver's own evaluations (the callbacks work in place in CVODE's vectors)
  State root_x;               // the state of the root function's last evaluation and its excess loss, which the driver
  double root_excess = 0;     // reuses: CVODE evaluates it at the end of every step, where the driver reports it
  double rtol = 0, atol = 0;  // the scalar tolerances of error_weights
  long jacobians = 0;
  long products = 0;
  SUNLinearSolver solver = nullptr;  // GMRES, told the preconditioner's regime at each setup
  std::string error;                 // CVODE's last error message
  std::exception_ptr failure;        // an exception from the flow, held while CVODE (C) unwinds, rethrown after
};

// A callback's body, with exceptions stopped at the C boundary: CVODE sees an unrecoverable failure (−1).
template <class Body>
int guarded(Callbacks& c, Body&& body) {
  try {
    return body();
  } catch (...) {
    c.failure = std::current_exception();
    return -1;
  }
}

// CVODE's vectors here are all serial (clones of the driver's).
Eigen::Map<Eigen::VectorXd> view(N_Vector y) { return {NV_DATA_S(y), NV_LENGTH_S(y)}; }

int rhs(realtype /*t*/, N_Vector y, N_Vector ydot, void* data) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.flow.rhs(view(y), view(ydot));
    return view(ydot).allFinite() ? 0 : 1;  // recoverable: CVODE retries with a smaller step
  });
}

// CVODE's error weights 1 / (rtol |y| + atol) (its scalar tolerances) in one pass instead of CVODE's five; every step
// sets them (5 % of a 256-parameter plateau run's time before).
int error_weights(N_Vector y, N_Vector w, void* data) {
  const auto& c = *static_cast<Callbacks*>(data);
  vector_error_weights(c.rtol, c.atol, NV_DATA_S(y), NV_DATA_S(w), NV_LENGTH_S(y));
  return 0;
}

// g = excess − eps: its zero is t_eps (the excess loss is non-increasing along gradient flow).
int excess_root(realtype /*t*/, N_Vector y, realtype* g, void* data) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.root_x = view(y);
    c.root_excess = c.flow.excess(c.root_x);
    g[0] = c.root_excess - c.eps;
    return 0;
  });
}

int dense_jacobian(realtype /*t*/, N_Vector y, N_Vector /*fy*/, SUNMatrix J, void* data, N_Vector /*tmp1*/,
                   N_Vector /*tmp2*/, N_Vector /*tmp3*/) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.flow.set_jacobian_point(view(y));
    const auto n = static_cast<Eigen::Index>(SUNDenseMatrix_Rows(J));
    c.flow.jacobian(Eigen::Map<Eigen::MatrixXd>(SUNDenseMatrix_Data(J), n, n));
    ++c.jacobians;
    return 0;
  });
}

// Matrix-free: CVODE (6.4, cvLsSolve) calls this before every linear solve, with the Newton iteration's current
// iterate, so the products of one solve share the prefix and suffix products formed here.
int jacobian_setup(realtype /*t*/, N_Vector y, N_Vector /*fy*/, void* data) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.flow.set_jacobian_point(view(y));
    ++c.jacobians;
    return 0;
  });
}

int jacobian_times(N_Vector v, N_Vector Jv, realtype /*t*/, N_Vector /*y*/, N_Vector /*fy*/, void* data,
                   N_Vector /*tmp*/) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.flow.jacobian_vector(view(v), view(Jv));
    ++c.products;
    return 0;
  });
}

// The flow's preconditioner for GMRES: formed at a new point when CVODE asks (jok false: every 50 steps, or after a
// failed Newton iteration), refactored for the current γ at every linear-solver setup.
int preconditioner_setup(realtype /*t*/, N_Vector y, N_Vector /*fy*/, booleantype jok, booleantype* jcur,
                         realtype gamma, void* data) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    gmres_set_regime(c.solver, c.flow.set_preconditioner(view(y), jok == 0, gamma));
    *jcur = jok == 0 ? 1 : 0;
    return 0;
  });
}

int preconditioner_solve(realtype /*t*/, N_Vector /*y*/, N_Vector /*fy*/, N_Vector r, N_Vector z, realtype /*gamma*/,
                         realtype /*delta*/, int /*lr*/, void* data) {
  auto& c = *static_cast<Callbacks*>(data);
  return guarded(c, [&] {
    c.flow.precondition(view(r), view(z));
    return 0;
  });
}

void keep_error(int /*code*/, const char* /*module*/, const char* function, char* msg, void* data) {
  static_cast<Callbacks*>(data)->error = std::string(function) + ": " + msg;
}

// Owners of CVODE's objects, released in reverse order of creation.
struct Context {
  SUNContext ctx = nullptr;
  Context() { SUNContext_Create(nullptr, &ctx); }
  ~Context() { SUNContext_Free(&ctx); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
};
struct VectorDeleter {
  void operator()(_generic_N_Vector* v) const { N_VDestroy(v); }
};
struct MatrixDeleter {
  void operator()(_generic_SUNMatrix* m) const { SUNMatDestroy(m); }
};
struct SolverDeleter {
  void operator()(_generic_SUNLinearSolver* s) const { SUNLinSolFree(s); }
};
struct MemoryDeleter {
  void operator()(void* mem) const { CVodeFree(&mem); }
};

// SUNDIALS's own dense LU is unblocked: at n = 256 it took 83 % of a run's instructions (callgrind). This linear
// solver factors CVODE's Newton matrix I − γJ in place (CVODE rebuilds it from its saved Jacobian at every setup)
// with LAPACK's dgetrf from OpenBLAS when linflow is built with it — blocked and recursive; Eigen's blocked LU
// spent 18 % of a run in its own panel code at n = 256 (perf) — and otherwise with Eigen's partial-pivoting LU.
#ifdef LINFLOW_OPENBLAS
extern "C" {
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void dgetrs_(const char* trans, const int* n, const int* nrhs, const double* a, const int* lda, const int* ipiv,
             double* b, const int* ldb, int* info, std::size_t trans_len);
}
#endif

struct DenseLu {
  Eigen::Index n;
  std::vector<int> pivots;                  // LAPACK
  Eigen::PartialPivLU<Eigen::MatrixXd> lu;  // Eigen
};

DenseLu& lu_of(SUNLinearSolver s) { return *static_cast<DenseLu*>(s->content); }

int factor(DenseLu& e, double* a) {
#ifdef LINFLOW_OPENBLAS
  const int n = static_cast<int>(e.n);
  int info = 0;
  dgetrf_(&n, &n, a, &n, e.pivots.data(), &info);
  return info == 0 ? SUNLS_SUCCESS : SUNLS_LUFACT_FAIL;  // a zero pivot: CVODE retries with a smaller step
#else
  e.lu.compute(Eigen::Map<const Eigen::MatrixXd>(a, e.n, e.n));
  const auto diagonal = e.lu.matrixLU().diagonal().array();
  return (diagonal != 0.0).all() && diagonal.isFinite().all() ? SUNLS_SUCCESS : SUNLS_LUFACT_FAIL;
#endif
}

void solve(DenseLu& e, const double* a, N_Vector x, N_Vector b) {
#ifdef LINFLOW_OPENBLAS
  view(x) = view(b);
  const int n = static_cast<int>(e.n), one = 1;
  int info = 0;
  dgetrs_("N", &n, &one, a, &n, e.pivots.data(), N_VGetArrayPointer(x), &n, &info, 1);
#else
  (void)a;
  view(x) = e.lu.solve(view(b));
#endif
}

SUNLinearSolver dense_lu_solver(Eigen::Index n, SUNContext ctx) {
  SUNLinearSolver s = SUNLinSolNewEmpty(ctx);
  s->content = new DenseLu{n, std::vector<int>(static_cast<size_t>(n)), {}};
  s->ops->gettype = [](SUNLinearSolver) { return SUNLINEARSOLVER_DIRECT; };
  s->ops->getid = [](SUNLinearSolver) { return SUNLINEARSOLVER_CUSTOM; };
  s->ops->setup = [](SUNLinearSolver self, SUNMatrix A) { return factor(lu_of(self), SUNDenseMatrix_Data(A)); };
  s->ops->solve = [](SUNLinearSolver self, SUNMatrix A, N_Vector x, N_Vector b, realtype /*tol*/) {
    solve(lu_of(self), SUNDenseMatrix_Data(A), x, b);
    return SUNLS_SUCCESS;
  };
  s->ops->free = [](SUNLinearSolver self) {
    delete static_cast<DenseLu*>(self->content);
    self->content = nullptr;
    SUNLinSolFreeEmpty(self);
    return 0;
  };
  return s;
}

bool use_dense(const SolverOptions& o, Eigen::Index n) {
  switch (o.linear_solver) {
    case LinearSolver::dense:
      return true;
    case LinearSolver::krylov:
      return false;
    case LinearSolver::automatic:
      return n <= kDenseJacobianLimit;
  }
  return true;
}

// One CVODE run from x (from the start, or continuing `before` at before->t), ended as integrate_bdf's is or, after
// kBdfRestartSteps steps, with `restart` set.
DriverResult bdf_run(ImplicitFlow& flow, State& x, const DriverOptions& o, const SampleFn& on_sample,
                     const ProgressFn& on_progress, const DriverResult* before) {
  const SolverOptions& so = o.solver;
  const Eigen::Index n = x.size();
  DriverResult r;
  Callbacks c(flow, so.eps, x);
  size_t next_sample = 0;
  flow.rhs(x, c.dxdt);
  struct Forward {  // the Flow concept's view of `flow`, for begin() and initial_step()
    ImplicitFlow& f;
    void operator()(const State& s, State& ds, double /*t*/) { f.rhs(s, ds); }
    double excess(const State& s) { return f.excess(s); }
    double excess_fsal() const { return 0; }
    double grad_norm(const State& s, const State& ds) { return f.grad_norm(s, ds); }
  } forward{flow};
  const State f0 = c.dxdt;
  const double t0 = before ? before->t : 0.0;
  if (before) {
    r = *before;
    r.stiff = false;
    while (next_sample < o.times.size() && o.times[next_sample] <= t0) ++next_sample;  // recorded already
  } else if (begin(forward, x, f0, o, r, o.times, next_sample, on_sample)) {
    return r;
  }
  const long steps_before = r.steps, rejected_before = r.rejected, jacobians_before = r.jacobians,
             products_before = r.jacobian_vector_products;
  // CVODE's own first step is bounded below by 100 ε |t_max|: with t_max = 1e30 that is 2e16, and its first steps
  // failed to converge at h ≈ 137 (widths 8-8-8-8-8, std 1e-2). Hairer's estimate for a first-order method (CVODE
  // starts at order 1) depends on the flow, not on the horizon.
  State scratch(n);
  const double h0 = so.dt0 > 0 && !before ? so.dt0 : initial_step(forward, x, f0, o, 1, scratch);
  // From here to the end of the run x is in the flow's integration frames; recordings and the caller get it back.
  const bool framed = flow.enter_frames(x);
  const double excess_at_start = r.excess;
  double last_excess = r.excess;
  State user(n);
  auto record = [&](const State& in_frames, double ts) {
    user = in_frames;
    flow.from_frames(user);
    on_sample(user, ts);
  };

  Context context;
  std::unique_ptr<_generic_N_Vector, VectorDeleter> y(N_VNew_Serial(n, context.ctx));
  use_eigen_vector_ops(y.get());  // before CVodeInit and SPGMR clone it
  view(y.get()) = x;
  std::unique_ptr<void, MemoryDeleter> mem(CVodeCreate(CV_BDF, context.ctx));
  CVodeInit(mem.get(), rhs, t0, y.get());
  CVodeSetUserData(mem.get(), &c);
  CVodeSetErrHandlerFn(mem.get(), keep_error, &c);
  c.rtol = so.rtol;
  c.atol = so.atol;
  CVodeWFtolerances(mem.get(), error_weights);
  CVodeSetStopTime(mem.get(), so.t_max);
  CVodeSetMaxNumSteps(mem.get(), -1);
  // On a long plateau BDF's step grows to a fifth of t; the escape that ends it then needs the step cut by 1e9 or
  // more within one step, and CVODE's default of 7 error-test failures per step (each cutting h by at most 10×) gave
  // up: N = 6, widths 8, σ0 = 1e-4 ended "error test failed repeatedly" at t = 5.8e14 with h = 2e5 after a step of
  // 1.2e14. kMaxErrorTestFailures lets the step shrink by 1e25 and more.
  CVodeSetMaxErrTestFails(mem.get(), kMaxErrorTestFailures);
  CVodeSetInitStep(mem.get(), h0);
  std::unique_ptr<_generic_SUNMatrix, MatrixDeleter> matrix;
  std::unique_ptr<_generic_SUNLinearSolver, SolverDeleter> solver;
  if (use_dense(so, n)) {
    matrix.reset(SUNDenseMatrix(n, n, context.ctx));
    solver.reset(dense_lu_solver(n, context.ctx));
    CVodeSetLinearSolver(mem.get(), solver.get(), matrix.get());
    if (flow.has_jacobian()) CVodeSetJacFn(mem.get(), dense_jacobian);
  } else {
    // SPGMR's default of 5 Krylov vectors is too few for I − γJ on a plateau (γ λ_max up to 1e4): its linear solves
    // failed, CVODE took 5× the steps and t_eps moved by 1e-2 (widths 16-16-16-16-16, std 1e-3). With 50 they converge
    // in a few iterations and t_eps matches the dense solve. linflow's own GMRES (gmres.hpp) rather than SPGMR: the
    // same iteration without SPGMR's per-solve bookkeeping, 0.85× the instructions of a 256-parameter plateau run.
    solver.reset(gmres_solver(y.get(), static_cast<int>(std::min<Eigen::Index>(n, 50)), context.ctx));
    CVodeSetLinearSolver(mem.get(), solver.get(), nullptr);
    if (flow.has_jacobian()) CVodeSetJacTimes(mem.get(), jacobian_setup, jacobian_times);
    if (flow.has_preconditioner()) {
      c.solver = solver.get();
      CVodeSetPreconditioner(mem.get(), preconditioner_setup, preconditioner_solve);
    }
  }
  const bool find_eps = !r.t_eps;
  if (find_eps) CVodeRootInit(mem.get(), 1, excess_root);

  State out(n);
  double t = t0;
  // The gradient norm is needed at every step only for the stall test (grad_tol > 0); otherwise only at the end of
  // the run (and at a restart's checkpoint), so its evaluation — one more gradient per step, about a tenth of a
  // plateau run — waits until then, at the same state.
  bool norm_pending = false;
  auto settle_norm = [&] {
    if (!norm_pending) return;
    flow.rhs(x, c.dxdt);
    r.grad_norm = flow.grad_norm(x, c.dxdt);
    norm_pending = false;
  };
  for (;;) {
    if (out_of_budget(r, t, o)) break;
    const double t_old = t;
    const int flag = CVode(mem.get(), so.t_max, y.get(), &t, CV_ONE_STEP);
    if (c.failure) std::rethrow_exception(c.failure);
    if (flag < 0) {
      r.status = Status::diverged;
      r.reason = "CVODE " + std::string(CVodeGetReturnFlagName(flag)) + " at t = " + std::to_string(t_old) +
                 (c.error.empty() ? "" : " (" + c.error + ")");
      t = t_old;
      settle_norm();
      CVodeGetDky(mem.get(), t, 0, y.get());
      x = view(y.get());
      break;
    }
    CVodeGetNumSteps(mem.get(), &r.steps);
    r.steps += steps_before;
    const bool finite = vector_all_finite(NV_DATA_S(y.get()), n);
    if (!finite) settle_norm();  // at the last finite state, as it was reported
    x = view(y.get());
    if (!finite && non_finite(r, x, t)) break;
    const bool crossing = flag == CV_ROOT_RETURN;
    if (crossing) {
      r.t_eps = t;
      CVodeRootInit(mem.get(), 0, nullptr);  // one crossing: the excess loss does not come back up
    }
    const double t_stop = crossing && so.stop_at_eps ? t : [&] {
      double t_cur = t;
      CVodeGetCurrentTime(mem.get(), &t_cur);
      return t_cur;
    }();
    // Recordings up to the end of the step CVODE has taken (or the crossing when stopping there), interpolated.
    while (next_sample < o.times.size() && o.times[next_sample] <= t_stop) {
      const double ts = o.times[next_sample++];
      if (ts == t) {
        record(x, ts);
      } else {
        N_Vector wrap = N_VMake_Serial(n, out.data(), context.ctx);
        CVodeGetDky(mem.get(), ts, 0, wrap);
        N_VDestroy(wrap);
        record(out, ts);
      }
    }
    const bool root_here =
        find_eps && c.root_x.size() == n && std::memcmp(x.data(), c.root_x.data(), sizeof(double) * n) == 0;
    r.excess = root_here ? c.root_excess : flow.excess(x);
    norm_pending = true;
    if (so.grad_tol > 0) settle_norm();
    if (crossing && so.stop_at_eps) {
      r.status = Status::converged;
      break;
    }
    on_progress(t, r.excess, r.steps);
    if (so.grad_tol > 0 && r.grad_norm <= so.grad_tol && r.excess > so.eps) {
      r.status = Status::stalled;
      break;
    }
    if (r.steps - steps_before >= kBdfRestartSteps && t < so.t_max) {
      r.restart = true;
      break;
    }
    const double excess_before_step = last_excess;
    last_excess = r.excess;
    if (so.plateau_rtol > 0) {  // the next step's tolerances (error_weights reads them at its start)
      const bool plateau = excess_before_step - r.excess < kPlateauStep * excess_before_step;
      c.rtol = plateau ? so.plateau_rtol : so.rtol;
      c.atol = plateau ? so.atol * (so.plateau_rtol / so.rtol) : so.atol;
    }
    if (framed && r.excess < kReframeDrop * excess_at_start && r.excess > kPlateauDrop * excess_before_step &&
        r.steps - steps_before >= kReframeMinSteps && t < so.t_max) {
      r.restart = true;
      break;
    }
  }
  settle_norm();
  flow.leave_frames(x);
  long rejected = 0, failures = 0;
  CVodeGetNumErrTestFails(mem.get(), &rejected);
  CVodeGetNumNonlinSolvConvFails(mem.get(), &failures);
  r.rejected = rejected_before + rejected + failures;
  r.t = t;
  if (matrix) {
    long jac = 0;
    CVodeGetNumJacEvals(mem.get(), &jac);
    r.jacobians = jacobians_before + (flow.has_jacobian() ? c.jacobians : jac);
  } else {
    r.jacobians = jacobians_before + c.jacobians;
    long jtimes = 0;
    CVodeGetNumJtimesEvals(mem.get(), &jtimes);
    r.jacobian_vector_products = products_before + (flow.has_jacobian() ? c.products : jtimes);
  }
  return r;
}

}  // namespace

DriverResult integrate_bdf(ImplicitFlow& flow, State& x, const DriverOptions& o, const SampleFn& on_sample,
                           const ProgressFn& on_progress, const DriverResult* before) {
  DriverResult r;
  size_t next_sample = 0;
  if (const Checkpoint* resume = o.checkpoints.take_resume(true)) {
    x = resume->state;
    r = restored(*resume, next_sample, flow.evals());
    before = &r;
  }
  for (;;) {
    r = bdf_run(flow, x, o, on_sample, on_progress, before);
    if (!r.restart) return r;
    r.restart = false;
    before = &r;
    if (o.checkpoints.due(1)) {
      while (next_sample < o.times.size() && o.times[next_sample] <= r.t) ++next_sample;  // recorded
      Checkpoint c = snapshot(r, r.t, 0.0, x, next_sample, flow.evals() + r.evals_offset);
      c.implicit = true;
      o.checkpoints.save(std::move(c));
    }
  }
}

}  // namespace linflow::detail
