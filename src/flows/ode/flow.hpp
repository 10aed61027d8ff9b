#pragma once
// The contract between a flow and the ODE drivers (private): the Flow concept, what a driver is asked and what it
// reports. Drivers: flows/ode/drivers.hpp; steppers: flows/ode/steppers.hpp.
#include <Eigen/Dense>
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

/// What a driver is asked: the solver's options as given (rtol, atol, dt0, t_max, eps, stop_at_eps, max_steps,
/// grad_tol, and dt for the fixed-step method; their ranges and defaults are SolverOptions') and the increasing
/// recording times.
struct DriverOptions {
  const SolverOptions& solver;
  const std::vector<double>& times;
  bool stop_when_stiff = false;  ///< explicit drivers with a stiffness test: end the run there (DriverResult::stiff)
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
  bool stiff = false;  ///< stopped at t by the stiffness test (DriverOptions::stop_when_stiff), to be continued
};

/// The flow as an odeint system f(x, dxdt, t).
template <Flow F>
auto as_system(F& flow) {
  return [&flow](const State& s, State& ds, double t) { flow(s, ds, t); };
}

}  // namespace linflow::detail
