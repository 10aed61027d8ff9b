// The exact balanced rank-one trajectory of docs/theory.md §4 against the layer-wise gradient flow (P1), the closed
// forms of docs/theory.md §4, §6 and §7 (scalar output, collapse, escape, decoupled modes), and the properties of
// docs/theory.md §4 and §5.
#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <initializer_list>
#include <tuple>

#include "fixtures.hpp"
#include "linflow/error.hpp"
#include "linflow/exact.hpp"
#include "linflow/init.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

// Spec P1: the layer-wise integrator and the exact solution agree to ‖ΔW‖_F ≤ 1e-7 at rtol 1e-12.
constexpr double kGradientFlowTol = 1e-7;
// Spec P6: f is non-decreasing up to rounding.
constexpr double kMonotoneTol = 1e-12;
// The exact solution is built from Chebyshev series converged to 1e-14 over a few dozen panels and from exponentials of
// arguments up to ~40; its largest measured relative error here is 1.2e-13 (σ collapsed to 1e-77 after 40 panels):
// 1e-12 leaves a digit of margin.
constexpr double kClosedFormTol = 1e-12;
// Spec P9 asks for 1e-4; the two sides here are a Gauss–Kronrod quadrature and the Chebyshev panels, both near 1e-13.
constexpr double kEscapeTol = 1e-12;
// Rounding of a normalisation or of an inner product of unit vectors in a handful of dimensions.
constexpr double kRoundingTol = 4 * test::kEps;

Eigen::VectorXd gram_schmidt(Eigen::VectorXd x, const Eigen::MatrixXd& basis) {
  for (int pass = 0; pass < 2; ++pass) x -= basis * (basis.transpose() * x);  // twice is enough (Kahan)
  return x.normalized();
}

// A shape {d_x, …, 1, …, d_y} of depth N with its width-one layer in the middle.
Shape shape_with_bottleneck(int dx, int dy, int depth) {
  std::vector<int> widths{dx};
  for (int j = 1; j < depth; ++j) widths.push_back(j == depth / 2 ? 1 : 2 + j % 2);
  widths.push_back(dy);
  return Shape(widths);
}

// ---------------------------------------------------------------------------------------------------------------
// P1: agreement with the layer-wise gradient flow.

// Runs the layer-wise GF (tight tolerances, no early stop) of a network with a width-one layer from the balanced
// start of `exact`, and checks ‖ΔW‖_F at the physical times of the intrinsic times `taus`: fixed stages of the
// dynamics (rotation, escape, convergence) whatever the depth and scale. GF is autonomous, so each run continues
// from the previous one.
void expect_matches_gradient_flow(const Problem& problem, const ExactRank1Flow& exact, const Eigen::VectorXd& u0,
                                  const Eigen::VectorXd& v0, std::initializer_list<double> taus) {
  const int depth = exact.depth();
  const Shape shape = shape_with_bottleneck(problem.input_dim(), problem.output_dim(), depth);
  InitOptions init;
  init.kind = InitKind::balanced_rank1;
  init.sigma0 = exact.sigma0();
  init.u0 = u0;
  init.v0 = v0;
  Eigen::VectorXd theta = initialize(shape, init);
  // W(0) is a product of N rounded factors.
  ASSERT_LE((shape.end_to_end(theta) - exact.end_to_end(0.0)).norm(), depth * kRoundingTol * exact.sigma0());

  SolverOptions solver;
  solver.method = Method::gf;
  solver.rtol = 1e-12;
  solver.atol = 1e-14;
  solver.stop_at_eps = false;
  solver.eps = 1e-300;
  solver.grad_tol = 0;
  double t_prev = 0;
  for (const double tau : taus) {
    const double t = exact.time_of_tau(tau);
    solver.t_max = t - t_prev;
    const Summary summary = train(problem, shape, theta, solver);
    ASSERT_EQ(summary.status, Status::t_max) << summary.message;
    const double err = (shape.end_to_end(theta) - exact.end_to_end(t)).norm();
    EXPECT_LE(err, kGradientFlowTol) << "N = " << depth << ", sigma0 = " << exact.sigma0() << ", t = " << t;
    t_prev = t;
  }
}

class AgreesWithGradientFlow : public ::testing::TestWithParam<std::tuple<int, double>> {};

