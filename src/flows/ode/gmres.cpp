#include "flows/ode/gmres.hpp"

#include "flows/ode/vector_ops.hpp"

#include <nvector/nvector_serial.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace linflow::detail {
namespace {

// CVODE's vectors here are serial (clones of the implicit driver's).
Eigen::Map<Eigen::VectorXd> view(N_Vector v) { return {NV_DATA_S(v), NV_LENGTH_S(v)}; }

// A preconditioned solve is held to this part of CVODE's tolerance δ. At δ itself it stops as soon as the WRMS
// residual is below it, which lets the residual sit in a few entries — the unlearned ones whose growth times the next
// escape — and t_eps wandered: N = 4, widths 8, σ0 = 1e-5, rtol 3e-9, four runs with atol perturbed by parts in 1e8
// put it off by −1.0e-6 … −2.7e-5 (unpreconditioned GMRES, which overshoots δ, −6.6 … −8.0e-7). At 0.03 δ:
// −5.8 … −7.2e-7, for 5 % more time (0.06 δ: −6.3e-7 … −1.0e-6; 0.1 δ through CVodeSetEpsLin: −8.6e-7 … −1.9e-6).
constexpr double kPreconditionedTolerance = 0.03;

// Whether the preconditioner pays, measured by regime. The regime of a solve is the decade of γ λ̂, γ λ̂ the stiffest
// curvature the preconditioner holds times γ (CVODE's γ at the preconditioner's last setup; gmres_set_regime). The
// measurements behind this (docs/performance.md, "Preconditioning"): below γ λ̂ ~ 1 a solve takes an iteration
// either way and the preconditioned one costs more; from 1 to 1e4 the preconditioned solves take 0.3–0.7 of the
// iterations at depths 3–6; above, still 0.3 at depth 4, but 0.9–1.05 at depth 5 and 1.2–2.5 at depth 6, where γ
// times ∇²L's weak couplings, which the preconditioner leaves out, is large. So each regime measures: its first kWindow
// solves alternate with and without the preconditioner (the same phase of the run for both), the cheaper way
// (iterations per solve, a preconditioned iteration counted 1 + kPreconditionerCost) serves its next kPeriod −
// kWindow solves, and it measures again. Deterministic: a run and its resumption from a checkpoint (taken between
// CVODE runs, each with its own solver) choose alike.
class PreconditionerChoice {
 public:
  void set_regime(double stiffness) {
    const double decade = std::floor(std::log10(std::max(stiffness, 1e-300)));
    regime_ = &regimes_[static_cast<size_t>(std::clamp(decade, kLowest, kHighest) - kLowest)];
  }
  bool with_preconditioner() const {
    return regime_->solves % kPeriod < kWindow ? regime_->solves % 2 == 0 : regime_->with;
  }
  void record(bool with, int iterations) {
    Regime& r = *regime_;
    if (r.solves % kPeriod < kWindow) r.iterations[with ? 1 : 0] += iterations;
    if (++r.solves % kPeriod == kWindow) {
      r.with =
          static_cast<double>(r.iterations[1]) * (1.0 + kPreconditionerCost) <= static_cast<double>(r.iterations[0]);
      r.iterations[0] = r.iterations[1] = 0;
    }
  }

 private:
  static constexpr long kWindow = 16;
  static constexpr long kPeriod = 256;
  static constexpr double kPreconditionerCost = 0.25;  // its solve against a Hessian-vector product and Gram–Schmidt
  static constexpr double kLowest = -20, kHighest = 40;  // decades of γ λ̂ told apart (the rest share the end ones)
  struct Regime {
    long solves = 0;
    long iterations[2] = {0, 0};  // in the measuring window, without [0] and with [1] the preconditioner
    bool with = true;
  };
  std::array<Regime, static_cast<size_t>(kHighest - kLowest) + 1> regimes_{};
  Regime* regime_ = &regimes_[static_cast<size_t>(-kLowest)];
};

struct Gmres {
  Gmres(N_Vector y, int dim)
      : max_dim(dim),
        basis(N_VGetLength(y), dim + 1),
        hessenberg(dim + 1, dim),
        cosines(dim),
        sines(dim),
        rhs(dim + 1),
        inverse_scale(N_VGetLength(y)),
        in(N_VClone(y)),
        out(N_VClone(y)),
        scaled(N_VClone(y)) {}
  ~Gmres() {
    N_VDestroy(in);
    N_VDestroy(out);
    N_VDestroy(scaled);
    for (N_Vector v : columns) N_VDestroy(v);
  }
  Gmres(const Gmres&) = delete;
  Gmres& operator=(const Gmres&) = delete;

