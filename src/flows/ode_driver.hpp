#pragma once
// The adaptive drivers shared by every ODE method of linflow (private): Dormand–Prince 5(4) (the tableau, error
// estimate, step-size control and 4th-order dense output from Boost.Odeint), Hairer's DOP853 (8th order with its
// 7th-order dense output; the default) and Boost.Odeint's Fehlberg 7(8). What is written here is what no library
// offers for this problem: recording at requested times from the dense output, locating the first crossing of the
// excess loss below eps on it, the statuses, and stage sums that read each stage once.
#include <Eigen/Dense>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <cmath>
#include <concepts>
#include <optional>
#include <string>
#include <vector>

#include "flows/dop853_tableau.hpp"
#include "linflow/solver.hpp"

namespace linflow::detail {

using State = Eigen::VectorXd;

/// What the driver needs of a flow:
///   f(x, dxdt, t)        the vector field (odeint's System concept);
///   f.excess(x)          the excess loss at an arbitrary state;
///   f.excess_fsal()      the excess loss at the state of the last vector-field evaluation, which for the FSAL
///                        Dormand–Prince pair is the end of the step just accepted (no extra evaluation);
///   f.grad_norm(x, dxdt) the norm of the loss gradient at x, given the vector field there.
template <class F>
concept Flow = requires(F f, const State& x, State& dxdt, double t) {
  f(x, dxdt, t);
  { f.excess(x) } -> std::convertible_to<double>;
  { f.excess_fsal() } -> std::convertible_to<double>;
  { f.grad_norm(x, x) } -> std::convertible_to<double>;
};

struct DriverOptions {
  double rtol = 1e-11;
  double atol = 1e-13;
  double dt0 = 0;
  double t_max = 1;
  double eps = 0;
  bool stop_at_eps = true;
  long max_steps = 1'000'000;
  double grad_tol = 0;
  const std::vector<double>* times = nullptr;  ///< increasing sample times
  double dt = 0.01;                            ///< fixed step of integrate_gauss_legendre
};

struct DriverResult {
  Status status = Status::t_max;
  double t = 0;
  double excess = 0;
  double grad_norm = 0;
  std::optional<double> t_eps;
  long steps = 0;
  long rejected = 0;
  std::string reason;  ///< set for diverged
};

/// The flow as an odeint system f(x, dxdt, t).
template <Flow F>
auto as_system(F& flow) {
  return [&flow](const State& s, State& ds, double t) { flow(s, ds, t); };
}

/// The requested recording times (none when o.times is null).
inline const std::vector<double>& sample_times(const DriverOptions& o) {
  static const std::vector<double> none;
  return o.times ? *o.times : none;
}

/// The state at t = 0 (vector field dxdt): excess, gradient norm, the samples at t = 0, and an immediate stop at
/// eps (when stopping there) or on non-finite values. Returns true when the run is over before its first step.
template <Flow F, class OnSample>
bool begin(F& flow, const State& x, const State& dxdt, const DriverOptions& o, DriverResult& r,
           const std::vector<double>& times, size_t& next_sample, OnSample&& on_sample) {
  r.excess = flow.excess(x);
  r.grad_norm = flow.grad_norm(x, dxdt);
  while (next_sample < times.size() && times[next_sample] <= 0.0) on_sample(x, times[next_sample++]);
  if (r.excess <= o.eps) {
    r.t_eps = 0.0;
    if (o.stop_at_eps) {
      r.status = Status::converged;
      return true;
    }
  }
  if (!x.allFinite() || !dxdt.allFinite()) {
    r.status = Status::diverged;
    r.reason = "non-finite state or gradient at t = 0";
    return true;
  }
  return false;
}

/// finish_step's default `polish`: the crossing as the bisection on the dense output found it.
struct NoPolish {
  double operator()(double t_c) const { return t_c; }
};

/// The part of an accepted step [t_old, t] (excess e_new at its end state x_new) that does not depend on the
/// integrator: the first crossing of the excess loss below eps inside it, located by bisection on the step's dense
/// output `dense(ts, out)` (the excess is monotone along GF, so the bracket with e(t_old) > eps ≥ e(t) holds a single
/// crossing) and then handed to `polish` (see polish_crossing), and the samples up to the crossing (when stopping
/// there) or t. Returns the crossing, if any.
template <Flow F, class Dense, class OnSample, class Polish = NoPolish>
std::optional<double> finish_step(F& flow, const DriverOptions& o, DriverResult& r, double t_old, double t,
                                  double e_new, const State& x_new, Dense&& dense, State& scratch,
                                  const std::vector<double>& times, size_t& next_sample, OnSample&& on_sample,
                                  Polish&& polish = {}) {
  std::optional<double> crossing;
  if (!r.t_eps && e_new <= o.eps) {
    double lo = t_old, hi = t;
    for (int it = 0; it < 200 && hi - lo > 4 * std::numeric_limits<double>::epsilon() * std::max(1.0, hi); ++it) {
      const double mid = 0.5 * (lo + hi);
      dense(mid, scratch);
      (flow.excess(scratch) <= o.eps ? hi : lo) = mid;
    }
    crossing = polish(hi);
    r.t_eps = crossing;
  }
  const double t_stop = (crossing && o.stop_at_eps) ? *crossing : t;
  while (next_sample < times.size() && times[next_sample] <= t_stop) {
    const double ts = times[next_sample++];
    if (ts == t) {
      on_sample(x_new, ts);
    } else {
      dense(ts, scratch);
      on_sample(scratch, ts);
    }
  }
  return crossing;
}

/// Whether the run is over before its next step: at t_max (converged or t_max) or with the step budget spent.
inline bool out_of_budget(DriverResult& r, double t, const DriverOptions& o) {
  if (t >= o.t_max) {
    r.status = r.t_eps && r.excess <= o.eps ? Status::converged : Status::t_max;
    return true;
  }
  if (r.steps >= o.max_steps) {
    r.status = Status::max_steps;
    return true;
  }
  return false;
}

/// After a rejected step that proposes dt: true (status diverged) when dt has underflowed.
inline bool step_underflow(DriverResult& r, double dt, double t) {
  if (dt > 1e-15 * std::max(1.0, std::abs(t))) return false;
  r.status = Status::diverged;
  r.reason = "step size underflow at t = " + std::to_string(t);
  return true;
}

/// After an accepted step to t: true (status diverged) when its state is not finite.
inline bool non_finite(DriverResult& r, const State& x_new, double t) {
  if (x_new.allFinite()) return false;
  r.status = Status::diverged;
  r.reason = "non-finite state at t = " + std::to_string(t);
  return true;
}

/// Ends the run at the crossing t_c of eps: x from the step's dense output there (through `scratch`, since `dense`
/// reads the step's start x), its vector field, excess and gradient norm; status converged.
template <Flow F, class System, class Dense>
void stop_at_crossing(F& flow, System& system, double t_c, Dense& dense, State& x, State& dxdt, State& scratch,
                      double& t, DriverResult& r) {
  dense(t_c, scratch);
  x.swap(scratch);
  system(x, dxdt, t_c);
  r.excess = flow.excess(x);
  r.grad_norm = flow.grad_norm(x, dxdt);
  t = t_c;
  r.status = Status::converged;
}

/// The crossing of eps to the accuracy of the integrator's steps rather than of its dense output. The interpolant of
/// an order-p pair is of order p − 1 and its error is not controlled: DOP853's, in the middle of the long steps it
/// takes at the default tolerances, is some 1e-9 in θ, and because the excess loss near a minimizer is quadratic in
/// the distance to it (e ≈ 1e-12 there for distances ≈ 1e-6) that made t_eps wrong by 3e-4 in the demo. From the
/// dense output's estimate t_c, a secant iteration on g(τ) = ln(e(τ)/eps) — nearly linear, e decaying about
/// exponentially — whose points are fresh steps `fresh(τ, out)` from the start of the step: 2–4 steps instead of
/// the ~50 a bisection with fresh steps would take. The first slope is the step's own, (ln e_new − ln e_old)/h; the
/// iteration stops where rounding noise in e takes over.
template <Flow F, class Fresh>
double polish_crossing(F& flow, double eps, Fresh&& fresh, double t_old, double t, double e_old, double e_new,
                       double t_c, State& scratch) {
  double slope = std::log(e_new / e_old) / (t - t_old);
  if (!(eps > 0) || !(slope < 0) || !std::isfinite(slope)) return t_c;
  auto g = [&](double ts) {
    fresh(ts, scratch);
    const double e = flow.excess(scratch);
    return e > 0 ? std::log(e / eps) : std::numeric_limits<double>::quiet_NaN();
  };
  double a = t_c, ga = g(a);
  for (int it = 0; it < 4 && std::isfinite(ga) && ga != 0; ++it) {
    const double b = std::clamp(a - ga / slope, t_old, t);
    if (std::abs(b - a) <= 4 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(b))) return b;
    const double gb = g(b);
    if (!std::isfinite(gb)) break;
    // No longer converging: what is left of g is the rounding of e = L − L* (relative ε L / e: 2.5e-4 at e = 1e-12
    // in the demo, where L* = 2.5), and a secant through noise points anywhere.
    if (std::abs(gb) >= 0.5 * std::abs(ga)) return std::abs(gb) < std::abs(ga) ? b : a;
    slope = (gb - ga) / (b - a);
    if (!(slope < 0)) return b;
    a = b;
    ga = gb;
  }
  return a;
}

