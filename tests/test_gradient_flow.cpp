// Gradient flow of all layers (solver.method = gf) and the reduced flows (end_to_end, rank1) against the invariants
// and closed forms of docs/theory.md: P2, P3, P11, t_eps location, statuses, hypotheses of reduced flows.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "fixtures.hpp"
#include "flows/reduced_flows.hpp"
#include "linflow/error.hpp"
#include "linflow/exact.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

Eigen::VectorXd balanced_start(const Shape& shape, const Eigen::MatrixXd& A, unsigned long long seed) {
  InitOptions init;
  init.kind = InitKind::balanced;
  init.end_to_end = A;
  init.seed = seed;
  return initialize(shape, init);
}

// W(0) = σ0 u_1 v_1ᵀ, balanced: the start of the Saxe closed form (excess = ½(s − σ)² on a rank-one target).
Eigen::VectorXd aligned_start(const Problem& problem, const Shape& shape, double sigma0) {
  InitOptions init;
  init.kind = InitKind::balanced_rank1;
  init.sigma0 = sigma0;
  init.u0 = problem.u().col(0);
  init.v0 = problem.v().col(0);
  return initialize(shape, init);
}

// P2: D_j = W_{j+1}ᵀW_{j+1} − W_jW_jᵀ is conserved by GF for every start; the tolerance of docs/theory.md §8 is 1e-9
// relative to ‖D(0)‖ + ‖W‖².
TEST(GradientFlow, ConservesImbalanceOnUnbalancedStarts) {
  for (const auto& widths : std::vector<std::vector<int>>{{4, 3, 5}, {3, 2, 1, 4}, {5, 4, 3, 4, 2, 3}}) {
    const Shape shape(widths);
    const Problem problem = test::synthetic(widths.front(), widths.back(), {2.0, 1.0}, 11);
    std::mt19937_64 rng(12);
    Eigen::VectorXd theta = test::random_theta(shape, rng, 0.6);
    const double scale = shape.max_imbalance(theta) + shape.end_to_end(theta).squaredNorm();
    double worst = 0;
    RecordOptions record;
    record.times = sample_times(20.0, 20, 0, 1.0);
    const Summary s = train(problem, shape, theta, test::tight_flow(20.0), record,
                            [&](const Sample& x) { worst = std::max(worst, x.imbalance_drift); });
    // The whole horizon is run (stop_at_eps is off). Not the status: at t = 20 the depth-3 width-one run has
    // converged and its excess loss L − L* is rounding noise of either sign, so t_max vs converged is a coin flip.
    EXPECT_EQ(s.t_final, 20.0) << "depth " << shape.depth();
    EXPECT_LE(worst / scale, 1e-9) << "depth " << shape.depth();
    EXPECT_LT(s.excess_loss, s.initial_excess_loss);
  }
}

// P3: for balanced layers, the end-to-end velocity Σ_j W_{N:j+1} Ẇ_j W_{j−1:1} of layer-wise GF equals the
// balanced end-to-end formula of docs/theory.md §2, whitened or not, of any rank.
TEST(GradientFlow, LayerwiseVelocityEqualsBalancedEndToEndFormula) {
  struct Case {
    std::vector<int> widths;
    bool whitened;
    int rank;
  };
  for (const Case& c : {Case{{4, 3, 5}, true, 3}, Case{{5, 2, 3, 4}, true, 2}, Case{{4, 1, 3, 2, 5}, false, 1},
                        Case{{3, 4, 4, 4, 4, 3}, false, 3}, Case{{6, 5, 2, 6}, true, 1}}) {
    const Shape shape(c.widths);
    const int dx = c.widths.front(), dy = c.widths.back();
    const Problem problem =
        c.whitened ? test::synthetic(dx, dy, {2.0, 1.5, 0.5}, 3) : test::random_data(dx, dy, 4 * dx, 5);
    std::mt19937_64 rng(7);
    const Eigen::MatrixXd A = test::gaussian(dy, c.rank, rng) * test::gaussian(c.rank, dx, rng);
    const Eigen::VectorXd theta = balanced_start(shape, A, 9);
    ASSERT_LE(shape.max_imbalance(theta), 1e-12 * (1 + A.squaredNorm()));

    Objective obj(problem, shape);
    Eigen::VectorXd grad(shape.size());
    obj.evaluate(theta, grad);
    const int N = shape.depth();
    Eigen::MatrixXd layerwise = Eigen::MatrixXd::Zero(dy, dx);
    for (int j = 1; j <= N; ++j) {
      Eigen::MatrixXd left = Eigen::MatrixXd::Identity(dy, dy), right = Eigen::MatrixXd::Identity(dx, dx);
      for (int i = N; i > j; --i) left = left * shape.layer(theta, i);
      for (int i = 1; i < j; ++i) right = shape.layer(theta, i) * right;
      layerwise -= left * shape.layer(grad, j) * right;
    }
    Eigen::MatrixXd G(dy, dx), V(dy, dx);
    problem.end_to_end_gradient(obj.end_to_end(), G);
    const double grad_sq = detail::balanced_velocity(obj.end_to_end(), G, N, shape.min_width(), V);
    EXPECT_LE((layerwise + V).norm(), 1e-10 * (1 + V.norm())) << "widths[1] = " << c.widths[1];
    EXPECT_NEAR(grad_sq, grad.squaredNorm(), 1e-10 * (1 + grad_sq));
  }
}