TEST_P(AgreesWithGradientFlow, EndToEndMatrixMatchesAtEveryHorizon) {
  const auto [depth, sigma0] = GetParam();
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 11);
  std::mt19937_64 rng(100 + static_cast<unsigned>(depth));
  const Eigen::VectorXd u0 = random_unit_vector(3, rng), v0 = random_unit_vector(4, rng);
  expect_matches_gradient_flow(problem, ExactRank1Flow(problem, depth, sigma0, u0, v0), u0, v0, {0.3, 1.0, 3.0, 8.0});
}

INSTANTIATE_TEST_SUITE_P(DepthsAndScales, AgreesWithGradientFlow,
                         ::testing::Combine(::testing::Values(2, 3, 4, 6), ::testing::Values(1e-3, 0.1, 1.0, 10.0)));

TEST(ExactFlow, AgreesWithGradientFlowNearTheNonGenericSet) {
  // A start with f0 < 0 and c_1 = 1e-3 (docs/theory.md §5): the run first shrinks, turns towards the saddle s_2 u_2
  // v_2ᵀ and lingers there for τ ≈ ln(1/c_1)/(s_1 − s_2) ≈ 7 before it escapes to the global minimizer.
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 13);
  const Eigen::MatrixXd& U = problem.u();
  const Eigen::MatrixXd& V = problem.v();
  const double beta1 = 0.8 + 1e-3;
  const Eigen::VectorXd u0 = -0.8 * U.col(0) + 0.6 * U.col(1);
  const Eigen::VectorXd v0 = beta1 * V.col(0) + 0.59 * V.col(1) + std::sqrt(1 - beta1 * beta1 - 0.59 * 0.59) * V.col(2);
  for (const int depth : {2, 3, 6}) {
    const ExactRank1Flow exact(problem, depth, 0.1, u0, v0);
    ASSERT_NEAR(exact.c()(0), 1e-3, kRoundingTol);
    ASSERT_LT(exact.at(0.0).f, 0.0);
    expect_matches_gradient_flow(problem, exact, u0, v0, {1.0, 4.0, 8.0, 14.0});
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Closed forms.

// tan(θ/2) from unit vectors w, ẑ, without cancellation when w ≈ ±ẑ.
double tan_half_angle(const Eigen::VectorXd& w, const Eigen::VectorXd& z_hat) {
  return (w - z_hat).norm() / (w + z_hat).norm();
}

TEST(ExactFlow, ScalarOutputAngleHalvesAtRateS1) {
  // Spec §4: for Z = zᵀ, tan(θ(τ)/2) = tan(θ0/2) e^{−s_1 τ}.
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd z = test::gaussian(1, 5, rng);
  const Problem problem = Problem::from_target(z);
  const double s1 = z.norm();
  const Eigen::VectorXd z_hat = z.row(0).transpose() / s1;
  const Eigen::VectorXd v0 = random_unit_vector(5, rng);
  for (const int depth : {2, 3, 5}) {
    for (const double u0 : {1.0, -1.0}) {
      const ExactRank1Flow flow(problem, depth, 0.3, Eigen::VectorXd::Constant(1, u0), v0);
      const double tan0 = tan_half_angle(u0 * v0, z_hat);
      for (const double tau : {0.0, 0.1, 0.5, 1.0, 3.0, 8.0}) {
        const Rank1Point p = flow.at_tau(tau);
        const double expected = tan0 * std::exp(-s1 * tau);
        // ‖w ∓ ẑ‖ is accurate to ε absolutely, so the absolute error floor is a few ε.
        EXPECT_NEAR(tan_half_angle(p.u(0) * p.v, z_hat), expected, kClosedFormTol * expected + 8 * test::kEps)
            << "N = " << depth << ", u0 = " << u0 << ", tau = " << tau;
      }
    }
  }
}

TEST(ExactFlow, ScalarOutputAngleStaysExactFarBeyondOverflowOfExpS1Tau) {
  // z along a coordinate axis: its singular vector is exact, so tan(θ/2) = ‖w_⊥‖/(1 + w_1) is computed without
  // cancellation and can be checked in relative terms down to 1e-280 (e^{s_1 τ} = e^{650} is never formed).
  Eigen::MatrixXd z = Eigen::MatrixXd::Zero(1, 4);
  z(0, 0) = 2.0;
  const Problem problem = Problem::from_target(z);
  ASSERT_EQ(std::abs(problem.v()(0, 0)), 1.0);
  std::mt19937_64 rng(8);
  const Eigen::VectorXd v0 = random_unit_vector(4, rng);
  const ExactRank1Flow flow(problem, 2, 1.0, Eigen::VectorXd::Ones(1), v0);
  const double tan0 = v0.tail(3).norm() / (1 + v0(0));
  for (const double tau : {10.0, 100.0, 325.0}) {
    const Rank1Point p = flow.at_tau(tau);
    const Eigen::VectorXd w = p.u(0) * p.v;
    const double log_tan = std::log(w.tail(3).stableNorm() / (1 + w(0)));  // norm() would underflow
    // ln tan(θ/2) ≈ −650 is exact to its absolute rounding, about 650 ε, plus the relative closed-form error.
    EXPECT_NEAR(log_tan, std::log(tan0) - 2.0 * tau, kClosedFormTol) << "tau = " << tau;
  }
}

TEST(ExactFlow, AlignedStartFollowsTheDecoupledModeClosedForm) {
  // Spec §7: an aligned start keeps its vectors and σ solves dσ/dt = N σ^{2−2/N}(s − σ). In τ (ρ = e^{sτ},
  // docs/theory.md §4) σ(τ) = s e^{Nsτ} / (e^{Nsτ} − 1 + s/σ0); for N = 2 also t = τ, which is the Saxe et al. formula.
  const Problem problem = test::synthetic(4, 3, {1.5, 1.0, 0.25}, 21);
  const double s = 1.5;
  for (const int depth : {2, 3, 6}) {
    for (const double sigma0 : {1e-6, 0.5, 40.0}) {
      const ExactRank1Flow flow(problem, depth, sigma0, problem.u().col(0), problem.v().col(0));
      for (const double tau : {0.0, 0.05, 0.5, 2.0, 6.0}) {
        const Rank1Point p = flow.at_tau(tau);
        const double e = std::exp(depth * s * tau);
        const double expected = s * e / (std::expm1(depth * s * tau) + s / sigma0);
        EXPECT_NEAR(p.sigma, expected, kClosedFormTol * expected) << "N = " << depth << ", tau = " << tau;
        EXPECT_NEAR(p.f, s, kClosedFormTol * s);
        if (depth == 2) {
          EXPECT_DOUBLE_EQ(p.t, tau);
        }
      }
    }
  }
}

TEST(ExactFlow, EscapeTimeFromSmallAlignedStartEqualsTheIntegral) {
  // Spec §6 and P9: t(σ0 → σ1) = ∫_{σ0}^{σ1} dx / (N x^{2−2/N} (s − x)), computed here in ln x by Gauss–Kronrod.
  const Problem problem = test::synthetic(3, 3, {2.0, 0.5}, 31);
  const double s = 2.0;
  for (const int depth : {2, 3, 4, 6}) {
    for (const double sigma0 : {1e-6, 1e-3}) {
      const ExactRank1Flow flow(problem, depth, sigma0, problem.u().col(0), problem.v().col(0));
      const double sigma1 = 0.5 * s;
      // τ1 with σ(τ1) = σ1, by bracketing on the exact σ (monotone here since σ < s = f).
      auto gap = [&](double tau) { return flow.at_tau(tau).log_sigma - std::log(sigma1); };
      std::uintmax_t iterations = 200;
      const auto bracket = boost::math::tools::toms748_solve(gap, 0.0, 50.0 / (depth * s),
                                                             boost::math::tools::eps_tolerance<double>(50), iterations);
      const double tau1 = 0.5 * (bracket.first + bracket.second);
      const double t1 = flow.time_of_tau(tau1);
      const double N = depth;
      auto integrand = [&](double y) {
        const double x = std::exp(y);
        return x / (N * std::pow(x, 2.0 - 2.0 / N) * (s - x));
      };
      const double expected = boost::math::quadrature::gauss_kronrod<double, 31>::integrate(
          integrand, std::log(sigma0), std::log(sigma1), 20, 1e-14);
      EXPECT_NEAR(t1, expected, kEscapeTol * expected) << "N = " << depth << ", sigma0 = " << sigma0;
    }
  }
}

TEST(ExactFlow, AntiAlignedScalarStartCollapsesAsSpecSection6Says) {
  // Spec §5–§6: W(0) pointing opposite z keeps f ≡ −s and collapses. With ρ = e^{−sτ} (docs/theory.md §4),
  // σ(τ) = s e^{−Nsτ} / (s/σ0 + 1 − e^{−Nsτ}) exactly; for N = 2 (t = τ) the decay is exponential at rate 2s.
  // For N ≥ 3, d(σ^{−(1−2/N)})/dt = (N − 2)(s + σ), so with 0 < σ ≤ σ0:
  //   0 ≤ σ^{−(1−2/N)} − σ0^{−(1−2/N)} − (N − 2) s t ≤ (N − 2) σ0 t   (the sublinear law of docs/theory.md §6 and its
  //   error).
  std::mt19937_64 rng(9);
  const Eigen::MatrixXd z = test::gaussian(1, 4, rng);
  const Problem problem = Problem::from_target(z);
  const double s = problem.s()(0);
  const Eigen::VectorXd v0 = -problem.u()(0, 0) * problem.v().col(0);
  const double sigma0 = 0.2;
  for (const int depth : {2, 3, 4, 6}) {
    const ExactRank1Flow flow(problem, depth, sigma0, Eigen::VectorXd::Ones(1), v0);
    EXPECT_LE(flow.c().cwiseAbs().maxCoeff(), kRoundingTol);
    for (const double tau : {0.0, 0.3, 1.0, 4.0, 8.0}) {
      const Rank1Point p = flow.at_tau(tau);
      const double decay = std::exp(-depth * s * tau);
      const double expected = s * decay / (s / sigma0 - std::expm1(-depth * s * tau));
      EXPECT_NEAR(p.sigma, expected, kClosedFormTol * expected) << "N = " << depth << ", tau = " << tau;
      EXPECT_NEAR(p.f, -s, kClosedFormTol * s);
    }
    if (depth == 2) continue;
    const double power = 1.0 - 2.0 / depth;
    for (const double t : {1.0, 10.0, 1e3, 1e5}) {
      const Rank1Point p = flow.at(t);
      const double excess = std::exp(-power * p.log_sigma) - std::pow(sigma0, -power) - (depth - 2) * s * t;
      const double scale = std::exp(-power * p.log_sigma);
      EXPECT_GE(excess, -kClosedFormTol * scale) << "N = " << depth << ", t = " << t;
      EXPECT_LE(excess, (depth - 2) * sigma0 * t + kClosedFormTol * scale) << "N = " << depth << ", t = " << t;
    }
  }
}

TEST(ExactFlow, ZeroAlignmentStartDecaysByTheExactPowerLaw) {
  // Spec §6: f ≡ 0 gives σ(t) = (σ0^{−(2−2/N)} + 2(N−1) t)^{−N/(2(N−1))}. Here u0 ⊥ range(Z) and v0 ∈ ker(Z)
  // exactly (a rounding-level c_1 would be a genuine perturbation that escapes to s_1 u_1 v_1ᵀ once ε e^{s_1 τ} is
  // of order one), and both reach outside the span of Z's nonzero singular vectors (d_y > d_x, rank 2 < 3).
  Eigen::MatrixXd z = Eigen::MatrixXd::Zero(4, 3);
  z(0, 0) = 2.0;
  z(1, 1) = 1.0;
  const Problem problem = Problem::from_target(z);
  const Eigen::VectorXd u0 = Eigen::VectorXd::Unit(4, 3), v0 = Eigen::VectorXd::Unit(3, 2);
  const double sigma0 = 0.7;
  for (const int depth : {2, 3, 6}) {
    const ExactRank1Flow flow(problem, depth, sigma0, u0, v0);
    ASSERT_EQ(flow.c().head(2).cwiseAbs().maxCoeff(), 0.0) << "the SVD of a diagonal Z should be exact";
    const double N = depth;
    for (const double t : {0.0, 0.5, 5.0, 100.0, 1e4}) {
      const Rank1Point p = flow.at(t);
      const double expected = std::pow(std::pow(sigma0, -(2 - 2 / N)) + 2 * (N - 1) * t, -N / (2 * (N - 1)));
      EXPECT_NEAR(p.sigma, expected, kClosedFormTol * expected) << "N = " << depth << ", t = " << t;
      EXPECT_NEAR(p.f, 0.0, kRoundingTol);
      EXPECT_LE((p.u - u0).norm(), kRoundingTol);
      EXPECT_LE((p.v - v0).norm(), kRoundingTol);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Properties (docs/theory.md §4) and limits (docs/theory.md §5).

TEST(ExactFlow, AlignmentIsNonDecreasingAndMagnitudeStaysInItsBounds) {
  const Problem problem = test::synthetic(5, 3, {2.0, 1.2, 0.3}, 51);
  const double s1 = problem.s()(0);
  std::mt19937_64 rng(52);
  for (const int depth : {2, 3, 6}) {
    for (const double sigma0 : {1e-3, 0.5, 20.0}) {
      for (int trial = 0; trial < 3; ++trial) {
        const Eigen::VectorXd u0 = random_unit_vector(3, rng), v0 = random_unit_vector(5, rng);
        const ExactRank1Flow flow(problem, depth, sigma0, u0, v0);
        const double t_end = flow.time_of_tau(6.0);
        std::vector<double> times;
        for (int k = 0; k <= 200; ++k) times.push_back(t_end * k / 200.0);
        const std::vector<Rank1Point> path = flow.trajectory(times);
        const double f0 = path.front().f;
        for (size_t k = 1; k < path.size(); ++k) {
          ASSERT_GE(path[k].f, path[k - 1].f - kMonotoneTol) << "N = " << depth << ", t = " << path[k].t;
          if (f0 > 0) {
            const double lo = std::min(sigma0, f0), hi = std::max(sigma0, s1);
            ASSERT_GE(path[k].sigma, lo * (1 - kClosedFormTol)) << "N = " << depth << ", t = " << path[k].t;
            ASSERT_LE(path[k].sigma, hi * (1 + kClosedFormTol)) << "N = " << depth << ", t = " << path[k].t;
          }
        }
      }
    }
  }
}

TEST(ExactFlow, GenericStartReachesTheGlobalMinimizer) {
  // Spec §5: c_1 ≠ 0 ⟹ W → s_1 u_1 v_1ᵀ. The direction error decays like e^{−(s_1 − s_2) τ} = e^{−40} here.
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 61);
  const Eigen::MatrixXd w_star = problem.optimum(1).w;
  std::mt19937_64 rng(62);
  for (const int depth : {2, 4}) {
    const ExactRank1Flow flow(problem, depth, 0.01, random_unit_vector(3, rng), random_unit_vector(4, rng));
    ASSERT_GT(std::abs(flow.c()(0)), 0.1);
    const Rank1Point p = flow.at_tau(40.0);
    EXPECT_LE((p.end_to_end() - w_star).norm(), kClosedFormTol * w_star.norm()) << "N = " << depth;
  }
}

TEST(ExactFlow, StartWithZeroC1ReachesTheSecondSaddle) {
  // Spec §5: c_1 = 0 ≠ c_2 ⟹ W → s_2 u_2 v_2ᵀ. u0 ⊥ u_1, v0 ⊥ v_1 up to rounding, so c_1 ~ ε and its mode grows
  // like ε e^{(s_1 − s_2)τ} ≤ 1e-13 at τ = 40 while the third mode decays like e^{−(s_2 − s_3)τ} ≈ 1e-14.
  const Problem problem = test::synthetic(4, 3, {1.2, 1.0, 0.2}, 71);
  const Eigen::MatrixXd saddle = problem.s()(1) * problem.u().col(1) * problem.v().col(1).transpose();
  std::mt19937_64 rng(72);
  const Eigen::VectorXd u0 = gram_schmidt(random_unit_vector(3, rng), problem.u().col(0));
  const Eigen::VectorXd v0 = gram_schmidt(random_unit_vector(4, rng), problem.v().col(0));
  for (const int depth : {2, 3}) {
    const ExactRank1Flow flow(problem, depth, 0.3, u0, v0);
    ASSERT_LE(std::abs(flow.c()(0)), kRoundingTol);
    const Rank1Point p = flow.at_tau(40.0);
    EXPECT_LE((p.end_to_end() - saddle).norm(), 1e-9) << "N = " << depth;
  }
}

TEST(ExactFlow, ExtremeScalesAndOverflowingExponentialsStayFinite) {
  // σ0 = 1e-8 and 1e3, up to τ with s_1 τ = 800 (e^{s_1 τ} > DBL_MAX): everything finite, u and v unit, and the
  // generic start at the global minimizer.
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 81);
  const Eigen::MatrixXd w_star = problem.optimum(1).w;
  const double s1 = problem.s()(0);
  std::mt19937_64 rng(82);
  for (const int depth : {2, 3, 6}) {
    for (const double sigma0 : {1e-8, 1e3}) {
      const ExactRank1Flow flow(problem, depth, sigma0, random_unit_vector(3, rng), random_unit_vector(4, rng));
      const double t_end = flow.time_of_tau(800.0 / s1);
      ASSERT_TRUE(std::isfinite(t_end));
      std::vector<double> times{0.0};
      for (int k = 0; k <= 40; ++k) times.push_back(t_end * std::pow(1e-12, 1.0 - k / 40.0));
      for (const Rank1Point& p : flow.trajectory(times)) {
        ASSERT_TRUE(std::isfinite(p.sigma) && std::isfinite(p.log_sigma) && std::isfinite(p.f) && std::isfinite(p.tau))
            << "N = " << depth << ", sigma0 = " << sigma0 << ", t = " << p.t;
        ASSERT_TRUE(p.u.allFinite() && p.v.allFinite());
        ASSERT_NEAR(p.u.norm(), 1.0, kRoundingTol);
        ASSERT_NEAR(p.v.norm(), 1.0, kRoundingTol);
      }
      EXPECT_LE((flow.end_to_end(t_end) - w_star).norm(), kClosedFormTol * w_star.norm());
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Contracts of the interface.

TEST(ExactFlow, TrajectoryAtAndTimeOfTauAgree) {
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 91);
  std::mt19937_64 rng(92);
  const ExactRank1Flow flow(problem, 4, 0.05, random_unit_vector(3, rng), random_unit_vector(4, rng));
  const std::vector<double> times{0.0, 0.5, 0.5, 2.0, 7.5, 30.0};
  const std::vector<Rank1Point> path = flow.trajectory(times);
  for (size_t k = 0; k < times.size(); ++k) {
    const Rank1Point p = flow.at(times[k]);
    EXPECT_EQ(p.tau, path[k].tau);
    EXPECT_EQ(p.sigma, path[k].sigma);
    EXPECT_EQ(flow.tau_of_time(times[k]), p.tau);
    EXPECT_NEAR(flow.time_of_tau(p.tau), times[k], kClosedFormTol * (1 + times[k]));
    const Rank1Point q = flow.at_tau(p.tau);
    EXPECT_NEAR(q.sigma, p.sigma, kClosedFormTol * p.sigma);
    EXPECT_LE((q.end_to_end() - p.end_to_end()).norm(), kClosedFormTol * (1 + p.sigma));
  }
  EXPECT_DOUBLE_EQ(path.front().sigma, 0.05);
}

TEST(ExactFlow, RejectsBadInput) {
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0}, 1);
  const Eigen::VectorXd u0 = Eigen::VectorXd::Ones(3), v0 = Eigen::VectorXd::Ones(4);
  EXPECT_THROW(ExactRank1Flow(test::random_data(4, 3, 12, 2), 3, 0.1, u0, v0), InputError);
  EXPECT_THROW(ExactRank1Flow(problem, 1, 0.1, u0, v0), InputError);
  EXPECT_THROW(ExactRank1Flow(problem, 3, 0.0, u0, v0), InputError);
  EXPECT_THROW(ExactRank1Flow(problem, 3, std::nan(""), u0, v0), InputError);
  EXPECT_THROW(ExactRank1Flow(problem, 3, 0.1, v0, u0), InputError);
  EXPECT_THROW(ExactRank1Flow(problem, 3, 0.1, Eigen::VectorXd::Zero(3), v0), InputError);
  const ExactRank1Flow flow(problem, 3, 0.1, u0, v0);
  EXPECT_THROW(flow.at(-1.0), InputError);
  EXPECT_THROW(flow.at(std::numeric_limits<double>::infinity()), InputError);
  EXPECT_THROW(flow.at_tau(std::nan("")), InputError);
  EXPECT_THROW(flow.trajectory({1.0, 0.5}), InputError);
}

// docs/theory.md §10: full-width aligned starts. N = 2: every mode follows the Saxe et al. formula
// σ(t) = s e^{2st} / (e^{2st} − 1 + s/σ0), with the modes' own σ0 (one of them zero, which stays zero).
TEST(ExactDecoupledFlow, DepthTwoFollowsTheSaxeClosedFormInEveryMode) {
  const Problem problem = test::synthetic(5, 4, {3.0, 1.5, 0.7}, 21);
  const Eigen::Vector3d sigma0(1e-4, 0.0, 2.0);
  const ExactDecoupledFlow flow(problem, 2, sigma0);
  for (const double t : {0.0, 0.3, 2.0, 5.0}) {
    const Eigen::VectorXd sigma = flow.sigmas(t);
    for (int a = 0; a < 3; ++a) {
      const double s = problem.s()(a), e = std::exp(2 * s * t);
      const double expected = sigma0(a) > 0 ? s * e / (e - 1 + s / sigma0(a)) : 0.0;
      EXPECT_NEAR(sigma(a), expected, kClosedFormTol * s) << "t = " << t << ", mode " << a + 1;
    }
  }
  EXPECT_THROW(ExactDecoupledFlow(problem, 2, Eigen::Vector4d(1, 1, 1, 1)), InputError);
  EXPECT_THROW(ExactDecoupledFlow(problem, 2, Eigen::Vector2d(1, -1)), InputError);
  EXPECT_THROW(ExactDecoupledFlow(problem, 1, sigma0), InputError);
}

// solver.method = exact on a spectral start with hidden widths above the rank (N = 3, 4): the per-mode scalar flows
// against the layer-wise gradient flow of all layers, layers included (the hidden bases do not move), and t_eps.
TEST(ExactDecoupledFlow, ExactMethodMatchesLayerwiseGradientFlowOnWideSpectralStarts) {
  const Problem problem = test::synthetic(5, 4, {2.0, 1.0, 0.5}, 23);
  for (const int N : {3, 4}) {
    std::vector<int> widths(static_cast<size_t>(N + 1), 6);
    widths.front() = 5;
    widths.back() = 4;
    const Shape shape(widths);
    InitOptions o;
    o.kind = InitKind::spectral;
    o.modes = Eigen::Vector3d(0.05, 0.02, 0.1);
    o.seed = 5;
    const Eigen::VectorXd theta0 = initialize(problem, shape, o);
    SolverOptions opt = test::tight_flow(40.0);
    opt.eps = 1e-9;
    opt.stop_at_eps = true;
    Eigen::VectorXd gf = theta0, exact = theta0;
    const Summary sg = train(problem, shape, gf, opt);
    opt.method = Method::exact;
    const Summary se = train(problem, shape, exact, opt);
    ASSERT_EQ(sg.status, Status::converged) << sg.message;
    ASSERT_EQ(se.status, Status::converged) << se.message;
    // t_eps: the integrator's global error (~1e-10 in W) moves the crossing by that over the excess's slope.
    EXPECT_NEAR(*se.t_eps, *sg.t_eps, 1e-6 * *sg.t_eps) << "N = " << N;
    // Compare at the same time: the gf state at its t_eps against the exact one there.
    opt.stop_at_eps = false;
    opt.t_max = *sg.t_eps;
    exact = theta0;
    train(problem, shape, exact, opt);
    EXPECT_LE((shape.end_to_end(exact) - shape.end_to_end(gf)).norm(), 1e-9) << "N = " << N;
    EXPECT_LE((exact - gf).norm(), 1e-9) << "N = " << N;
  }
}

// A mode pointing away from its target (u_aᵀ W v_a < 0) is outside the decoupled closed form: refused, not dropped.
TEST(ExactDecoupledFlow, ExactMethodRefusesAModePointingAwayFromItsTarget) {
  const Problem problem = test::synthetic(5, 4, {2.0, 1.0, 0.5}, 23);
  const Shape shape({5, 6, 6, 4});
  InitOptions o;
  o.kind = InitKind::balanced;
  o.end_to_end =
      problem.u().leftCols(3) * Eigen::Vector3d(0.1, -0.1, 0.1).asDiagonal() * problem.v().leftCols(3).transpose();
  Eigen::VectorXd theta = initialize(shape, o);
  SolverOptions opt = test::tight_flow(1.0);
  opt.method = Method::exact;
  try {
    train(problem, shape, theta, opt);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mode 2 of the start points away"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace linflow
