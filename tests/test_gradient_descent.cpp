// Gradient descent (solver.method = gd): spec P12 — the exact imbalance identity, O(η) tracking of gradient flow,
// and divergence above the local stability limit 2/(N s_1^{2−2/N}).
#include <gtest/gtest.h>

#include <cmath>

#include "fixtures.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

SolverOptions gd(double lr, double t_max) {
  SolverOptions o;
  o.method = Method::gd;
  o.lr = lr;
  o.t_max = t_max;
  o.eps = 1e-300;
  o.stop_at_eps = false;
  o.grad_tol = 0;
  return o;
}

// P12: one GD step changes D_j by exactly η² (G_{j+1}ᵀ G_{j+1} − G_j G_jᵀ) (first-order terms cancel).
TEST(GradientDescent, ChangesImbalanceByExactlyTheSecondOrderTerm) {
  const Shape shape({4, 3, 2, 3, 5});
  const Problem problem = test::synthetic(4, 5, {2.0, 1.0, 0.5}, 1);
  std::mt19937_64 rng(2);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.7);
  Objective obj(problem, shape);
  Eigen::VectorXd grad(shape.size());
  obj.evaluate(theta0, grad);
  const double lr = 0.05;
  Eigen::VectorXd theta = theta0;
  SolverOptions o = gd(lr, lr);  // exactly one iteration
  const Summary s = train(problem, shape, theta, o);
  ASSERT_EQ(s.stats.steps, 1);
  const auto D0 = shape.imbalance(theta0);
  const auto D1 = shape.imbalance(theta);
  for (int j = 1; j < shape.depth(); ++j) {
    const auto Gj = shape.layer(grad, j);
    const auto Gn = shape.layer(grad, j + 1);
    const Eigen::MatrixXd predicted = D0[j - 1] + lr * lr * (Gn.transpose() * Gn - Gj * Gj.transpose());
    // Rounding only: a few ε times the size of the terms that cancel.
    const double scale = shape.layer(theta0, j).squaredNorm() + shape.layer(theta0, j + 1).squaredNorm();
    EXPECT_LE((D1[j - 1] - predicted).norm(), 1e-12 * scale) << "j = " << j;
    EXPECT_GT((D1[j - 1] - D0[j - 1]).norm(), 1e3 * 1e-12 * scale) << "the η² term must be visible";
  }
}

// GD with step η is a first-order method for the flow: ‖θ_GD(T) − θ_GF(T)‖ = O(η).
TEST(GradientDescent, TracksGradientFlowWithFirstOrderError) {
  const Shape shape({3, 2, 1, 4});
  const Problem problem = test::synthetic(3, 4, {1.5, 1.0}, 3);
  InitOptions init;
  init.kind = InitKind::gaussian;
  init.scale = 0.5;
  init.seed = 4;
  const Eigen::VectorXd theta0 = initialize(shape, init);
  const double T = 2.0;
  const SolverOptions flow = test::tight_flow(T);
  Eigen::VectorXd reference = theta0;
  train(problem, shape, reference, flow);
  std::vector<double> errors;
  for (double lr : {0.02, 0.01, 0.005, 0.0025}) {
    Eigen::VectorXd theta = theta0;
    const Summary s = train(problem, shape, theta, gd(lr, T));
    EXPECT_NEAR(s.t_final, T, 1e-9);
    errors.push_back((theta - reference).norm());
  }
  for (size_t i = 1; i < errors.size(); ++i) {
    const double order = std::log2(errors[i - 1] / errors[i]);
    EXPECT_NEAR(order, 1.0, 0.1) << "halving η from step " << i;
  }
}

