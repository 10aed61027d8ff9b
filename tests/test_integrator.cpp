// The integrators linflow drives, on the gradient flow of a depth-2 network whose solution is known in closed form
// (Saxe et al. 2014, docs/theory.md §7): Dormand–Prince 5(4) (Boost.Odeint) — convergence order, embedded error
// estimate, adaptive global error against the tolerance — the order-8 pairs and DOP853's dense output, and
// Gauss–Legendre collocation — order 6, dense output, t_eps, and conservation of the imbalance where the adaptive pair
// drifts.
#include <gtest/gtest.h>

#include <array>
#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

#include "fixtures.hpp"
#include "flows/ode/drivers.hpp"
#include "linflow/config.hpp"
#include "linflow/init.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

namespace odeint = boost::numeric::odeint;
using Stepper =
    odeint::runge_kutta_dopri5<Eigen::VectorXd, double, Eigen::VectorXd, double, odeint::vector_space_algebra>;

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
  // Aligned, the excess loss is ½(s − σ)², so it reaches eps when σ(t) = s − √(2 eps): t from the formula above.
  double t_eps(double eps) const {
    const double sigma1 = s - std::sqrt(2 * eps);
    return std::log((sigma1 * (s / sigma0 - 1)) / (s - sigma1)) / (2 * s);
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
    o.integrator = Integrator::dopri5;
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

// ---------------------------------------------------------------------------------------------------------------
// The high-order pairs (solver.integrator = "rk78", "dop853"): global error against the tolerance, fewer evaluations
// than Dormand–Prince 5(4) at tight tolerances, samples landed on and t_eps against the closed form.
class HighOrder : public ::testing::TestWithParam<Integrator> {};

TEST_P(HighOrder, GlobalErrorFollowsToleranceWithFewerEvaluationsThanDormandPrince) {
  SaxeProblem p;
  const double T = 3.0;
  double previous = 1;
  for (double tol : {1e-6, 1e-8, 1e-10, 1e-12}) {
    SolverOptions o = test::tight_flow(T);
    o.rtol = o.atol = tol;
    o.integrator = GetParam();
    Eigen::VectorXd theta = p.at(0);
    const Summary s = train(p.problem, p.shape, theta, o);
    ASSERT_EQ(s.status, Status::t_max) << s.message;
    const double error = (theta - p.at(T)).norm();
    EXPECT_LE(error, 1e3 * tol) << "tol " << tol;
    EXPECT_LT(error, previous) << "tol " << tol;
    previous = error;
    if (tol == 1e-12) {  // the reason to have them: an order-8 pair needs fewer evaluations at tight tolerances
      o.integrator = Integrator::dopri5;
      theta = p.at(0);
      const Summary d = train(p.problem, p.shape, theta, o);
      EXPECT_LT(s.stats.rhs_evals, d.stats.rhs_evals) << s.stats.rhs_evals << " vs dopri5 " << d.stats.rhs_evals;
    }
  }
}

TEST_P(HighOrder, SamplesAndTepsMatchTheClosedForm) {
  SaxeProblem p;
  SolverOptions o = test::tight_flow(3.0);
  o.rtol = o.atol = 1e-12;
  o.integrator = GetParam();
  o.eps = 1e-3;
  o.stop_at_eps = true;
  RecordOptions record;
  record.times = {0.0, 0.123, 0.5555, 1.0};
  std::vector<Sample> samples;
  Eigen::VectorXd theta = p.at(0);
  const Summary s = train(p.problem, p.shape, theta, o, record, [&](const Sample& x) { samples.push_back(x); });
  ASSERT_EQ(s.status, Status::converged) << s.message;
  const double t_eps = p.t_eps(o.eps);
  EXPECT_NEAR(*s.t_eps, t_eps, 1e-10);
  EXPECT_NEAR((theta - p.at(*s.t_eps)).norm(), 0.0, 1e-9);
  size_t checked = 0;
  for (const Sample& x : samples) {
    if (x.t > *s.t_eps) continue;
    const double sigma = p.at(x.t).head(3).squaredNorm();
    EXPECT_NEAR(x.excess_loss, 0.5 * (p.s - sigma) * (p.s - sigma), 1e-10) << "t = " << x.t;
    ++checked;
  }
  EXPECT_GE(checked, 3u);
}

INSTANTIATE_TEST_SUITE_P(Pairs, HighOrder, ::testing::Values(Integrator::rk78, Integrator::dop853),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// DOP853's dense output (Hairer's CONTD8): a 7th-order interpolant, so inside one step from the exact state its
// error is O(h^8) — halving h divides it by about 2^8 — and it passes through both ends of the step.
TEST(Dop853, DenseOutputIsOfOrderSevenAndPassesThroughTheStepEnds) {
  SaxeProblem p;
  Objective obj(p.problem, p.shape);
  auto system = flow_system(obj);
  const double t0 = 0.3;
  const Eigen::VectorXd x0 = p.at(t0);
  std::vector<double> errors;
  for (double h : {0.4, 0.2, 0.1}) {
    detail::Dop853Stepper stepper(1.0, 1.0, x0.size());  // loose: the step is accepted as proposed
    stepper.start(system, x0, t0);
    Eigen::VectorXd x_new(6), out(6);
    double t = t0, h_next = h;
    ASSERT_TRUE(stepper.try_step(system, x0, t, x_new, h_next));
    stepper.dense(system, x0, t0, x_new, t, t0 + 0.37 * h, out);
    errors.push_back((out - p.at(t0 + 0.37 * h)).norm());
    stepper.dense(system, x0, t0, x_new, t, t0, out);
    EXPECT_EQ(out, x0);
    stepper.dense(system, x0, t0, x_new, t, t, out);
    EXPECT_LE((out - x_new).norm(), 4 * std::numeric_limits<double>::epsilon() * x_new.norm());
  }
  for (size_t i = 1; i < errors.size(); ++i) {
    EXPECT_NEAR(std::log2(errors[i - 1] / errors[i]), 8.0, 0.7) << errors[i - 1] << " → " << errors[i];
  }
}

// Recording reads the dense output and never shortens a step: a run that records at many times takes the same
// steps, reaches the same state bit for bit and the same t_eps as one that records nothing. (rk78, which has no
// dense output, lands on the recording times instead.)
class DenseOutput : public ::testing::TestWithParam<Integrator> {};

TEST_P(DenseOutput, RecordingDoesNotChangeTheSteps) {
  SaxeProblem p;
  SolverOptions o;
  o.integrator = GetParam();
  o.t_max = 10.0;
  o.eps = 1e-9;
  auto run = [&](const RecordOptions& record, Eigen::VectorXd& theta, std::vector<Sample>& samples) {
    theta = p.at(0);
    return train(p.problem, p.shape, theta, o, record, [&](const Sample& x) { samples.push_back(x); });
  };
  RecordOptions none;
  none.times = {};
  RecordOptions many;
  for (int i = 0; i <= 400; ++i) many.times.push_back(0.01 * i);
  Eigen::VectorXd a, b;
  std::vector<Sample> sa, sb;
  const Summary plain = run(none, a, sa), recorded = run(many, b, sb);
  ASSERT_EQ(plain.status, Status::converged) << plain.message;
  EXPECT_EQ(recorded.stats.steps, plain.stats.steps);
  EXPECT_EQ(recorded.stats.rejected_steps, plain.stats.rejected_steps);
  EXPECT_EQ(*recorded.t_eps, *plain.t_eps);
  EXPECT_EQ(a, b);
  ASSERT_GT(sb.size(), 100u);
  for (const Sample& x : sb) {
    if (x.t >= *recorded.t_eps) continue;
    const double sigma = p.at(x.t).head(3).squaredNorm();
    EXPECT_NEAR(x.excess_loss, 0.5 * (p.s - sigma) * (p.s - sigma), 1e-8) << "t = " << x.t;
  }
}

// t_eps at the default tolerances, where DOP853 takes long steps and its interpolant alone would be off: the
// crossing is polished with fresh steps (polish_crossing), so it matches the closed form to the accuracy of the
// steps. That accuracy, δθ ≈ 1e-12 here, moves t_eps by about δθ / (√(2 eps) · rate) — the excess ½(s − σ)² is
// quadratic in the distance √(2 eps) to the minimizer — hence the tolerance 1e-11 / √eps (1e-9 at eps = 1e-4,
// 1e-5 at 1e-12; measured: 1.3e-12 / √eps for dopri5).
TEST_P(DenseOutput, TepsAtDefaultTolerancesMatchesTheClosedForm) {
  SaxeProblem p;
  for (double eps : {1e-4, 1e-8, 1e-12}) {
    SolverOptions o;
    o.integrator = GetParam();
    o.t_max = 20.0;
    o.eps = eps;
    Eigen::VectorXd theta = p.at(0);
    const Summary s = train(p.problem, p.shape, theta, o);
    ASSERT_EQ(s.status, Status::converged) << s.message;
    EXPECT_NEAR(*s.t_eps, p.t_eps(eps), 1e-11 / std::sqrt(eps)) << "eps " << eps;
    EXPECT_NEAR((theta - p.at(*s.t_eps)).norm(), 0.0, 1e-9) << "eps " << eps;
  }
}

// The demo's run (`linflow demo`: widths 6-4-1-4-5, balanced rank-one start, eps = 1e-12, default tolerances)
// against its closed form (method exact). DOP853's interpolant alone put t_eps 2.9e-4 late here (8.570488); the
// excess at eps = 1e-12 on a target the network cannot fit (L* = 2.5) carries rounding of relative ε L*/eps ≈ 5e-4
// and the trajectory an error ≈ 1e-11, which together allow about 1e-5 (measured: 9e-6 for both pairs).
TEST_P(DenseOutput, TepsOfTheDemoMatchesTheClosedForm) {
  const RunConfig config = parse_config(R"(
[problem]
singular_values = [3.0, 2.0, 1.0]
seed = 7
[network]
widths = [6, 4, 1, 4, 5]
[init]
kind = "balanced_rank1"
sigma0 = 0.05
seed = 11
[solver]
eps = 1e-12
t_max = 1000.0
)",
                                        ".", {}, "test");
  const Problem problem = make_problem(config);
  const Shape shape(config.widths);
  auto t_eps = [&](Method method) {
    SolverOptions o = config.solver;
    o.method = method;
    o.integrator = GetParam();
    Eigen::VectorXd theta = initialize(shape, config.init);
    const Summary s = train(problem, shape, theta, o);
    EXPECT_EQ(s.status, Status::converged) << s.message;
    return s.t_eps.value_or(0.0);
  };
  EXPECT_NEAR(t_eps(Method::gf), t_eps(Method::exact), 3e-5);
}

INSTANTIATE_TEST_SUITE_P(Pairs, DenseOutput, ::testing::Values(Integrator::dopri5, Integrator::dop853),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---------------------------------------------------------------------------------------------------------------
// Gauss–Legendre collocation (solver.integrator = "gauss_legendre").

SolverOptions gauss_legendre(double dt, double t_max) {
  SolverOptions o = test::tight_flow(t_max);
  o.integrator = Integrator::gauss_legendre;
  o.dt = dt;
  return o;
}

TEST(GaussLegendre, ConvergesWithOrderSix) {
  SaxeProblem p;
  const double T = 2.0;
  std::vector<double> errors;
  for (int n : {8, 16, 32}) {
    Eigen::VectorXd theta = p.at(0);
    const Summary s = train(p.problem, p.shape, theta, gauss_legendre(T / n, T));
    ASSERT_EQ(s.status, Status::t_max) << s.message;
    errors.push_back((theta - p.at(T)).norm());
  }
  for (size_t i = 1; i < errors.size(); ++i) {
    EXPECT_NEAR(std::log2(errors[i - 1] / errors[i]), 6.0, 0.3) << "errors " << errors[i - 1] << " → " << errors[i];
  }
}

TEST(GaussLegendre, DenseOutputAndTepsMatchTheClosedForm) {
  // Stage order 3: the collocation polynomial between steps is accurate to O(h^4); the crossing is located on it.
  SaxeProblem p;
  SolverOptions o = gauss_legendre(0.01, 3.0);
  o.eps = 1e-3;
  o.stop_at_eps = true;
  RecordOptions record;
  record.times = {0.0, 0.123, 0.5555, 1.0};
  std::vector<Sample> samples;
  Eigen::VectorXd theta = p.at(0);
  const Summary s = train(p.problem, p.shape, theta, o, record, [&](const Sample& x) { samples.push_back(x); });
  ASSERT_EQ(s.status, Status::converged) << s.message;
  const double t_eps = p.t_eps(o.eps);
  EXPECT_NEAR(*s.t_eps, t_eps, 1e-9);
  ASSERT_GE(samples.size(), 4u);
  for (const Sample& x : samples) {
    if (x.t > *s.t_eps) continue;
    const Eigen::VectorXd exact = p.at(x.t);
    const double sigma = exact.head(3).squaredNorm();
    EXPECT_NEAR(x.excess_loss, 0.5 * (p.s - sigma) * (p.s - sigma), 1e-9) << "t = " << x.t;
  }
}

TEST(GaussLegendre, ConservesTheImbalanceToRoundOffWhereDormandPrinceDrifts) {
  // An unbalanced Gaussian start on depth 3: D_j(t) = D_j(0) for all t (docs/theory.md §2, a quadratic invariant),
  // which Gauss–Legendre conserves exactly up to round-off and the adaptive pair only up to its local errors.
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 11);
  const Shape shape({4, 3, 3, 3});
  std::mt19937_64 rng(5);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.5);
  RecordOptions record;
  record.times = {200.0};
  auto drift = [&](const SolverOptions& o) {
    Eigen::VectorXd theta = theta0;
    double d = -1;
    const Summary s = train(problem, shape, theta, o, record, [&](const Sample& x) { d = x.imbalance_drift; });
    EXPECT_TRUE(s.status == Status::t_max || s.status == Status::converged) << s.message;
    return d;
  };
  SolverOptions dopri = test::tight_flow(200.0);
  dopri.rtol = 1e-8;
  dopri.atol = 1e-10;
  const double gl = drift(gauss_legendre(0.05, 200.0));
  const double dp = drift(dopri);
  const double scale = shape.max_imbalance(theta0) + 1;
  EXPECT_LE(gl, 200 * test::kEps * scale) << "Gauss–Legendre drift " << gl;
  std::printf("imbalance drift at t = 200: Gauss–Legendre %.3g, Dormand–Prince (rtol 1e-8) %.3g\n", gl, dp);
  EXPECT_GT(dp, 10 * gl) << "Dormand–Prince at rtol 1e-8 drift " << dp << " vs Gauss–Legendre " << gl;
}

