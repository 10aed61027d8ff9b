// The Dormand–Prince 5(4) integrator linflow drives (Boost.Odeint): its convergence order, its embedded error
// estimate, and the adaptive driver's global error against the requested tolerance, on the gradient flow of a
// depth-2 network whose solution is known in closed form (Saxe et al. 2014, spec §7).
#include <gtest/gtest.h>

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <cmath>

#include "fixtures.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

namespace odeint = boost::numeric::odeint;
using Stepper = odeint::runge_kutta_dopri5<Eigen::VectorXd, double, Eigen::VectorXd, double, odeint::vector_space_algebra>;

// Aligned balanced rank-one start on a 3×3 target: W(t) = σ(t) u_1 v_1ᵀ with σ(t) = s e^{2st}/(e^{2st} − 1 + s/σ0),
// and the layers are W_1 = √σ v_1ᵀ, W_2 = √σ u_1.
struct SaxeProblem {
  double s = 1.5, sigma0 = 0.2;
  Problem problem = test::synthetic(3, 3, {1.5}, 7);
  Shape shape{{3, 1, 3}};
  Eigen::VectorXd at(double t) const {
    const double e = std::exp(2 * s * t);
    const double sigma = s * e / (e - 1 + s / sigma0);
    Eigen::VectorXd theta(6);
    theta << std::sqrt(sigma) * problem.v().col(0), std::sqrt(sigma) * problem.u().col(0);
    return theta;
  }
};

// The gradient-flow vector field dθ/dt = −∇L(θ) as an odeint system.
auto flow_system(Objective& obj) {
  return [&obj](const Eigen::VectorXd& x, Eigen::VectorXd& dxdt, double) {
    obj.evaluate(x, dxdt);
    dxdt = -dxdt;
  };
}

TEST(Integrator, DormandPrinceConvergesWithOrderFive) {
  SaxeProblem p;
  Objective obj(p.problem, p.shape);
  auto system = flow_system(obj);
  // T = 2 crosses the fast phase of the flow, so the leading error term does not change sign along the run
  // (at T = 1 it does, and the error ratios there are not yet asymptotic).
  const double T = 2.0;
  std::vector<double> errors;
  for (int n : {16, 32, 64, 128}) {
    Stepper stepper;
    Eigen::VectorXd x = p.at(0);
    const double h = T / n;
    for (int i = 0; i < n; ++i) stepper.do_step(system, x, i * h, h);
    errors.push_back((x - p.at(T)).norm());
  }
  for (size_t i = 1; i < errors.size(); ++i) {
    EXPECT_NEAR(std::log2(errors[i - 1] / errors[i]), 5.0, 0.25) << "errors " << errors[i - 1] << " → " << errors[i];
  }
}

// The embedded estimate is y5 − y4; the true local error of y4 is y_exact − y4 = (y_exact − y5) + (y5 − y4),
// so for small h the estimate must match it up to the O(h^6) error of y5, and scale like h^5.
TEST(Integrator, EmbeddedErrorEstimateMatchesTheTrueLocalError) {
  SaxeProblem p;
  Objective obj(p.problem, p.shape);
  auto system = flow_system(obj);
  const double t0 = 0.5;
  double previous = 0;
  for (double h : {0.08, 0.04, 0.02}) {
    Stepper stepper;
    const Eigen::VectorXd x0 = p.at(t0);
    Eigen::VectorXd dxdt0(6), out(6), dxdt_out(6), err(6);
    system(x0, dxdt0, t0);
    stepper.do_step(system, x0, dxdt0, t0, out, dxdt_out, h, err);
    const Eigen::VectorXd y4 = out - err;
    const Eigen::VectorXd true_error = p.at(t0 + h) - y4;
    EXPECT_LE((true_error - err).norm(), 0.1 * err.norm()) << "h = " << h;
    if (previous > 0) {
      EXPECT_NEAR(std::log2(previous / err.norm()), 5.0, 0.4) << "h = " << h;
    }
    previous = err.norm();
  }
}

// The adaptive driver: the global error at T follows the requested tolerance (proportionality constant of
// order one; we allow 1000 for error accumulation over the run) and falls as the tolerance is tightened.
TEST(Integrator, AdaptiveGlobalErrorFollowsTolerance) {
  SaxeProblem p;
  const double T = 3.0;
  double previous = 1;
  for (double tol : {1e-6, 1e-8, 1e-10, 1e-12}) {
    SolverOptions o;
    o.rtol = tol;
    o.atol = tol;
    o.t_max = T;
    o.eps = 1e-300;
    o.stop_at_eps = false;
    Eigen::VectorXd theta = p.at(0);
    const Summary s = train(p.problem, p.shape, theta, o);
    ASSERT_EQ(s.status, Status::t_max);
    const double error = (theta - p.at(T)).norm();
    EXPECT_LE(error, 1e3 * tol) << "tol " << tol;
    EXPECT_LT(error, previous) << "tol " << tol;
    previous = error;
  }
}

}  // namespace
}  // namespace linflow
