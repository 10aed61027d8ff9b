#pragma once
// Gradient flow by 3-stage Gauss–Legendre collocation (order 6) with a fixed step (private).
//
// Gauss–Legendre Runge–Kutta methods are symplectic and conserve every quadratic invariant of the flow exactly
// (Hairer, Lubich & Wanner, Geometric Numerical Integration, Thm IV.2.2): for linear networks that is each
// imbalance D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ (docs/theory.md §2), which the adaptive Dormand–Prince pair lets drift
// like its local errors. What is left is round-off, kept from growing by (a) solving the stage equations by fixed-point
// iteration until the increments stop decreasing (round-off level), and (b) compensated (Kahan) summation of the
// update x += h Σ b_i K_i (Hairer, McLachlan & Razakarivony, BIT 48 (2008), "Achieving Brouwer's law with implicit
// Runge–Kutta methods"). Dense output is the collocation polynomial itself (stage order 3), so t_eps and the samples
// come at no extra cost. Each step costs one vector-field evaluation per stage and iteration, plus one at the new
// state (for the gradient norm and the next step's guess).
#include <array>
#include <cmath>

#include "flows/ode/step_logic.hpp"

namespace linflow::detail {

struct GaussLegendre3 {
  static constexpr double r15 = 3.872983346207416885;  // √15
  static constexpr std::array<double, 3> c{0.5 - r15 / 10, 0.5, 0.5 + r15 / 10};
  static constexpr std::array<double, 3> b{5.0 / 18, 4.0 / 9, 5.0 / 18};
  static constexpr std::array<std::array<double, 3>, 3> a{{{5.0 / 36, 2.0 / 9 - r15 / 15, 5.0 / 36 - r15 / 30},
                                                           {5.0 / 36 + r15 / 24, 2.0 / 9, 5.0 / 36 - r15 / 24},
                                                           {5.0 / 36 + r15 / 30, 2.0 / 9 + r15 / 15, 5.0 / 36}}};