TEST(GaussLegendre, TooLargeAStepIsReportedNotHidden) {
  SaxeProblem p;
  Eigen::VectorXd theta = p.at(0);
  const Summary s = train(p.problem, p.shape, theta, gauss_legendre(5.0, 20.0));
  EXPECT_EQ(s.status, Status::diverged);
  EXPECT_NE(s.message.find("reduce solver.dt"), std::string::npos) << s.message;
}

}  // namespace
}  // namespace linflow

// The stage sums of DOP853 (detail::combine): the AVX2 + FMA version chosen at run time agrees with the portable
// Eigen one to rounding, with and without a base vector, zero coefficients skipped, and a tail shorter than a block.
TEST(StageSums, VectorizedAndPortableAgree) {
  using linflow::detail::State;
  std::mt19937_64 rng(21);
  std::normal_distribution<double> normal;
  constexpr int kTerms = 13;
  for (const Eigen::Index n : {Eigen::Index{5}, Eigen::Index{16}, Eigen::Index{37}, Eigen::Index{192}}) {
    std::vector<State> k(kTerms, State(n));
    for (auto& v : k) {
      for (Eigen::Index i = 0; i < n; ++i) v(i) = normal(rng);
    }
    State base(n);
    for (Eigen::Index i = 0; i < n; ++i) base(i) = normal(rng);
    std::array<double, kTerms> c{};
    std::array<int, kTerms> terms{};
    int count = 0;
    for (int j = 0; j < kTerms; ++j) {
      c[static_cast<size_t>(j)] = j % 4 == 1 ? 0.0 : normal(rng);
      if (c[static_cast<size_t>(j)] != 0) terms[static_cast<size_t>(count++)] = j;
    }
    for (const State* b : std::array<const State*, 2>{nullptr, &base}) {
      State expected = b ? *b : State::Zero(n);
      double scale = b ? b->cwiseAbs().maxCoeff() : 0.0;
      for (int j = 0; j < kTerms; ++j) {
        expected += c[static_cast<size_t>(j)] * k[static_cast<size_t>(j)];
        scale += std::abs(c[static_cast<size_t>(j)]) * k[static_cast<size_t>(j)].cwiseAbs().maxCoeff();
      }
      State out(n);
      linflow::detail::combine(out, b, c.data(), k.data(), kTerms);
      EXPECT_LE((out - expected).cwiseAbs().maxCoeff(), 16 * linflow::test::kEps * scale) << "n = " << n;
      State portable(n);
      linflow::detail::combine_portable(portable, b, c.data(), k.data(), terms.data(), count);
      EXPECT_LE((portable - expected).cwiseAbs().maxCoeff(), 16 * linflow::test::kEps * scale) << "n = " << n;
#ifdef LINFLOW_COMBINE_AVX2
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        State vectorized(n);
        linflow::detail::combine_avx2(vectorized, b, c.data(), k.data(), terms.data(), count);
        EXPECT_LE((vectorized - portable).cwiseAbs().maxCoeff(), 16 * linflow::test::kEps * scale) << "n = " << n;
      }
#endif
    }
  }
}
