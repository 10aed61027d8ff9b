#pragma once
// The contract between a flow and the ODE drivers (private): the Flow concept, what a driver is asked and what it
// reports. Drivers: flows/ode/drivers.hpp; steppers: flows/ode/steppers.hpp.
#include <Eigen/Dense>
#include <chrono>
#include <concepts>
#include <optional>
#include <string>
#include <vector>

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

/// The checkpoints of one train() call as its drivers see them (CheckpointOptions): whether one is due, taking it,
/// and the checkpoint to resume from, handed once to the driver of its phase.
class Checkpoints {
 public:
  Checkpoints(const CheckpointOptions& options, Method method, Integrator integrator)
      : options_(options), method_(method), integrator_(integrator), last_(std::chrono::steady_clock::now()) {}
  bool enabled() const { return static_cast<bool>(options_.save); }
  /// Whether a checkpoint should be taken now; the clock is read every `stride`-th call (64: a call per step of an
  /// explicit method; 1 where calls are rare, as bdf's restarts).
  bool due(long stride = 64) {
    if (!enabled()) return false;
    if (options_.every_seconds <= 0) return true;
    if (++calls_ % stride != 0) return false;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_).count() >= options_.every_seconds;
  }
  void save(Checkpoint c) {
    c.method = method_;
    c.integrator = integrator_;
    if (c.implicit) c.implicit_from = implicit_from;
    options_.save(c);
    last_ = std::chrono::steady_clock::now();
  }
  /// The checkpoint to resume from when it belongs to the phase asking (auto: explicit or implicit), once.
  const Checkpoint* take_resume(bool implicit) {
    const Checkpoint* c = options_.resume;
    if (!c || taken_ || c->implicit != implicit) return nullptr;
    taken_ = true;
    return c;
  }
  /// The checkpoint to resume from, until a driver has taken it.
  const Checkpoint* pending_resume() const { return taken_ ? nullptr : options_.resume; }
  std::optional<double> implicit_from;  ///< auto: where it switched to bdf

 private:
  const CheckpointOptions& options_;
  Method method_;
  Integrator integrator_;
  std::chrono::steady_clock::time_point last_;
  long calls_ = 0;
  bool taken_ = false;
};

/// What a driver is asked: the solver's options as given (rtol, atol, dt0, t_max, eps, stop_at_eps, max_steps,
/// grad_tol, and dt for the fixed-step method; their ranges and defaults are SolverOptions') and the increasing
/// recording times.
struct DriverOptions {
  const SolverOptions& solver;
  const std::vector<double>& times;
  bool stop_when_stiff = false;  ///< explicit drivers with a stiffness test: end the run there (DriverResult::stiff)
  Checkpoints& checkpoints;      ///< where checkpoints go (when enabled) and the one to resume from
};

struct DriverResult {
  Status status = Status::t_max;
  double t = 0;
  double excess = 0;
  double grad_norm = 0;
  std::optional<double> t_eps;
  long steps = 0;
  long rejected = 0;
  long jacobians = 0;                 ///< implicit integrators: Jacobians formed (or linearisation points set)
  long jacobian_vector_products = 0;  ///< implicit integrators, matrix-free: products with the Jacobian
  std::string reason;                 ///< set for diverged
  bool stiff = false;     ///< stopped at t by the stiffness test (DriverOptions::stop_when_stiff), to be continued
  bool restart = false;   ///< bdf: stopped at t to restart from its state (kBdfRestartSteps)
  long evals_offset = 0;  ///< evaluations before a resumed run's flow existed, less those its restoration repeated
};

/// A driver's position between two steps as a Checkpoint (t, the proposed step dt, the state, the counts,
/// recordings done), `evals` evaluations so far.
inline Checkpoint snapshot(const DriverResult& r, double t, double dt, const State& x, size_t next_sample, long evals) {
  Checkpoint c;
  c.t = t;
  c.dt = dt;
  c.state = x;
  c.excess = r.excess;
  c.grad_norm = r.grad_norm;
  c.t_eps = r.t_eps;
  c.steps = r.steps;
  c.rejected = r.rejected;
  c.rhs_evals = evals;
  c.jacobians = r.jacobians;
  c.jacobian_vector_products = r.jacobian_vector_products;
  c.next_sample = static_cast<long>(next_sample);
  return c;
}

/// The driver result and position a checkpoint holds (the inverse of snapshot; the state is the caller's), once the
/// flow has made `evals` evaluations to restore it (the FSAL derivative, say): the offset that keeps the count.
inline DriverResult restored(const Checkpoint& c, size_t& next_sample, long evals) {
  DriverResult r;
  r.t = c.t;
  r.excess = c.excess;
  r.grad_norm = c.grad_norm;
  r.t_eps = c.t_eps;
  r.steps = c.steps;
  r.rejected = c.rejected;
  r.jacobians = c.jacobians;
  r.jacobian_vector_products = c.jacobian_vector_products;
  r.evals_offset = c.rhs_evals - evals;
  next_sample = static_cast<size_t>(c.next_sample);
  return r;
}

/// The flow as an odeint system f(x, dxdt, t).
template <Flow F>
auto as_system(F& flow) {
  return [&flow](const State& s, State& ds, double t) { flow(s, ds, t); };
}

}  // namespace linflow::detail