// P11 (a): decoupled modes (Saxe et al. 2014). N = 2: σ(t) = s e^{2st} / (e^{2st} − 1 + s/σ0).
TEST(GradientFlow, DecoupledModesMatchSaxeClosedFormForDepthTwo) {
  const Problem problem = test::synthetic(5, 4, {3.0, 1.5, 0.7}, 21);
  const Shape shape({5, 3, 4});
  const Eigen::Vector3d sigma0(0.01, 0.2, 2.0);
  const Eigen::MatrixXd A = problem.u().leftCols(3) * sigma0.asDiagonal() * problem.v().leftCols(3).transpose();
  Eigen::VectorXd theta = balanced_start(shape, A, 1);
  const double T = 2.5;
  train(problem, shape, theta, test::tight_flow(T));
  const Eigen::MatrixXd W = shape.end_to_end(theta);
  Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(4, 5);
  for (int a = 0; a < 3; ++a) {
    const double s = problem.s()(a), e = std::exp(2 * s * T);
    expected += s * e / (e - 1 + s / sigma0(a)) * problem.u().col(a) * problem.v().col(a).transpose();
  }
  EXPECT_LE((W - expected).norm(), 1e-9);
}

// P11 (a), any depth: each mode obeys dσ/dt = N σ^{2−2/N}(s − σ), so t(σ(T)) = ∫_{σ0}^{σ(T)} dx/(N x^{2−2/N}(s−x)) = T.
TEST(GradientFlow, DecoupledModesObeyScalarFlowForDeeperNetworks) {
  const Problem problem = test::synthetic(4, 4, {2.0, 1.0}, 22);
  for (int N : {3, 4, 6}) {
    std::vector<int> widths(static_cast<size_t>(N + 1), 3);
    widths.front() = widths.back() = 4;
    const Shape shape(widths);
    const Eigen::Vector2d sigma0(0.3, 0.05);
    const Eigen::MatrixXd A = problem.u().leftCols(2) * sigma0.asDiagonal() * problem.v().leftCols(2).transpose();
    Eigen::VectorXd theta = balanced_start(shape, A, 2);
    const double T = 0.5;
    train(problem, shape, theta, test::tight_flow(T));
    const Eigen::MatrixXd W = shape.end_to_end(theta);
    for (int a = 0; a < 2; ++a) {
      const double s = problem.s()(a);
      const double sigma_T = problem.u().col(a).dot(W * problem.v().col(a));
      // In w = −ln(s − x) the integrand 1/(N x^{2−2/N}) is smooth even when σ(T) is within 1e-10 of s.
      auto x_of = [&](double w) { return s - std::exp(-w); };
      auto rate = [&](double w) { return 1.0 / (N * std::pow(x_of(w), 2.0 - 2.0 / N)); };
      const double t = boost::math::quadrature::gauss_kronrod<double, 61>::integrate(rate, -std::log(s - sigma0(a)),
                                                                                     -std::log(s - sigma_T), 15, 1e-14);
      // t(σ) is ill-conditioned as σ → s: a relative error 1e-11 in σ(T) (a hundred times the local tolerance)
      // moves t by 1e-11 σ / (N σ^{2−2/N} (s − σ)).
      const double conditioning = 1e-11 * sigma_T / (N * std::pow(sigma_T, 2.0 - 2.0 / N) * (s - sigma_T));
      EXPECT_NEAR(t, T, 1e-9 * T + conditioning) << "N = " << N << ", mode " << a << ", s − σ(T) = " << s - sigma_T;
      EXPECT_LT(conditioning, 1e-6 * T) << "N = " << N << ", mode " << a << ", σ(T) = " << sigma_T;
    }
    // Modes stay decoupled: W keeps Z's singular vectors.
    const Eigen::MatrixXd off = problem.u().transpose() * W * problem.v();
    EXPECT_NEAR(off(0, 1), 0.0, 1e-10);
    EXPECT_NEAR(off(1, 0), 0.0, 1e-10);
  }
}