/// The first step of an integrator of order `order` (the order of the solution it propagates) by Hairer's estimate
/// (Hairer, Nørsett & Wanner, Solving ODEs I, §II.4: HINIT in DOPRI5 and DOP853, SciPy's `select_initial_step`):
/// h such that an Euler step changes x by about 1 % in the error norm, refined by the change of f over it,
/// h1 = (0.01 / max(d1, d2))^(1/order); one extra evaluation. Without it a pair spends its first steps (6–13
/// evaluations each) growing a tiny guess.
template <class System>
double initial_step(System& system, const State& x, const State& f0, const DriverOptions& o, int order,
                    State& scratch) {
  const auto scale = (o.atol + o.rtol * x.array().abs()).eval();
  const double n = static_cast<double>(x.size());
  const double d0 = std::sqrt((x.array() / scale).square().sum() / n);
  const double d1 = std::sqrt((f0.array() / scale).square().sum() / n);
  const double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
  scratch = x + h0 * f0;
  State f1(x.size());
  system(scratch, f1, h0);
  const double d2 = std::sqrt(((f1 - f0).array() / scale).square().sum() / n) / h0;
  const double h1 =
      std::max(d1, d2) <= 1e-15 ? std::max(1e-6, 1e-3 * h0) : std::pow(0.01 / std::max(d1, d2), 1.0 / order);
  return std::min({100 * h0, h1, o.t_max});
}

