#pragma once
// The adaptive drivers shared by every ODE method of linflow (private): Dormand–Prince 5(4) (the tableau, error
// estimate, step-size control and 4th-order dense output from Boost.Odeint), Hairer's DOP853 (8th order with its
// 7th-order dense output; the default) and Boost.Odeint's Fehlberg 7(8). What is written here is what no library
// offers for this problem: recording at requested times from the dense output, locating the first crossing of the
// excess loss below eps on it, the statuses, and stage sums that read each stage once.
//   flows/ode/flow.hpp        the Flow concept, DriverOptions, DriverResult
//   flows/ode/step_logic.hpp  what every driver does around a step
//   flows/ode/steppers.hpp    the steppers and the concepts the drivers hold them to
//   this file                 the two drivers (landing on recording times; dense output) and the entry points
#include <algorithm>
#include <optional>
#include <vector>

#include "flows/ode/flow.hpp"
#include "flows/ode/step_logic.hpp"
#include "flows/ode/steppers.hpp"

namespace linflow::detail {

/// The driver of the integrators without dense output (rk78): steps are shortened to land exactly on the
/// recording times, and the first crossing of eps is located by bisection with fresh single steps from the start of
/// the step that crossed (about 50 steps, once per run). `Stepper`: see LandingStepper (flows/ode/steppers.hpp).
template <Flow F, LandingStepper Stepper, class OnSample, class OnProgress>
DriverResult integrate_landing(F& flow, State& x, const DriverOptions& o, Stepper& stepper, OnSample&& on_sample,
                               OnProgress&& on_progress) {
  auto system = as_system(flow);
  DriverResult r;
  const std::vector<double>& times = o.times;
  size_t next_sample = 0;
  State dxdt(x.size()), x_new(x.size()), x_mid(x.size());
  const Checkpoint* resume = o.checkpoints.take_resume(false);
  if (resume) x = resume->state;
  system(x, dxdt, 0.0);
  double t = 0.0, dt = 0.0;
  long rejected_before = 0;
  if (resume) {
    r = restored(*resume, next_sample, flow.evals());
    t = resume->t;
    dt = resume->dt;
    rejected_before = resume->rejected;
  } else {
    if (begin(flow, x, dxdt, o, r, times, next_sample, on_sample)) return r;
    dt = o.solver.dt0 > 0 ? o.solver.dt0 : initial_step(system, x, dxdt, o, Stepper::kOrder, x_mid);
  }
  auto save = [&] {
    r.rejected = rejected_before + stepper.rejected();
    o.checkpoints.save(snapshot(r, t, dt, x, next_sample, flow.evals() + r.evals_offset));
  };
  while (true) {
    if (out_of_budget(r, t, o)) break;
    const double target = next_sample < times.size() ? std::min(times[next_sample], o.solver.t_max) : o.solver.t_max;
    const bool landing = dt >= target - t;
    double h = landing ? target - t : dt;
    const double t_old = t;
    if (!stepper.try_step(system, x, t, x_new, h)) {
      dt = h;
      if (step_underflow(r, dt, t, x, x_new)) break;
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
    if (crossing && o.solver.stop_at_eps) {
      stop_at_crossing(flow, system, *crossing, single_step, x, dxdt, x_mid, t, r);
      break;
    }
    x.swap(x_new);
    r.excess = e_new;
    if (o.solver.grad_tol > 0) {  // the gradient at the new state costs one evaluation: only when it is used
      system(x, dxdt, t);
      r.grad_norm = flow.grad_norm(x, dxdt);
      if (r.grad_norm <= o.solver.grad_tol && r.excess > o.solver.eps) {
        r.status = Status::stalled;
        on_progress(t, r.excess, r.steps);
        break;
      }
    }
    on_progress(t, r.excess, r.steps);
    if (o.checkpoints.due()) save();
  }
  if (r.status == Status::interrupted && o.checkpoints.enabled()) save();
  if (r.status != Status::converged || !(o.solver.stop_at_eps && r.t_eps)) {
    system(x, dxdt, t);
    r.grad_norm = flow.grad_norm(x, dxdt);
  }
  r.rejected = rejected_before + stepper.rejected();
  r.t = t;
  return r;
}

/// The driver of the integrators with dense output (dopri5, dop853): steps as the step-size control proposes (the
/// last one shortened to land on t_max), recording at requested times from the dense output, the first crossing of
/// eps located on it and polished with fresh steps (polish_crossing), the run stopped there on a fresh step. Calls
/// on_sample(x, t) at each requested time reached, on_progress(t, excess, steps) after each accepted step. On return x
/// is the final state (x(t_eps) when stopping at eps). `Stepper`: see DenseStepper (flows/ode/steppers.hpp).
template <Flow F, DenseStepper Stepper, class OnSample, class OnProgress>
DriverResult integrate_dense(F& flow, State& x, const DriverOptions& o, Stepper& stepper, OnSample&& on_sample,
                             OnProgress&& on_progress) {
  auto system = as_system(flow);
  DriverResult r;
  const std::vector<double>& times = o.times;
  size_t next_sample = 0;

  State x_new(x.size()), x_mid(x.size()), f_end(x.size());
  StiffnessTest stiff;
  const Checkpoint* resume = o.checkpoints.take_resume(false);
  if (resume) x = resume->state;
  stepper.start(system, x, 0.0);
  double t = 0.0, dt = 0.0;
  long rejected_before = 0;
  if (resume) {  // the state between two steps: f(x) evaluated afresh is the FSAL value, bit for bit
    r = restored(*resume, next_sample, flow.evals());
    t = resume->t;
    dt = resume->dt;
    rejected_before = resume->rejected;
    stiff = StiffnessTest(resume->stiff, resume->non_stiff);
  } else {
    if (begin(flow, x, stepper.derivative(), o, r, times, next_sample, on_sample)) return r;
    dt = o.solver.dt0 > 0 ? o.solver.dt0 : initial_step(system, x, stepper.derivative(), o, Stepper::kOrder, x_mid);
  }
  auto save = [&] {
    r.rejected = rejected_before + stepper.rejected();
    Checkpoint c = snapshot(r, t, dt, x, next_sample, flow.evals() + r.evals_offset);
    c.stiff = stiff.stiff();
    c.non_stiff = stiff.non_stiff();
    o.checkpoints.save(std::move(c));
  };
  while (true) {
    if (out_of_budget(r, t, o)) break;
    const double remaining = o.solver.t_max - t;
    const bool last = dt >= remaining;
    double h = last ? remaining : dt;
    const double t_old = t;
    if (!stepper.try_step(system, x, t, x_new, h)) {
      dt = h;
      if (step_underflow(r, dt, t, x, x_new)) break;
      continue;
    }
    bool stiff_now = false;  // read before the dense output reuses the stages
    if constexpr (requires { stepper.stiffness(x_new); }) {
      if (o.stop_when_stiff) stiff_now = stiff(stepper.stiffness(x_new));
    }
    if (last) t = o.solver.t_max;  // land exactly on the horizon despite rounding in t_old + h
    dt = last ? std::max(dt, h) : h;
    ++r.steps;
    if (non_finite(r, x_new, t) || non_finite(r, stepper.derivative_new(), t)) break;
    const double e_new = flow.excess_fsal();  // before any dense output: its stages evaluate the flow elsewhere
    auto dense = [&](double ts, State& out) { stepper.dense(system, x, t_old, x_new, t, ts, out); };
    auto fresh = [&](double ts, State& out) { stepper.step_to(system, x, t_old, x_new, ts, out); };
    auto polish = [&](double t_c) {
      return polish_crossing(flow, o.solver.eps, fresh, t_old, t, r.excess, e_new, t_c, x_mid);
    };
    const std::optional<double> crossing =
        finish_step(flow, o, r, t_old, t, e_new, x_new, dense, x_mid, times, next_sample, on_sample, polish);
    if (crossing && o.solver.stop_at_eps) {
      stop_at_crossing(flow, system, *crossing, fresh, x, f_end, x_mid, t, r);
      break;
    }
    x.swap(x_new);
    stepper.accept();
    r.excess = e_new;
    r.grad_norm = flow.grad_norm(x, stepper.derivative());
    on_progress(t, r.excess, r.steps);
    if (o.solver.grad_tol > 0 && r.grad_norm <= o.solver.grad_tol && r.excess > o.solver.eps) {
      r.status = Status::stalled;
      break;
    }
    if (stiff_now) {
      r.stiff = true;
      break;
    }
    if (o.checkpoints.due()) save();
  }
  if (r.status == Status::interrupted && o.checkpoints.enabled()) save();
  r.rejected = rejected_before + stepper.rejected();
  r.t = t;
  return r;
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_dopri5(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample,
                              OnProgress&& on_progress) {
  Dopri5Stepper stepper(o.solver.rtol, o.solver.atol, x.size());
  return integrate_dense(flow, x, o, stepper, on_sample, on_progress);
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_rk78(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample, OnProgress&& on_progress) {
  Fehlberg78Stepper stepper(o.solver.rtol, o.solver.atol);
  return integrate_landing(flow, x, o, stepper, on_sample, on_progress);
}

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_dop853(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample,
                              OnProgress&& on_progress) {
  Dop853Stepper stepper(o.solver.rtol, o.solver.atol, x.size());
  return integrate_dense(flow, x, o, stepper, on_sample, on_progress);
}

}  // namespace linflow::detail