// P11 (b): N = 2, any width and rank, balanced: P = QQᵀ with Q = [W_2; W_1ᵀ] solves the Riccati equation
// dP/dt = HP + PH − P², P(t) = e^{tH} Q0 (I + Q0ᵀ (∫_0^t e^{2sH} ds) Q0)^{−1} Q0ᵀ e^{tH}.
TEST(GradientFlow, DepthTwoMatchesRiccatiClosedForm) {
  const int dx = 5, dy = 4, width = 2;
  const Problem problem = test::synthetic(dx, dy, {2.5, 1.2, 0.4}, 31);
  const Shape shape({dx, width, dy});
  std::mt19937_64 rng(32);
  const Eigen::MatrixXd A = 0.3 * test::gaussian(dy, width, rng) * test::gaussian(width, dx, rng);
  Eigen::VectorXd theta = balanced_start(shape, A, 3);
  Eigen::MatrixXd Q0(dy + dx, width);
  Q0 << shape.layer(theta, 2), shape.layer(theta, 1).transpose();
  Eigen::MatrixXd H = Eigen::MatrixXd::Zero(dy + dx, dy + dx);
  H.topRightCorner(dy, dx) = problem.q();
  H.bottomLeftCorner(dx, dy) = problem.q().transpose();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(H);
  const double T = 1.7;
  const Eigen::VectorXd& h = eig.eigenvalues();
  const Eigen::MatrixXd& E = eig.eigenvectors();
  Eigen::VectorXd exp_th(h.size()), integral(h.size());
  for (Eigen::Index i = 0; i < h.size(); ++i) {
    exp_th(i) = std::exp(T * h(i));
    integral(i) = std::abs(h(i)) < 1e-300 ? T : std::expm1(2 * T * h(i)) / (2 * h(i));
  }
  const Eigen::MatrixXd eTH = E * exp_th.asDiagonal() * E.transpose();
  const Eigen::MatrixXd K = E * integral.asDiagonal() * E.transpose();
  const Eigen::MatrixXd inner = Eigen::MatrixXd::Identity(width, width) + Q0.transpose() * K * Q0;
  const Eigen::MatrixXd P = eTH * Q0 * inner.inverse() * Q0.transpose() * eTH;
  train(problem, shape, theta, test::tight_flow(T));
  EXPECT_LE((shape.end_to_end(theta) - P.topRightCorner(dy, dx)).norm(), 1e-9 * (1 + P.norm()));
}

// P11 (c): N = 2, scalar, unbalanced: λ = a² − b² conserved, σ = ab, dσ/dt = √(4σ² + λ²)(s − σ), and
// t(σ) = (1/√c) ln((2c − 8s(s−σ) + 2√c √(4σ²+λ²)) / (s − σ)) up to a constant, c = 4s² + λ².
TEST(GradientFlow, DepthTwoScalarUnbalancedMatchesClosedForm) {
  const double s = 1.5;
  const Problem problem = Problem::from_target(Eigen::MatrixXd::Constant(1, 1, s));
  const Shape shape({1, 1, 1});
  Eigen::VectorXd theta(2);
  theta << 0.05, 0.8;  // W_1 = b, W_2 = a
  const double lambda = theta(1) * theta(1) - theta(0) * theta(0);
  const double sigma0 = theta(0) * theta(1);
  const double c = 4 * s * s + lambda * lambda;
  auto t_of = [&](double sigma) {
    return std::log((2 * c - 8 * s * (s - sigma) + 2 * std::sqrt(c) * std::sqrt(4 * sigma * sigma + lambda * lambda)) /
                    (s - sigma)) /
           std::sqrt(c);
  };
  for (double T : {0.3, 1.0, 2.5}) {
    Eigen::VectorXd th = theta;
    train(problem, shape, th, test::tight_flow(T));
    const double sigma = th(0) * th(1);
    EXPECT_NEAR(t_of(sigma) - t_of(sigma0), T, 1e-9 * (1 + T)) << "T = " << T;
    EXPECT_NEAR(th(1) * th(1) - th(0) * th(0), lambda, 1e-12);
  }
}