/// Boost.Odeint's default error test with a_x = 1, a_dxdt = 0 — the classical mixed norm
/// max_i |err_i| / (atol + rtol |x_i|), the same operations in the same order — without the vector temporaries that
/// odeint's vector_space_algebra makes for Eigen vectors (four heap allocations a step; tests/test_allocation.cpp).
class MaxNormErrorChecker {
 public:
  using value_type = double;
  using algebra_type = boost::numeric::odeint::vector_space_algebra;
  using operations_type = boost::numeric::odeint::default_operations;
  MaxNormErrorChecker(double atol, double rtol) : atol_(atol), rtol_(rtol) {}
  template <class Deriv, class Time>
  double error(algebra_type& /*algebra*/, const State& x_old, const Deriv& /*dxdt_old*/, State& x_err,
               Time /*dt*/) const {
    return (x_err.array().abs() / (atol_ + rtol_ * x_old.array().abs())).maxCoeff();
  }
  template <class Deriv, class Time>
  double error(const State& x_old, const Deriv& dxdt_old, State& x_err, Time dt) const {
    algebra_type algebra;
    return error(algebra, x_old, dxdt_old, x_err, dt);
  }

 private:
  double atol_, rtol_;
};

/// The driver of the integrators without dense output (rk78): steps are shortened to land exactly on the
/// recording times, and the first crossing of eps is located by bisection with fresh single steps from the start of
/// the step that crossed (about 50 steps, once per run). `Stepper` provides
///   bool try_step(system, x, t, x_new, h)   one controlled step of size h from (t, x); on success true, x_new set
///                                           and h the proposed next step; on failure false and h reduced;
///   void do_step(system, x, t, out, h)      one uncontrolled step (for the bisection), leaving try_step's state;
///   long rejected()                         steps rejected so far.
template <Flow F, class Stepper, class OnSample, class OnProgress>
DriverResult integrate_landing(F& flow, State& x, const DriverOptions& o, Stepper& stepper, OnSample&& on_sample,
                               OnProgress&& on_progress) {
  auto system = as_system(flow);
  DriverResult r;
  const std::vector<double>& times = sample_times(o);
  size_t next_sample = 0;
  State dxdt(x.size()), x_new(x.size()), x_mid(x.size());
  system(x, dxdt, 0.0);
  double t = 0.0;
  if (begin(flow, x, dxdt, o, r, times, next_sample, on_sample)) return r;
  double dt = o.dt0 > 0 ? o.dt0 : initial_step(system, x, dxdt, o, Stepper::kOrder, x_mid);
  while (true) {
    if (out_of_budget(r, t, o)) break;
    const double target = next_sample < times.size() ? std::min(times[next_sample], o.t_max) : o.t_max;
    const bool landing = dt >= target - t;
    double h = landing ? target - t : dt;
    const double t_old = t;
    if (!stepper.try_step(system, x, t, x_new, h)) {
      dt = h;
      if (step_underflow(r, dt, t)) break;
      continue;
    }
    if (landing) t = target;  // exactly, despite rounding in t_old + h
    dt = landing ? std::max(dt, h) : h;
    ++r.steps;
    if (non_finite(r, x_new, t)) break;
    const double e_new = flow.excess(x_new);
    auto single_step = [&](double ts, State& out) { stepper.do_step(system, x, t_old, out, ts - t_old); };
    const std::optional<double> crossing =
        finish_step(flow, o, r, t_old, t, e_new, x_new, single_step, x_mid, times, next_sample, on_sample);
    if (crossing && o.stop_at_eps) {
      stop_at_crossing(flow, system, *crossing, single_step, x, dxdt, x_mid, t, r);
      break;
    }
    x.swap(x_new);
    r.excess = e_new;
    if (o.grad_tol > 0) {  // the gradient at the new state costs one evaluation: only when it is used
      system(x, dxdt, t);
      r.grad_norm = flow.grad_norm(x, dxdt);
      if (r.grad_norm <= o.grad_tol && r.excess > o.eps) {
        r.status = Status::stalled;
        on_progress(t, r.excess, r.steps);
        break;
      }
    }
    on_progress(t, r.excess, r.steps);
  }
  if (r.status != Status::converged || !(o.stop_at_eps && r.t_eps)) {
    system(x, dxdt, t);
    r.grad_norm = flow.grad_norm(x, dxdt);
  }
  r.rejected = stepper.rejected();
  r.t = t;
  return r;
}