  int max_dim;
  Eigen::MatrixXd basis;           // the Krylov vectors V_0 … V_max_dim, columns
  Eigen::MatrixXd preconditioned;  // P⁻¹ S₂⁻¹ V_0 … V_{max_dim − 1} (with a preconditioner)
  std::vector<N_Vector> columns;   // serial vectors over preconditioned's columns: the preconditioner writes there
  Eigen::MatrixXd hessenberg;      // column l written by iteration l only (rows 0 … l + 1)
  Eigen::VectorXd cosines, sines, rhs, inverse_scale;
  N_Vector in, out;  // the operator's argument and result (clones of y: CVODE's vector operations)
  N_Vector scaled;   // S₂⁻¹ V_l, the right preconditioner's argument
  SUNATimesFn atimes = nullptr;
  void* atimes_data = nullptr;
  SUNPSetupFn psetup = nullptr;  // the right preconditioner P (CVODE's, when it has one)
  SUNPSolveFn psolve = nullptr;
  void* p_data = nullptr;
  N_Vector s1 = nullptr, s2 = nullptr;  // left and right scaling (CVODE passes its error weights as both)
  bool zero_guess = false;
  int iterations = 0;
  double residual = 0;
  int last_flag = SUNLS_SUCCESS;
  PreconditionerChoice choice;