// t_eps is the first crossing of the excess loss below eps, located on the dense output: compare with the
// inverse of the N = 2 Saxe formula for an aligned start on a rank-one target (excess = ½(s − σ)²).
TEST(GradientFlow, LocatesExcessLossCrossingToIntegratorAccuracy) {
  const double s = 2.0, sigma0 = 0.01, eps = 1e-8;
  const Problem problem = test::synthetic(3, 3, {s}, 41);
  const Shape shape({3, 1, 3});
  Eigen::VectorXd theta = aligned_start(problem, shape, sigma0);
  SolverOptions o = test::tight_flow(100.0);
  o.eps = eps;
  o.stop_at_eps = true;
  const Summary summary = train(problem, shape, theta, o);
  ASSERT_EQ(summary.status, Status::converged) << summary.message;
  ASSERT_TRUE(summary.t_eps.has_value());
  // σ(t) = s e/(e − 1 + s/σ0), e = e^{2st}  ⇒  e = σ(s/σ0 − 1)/(s − σ) ... solved for the crossing σ = s − √(2 eps).
  const double sigma = s - std::sqrt(2 * eps);
  const double e = sigma * (s / sigma0 - 1) / (s - sigma);
  const double t_exact = std::log(e) / (2 * s);
  // The crossing is as accurate as the state: δt ≈ δ(excess)/|d excess/dt| with δ(excess) ≈ √(2 eps)·(rtol·s).
  const double tol = 1e-13 * s * std::sqrt(2 * eps) / (2 * s * eps) + 1e-12 * t_exact;
  EXPECT_NEAR(*summary.t_eps, t_exact, std::max(tol, 1e-9));
  EXPECT_NEAR(summary.t_final, *summary.t_eps, 0.0);
  EXPECT_LE(summary.excess_loss, eps * (1 + 1e-6));
}

// The fraction done that the CLI's ETA divides by: log-excess progress towards eps when the run stops there, time
// otherwise, never more than 1; along a real run it ends at 1 exactly when the run converges.
TEST(Progress, FractionIsLogExcessTowardsEpsOrTimeTowardsTheHorizon) {
  SolverOptions o;
  o.t_max = 100;
  o.eps = 1e-12;
  o.stop_at_eps = true;
  const double e0 = 1.0;
  // log(1/1e-6) / log(1/1e-12) = 1/2, up to the rounding of two logarithms.
  const double log_rounding = 4 * std::numeric_limits<double>::epsilon();
  EXPECT_NEAR(progress_fraction(Progress{1, 100, 1e-6, 10}, e0, o), 0.5, log_rounding);
  EXPECT_DOUBLE_EQ(progress_fraction(Progress{80, 100, 1e-6, 10}, e0, o), 0.8);  // time ahead of the loss
  EXPECT_DOUBLE_EQ(progress_fraction(Progress{1, 100, 1e-13, 10}, e0, o), 1.0);
  EXPECT_DOUBLE_EQ(progress_fraction(Progress{1, 100, 2.0, 10}, e0, o), 0.01);  // the loss went up: time only
  o.stop_at_eps = false;
  EXPECT_DOUBLE_EQ(progress_fraction(Progress{25, 100, 1e-13, 10}, e0, o), 0.25);
  o.method = Method::gd;
  o.lr = 0.5;
  o.steps = 100;  // t_end = 50 < t_max
  EXPECT_DOUBLE_EQ(progress_fraction(Progress{25, 100, 1e-3, 50}, e0, o), 0.5);

  const Problem problem = test::synthetic(3, 3, {2.0}, 41);
  const Shape shape({3, 1, 3});
  Eigen::VectorXd theta = aligned_start(problem, shape, 0.01);
  SolverOptions flow = test::tight_flow(100.0);
  flow.eps = 1e-8;
  std::vector<double> fractions;
  double initial = -1;
  const Summary summary = train(problem, shape, theta, flow, {}, {}, [&](const Progress& p) {
    if (initial < 0) initial = p.excess_loss;
    fractions.push_back(progress_fraction(p, initial, flow));
  });
  ASSERT_EQ(summary.status, Status::converged) << summary.message;
  ASSERT_FALSE(fractions.empty());
  EXPECT_TRUE(std::all_of(fractions.begin(), fractions.end(), [](double f) { return f >= 0 && f <= 1; }));
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
}