/// Boost.Odeint's Runge–Kutta–Fehlberg 7(8) pair under the error control of integrate_dopri5 (max norm of
/// err_i / (atol + rtol |x_i|)): 13 evaluations a step but far fewer steps at tight tolerances.
class Fehlberg78Stepper {
 public:
  static constexpr int kOrder = 8;  // Boost propagates the 8th-order solution (stepper order 8, error order 7)
  Fehlberg78Stepper(double rtol, double atol) : controlled_(MaxNormErrorChecker(atol, rtol)) {}
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    if (controlled_.try_step(system, x, t, x_new, h) == boost::numeric::odeint::success) return true;
    ++rejected_;
    return false;
  }
  template <class System>
  void do_step(System& system, const State& x, double t, State& out, double h) {
    controlled_.stepper().do_step(system, x, t, out, h);
  }
  long rejected() const { return rejected_; }

 private:
  using Stepper = boost::numeric::odeint::runge_kutta_fehlberg78<State, double, State, double,
                                                                 boost::numeric::odeint::vector_space_algebra>;
  boost::numeric::odeint::controlled_runge_kutta<Stepper, MaxNormErrorChecker> controlled_;
  long rejected_ = 0;
};

/// out = base + Σ_t c[terms[t]] k[terms[t]] over the `count` listed terms, base null meaning 0, in one pass: fixed
/// blocks of 16 stay in registers, so each term is read once instead of a read-modify-write of `out` per term.
/// Eigen's vectors, for the instruction set the build targets.
inline void combine_portable(State& out, const State* base, const double* c, const State* k, const int* terms,
                             int count) {
  constexpr Eigen::Index kBlock = 16;
  using Block = Eigen::Matrix<double, kBlock, 1>;
  const Eigen::Index n = out.size();
  Eigen::Index i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    Block acc = base ? Block(base->segment<kBlock>(i)) : Block::Zero();
    for (int t = 0; t < count; ++t) acc += c[terms[t]] * k[terms[t]].segment<kBlock>(i);
    out.segment<kBlock>(i) = acc;
  }
  if (i == n) return;
  auto tail = out.segment(i, n - i);
  if (base) {
    tail = base->segment(i, n - i);
  } else {
    tail.setZero();
  }
  for (int t = 0; t < count; ++t) tail += c[terms[t]] * k[terms[t]].segment(i, n - i);
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__AVX2__)
#define LINFLOW_COMBINE_AVX2 1
/// The same with 4-wide vectors and fused multiply-adds, compiled for AVX2 + FMA while the rest of the build targets
/// baseline x86-64, and chosen at run time where the CPU has them: the stage sums are about a fifth of a small
/// DOP853 run (192 parameters), and this makes such runs 1.04–1.12× faster (docs/performance.md). Rounding differs
/// from combine_portable by the FMAs only.
__attribute__((target("avx2,fma"))) inline void combine_avx2(State& out, const State* base, const double* c,
                                                             const State* k, const int* terms, int count) {
  // NOLINTNEXTLINE(modernize-use-using): GCC attaches these attributes to a typedef, not to an alias declaration.
  typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));  // unaligned, may alias double
  const Eigen::Index n = out.size();
  double* o = out.data();
  const double* b = base ? base->data() : nullptr;
  Eigen::Index i = 0;
  for (; i + 16 <= n; i += 16) {
    v4d a0{}, a1{}, a2{}, a3{};
    if (b) {
      a0 = *reinterpret_cast<const v4d*>(b + i);
      a1 = *reinterpret_cast<const v4d*>(b + i + 4);
      a2 = *reinterpret_cast<const v4d*>(b + i + 8);
      a3 = *reinterpret_cast<const v4d*>(b + i + 12);
    }
    for (int t = 0; t < count; ++t) {
      const double ct = c[terms[t]];
      const double* kt = k[terms[t]].data() + i;
      a0 += ct * *reinterpret_cast<const v4d*>(kt);
      a1 += ct * *reinterpret_cast<const v4d*>(kt + 4);
      a2 += ct * *reinterpret_cast<const v4d*>(kt + 8);
      a3 += ct * *reinterpret_cast<const v4d*>(kt + 12);
    }
    *reinterpret_cast<v4d*>(o + i) = a0;
    *reinterpret_cast<v4d*>(o + i + 4) = a1;
    *reinterpret_cast<v4d*>(o + i + 8) = a2;
    *reinterpret_cast<v4d*>(o + i + 12) = a3;
  }
  for (; i < n; ++i) {
    double a = b ? b[i] : 0.0;
    for (int t = 0; t < count; ++t) a += c[terms[t]] * k[terms[t]].data()[i];
    o[i] = a;
  }
}
#endif