  int solve(N_Vector x_vector, N_Vector b_vector, double delta) {
    const bool with = psolve && choice.with_preconditioner();
    const int flag = iterate(x_vector, b_vector, with ? kPreconditionedTolerance * delta : delta, with);
    if (psolve) choice.record(with, iterations);
    return flag;
  }
  // GMRES from x, right-preconditioned when `with`.
  int iterate(N_Vector x_vector, N_Vector b_vector, double delta, bool with);
  // z = P⁻¹ scaled (there is a preconditioner); returns a SUNLS flag.
  int precondition(N_Vector z, double delta);
  // V_{l+1} −= Σ_{i≤l} h_i V_i with h_i = V_i · V_{l+1}, as SUNClassicalGS (reorthogonalised when the norm falls
  // by a factor 1000); returns the new norm and leaves h in column l of the Hessenberg matrix.
  double orthogonalise(int l);
};

Gmres& of(SUNLinearSolver s) { return *static_cast<Gmres*>(s->content); }

int Gmres::precondition(N_Vector z, double delta) {
  const int status = psolve(p_data, scaled, z, delta, SUN_PREC_RIGHT);
  if (status == 0) return SUNLS_SUCCESS;
  return status < 0 ? SUNLS_PSOLVE_FAIL_UNREC : SUNLS_PSOLVE_FAIL_REC;
}

double Gmres::orthogonalise(int l) {
  const Eigen::Index n = basis.rows();
  double* w = basis.col(l + 1).data();
  auto v = [&](int i) { return basis.col(i).data(); };
  auto h = hessenberg.col(l);
  // V_0 … V_{l+1} are consecutive columns: one call forms h_i = V_i · w and, last, w · w.
  vector_dots(v(0), n, l + 2, w, h.data(), n);
  const double norm_before = std::sqrt(h(l + 1));
  vector_subtract_combination(v(0), n, l + 1, h.data(), w, n);
  double norm = std::sqrt(vector_dot(w, w, n));
  if (1000.0 * norm < norm_before) {
    for (int i = 0; i <= l; ++i) {
      const double correction = vector_dot(v(i), w, n);
      h(i) += correction;
      vector_axpy(-correction, v(i), w, n);
    }
    norm = std::sqrt(vector_dot(w, w, n));
  }
  return norm;
}

int Gmres::iterate(N_Vector x_vector, N_Vector b_vector, double delta, bool with) {
  auto x = view(x_vector);
  const auto b = view(b_vector);
  const bool zero = zero_guess;
  zero_guess = false;
  iterations = 0;
  const Eigen::Index n = basis.rows();
  if (s2) inverse_scale = view(s2).cwiseInverse();

  // r₀ = S₁ (b − A x₀).
  auto v0 = basis.col(0);
  if (zero) {
    v0 = b;
  } else {
    view(in) = x;
    if (const int status = atimes(atimes_data, in, out); status != 0) {
      return last_flag = status < 0 ? SUNLS_ATIMES_FAIL_UNREC : SUNLS_ATIMES_FAIL_REC;
    }
    v0 = b - view(out);
  }
  if (s1) vector_prod(v0.data(), NV_DATA_S(s1), v0.data(), n);
  const double beta = std::sqrt(vector_dot(v0.data(), v0.data(), v0.size()));
  residual = beta;
  if (beta <= delta) {
    if (zero) x.setZero();
    return last_flag = SUNLS_SUCCESS;
  }
  vector_scale(1.0 / beta, v0.data(), v0.data(), n);

  double rotation_product = 1.0;
  int dim = 0;
  bool converged = false;
  for (int l = 0; l < max_dim; ++l) {
    ++iterations;
    dim = l + 1;
    // V_{l+1} = S₁ A P⁻¹ S₂⁻¹ V_l (right preconditioning: the residual stays b − A x, which CVODE's test reads).
    double* argument = NV_DATA_S((with ? scaled : in));
    if (s2) {
      vector_prod(basis.col(l).data(), inverse_scale.data(), argument, n);
    } else {
      std::copy_n(basis.col(l).data(), n, argument);
    }
    N_Vector operand = in;  // A's argument: P⁻¹ S₂⁻¹ V_l, written in place as column l of `preconditioned`
    if (with) {
      operand = columns[static_cast<size_t>(l)];
      if (const int flag = precondition(operand, delta); flag != SUNLS_SUCCESS) return last_flag = flag;
    }
    if (const int status = atimes(atimes_data, operand, out); status != 0) {
      return last_flag = status < 0 ? SUNLS_ATIMES_FAIL_UNREC : SUNLS_ATIMES_FAIL_REC;
    }
    if (s1) {
      vector_prod(NV_DATA_S(out), NV_DATA_S(s1), basis.col(l + 1).data(), n);
    } else {
      basis.col(l + 1) = view(out);
    }
    const double norm = orthogonalise(l);
    hessenberg(l + 1, l) = norm;

    // Column l of the QR factorisation: the earlier rotations, then the one that zeroes H(l + 1, l) (SUNQRfact).
    auto h = hessenberg.col(l);
    for (int j = 0; j < l; ++j) {
      const double a = h(j), c = cosines(j), s = sines(j);
      h(j) = c * a - s * h(j + 1);
      h(j + 1) = s * a + c * h(j + 1);
    }
    const double a = h(l), bb = h(l + 1);
    double c = 1.0, s = 0.0;
    if (bb != 0.0) {
      if (std::abs(bb) >= std::abs(a)) {
        const double t = a / bb;
        s = -1.0 / std::sqrt(1.0 + t * t);
        c = -s * t;
      } else {
        const double t = bb / a;
        c = 1.0 / std::sqrt(1.0 + t * t);
        s = -c * t;
      }
    }
    cosines(l) = c;
    sines(l) = s;
    h(l) = c * a - s * bb;
    if (h(l) == 0.0) return last_flag = SUNLS_QRFACT_FAIL;

    rotation_product *= s;
    residual = std::abs(rotation_product * beta);
    if (residual <= delta) {
      converged = true;
      break;
    }
    vector_scale(1.0 / norm, basis.col(l + 1).data(), basis.col(l + 1).data(), n);
  }

  // y = R⁻¹ Qᵀ (β e₁) (SUNQRsol), x = x₀ + S₂⁻¹ V y.
  rhs.head(dim + 1).setZero();
  rhs(0) = beta;
  for (int k = 0; k < dim; ++k) {
    const double r0 = rhs(k), r1 = rhs(k + 1);
    rhs(k) = cosines(k) * r0 - sines(k) * r1;
    rhs(k + 1) = sines(k) * r0 + cosines(k) * r1;
  }
  for (int k = dim - 1; k >= 0; --k) {
    if (hessenberg(k, k) == 0.0) return last_flag = SUNLS_QRSOL_FAIL;
    rhs(k) /= hessenberg(k, k);
    for (int i = 0; i < k; ++i) rhs(i) -= rhs(k) * hessenberg(i, k);
  }
  if (!converged && residual >= beta) return last_flag = SUNLS_CONV_FAIL;
  auto correction = view(in);
  if (with) {  // x = x₀ + Σ_k y_k P⁻¹ S₂⁻¹ V_k, from the preconditioned vectors kept (no more preconditioner solves)
    correction = rhs(0) * preconditioned.col(0);
    for (int k = 1; k < dim; ++k) {
      vector_axpy(rhs(k), preconditioned.col(k).data(), correction.data(), correction.size());
    }
  } else {
    correction = rhs(0) * basis.col(0);
    for (int k = 1; k < dim; ++k) vector_axpy(rhs(k), basis.col(k).data(), correction.data(), correction.size());
    if (s2) vector_prod(correction.data(), inverse_scale.data(), correction.data(), n);
  }
  if (zero) {
    x = correction;
  } else {
    x += correction;
  }
  return last_flag = converged ? SUNLS_SUCCESS : SUNLS_RES_REDUCED;
}

}  // namespace