// The closed-form method locates the same crossing without an integrator.
TEST(ReducedFlows, ExactMethodLocatesTheCrossingOfTheClosedForm) {
  const double s = 2.0, sigma0 = 0.01, eps = 1e-8;
  const Problem problem = test::synthetic(3, 3, {s}, 41);
  const Shape shape({3, 1, 3});
  Eigen::VectorXd theta = aligned_start(problem, shape, sigma0);
  SolverOptions o;
  o.method = Method::exact;
  o.t_max = 100.0;
  o.eps = eps;
  RecordOptions record;
  record.times = sample_times(o.t_max, 0, 30, 1e-2);
  int rows = 0;
  const Summary summary = train(problem, shape, theta, o, record, [&](const Sample&) { ++rows; });
  ASSERT_EQ(summary.status, Status::converged) << summary.message;
  const double sigma = s - std::sqrt(2 * eps);
  const double t_exact = std::log(sigma * (s / sigma0 - 1) / (s - sigma)) / (2 * s);
  EXPECT_NEAR(*summary.t_eps, t_exact, 1e-9 * t_exact);
  EXPECT_GT(rows, 5);
  EXPECT_LT(rows, 31);  // stopped at t_eps: no samples past it
}

// The closed form's panel budget is a numerical limit, not bad input: a horizon beyond it ends the run with the
// max_steps status and the reason, at the last panel reached (train() never throws on numerical failure).
TEST(ReducedFlows, ExactMethodBeyondItsPanelBudgetEndsWithAStatus) {
  const Problem problem = test::synthetic(3, 3, {2.0}, 41);
  const Shape shape({3, 1, 3});
  Eigen::VectorXd theta = aligned_start(problem, shape, 0.01);
  SolverOptions o;
  o.method = Method::exact;
  o.stop_at_eps = false;
  // N = 2: τ = t, and a panel spans at most 8 / (N (s_1 + s_1)) = 1 unit of τ, so the budget ends near t = 1e6.
  o.t_max = 4.0 * static_cast<double>(ExactRank1Flow::max_panels());
  Summary summary;
  ASSERT_NO_THROW(summary = train(problem, shape, theta, o));
  EXPECT_EQ(summary.status, Status::max_steps) << summary.message;
  EXPECT_NE(summary.message.find("beyond the reach of the trajectory"), std::string::npos) << summary.message;
  EXPECT_EQ(summary.stats.steps, ExactRank1Flow::max_panels());
  EXPECT_GT(summary.t_final, 0.0);
  EXPECT_LT(summary.t_final, o.t_max);
  ASSERT_TRUE(summary.t_eps.has_value());  // it reached eps long before the budget ran out
  EXPECT_LE(summary.excess_loss, o.eps);
}