/// out = base + Σ_{j<m} c_j k_j (base may be null: then 0), skipping zero coefficients, in one pass over the vectors
/// — the stage sums of an explicit Runge–Kutta pair, which at small sizes cost as much as the products. `out` must
/// not alias the inputs.
inline void combine(State& out, const State* base, const double* c, const State* k, int m) {
  std::array<int, 16> terms{};
  int count = 0;
  for (int j = 0; j < m; ++j) {
    if (c[j] != 0) terms[static_cast<size_t>(count++)] = j;
  }
#ifdef LINFLOW_COMBINE_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    combine_avx2(out, base, c, k, terms.data(), count);
    return;
  }
#endif
  combine_portable(out, base, c, k, terms.data(), count);
}

/// Boost.Odeint's Dormand–Prince 5(4) pair, its step-size control and its 4th-order dense output
/// (`controlled_runge_kutta<runge_kutta_dopri5>`, `runge_kutta_dopri5::calc_state`) behind the stepper interface of
/// integrate_dense. FSAL: the pair's last evaluation is at x_new.
class Dopri5Stepper {
 public:
  static constexpr int kOrder = 5;
  Dopri5Stepper(double rtol, double atol, Eigen::Index n)
      : controlled_(MaxNormErrorChecker(atol, rtol)), dxdt_(n), dxdt_new_(n), fresh_dxdt_(n) {}
  template <class System>
  void start(System& system, const State& x, double t) {
    system(x, dxdt_, t);
  }
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    if (controlled_.try_step(system, x, dxdt_, t, x_new, dxdt_new_, h) == boost::numeric::odeint::success) return true;
    ++rejected_;
    return false;
  }
  template <class System>
  void dense(System& /*system*/, const State& x, double t_old, const State& x_new, double t, double ts, State& out) {
    controlled_.stepper().calc_state(ts, out, x, dxdt_, t_old, x_new, dxdt_new_, t);
  }
  /// A fresh step from the accepted step's start (x at t_old) to ts (a second stepper: the dense output keeps its
  /// stages).
  template <class System>
  void step_to(System& system, const State& x, double t_old, const State& /*x_new*/, double ts, State& out) {
    fresh_.do_step(system, x, dxdt_, t_old, out, fresh_dxdt_, ts - t_old);
  }
  void accept() { dxdt_.swap(dxdt_new_); }
  const State& derivative() const { return dxdt_; }
  const State& derivative_new() const { return dxdt_new_; }
  long rejected() const { return rejected_; }

 private:
  using Stepper = boost::numeric::odeint::runge_kutta_dopri5<State, double, State, double,
                                                             boost::numeric::odeint::vector_space_algebra>;
  boost::numeric::odeint::controlled_runge_kutta<Stepper, MaxNormErrorChecker> controlled_;
  Stepper fresh_;
  State dxdt_, dxdt_new_, fresh_dxdt_;
  long rejected_ = 0;
};