void gmres_set_regime(SUNLinearSolver s, double stiffness) { of(s).choice.set_regime(stiffness); }

SUNLinearSolver gmres_solver(N_Vector y, int max_dim, SUNContext ctx) {
  SUNLinearSolver s = SUNLinSolNewEmpty(ctx);
  s->content = new Gmres(y, max_dim);
  s->ops->gettype = [](SUNLinearSolver) { return SUNLINEARSOLVER_ITERATIVE; };
  s->ops->getid = [](SUNLinearSolver) { return SUNLINEARSOLVER_CUSTOM; };
  s->ops->setatimes = [](SUNLinearSolver self, void* data, SUNATimesFn atimes) {
    of(self).atimes = atimes;
    of(self).atimes_data = data;
    return SUNLS_SUCCESS;
  };
  s->ops->setpreconditioner = [](SUNLinearSolver self, void* data, SUNPSetupFn setup, SUNPSolveFn solve) {
    of(self).p_data = data;
    of(self).psetup = setup;
    of(self).psolve = solve;
    if (solve && of(self).columns.empty()) {
      Gmres& g = of(self);
      g.preconditioned.resize(g.basis.rows(), g.max_dim);
      for (int l = 0; l < g.max_dim; ++l) {
        g.columns.push_back(N_VMake_Serial(g.basis.rows(), g.preconditioned.col(l).data(), g.in->sunctx));
        use_eigen_vector_ops(g.columns.back());
      }
    }
    return SUNLS_SUCCESS;
  };
  s->ops->setup = [](SUNLinearSolver self, SUNMatrix /*A*/) {
    Gmres& g = of(self);
    if (!g.psetup) return SUNLS_SUCCESS;
    const int status = g.psetup(g.p_data);
    if (status == 0) return SUNLS_SUCCESS;
    return g.last_flag = status < 0 ? SUNLS_PSET_FAIL_UNREC : SUNLS_PSET_FAIL_REC;
  };
  s->ops->setscalingvectors = [](SUNLinearSolver self, N_Vector s1, N_Vector s2) {
    of(self).s1 = s1;
    of(self).s2 = s2;
    return SUNLS_SUCCESS;
  };
  s->ops->setzeroguess = [](SUNLinearSolver self, booleantype on) {
    of(self).zero_guess = on != 0;
    return SUNLS_SUCCESS;
  };
  s->ops->solve = [](SUNLinearSolver self, SUNMatrix /*A*/, N_Vector x, N_Vector b, realtype delta) {
    return of(self).solve(x, b, delta);
  };
  s->ops->numiters = [](SUNLinearSolver self) { return of(self).iterations; };
  s->ops->resnorm = [](SUNLinearSolver self) { return of(self).residual; };
  s->ops->lastflag = [](SUNLinearSolver self) { return static_cast<sunindextype>(of(self).last_flag); };
  s->ops->free = [](SUNLinearSolver self) {
    delete static_cast<Gmres*>(self->content);
    self->content = nullptr;
    SUNLinSolFreeEmpty(self);
    return 0;
  };
  return s;
}

}  // namespace linflow::detail
