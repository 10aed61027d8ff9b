#pragma once
// The step logic every driver shares (private): the start, recording and eps crossing inside an accepted step,
// the statuses (budget, step underflow, non-finite values), Hairer's initial step.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "flows/ode/flow.hpp"
#include "flows/ode/vector_ops.hpp"
#include "linflow/interrupt.hpp"

namespace linflow::detail {

/// The state at t = 0 (vector field dxdt): excess, gradient norm, the samples at t = 0, and an immediate stop at
/// eps (when stopping there) or on non-finite values. Returns true when the run is over before its first step.
template <Flow F, class OnSample>
bool begin(F& flow, const State& x, const State& dxdt, const DriverOptions& o, DriverResult& r,
           const std::vector<double>& times, size_t& next_sample, OnSample&& on_sample) {
  r.excess = flow.excess(x);
  r.grad_norm = flow.grad_norm(x, dxdt);
  while (next_sample < times.size() && times[next_sample] <= 0.0) on_sample(x, times[next_sample++]);
  if (r.excess <= o.solver.eps) {
    r.t_eps = 0.0;
    if (o.solver.stop_at_eps) {
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
  if (!r.t_eps && e_new <= o.solver.eps) {
    double lo = t_old, hi = t;
    for (int it = 0; it < 200 && hi - lo > 4 * std::numeric_limits<double>::epsilon() * std::max(1.0, hi); ++it) {
      const double mid = 0.5 * (lo + hi);
      dense(mid, scratch);
      (flow.excess(scratch) <= o.solver.eps ? hi : lo) = mid;
    }
    crossing = polish(hi);
    r.t_eps = crossing;
  }
  const double t_stop = (crossing && o.solver.stop_at_eps) ? *crossing : t;
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

/// Whether the run is over before its next step: at t_max (converged or t_max), with the step budget spent, or
/// interrupted (request_interrupt(); one relaxed atomic load per step). A run that has reached its end is reported
/// as such even when an interruption came in the same step.
inline bool out_of_budget(DriverResult& r, double t, const DriverOptions& o) {
  if (t >= o.solver.t_max) {
    r.status = r.t_eps && r.excess <= o.solver.eps ? Status::converged : Status::t_max;
    return true;
  }
  if (r.steps >= o.solver.max_steps) {
    r.status = Status::max_steps;
    return true;
  }
  if (interrupt_requested()) {
    r.status = Status::interrupted;
    return true;
  }
  return false;
}

/// Hairer's stiffness detection (DOP853, Hairer & Wanner, Solving ODEs II, §IV.2): fed h |λ| of each accepted step,
/// says "stiff" after 15 steps above 6.1 — held by the method's stability, not its accuracy — that were not
/// interrupted by 6 steps in a row below.
class StiffnessTest {
 public:
  StiffnessTest() = default;
  StiffnessTest(int stiff, int non_stiff) : stiff_(stiff), non_stiff_(non_stiff) {}
  int stiff() const { return stiff_; }
  int non_stiff() const { return non_stiff_; }
  bool operator()(double h_lambda) {
    if (h_lambda > 6.1) {
      non_stiff_ = 0;
      return ++stiff_ >= 15;
    }
    if (++non_stiff_ == 6) stiff_ = 0;
    return false;
  }

 private:
  int stiff_ = 0, non_stiff_ = 0;
};

/// After a rejected step from x (its trial state x_trial) that proposes dt: true (status diverged) when dt has
/// underflowed, i.e. when the step can no longer move the state: x_trial equals x to within x's rounding. Not
/// relative to t (Hairer's h < 10 u |t|): a long plateau reaches t = 1e12 and more, and the escape that ends it needs
/// steps below 1e-15 t which still move the state (N = 6, widths 8, σ0 = 1e-4: DOP853 needs ~2e-3 at t = 3.9e12;
/// t then advances by steps rounded to its ulp, an error of at most steps × ulp(t) in the time axis, ~1e-12
/// relative there). A non-finite trial keeps the relative rule: the step is cut until it is finite or underflows.
inline bool step_underflow(DriverResult& r, double dt, double t, const State& x, const State& x_trial) {
  const bool moves = x_trial.allFinite() ? (x_trial - x).lpNorm<Eigen::Infinity>() >
                                               std::numeric_limits<double>::epsilon() * x.lpNorm<Eigen::Infinity>()
                                         : dt > 1e-15 * std::max(1.0, std::abs(t));
  if (dt > 0 && moves) return false;
  r.status = Status::diverged;
  r.reason = "step size underflow at t = " + std::to_string(t);
  return true;
}

/// After an accepted step to t: true (status diverged) when its state is not finite.
inline bool non_finite(DriverResult& r, const State& x_new, double t) {
  if (vector_all_finite(x_new.data(), x_new.size())) return false;
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
  const auto scale = (o.solver.atol + o.solver.rtol * x.array().abs()).eval();
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
  return std::min({100 * h0, h1, o.solver.t_max});
}

}  // namespace linflow::detail