/// Hairer's DOP853: the Dormand–Prince 8(5,3) pair with its error estimate (the 5th-order estimate damped by the
/// 3rd-order one) and step-size control, as Hairer's code and SciPy's `solve_ivp(method="DOP853")` do them — RMS
/// norm of err_i / (atol + rtol max(|x_i|, |x_new,i|)), exponent −1/8, safety 0.9, factors in [0.2, 10] — and its
/// 7th-order dense output (CONTD8: three more evaluations, only on a step where the driver asks for a point inside
/// it). 12 evaluations a step, the last one at x_new reused as the first of the next (FSAL), so the driver reads the
/// excess loss at x_new from the flow's last evaluation.
class Dop853Stepper {
 public:
  static constexpr int kOrder = 8;
  Dop853Stepper(double rtol, double atol, Eigen::Index n)
      : rtol_(rtol), atol_(atol), y_(n), err5_(n), err3_(n), scale_(n) {
    for (auto& k : k_) k.resize(n);
  }
  template <class System>
  void start(System& system, const State& x, double t) {
    system(x, k_[0], t);
  }
  /// One controlled step of size h from (t, x) (k_0 = f(x) given); on success t += h, x_new set, h the proposed next
  /// step and the step's stages kept for `dense` until `accept`; on failure h reduced.
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    stages(system, x, t, h, x_new);
    system(x_new, k_[dop853::kStages], t + h);
    constexpr int kTerms = dop853::kStages + 1;
    combine(err5_, nullptr, dop853::E5.data(), k_.data(), kTerms);
    combine(err3_, nullptr, dop853::E3.data(), k_.data(), kTerms);
    scale_ = atol_ + rtol_ * x.array().abs().max(x_new.array().abs());
    const double e5 = (err5_.array() / scale_.array()).matrix().squaredNorm();
    const double e3 = (err3_.array() / scale_.array()).matrix().squaredNorm();
    const double norm =
        e5 == 0 && e3 == 0 ? 0.0 : std::abs(h) * e5 / std::sqrt((e5 + 0.01 * e3) * static_cast<double>(x.size()));
    if (norm < 1) {
      double factor = norm == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(norm, -1.0 / 8));
      if (rejected_in_a_row_) factor = std::min(1.0, factor);
      rejected_in_a_row_ = false;
      h_taken_ = h;
      dense_ready_ = false;
      t += h;
      h *= factor;
      return true;
    }
    ++rejected_;
    rejected_in_a_row_ = true;
    h *= std::max(0.2, 0.9 * std::pow(norm, -1.0 / 8));
    return false;
  }
  /// The state at ts in the step just accepted, [t_old, t] from x to x_new, by the 7th-order interpolant
  /// x + θ(F0 + (1−θ)(F1 + θ(F2 + (1−θ)(F3 + θ(F4 + (1−θ)(F5 + θ F6)))))), θ = (ts − t_old)/(t − t_old).
  template <class System>
  void dense(System& system, const State& x, double t_old, const State& x_new, double t, double ts, State& out) {
    if (!dense_ready_) prepare_dense(system, x, t_old, x_new);
    const double th = (ts - t_old) / (t - t_old), th1 = 1 - th;
    const Eigen::Index n = x.size();
    for (Eigen::Index i = 0; i < n; ++i) {
      double v = th * f_[6](i);
      v = th1 * (f_[5](i) + v);
      v = th * (f_[4](i) + v);
      v = th1 * (f_[3](i) + v);
      v = th * (f_[2](i) + v);
      v = th1 * (f_[1](i) + v);
      out(i) = x(i) + th * (f_[0](i) + v);
    }
  }
  /// A fresh step from the accepted step's start (x at t_old, k_0 = f(x)) to ts. Reuses the stage storage: the
  /// dense output is prepared first, and f(x_new) is kept.
  template <class System>
  void step_to(System& system, const State& x, double t_old, const State& x_new, double ts, State& out) {
    if (!dense_ready_) prepare_dense(system, x, t_old, x_new);
    stages(system, x, t_old, ts - t_old, out);
  }
  /// The step is taken: its end becomes the start of the next (FSAL).
  void accept() { k_[0].swap(k_[dop853::kStages]); }
  const State& derivative() const { return k_[0]; }
  const State& derivative_new() const { return k_[dop853::kStages]; }
  long rejected() const { return rejected_; }

 private:
  // Stages 2..12 from k_[0] = f(x), and the 8th-order solution.
  template <class System>
  void stages(System& system, const State& x, double t, double h, State& x_new) {
    std::array<double, dop853::kStages> c{};
    for (int s = 1; s < dop853::kStages; ++s) {
      for (int j = 0; j < s; ++j) c[static_cast<size_t>(j)] = h * dop853::A[s][j];
      combine(y_, &x, c.data(), k_.data(), s);
      system(y_, k_[s], t + dop853::C[s] * h);
    }
    for (int j = 0; j < dop853::kStages; ++j) c[static_cast<size_t>(j)] = h * dop853::B[j];
    combine(x_new, &x, c.data(), k_.data(), dop853::kStages);
  }
  // The three extra stages k_13..k_15 and the interpolant's rows F0..F6 of the step just accepted (SciPy's
  // DOP853._dense_output_impl). The rows are allocated on first use: a run that never asks for dense output
  // (no recording, no stop at eps) carries none.
  template <class System>
  void prepare_dense(System& system, const State& x, double t_old, const State& x_new) {
    const double h = h_taken_;
    constexpr int kAll = dop853::kStages + 1 + dop853::kExtraStages;
    std::array<double, kAll> c{};
    for (int r = 0; r < dop853::kExtraStages; ++r) {
      const int s = dop853::kStages + 1 + r;
      for (int j = 0; j < s; ++j) c[static_cast<size_t>(j)] = h * dop853::A_EXTRA[r][j];
      combine(y_, &x, c.data(), k_.data(), s);
      system(y_, k_[s], t_old + dop853::C_EXTRA[r] * h);
    }
    for (auto& f : f_) f.resize(x.size());
    f_[0] = x_new - x;
    f_[1] = h * k_[0] - f_[0];
    f_[2] = 2 * f_[0] - h * (k_[dop853::kStages] + k_[0]);
    for (int r = 0; r < 4; ++r) {
      for (int j = 0; j < kAll; ++j) c[static_cast<size_t>(j)] = h * dop853::D[r][j];
      combine(f_[3 + r], nullptr, c.data(), k_.data(), kAll);
    }
    dense_ready_ = true;
  }

  double rtol_, atol_;
  std::array<State, dop853::kStages + 1 + dop853::kExtraStages> k_;  // k_12 = f(x_new) until accept()
  std::array<State, 7> f_;                                           // interpolant rows, allocated on first use
  State y_, err5_, err3_, scale_;
  double h_taken_ = 0;
  bool rejected_in_a_row_ = false, dense_ready_ = false;
  long rejected_ = 0;
};