TEST(GradientFlow, ReportsStatusesWithTheirNumbers) {
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0}, 51);
  const Shape shape({4, 2, 3});
  InitOptions init;
  init.kind = InitKind::gaussian;
  init.scale = 0.3;
  const Eigen::VectorXd theta0 = initialize(shape, init);

  SolverOptions o;
  o.t_max = 0.5;
  Eigen::VectorXd theta = theta0;
  Summary s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::t_max);
  EXPECT_EQ(s.t_final, 0.5);
  EXPECT_NE(s.message.find("t_max"), std::string::npos) << s.message;

  o.t_max = 1e3;
  o.max_steps = 5;
  theta = theta0;
  s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::max_steps);
  EXPECT_EQ(s.stats.steps, 5);

  o.max_steps = 1'000'000;
  o.eps = 1e-10;
  theta = theta0;
  s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::converged) << s.message;
  EXPECT_LE(s.excess_loss, 1e-10 * (1 + 1e-6));
  EXPECT_GT(s.stats.rhs_evals, 6 * s.stats.steps);

  // A balanced start exactly at the saddle s_2 u_2 v_2ᵀ: the gradient vanishes and GF stalls there.
  InitOptions saddle;
  saddle.kind = InitKind::balanced;
  saddle.end_to_end = Eigen::MatrixXd(problem.s()(1) * problem.u().col(1) * problem.v().col(1).transpose());
  theta = initialize(shape, saddle);
  s = train(problem, shape, theta, o);
  EXPECT_EQ(s.status, Status::stalled) << s.message;
  EXPECT_NEAR(s.excess_loss, 0.5 * 2.0 * 2.0, 1e-12);  // L − L* = ½ s_1² (min width 2 ⇒ L* = 0)
}

// The reduced flows and the closed form agree with the layer-wise flow on the same balanced start (issue: 1e-8).
TEST(ReducedFlows, EndToEndRank1AndExactAgreeWithLayerwiseFlow) {
  const Problem problem = test::synthetic(5, 4, {3.0, 2.0, 0.5}, 61);
  for (int N : {2, 3, 5}) {
    std::vector<int> widths(static_cast<size_t>(N + 1), 3);
    widths.front() = 5;
    widths.back() = 4;
    widths[1] = 1;
    const Shape shape(widths);
    InitOptions init;
    init.kind = InitKind::balanced_rank1;
    init.sigma0 = 0.2;
    init.seed = 62;
    const Eigen::VectorXd theta0 = initialize(shape, init);
    const double T = 4.0;
    Eigen::VectorXd reference = theta0;
    train(problem, shape, reference, test::tight_flow(T));
    const Eigen::MatrixXd W = shape.end_to_end(reference);
    for (Method m : {Method::end_to_end, Method::rank1, Method::exact}) {
      SolverOptions o = test::tight_flow(T);
      o.method = m;
      Eigen::VectorXd theta = theta0;
      const Summary s = train(problem, shape, theta, o);
      EXPECT_EQ(s.status, Status::t_max);
      EXPECT_LE((shape.end_to_end(theta) - W).norm(), 1e-8) << to_string(m) << ", N = " << N;
      EXPECT_LE(shape.max_imbalance(theta), 1e-10) << to_string(m);
    }
    // rank1 and exact rebuild the layers exactly (hidden directions do not move).
    for (Method m : {Method::rank1, Method::exact}) {
      SolverOptions o = test::tight_flow(T);
      o.method = m;
      Eigen::VectorXd theta = theta0;
      train(problem, shape, theta, o);
      EXPECT_LE((theta - reference).norm(), 1e-8) << to_string(m) << ", N = " << N;
    }
  }
}

TEST(ReducedFlows, RefuseStartsOutsideTheirHypotheses) {
  const Problem problem = test::synthetic(4, 3, {2.0, 1.0}, 71);
  const Shape narrow({4, 1, 3});
  const Shape wide({4, 2, 3});
  InitOptions gaussian;
  gaussian.kind = InitKind::gaussian;
  SolverOptions o;
  o.t_max = 1;
  for (Method m : {Method::end_to_end, Method::rank1, Method::exact}) {
    o.method = m;
    Eigen::VectorXd theta = initialize(narrow, gaussian);
    try {
      train(problem, narrow, theta, o);
      ADD_FAILURE() << "unbalanced start accepted by " << to_string(m);
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("balanced"), std::string::npos) << e.what();
    }
  }
  InitOptions balanced;
  balanced.kind = InitKind::balanced;
  Eigen::VectorXd theta = initialize(wide, balanced);
  o.method = Method::rank1;
  EXPECT_THROW(train(problem, wide, theta, o), InputError);
  const Problem data = test::random_data(4, 3, 10, 72);
  theta = initialize(narrow, balanced);
  EXPECT_THROW(train(data, narrow, theta, o), InputError);
}

}  // namespace
}  // namespace linflow