// Near a balanced global minimizer the top Hessian eigenvalue is N s_1^{2−2/N} (docs/theory.md §3 [checked]); GD is
// stable below η* = 2/(N s_1^{2−2/N}) and must report divergence above it.
// Without `steps`, the iterations t_max / lr are bounded by max_steps: t_max = 1e12 at lr = 1e-3 (1e15 iterations)
// ends after max_steps with that status instead of running for days.
TEST(GradientDescent, HorizonBeyondMaxStepsEndsAtTheStepBudget) {
  const Problem problem = test::synthetic(3, 3, {2.0, 1.0}, 5);
  const Shape shape({3, 2, 3});
  InitOptions init;
  init.kind = InitKind::gaussian;
  Eigen::VectorXd theta = initialize(shape, init);
  SolverOptions o = gd(1e-3, 1e12);
  o.max_steps = 1000;
  const Summary s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::max_steps) << s.message;
  EXPECT_EQ(s.stats.steps, o.max_steps);
  EXPECT_DOUBLE_EQ(s.t_final, 1000 * o.lr);
}

TEST(GradientDescent, DetectsDivergenceAboveTheLocalStabilityLimit) {
  const int N = 3;
  const Problem problem = test::synthetic(3, 3, {2.0, 1.0}, 5);
  const Shape shape({3, 1, 2, 3});
  const double s1 = problem.s()(0);
  const double limit = 2.0 / (N * std::pow(s1, 2.0 - 2.0 / N));
  InitOptions init;
  init.kind = InitKind::balanced;
  init.end_to_end = Eigen::MatrixXd(0.95 * s1 * problem.u().col(0) * problem.v().col(0).transpose());
  const Eigen::VectorXd theta0 = initialize(shape, init);

  Eigen::VectorXd theta = theta0;
  SolverOptions stable = gd(0.85 * limit, 200.0);
  stable.eps = 1e-12;
  stable.stop_at_eps = true;
  Summary s = train(problem, shape, theta, stable);
  EXPECT_EQ(s.status, Status::converged) << s.message;

  theta = theta0;
  SolverOptions unstable = gd(1.15 * limit, 200.0);
  s = train(problem, shape, theta, unstable);
  EXPECT_NE(s.status, Status::converged) << s.message;
  EXPECT_GT(s.excess_loss, 1e-6) << "GD above the limit must not settle at the minimizer";

  theta = theta0;
  SolverOptions wild = gd(20 * limit, 200.0);
  s = train(problem, shape, theta, wild);
  EXPECT_EQ(s.status, Status::diverged) << s.message;
  EXPECT_NE(s.message.find("iteration"), std::string::npos) << s.message;
}

// Below the local stability limit (η < 2/λ_max at the minimizer GD reaches) the sharpness ends below 2/η: at a
// balanced minimizer of a whitened problem λ_max = N s_1^{2−2/N} (docs/theory.md §9).
TEST(GradientDescent, SharpnessEndsBelowTwoOverTheStepSize) {
  const Shape shape({3, 3, 3, 3});
  const Problem problem = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 47);
  const int N = shape.depth();
  const double limit = 2.0 / (N * std::pow(2.0, 2.0 - 2.0 / N));
  InitOptions init;
  init.kind = InitKind::balanced;
  init.scale = 0.3;
  init.seed = 47;
  Eigen::VectorXd theta = initialize(shape, init);
  SolverOptions o = gd(0.5 * limit, 2e3);
  o.eps = 1e-12;
  o.stop_at_eps = true;
  RecordOptions record;
  record.times = sample_times(o.t_max, 0, 20, o.lr);
  record.sharpness = true;
  std::vector<Sample> rows;
  const Summary s = train(problem, shape, theta, o, record, [&](const Sample& x) { rows.push_back(x); });
  ASSERT_EQ(s.status, Status::converged) << s.message;
  ASSERT_TRUE(rows.back().sharpness);
  EXPECT_LT(*rows.back().sharpness, 2.0 / o.lr);
  EXPECT_GT(*rows.back().sharpness, 0.0);
}

TEST(GradientDescent, StopsAtItsIterationBudget) {
  const Shape shape({2, 2, 2});
  const Problem problem = test::synthetic(2, 2, {1.0}, 6);
  InitOptions init;
  init.kind = InitKind::gaussian;
  Eigen::VectorXd theta = initialize(shape, init);
  SolverOptions o = gd(0.01, 100.0);
  o.steps = 17;
  const Summary s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::max_steps);
  EXPECT_EQ(s.stats.steps, 17);
  EXPECT_EQ(s.stats.rhs_evals, 18);
}

}  // namespace
}  // namespace linflow