/// The driver of the integrators with dense output (dopri5, dop853): steps as the step-size control proposes (the
/// last one shortened to land on t_max), recording at requested times from the dense output, the first crossing of
/// eps located on it and polished with fresh steps (polish_crossing), the run stopped there on a fresh step. Calls
/// on_sample(x, t) at each requested time reached, on_progress(t, excess, steps) after each accepted step. On return x
/// is the final state (x(t_eps) when stopping at eps). `Stepper` provides
///   void start(system, x, t)                         f(x) at the start;
///   bool try_step(system, x, t, x_new, h)            one controlled step (see Dop853Stepper::try_step);
///   void dense(system, x, t_old, x_new, t, ts, out)  the state at ts inside the step just accepted;
///   void step_to(system, x, t_old, x_new, ts, out)   a fresh step from x at t_old to ts, the dense output intact;
///   void accept()                                    the step is taken: x_new becomes the start of the next;
///   derivative(), derivative_new()                   f at the step's start and at x_new; rejected().
template <Flow F, class Stepper, class OnSample, class OnProgress>
DriverResult integrate_dense(F& flow, State& x, const DriverOptions& o, Stepper& stepper, OnSample&& on_sample,
                             OnProgress&& on_progress) {
  auto system = as_system(flow);
  DriverResult r;
  const std::vector<double>& times = sample_times(o);
  size_t next_sample = 0;

  State x_new(x.size()), x_mid(x.size()), f_end(x.size());
  stepper.start(system, x, 0.0);
  double t = 0.0;
  if (begin(flow, x, stepper.derivative(), o, r, times, next_sample, on_sample)) return r;
  double dt = o.dt0 > 0 ? o.dt0 : initial_step(system, x, stepper.derivative(), o, Stepper::kOrder, x_mid);
  while (true) {
    if (out_of_budget(r, t, o)) break;
    const double remaining = o.t_max - t;
    const bool last = dt >= remaining;
    double h = last ? remaining : dt;
    const double t_old = t;
    if (!stepper.try_step(system, x, t, x_new, h)) {
      dt = h;
      if (step_underflow(r, dt, t)) break;
      continue;
    }
    if (last) t = o.t_max;  // land exactly on the horizon despite rounding in t_old + h
    dt = last ? std::max(dt, h) : h;
    ++r.steps;
    if (non_finite(r, x_new, t) || non_finite(r, stepper.derivative_new(), t)) break;
    const double e_new = flow.excess_fsal();  // before any dense output: its stages evaluate the flow elsewhere
    auto dense = [&](double ts, State& out) { stepper.dense(system, x, t_old, x_new, t, ts, out); };
    auto fresh = [&](double ts, State& out) { stepper.step_to(system, x, t_old, x_new, ts, out); };
    auto polish = [&](double t_c) {
      return polish_crossing(flow, o.eps, fresh, t_old, t, r.excess, e_new, t_c, x_mid);
    };
    const std::optional<double> crossing =
        finish_step(flow, o, r, t_old, t, e_new, x_new, dense, x_mid, times, next_sample, on_sample, polish);
    if (crossing && o.stop_at_eps) {
      stop_at_crossing(flow, system, *crossing, fresh, x, f_end, x_mid, t, r);
      break;
    }
    x.swap(x_new);
    stepper.accept();
    r.excess = e_new;
    r.grad_norm = flow.grad_norm(x, stepper.derivative());
    on_progress(t, r.excess, r.steps);
    if (o.grad_tol > 0 && r.grad_norm <= o.grad_tol && r.excess > o.eps) {
      r.status = Status::stalled;
      break;
    }
  }
  r.rejected = stepper.rejected();
  r.t = t;
  return r;
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_dopri5(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample,
                              OnProgress&& on_progress) {
  Dopri5Stepper stepper(o.rtol, o.atol, x.size());
  return integrate_dense(flow, x, o, stepper, on_sample, on_progress);
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_rk78(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample, OnProgress&& on_progress) {
  Fehlberg78Stepper stepper(o.rtol, o.atol);
  return integrate_landing(flow, x, o, stepper, on_sample, on_progress);
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_dop853(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample,
                              OnProgress&& on_progress) {
  Dop853Stepper stepper(o.rtol, o.atol, x.size());
  return integrate_dense(flow, x, o, stepper, on_sample, on_progress);
}

}  // namespace linflow::detail