  /// ℓ_j(θ): the Lagrange basis on the nodes c.
  static double lagrange(int j, double theta) {
    double v = 1;
    for (int m = 0; m < 3; ++m) {
      if (m != j) v *= (theta - c[m]) / (c[j] - c[m]);
    }
    return v;
  }
  /// ∫_0^θ ℓ_j, by the 2-point Gauss rule (exact for the quadratic ℓ_j).
  static double weight(int j, double theta) {
    const double g = 0.5 / std::sqrt(3.0);
    return 0.5 * theta * (lagrange(j, theta * (0.5 - g)) + lagrange(j, theta * (0.5 + g)));
  }
};

/// Same contract as integrate_dopri5, with the fixed step solver.dt (the last step shortened to land on t_max).
/// Reports `diverged` when the stage equations do not converge (the step is too large for the fixed-point
/// iteration: h ‖∂f/∂x‖ must stay below 1).
template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_gauss_legendre(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample,
                                      OnProgress&& on_progress) {
  using GL = GaussLegendre3;
  constexpr int kMaxIterations = 60;
  DriverResult r;
  const std::vector<double>& times = o.times;
  size_t next_sample = 0;
  const Eigen::Index n = x.size();
  State dxdt(n), x_new(n), x_mid(n), y(n), delta(n), compensation = State::Zero(n);
  std::array<State, 3> K, K_new;
  for (auto& k : K) k.resize(n);
  for (auto& k : K_new) k.resize(n);

  const Checkpoint* resume = o.checkpoints.take_resume(false);
  if (resume) x = resume->state;
  flow(x, dxdt, 0.0);
  double t = 0.0;
  if (resume) {  // the state, its compensation and the next step's stage guesses
    r = restored(*resume, next_sample, flow.evals());
    t = resume->t;
    compensation = resume->stages.at(0);
    for (size_t i = 0; i < 3; ++i) K[i] = resume->stages.at(i + 1);
  } else {
    if (begin(flow, x, dxdt, o, r, times, next_sample, on_sample)) return r;
    for (auto& k : K) k = dxdt;
  }
  auto save = [&] {
    Checkpoint c = snapshot(r, t, o.solver.dt, x, next_sample, flow.evals() + r.evals_offset);
    c.stages = {compensation, K[0], K[1], K[2]};
    o.checkpoints.save(std::move(c));
  };
  while (true) {
    if (out_of_budget(r, t, o)) break;
    const bool last = o.solver.dt >= o.solver.t_max - t;
    const double h = last ? o.solver.t_max - t : o.solver.dt;
    // Stage equations K_i = f(x + h Σ_j a_ij K_j) by fixed-point iteration, to round-off: stop when the increment
    // vanishes or stops decreasing.
    double previous = std::numeric_limits<double>::infinity(), change = 0;
    int it = 0;
    for (; it < kMaxIterations; ++it) {
      for (int i = 0; i < 3; ++i) {
        y = x + h * (GL::a[i][0] * K[0] + GL::a[i][1] * K[1] + GL::a[i][2] * K[2]);
        flow(y, K_new[i], t + GL::c[i] * h);
      }
      change = 0;
      for (int i = 0; i < 3; ++i) change = std::max(change, (K_new[i] - K[i]).lpNorm<Eigen::Infinity>());
      std::swap(K, K_new);
      if (change == 0 || (it > 1 && change >= previous)) break;
      previous = change;
    }
    const double scale = K[0].lpNorm<Eigen::Infinity>() + K[2].lpNorm<Eigen::Infinity>();
    if (!std::isfinite(change) || change > 1e-8 * (1 + scale)) {
      r.status = Status::diverged;
      r.reason = "Gauss–Legendre stage equations did not converge at t = " + std::to_string(t) +
                 " (reduce solver.dt, now " + std::to_string(o.solver.dt) + ")";
      break;
    }
    // x_new = x + h Σ b_i K_i, compensated.
    delta = h * (GL::b[0] * K[0] + GL::b[1] * K[1] + GL::b[2] * K[2]) + compensation;
    x_new = x + delta;
    compensation = (x - x_new) + delta;
    const double t_old = t;
    t = last ? o.solver.t_max : t_old + h;
    ++r.steps;
    if (non_finite(r, x_new, t)) break;
    const double e_new = flow.excess(x_new);
    auto dense = [&](double ts, State& out) {
      const double theta = (ts - t_old) / h;
      out = x + h * (GL::weight(0, theta) * K[0] + GL::weight(1, theta) * K[1] + GL::weight(2, theta) * K[2]);
    };
    const std::optional<double> crossing =
        finish_step(flow, o, r, t_old, t, e_new, x_new, dense, x_mid, times, next_sample, on_sample);
    if (crossing && o.solver.stop_at_eps) {
      stop_at_crossing(flow, flow, *crossing, dense, x, dxdt, x_mid, t, r);
      break;
    }
    // The next step's guess: the collocation polynomial's derivative extrapolated to the new stage times.
    for (int i = 0; i < 3; ++i) {
      const double theta = 1 + GL::c[i] * (last ? 0.0 : o.solver.dt / h);
      K_new[i] = GL::lagrange(0, theta) * K[0] + GL::lagrange(1, theta) * K[1] + GL::lagrange(2, theta) * K[2];
    }
    std::swap(K, K_new);
    x.swap(x_new);
    flow(x, dxdt, t);
    r.excess = e_new;
    r.grad_norm = flow.grad_norm(x, dxdt);
    on_progress(t, r.excess, r.steps);
    if (o.solver.grad_tol > 0 && r.grad_norm <= o.solver.grad_tol && r.excess > o.solver.eps) {
      r.status = Status::stalled;
      break;
    }
    if (o.checkpoints.due()) save();
  }
  if (r.status == Status::interrupted && o.checkpoints.enabled()) save();
  r.t = t;
  return r;
}

}  // namespace linflow::detail
