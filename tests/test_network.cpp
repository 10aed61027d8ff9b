// Loss and gradients of the layered network: finite differences, closed-form identities, shapes, bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "fixtures.hpp"
#include "linflow/error.hpp"
#include "linflow/exact.hpp"
#include "linflow/init.hpp"
#include "linflow/network.hpp"

namespace linflow {
namespace {

struct Case {
  std::vector<int> widths;
  bool whitened;
};
void PrintTo(const Case& c, std::ostream* os) {
  for (int w : c.widths) *os << w << ' ';
  *os << (c.whitened ? "whitened" : "data");
}

class GradientTest : public ::testing::TestWithParam<Case> {};

// Central differences have truncation error O(h²) and round-off O(ε/h); h = ε^{1/3} balances them, and the
// agreement to expect is then about ε^{2/3} ≈ 4e-11 relative to the scale of the loss and its third derivative.
TEST_P(GradientTest, MatchesCentralFiniteDifferencesOnUnbalancedNetworks) {
  const Case c = GetParam();
  const Shape shape(c.widths);
  const int dx = shape.width(0), dy = shape.width(shape.depth());
  const Problem problem = c.whitened ? test::synthetic(dx, dy, {2.0, 1.0}, 3) : test::random_data(dx, dy, 3 * dx, 4);
  std::mt19937_64 rng(5);
  Eigen::VectorXd theta = test::random_theta(shape, rng, 0.7);
  Objective obj(problem, shape);
  Eigen::VectorXd grad(shape.size());
  const double loss = obj.evaluate(theta, grad);
  EXPECT_NEAR(loss, problem.loss(shape.end_to_end(theta)), 1e-12 * (1 + loss));

  const double h = std::cbrt(test::kEps);
  const double scale = 1.0 + std::abs(loss) + grad.lpNorm<Eigen::Infinity>();
  const double tol = 50 * std::pow(test::kEps, 2.0 / 3.0) * scale;
  for (Eigen::Index i = 0; i < theta.size(); ++i) {
    Eigen::VectorXd tp = theta, tm = theta;
    tp(i) += h;
    tm(i) -= h;
    const double fd = (obj.loss(tp) - obj.loss(tm)) / (2 * h);
    ASSERT_NEAR(grad(i), fd, tol) << "parameter " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    DepthsAndWidths, GradientTest,
    ::testing::Values(Case{{3, 2}, true}, Case{{4, 3, 5}, true}, Case{{5, 1, 4}, true}, Case{{3, 4, 2, 5, 3}, true},
                      Case{{2, 3, 1, 3, 2, 4, 3}, true}, Case{{4, 3, 5}, false}, Case{{3, 1, 2, 4}, false},
                      Case{{6, 2, 6, 3, 2, 2, 5, 4, 3}, false},
                      // Products past Eigen's inline limit (m + n + k ≥ 20): libxsmm's routes when it is built in,
                      // OpenBLAS's otherwise (src/core/products.hpp; tests/test_gemm.cpp checks every route alone).
                      Case{{20, 24, 22}, false}, Case{{30, 12, 1, 26}, true}, Case{{25, 16, 16, 28}, true},
                      Case{{27, 9, 30}, false}));

// ∇_{W_j} L = W_{N:j+1}ᵀ ∇L_1(W) W_{j−1:1}ᵀ (docs/theory.md §1), built here the slow way from explicit products.
TEST(Objective, GradientEqualsChainRuleFormula) {
  const Shape shape({4, 3, 2, 3, 5});
  const Problem problem = test::random_data(4, 5, 9, 8);
  std::mt19937_64 rng(9);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.8);
  Objective obj(problem, shape);
  Eigen::VectorXd grad(shape.size());
  obj.evaluate(theta, grad);
  const Eigen::MatrixXd W = shape.end_to_end(theta);
  Eigen::MatrixXd G(5, 4);
  problem.end_to_end_gradient(W, G);
  const int N = shape.depth();
  for (int j = 1; j <= N; ++j) {
    Eigen::MatrixXd left = Eigen::MatrixXd::Identity(shape.width(N), shape.width(N));
    for (int i = N; i > j; --i) left = left * shape.layer(theta, i);  // W_{N:j+1}
    Eigen::MatrixXd right = Eigen::MatrixXd::Identity(shape.width(0), shape.width(0));
    for (int i = 1; i < j; ++i) right = shape.layer(theta, i) * right;  // W_{j−1:1}
    const Eigen::MatrixXd expected = left.transpose() * G * right.transpose();
    EXPECT_LE((shape.layer(grad, j) - expected).norm(), 1e-13 * (1 + expected.norm())) << "layer " << j;
  }
}

TEST(Objective, DepthOneIsPlainLeastSquares) {
  const Shape shape({3, 2});
  const Problem problem = test::synthetic(3, 2, {1.5, 0.5}, 2);
  std::mt19937_64 rng(1);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 1.0);
  Objective obj(problem, shape);
  Eigen::VectorXd grad(shape.size());
  obj.evaluate(theta, grad);
  const Eigen::MatrixXd expected = shape.layer(theta, 1) - problem.q();
  EXPECT_LE((shape.layer(grad, 1) - expected).norm(), 1e-15 * (1 + expected.norm()));
}

TEST(Problem, ExcessLossIsZeroAtOptimumAndAgreesWithSubtraction) {
  const Problem problem = test::synthetic(6, 5, {3.0, 2.0, 1.0}, 7);
  const auto opt = problem.optimum(1);
  EXPECT_EQ(problem.excess_loss(opt.w, opt), 0.0);
  EXPECT_NEAR(opt.loss, 0.5 * (4.0 + 1.0), 1e-14);
  std::mt19937_64 rng(2);
  const Eigen::MatrixXd W = opt.w + 0.3 * test::gaussian(5, 6, rng);
  EXPECT_NEAR(problem.excess_loss(W, opt), problem.loss(W) - opt.loss, 1e-14 * problem.loss(W));
}

// L − L* ≥ 0 over rank ≤ k; a negative computed difference is rounding and reads 0 (problem.hpp). Here the point
// W* + δ T Σ^{-1/2} has rank k + 2 and lies below L* (½δ²‖T‖² − δ‖T‖² < 0): the clamp shows as 0, and a NaN from a
// diverged state is not hidden by it.
TEST(Problem, ExcessLossIsNeverNegativeAndKeepsNaN) {
  const Problem problem = test::synthetic(6, 5, {3.0, 2.0, 1.0}, 7);
  const auto opt = problem.optimum(1);
  const Eigen::MatrixXd W = opt.w + 1e-3 * opt.tail;  // whitened: Σ = I
  ASSERT_LT(problem.loss(W) - opt.loss, 0.0);
  EXPECT_EQ(problem.excess_loss(W, opt), 0.0);
  Eigen::MatrixXd bad = opt.w;
  bad(0, 0) = std::nan("");
  EXPECT_TRUE(std::isnan(problem.excess_loss(bad, opt)));
}

// Where the optimum is exact (target of rank ≤ k, no tail), L − L* = ½‖W − W*‖² is computed to full relative
// precision even when it is 1e-16.
TEST(Problem, ExcessLossKeepsRelativePrecisionNearAnExactOptimum) {
  const Problem problem = test::synthetic(6, 5, {3.0}, 7);
  const auto opt = problem.optimum(1);
  const double delta = 1e-8;
  const Eigen::MatrixXd W = (1 + delta) * opt.w;
  const double expected = 0.5 * (W - opt.w).squaredNorm();
  // The SVD leaves a tail Q − [Q]_1 of round-off size (≈ 30 ε ‖Q‖ for a 5 × 6 matrix), which enters through ⟨T, E⟩.
  const double tail_term = 30 * test::kEps * problem.q().norm() * (W - opt.w).norm();
  EXPECT_NEAR(problem.excess_loss(W, opt), expected, 1e-12 * expected + tail_term);
  EXPECT_LT(tail_term, 1e-4 * expected);
}

TEST(Problem, NonWhitenedOptimumMinimisesTheDataLoss) {
  const Problem problem = test::random_data(4, 3, 12, 21);
  const auto opt = problem.optimum(3);  // full rank: ordinary least squares W* = B Σ^{-1}
  const Eigen::MatrixXd ols = problem.cross() * problem.sigma().inverse();
  EXPECT_LE((opt.w - ols).norm(), 1e-12 * ols.norm());
  EXPECT_NEAR(problem.loss(opt.w), opt.loss, 1e-12 * (1 + opt.loss));
  Eigen::MatrixXd G(3, 4);
  problem.end_to_end_gradient(opt.w, G);
  EXPECT_LE(G.norm(), 1e-11 * (1 + problem.cross().norm()));
}

TEST(Problem, RankDeficientDataIsRejected) {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd X = test::gaussian(5, 3, rng);  // 3 samples in R^5: X Xᵀ has rank 3
  const Eigen::MatrixXd Y = test::gaussian(2, 3, rng);
  EXPECT_THROW(Problem::from_data(X, Y), InputError);
}

TEST(Problem, NonFiniteTargetIsRejected) {
  Eigen::MatrixXd Z = Eigen::MatrixXd::Ones(2, 2);
  Z(1, 0) = std::nan("");
  EXPECT_THROW(Problem::from_target(Z), InputError);
}

TEST(Shape, RejectsBadWidthsAndMismatchedProblems) {
  EXPECT_THROW(Shape({3}), InputError);
  EXPECT_THROW(Shape({3, 0, 2}), InputError);
  const Problem problem = test::synthetic(3, 2, {1.0}, 1);
  const Shape wrong({4, 2, 2});
  EXPECT_THROW(Objective(problem, wrong), InputError);
}

TEST(Shape, ImbalanceOfBalancedInitIsZero) {
  const Shape shape({5, 4, 1, 3, 6});
  InitOptions o;
  o.kind = InitKind::balanced;
  o.scale = 2.0;
  const Eigen::VectorXd theta = initialize(shape, o);
  EXPECT_LE(shape.max_imbalance(theta), 1e-14 * 2.0);
  EXPECT_NEAR(shape.end_to_end(theta).norm(), 2.0, 1e-14);
}

// init.kind = spectral (docs/theory.md §10): balanced, and W Σ^{1/2} = Σ_a σ_a(0) u_a v_aᵀ with the given modes.
TEST(Init, SpectralStartIsBalancedAndAlignedWithTheTarget) {
  // Rounding of the balanced factorization: a few ε per entry of the factors.
  constexpr double kRoundingTol = 1e-13;
  const Problem problem = test::synthetic(5, 4, {3.0, 2.0, 1.0}, 3);
  const Shape shape({5, 6, 4, 4});
  InitOptions o;
  o.kind = InitKind::spectral;
  o.modes = Eigen::Vector2d(0.1, 0.0);
  const Eigen::VectorXd theta = initialize(problem, shape, o);
  EXPECT_LE(shape.max_imbalance(theta), kRoundingTol);
  const Alignment al = alignment_with_target(problem, shape.end_to_end(theta));
  EXPECT_LE(al.misalignment, kRoundingTol);
  EXPECT_NEAR(al.sigma(0), 0.1, kRoundingTol);
  EXPECT_NEAR(al.sigma(1), 0.0, kRoundingTol);
  EXPECT_NEAR(al.sigma(2), 0.0, kRoundingTol);
  // Without modes every mode starts at `scale`; on data the alignment is of W Σ^{1/2} with Q's vectors.
  const Problem data = test::random_data(5, 4, 30, 4);
  o.modes.reset();
  o.scale = 0.01;
  const Eigen::VectorXd on_data = initialize(data, shape, o);
  const Eigen::MatrixXd Wt = shape.end_to_end(on_data) * data.sigma_sqrt();
  const Eigen::MatrixXd U = data.u().leftCols(4), V = data.v().leftCols(4);
  EXPECT_LE((U.transpose() * Wt * V - 0.01 * Eigen::MatrixXd::Identity(4, 4)).norm(), 1e-12);
  // Bad input: too many modes, a negative one, no problem.
  o.modes = Eigen::Vector4d(1, 1, 1, 1);
  EXPECT_THROW(initialize(problem, shape, o), InputError);
  o.modes = Eigen::Vector2d(1, -1);
  EXPECT_THROW(initialize(problem, shape, o), InputError);
  o.modes.reset();
  EXPECT_THROW(initialize(shape, o), InputError);
}

// ---- Gradient precision (solver.gradient_precision) ----
namespace precision {

using Quad = __float128;  // the reference arithmetic: 113-bit significand, exact enough for these products
using QuadMatrix = Eigen::Matrix<Quad, Eigen::Dynamic, Eigen::Dynamic>;

QuadMatrix quad(const Eigen::Ref<const Eigen::MatrixXd>& m) { return m.cast<Quad>(); }

QuadMatrix multiply(const QuadMatrix& a, const QuadMatrix& b) {  // plain loops: Eigen's kernels need NumTraits
  QuadMatrix c = QuadMatrix::Zero(a.rows(), b.cols());
  for (Eigen::Index j = 0; j < b.cols(); ++j)
    for (Eigen::Index l = 0; l < a.cols(); ++l)
      for (Eigen::Index i = 0; i < a.rows(); ++i) c(i, j) += a(i, l) * b(l, j);
  return c;
}

// ∇L at θ in binary128: the exact gradient of the stored θ, Z (or Σ, B) to ~1e-34 relative to its terms.
Eigen::VectorXd reference_gradient(const Problem& p, const Shape& shape, const Eigen::VectorXd& theta) {
  const int N = shape.depth();
  std::vector<QuadMatrix> below(static_cast<size_t>(N) + 1), above(static_cast<size_t>(N) + 2);
  below[0] = QuadMatrix::Identity(shape.width(0), shape.width(0));
  for (int j = 1; j <= N; ++j) below[j] = multiply(quad(shape.layer(theta, j)), below[j - 1]);
  above[N + 1] = QuadMatrix::Identity(shape.width(N), shape.width(N));
  for (int j = N; j >= 1; --j) above[j] = multiply(above[j + 1], quad(shape.layer(theta, j)));
  const QuadMatrix G = (p.whitened() ? below[N] : multiply(below[N], quad(p.sigma()))) - quad(p.cross());
  Eigen::VectorXd grad(shape.size());
  for (int j = 1; j <= N; ++j) {
    const QuadMatrix gj = multiply(multiply(above[j + 1].transpose(), G), below[j - 1].transpose());
    shape.mutable_layer(grad, j) = gj.unaryExpr([](Quad x) { return static_cast<double>(x); });
  }
  return grad;
}

// A plateau state of depth 4 after the first mode is learned: a balanced factorization of s_1 u_1 v_1ᵀ through random
// unit vectors q_j, plus seeds of size ε in every layer orthogonal to the learned mode on both sides. The gradient
// is O(ε^{N−1}) while its terms are O(s_1): the cancellation of a plateau from a start of scale ε.
Eigen::VectorXd plateau_state(const Problem& p, const Shape& shape, double eps, std::mt19937_64& rng) {
  const int N = shape.depth();
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(p.cross(), Eigen::ComputeFullU | Eigen::ComputeFullV);
  const double s1 = svd.singularValues()(0);
  std::vector<Eigen::VectorXd> q(static_cast<size_t>(N) + 1);
  q[0] = svd.matrixV().col(0);
  q[N] = svd.matrixU().col(0);
  for (int j = 1; j < N; ++j) q[j] = test::gaussian(shape.width(j), 1, rng, 1.0).col(0).normalized();
  Eigen::VectorXd theta(shape.size());
  for (int j = 1; j <= N; ++j) {
    const auto& out = q[static_cast<size_t>(j)];
    const auto& in = q[static_cast<size_t>(j) - 1];
    const Eigen::MatrixXd P_out = Eigen::MatrixXd::Identity(out.size(), out.size()) - out * out.transpose();
    const Eigen::MatrixXd P_in = Eigen::MatrixXd::Identity(in.size(), in.size()) - in * in.transpose();
    shape.mutable_layer(theta, j) =
        std::pow(s1, 1.0 / N) * out * in.transpose() + P_out * test::gaussian(out.size(), in.size(), rng, eps) * P_in;
  }
  return theta;
}

double relative_error(const Eigen::VectorXd& g, const Eigen::VectorXd& ref) { return (g - ref).norm() / ref.norm(); }

Eigen::VectorXd gradient(const Problem& p, const Shape& shape, const Eigen::VectorXd& theta, GradientPrecision prec) {
  Objective obj(p, shape);
  obj.set_precision(prec);
  Eigen::VectorXd g(shape.size());
  obj.evaluate(theta, g);
  return g;
}

// Double-double carries 53 more bits than double: on these plateaus its gradient is the exact one correctly rounded
// up to a few units in the last place. The double gradient on a plateau of scale 1e-5 is wrong by percents
// (rounding O(u s_1) against O(ε³) values), and at 1e-7 it is all rounding.
constexpr double kDoubleErrorOnThePlateau = 1e-3;  // at least this: rounding matters there
constexpr double kExtendedError = 1e-14;           // extended's relative error against the binary128 gradient, at most

TEST(GradientPrecision, ExtendedRecoversThePlateauGradientThatDoubleRoundsAway) {
  const Problem p = test::synthetic(8, 8, {5.0, 3.0, 1.0, 0.5}, 41);
  const Shape shape({8, 8, 8, 8, 8});
  for (const double eps : {1e-5, 1e-7}) {
    std::mt19937_64 rng(41);
    const Eigen::VectorXd theta = plateau_state(p, shape, eps, rng);
    const Eigen::VectorXd ref = reference_gradient(p, shape, theta);
    const double err_double = relative_error(gradient(p, shape, theta, GradientPrecision::standard), ref);
    const double err_extended = relative_error(gradient(p, shape, theta, GradientPrecision::extended), ref);
    EXPECT_GT(err_double, kDoubleErrorOnThePlateau) << eps;
    EXPECT_LT(err_extended, kExtendedError) << eps << ": " << err_extended << " (double " << err_double << ")";
    // automatic sees the rounding bound and takes the extended route: the same bits.
    EXPECT_EQ(gradient(p, shape, theta, GradientPrecision::automatic),
              gradient(p, shape, theta, GradientPrecision::extended));
  }
}

// The same on a data problem (Σ ≠ I, where the residual is W Σ − B) and on unequal widths, N = 1 … 4: extended is the
// binary128 gradient correctly rounded, to a few ulps.
TEST(GradientPrecision, ExtendedIsTheExactGradientRoundedOnDataProblemsAndAnyShape) {
  const Problem data = test::random_data(5, 4, 30, 47);
  for (const std::vector<int>& widths :
       std::vector<std::vector<int>>{{5, 4}, {5, 3, 4}, {5, 7, 2, 4}, {5, 6, 1, 3, 4}}) {
    const Shape shape(widths);
    std::mt19937_64 rng(47);
    const Eigen::VectorXd theta = test::gaussian(static_cast<int>(shape.size()), 1, rng, 0.7).col(0);
    const Eigen::VectorXd ref = reference_gradient(data, shape, theta);
    const double err = relative_error(gradient(data, shape, theta, GradientPrecision::extended), ref);
    EXPECT_LT(err, kExtendedError) << shape.depth() << ": " << err;
  }
}

TEST(GradientPrecision, AutomaticIsDoubleBitForBitWhereRoundingIsNegligible) {
  for (const bool whitened : {true, false}) {
    const Problem p = whitened ? test::synthetic(5, 4, {3.0, 2.0, 1.0}, 43) : test::random_data(5, 4, 30, 43);
    const Shape shape({5, 6, 3, 4});
    std::mt19937_64 rng(43);
    const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.5);
    const Eigen::VectorXd g = gradient(p, shape, theta, GradientPrecision::standard);
    EXPECT_EQ(gradient(p, shape, theta, GradientPrecision::automatic), g);
    // and extended agrees with double to double's rounding there
    EXPECT_LT((gradient(p, shape, theta, GradientPrecision::extended) - g).norm(), 1e-13 * g.norm());
  }
}

TEST(GradientPrecision, NamesRoundTripAndABadOneIsRefused) {
  for (auto prec : {GradientPrecision::automatic, GradientPrecision::standard, GradientPrecision::extended}) {
    EXPECT_EQ(gradient_precision_from_string(to_string(prec)), prec);
  }
  EXPECT_THROW(gradient_precision_from_string("quad"), InputError);
}

}  // namespace precision

}  // namespace
}  // namespace linflow
