// The Hessian of L(θ) = L_1(W_N ⋯ W_1): Hessian-vector products against finite differences of the gradient
// (docs/theory.md §9, P14) and the spectrum at constructed critical points (P15).
#include <gtest/gtest.h>

#include <cmath>

#include "fixtures.hpp"
#include "flows/block_preconditioner.hpp"
#include "linflow/hessian.hpp"
#include "linflow/theory.hpp"

namespace linflow {
namespace {

constexpr double kProductTol = 1e-7;    // P14: relative, central differences at step 1e-5
constexpr double kSymmetryTol = 1e-12;  // ⟨w, Hv⟩ = ⟨v, Hw⟩, relative
constexpr double kSpectrumTol = 1e-8;   // P15

// (∇L(θ + h v) − ∇L(θ − h v)) / 2h.
Eigen::VectorXd central_difference(const Problem& p, const Shape& shape, const Eigen::VectorXd& theta,
                                   const Eigen::VectorXd& v, double h) {
  Objective obj(p, shape);
  Eigen::VectorXd plus(shape.size()), minus(shape.size());
  obj.evaluate(theta + h * v, plus);
  obj.evaluate(theta - h * v, minus);
  return (plus - minus) / (2 * h);
}

void expect_product_matches_differences(const Problem& p, const Shape& shape, unsigned seed) {
  std::mt19937_64 rng(seed);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.7);
  const Eigen::VectorXd v = test::random_theta(shape, rng, 1.0);
  Hessian h(p, shape);
  h.set_point(theta);
  Eigen::VectorXd hv(shape.size());
  h.apply(v, hv);
  const Eigen::VectorXd fd = central_difference(p, shape, theta, v, 1e-5);
  EXPECT_LE((hv - fd).norm(), kProductTol * fd.norm()) << "widths " << shape.widths().size();
  // The scale folds into the same pass.
  Eigen::VectorXd scaled(shape.size());
  h.apply(v, scaled, -2.0);
  EXPECT_LE((scaled + 2 * hv).norm(), 1e-14 * hv.norm());
}

TEST(Hessian, ProductMatchesFiniteDifferencesOfTheGradient) {
  expect_product_matches_differences(test::synthetic(4, 3, {2.0, 1.0, 0.5}, 1), Shape({4, 3}), 1);
  expect_product_matches_differences(test::synthetic(4, 3, {2.0, 1.0, 0.5}, 2), Shape({4, 5, 3}), 2);
  expect_product_matches_differences(test::synthetic(5, 4, {3.0, 1.0}, 3), Shape({5, 3, 1, 2, 4}), 3);
  expect_product_matches_differences(test::random_data(4, 3, 20, 4), Shape({4, 6, 2, 3}), 4);
  expect_product_matches_differences(test::random_data(3, 2, 9, 5), Shape({3, 2}), 5);
}

TEST(Hessian, ProductIsSymmetricAndDenseFormAgreesWithIt) {
  const Problem p = test::random_data(4, 3, 15, 7);
  const Shape shape({4, 3, 2, 3});
  std::mt19937_64 rng(7);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.8);
  const Eigen::VectorXd v = test::random_theta(shape, rng, 1.0), w = test::random_theta(shape, rng, 1.0);
  Hessian h(p, shape);
  h.set_point(theta);
  Eigen::VectorXd hv(shape.size()), hw(shape.size());
  h.apply(v, hv);
  h.apply(w, hw);
  EXPECT_NEAR(w.dot(hv), v.dot(hw), kSymmetryTol * hv.norm() * w.norm());
  Eigen::MatrixXd H(shape.size(), shape.size());
  h.dense(H);
  EXPECT_LE((H * v - hv).norm(), 1e-12 * hv.norm());
  EXPECT_EQ(H, H.transpose());
}

TEST(Hessian, OneLayerIsTheDataCovariance) {
  // L = ½‖Y − W X‖²: ∇²L = Σ ⊗ I (column-major vec), so every eigenvalue of Σ appears d_y times.
  const Problem p = test::random_data(3, 2, 10, 11);
  const Shape shape({3, 2});
  const HessianSpectrum s = hessian_spectrum(p, shape, Eigen::VectorXd::Random(shape.size()));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> sigma(p.sigma());
  EXPECT_NEAR(s.max_eigenvalue, sigma.eigenvalues().maxCoeff(), kSpectrumTol * sigma.eigenvalues().maxCoeff());
  EXPECT_NEAR(s.min_eigenvalue, sigma.eigenvalues().minCoeff(), kSpectrumTol * sigma.eigenvalues().maxCoeff());
  EXPECT_EQ(s.positive, 6);
}

TEST(Hessian, OriginIsAStrictSaddleForTwoLayersAndFlatForThreeOrMore) {
  const Problem p = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 13);
  // N = 2: L(V) ≈ ½‖Z‖² − ⟨Z, V_2 V_1⟩, so the eigenvalues at the origin are ±s_i.
  const Shape two({4, 3, 3});
  const HessianSpectrum s2 = hessian_spectrum(p, two, Eigen::VectorXd::Zero(two.size()));
  EXPECT_EQ(s2.method, "dense");
  EXPECT_NEAR(s2.min_eigenvalue, -2.0, kSpectrumTol);
  EXPECT_NEAR(s2.max_eigenvalue, 2.0, kSpectrumTol);
  EXPECT_GT(s2.negative, 0);
  // N = 3: every term of ∇²L at the origin has a zero layer in it.
  const Shape three({4, 3, 3, 3});
  Hessian h(p, three);
  h.set_point(Eigen::VectorXd::Zero(three.size()));
  std::mt19937_64 rng(13);
  Eigen::VectorXd hv(three.size());
  h.apply(test::random_theta(three, rng, 1.0), hv);
  EXPECT_EQ(hv.norm(), 0.0);
  const HessianSpectrum s3 = hessian_spectrum(p, three, Eigen::VectorXd::Zero(three.size()));
  EXPECT_EQ(s3.zero, three.size());
}

// A balanced factorization of s_k u_k v_kᵀ through the shape (docs/theory.md §2).
Eigen::VectorXd balanced_at_mode(const Problem& p, const Shape& shape, int k) {
  InitOptions init;
  init.kind = InitKind::balanced;
  init.end_to_end = p.s()(k) * p.u().col(k) * p.v().col(k).transpose();
  return initialize(shape, init);
}

TEST(Hessian, BalancedMinimizerOfAWidthOneNetworkHasTheClosedFormSharpness) {
  // λ_max = N s_1^{2−2/N} at a balanced global minimizer, no negative eigenvalue (docs/theory.md §9).
  const Problem p = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 17);
  for (int N : {2, 3, 4}) {
    std::vector<int> widths(static_cast<size_t>(N) + 1, 1);
    widths.front() = widths.back() = 3;
    const Shape shape(widths);
    const HessianSpectrum s = hessian_spectrum(p, shape, balanced_at_mode(p, shape, 0));
    EXPECT_NEAR(s.max_eigenvalue, N * std::pow(2.0, 2.0 - 2.0 / N), kSpectrumTol) << "N = " << N;
    EXPECT_GE(s.min_eigenvalue, -kSpectrumTol) << "N = " << N;
    EXPECT_EQ(s.negative, 0) << "N = " << N;
  }
}

TEST(Hessian, WidthOneSaddleOfTheSecondModeIsStrictWithTheCheckedEigenvalue) {
  // λ_min = −(s_1 − s_k) s_k^{1−2/N} at the balanced factorization of s_k u_k v_kᵀ (docs/theory.md §9, [checked]).
  const Problem p = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 19);
  for (int N : {2, 3, 5}) {
    std::vector<int> widths(static_cast<size_t>(N) + 1, 1);
    widths.front() = widths.back() = 3;
    const Shape shape(widths);
    for (int k : {1, 2}) {
      const double sk = p.s()(k);
      const HessianSpectrum s = hessian_spectrum(p, shape, balanced_at_mode(p, shape, k));
      EXPECT_NEAR(s.min_eigenvalue, -(2.0 - sk) * std::pow(sk, 1.0 - 2.0 / N), kSpectrumTol) << N << " " << k;
    }
  }
}

TEST(Hessian, LanczosFindsTheDenseExtremes) {
  const Problem p = test::random_data(6, 5, 30, 23);
  const Shape shape({6, 8, 7, 5});
  std::mt19937_64 rng(23);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.5);
  const HessianSpectrum dense = hessian_spectrum(p, shape, theta);
  const HessianSpectrum lanczos = hessian_spectrum(p, shape, theta, /*dense_limit=*/10);
  EXPECT_EQ(dense.method, "dense");
  EXPECT_EQ(lanczos.method, "lanczos");
  EXPECT_NEAR(lanczos.max_eigenvalue, dense.max_eigenvalue, 1e-8 * std::abs(dense.max_eigenvalue));
  EXPECT_NEAR(lanczos.min_eigenvalue, dense.min_eigenvalue, 1e-8 * std::abs(dense.max_eigenvalue));
  EXPECT_EQ(lanczos.negative, -1);
  // The cost: the dense Hessian is one product per column; Lanczos's first Krylov basis alone takes min(n, 40)
  // products for each end, and each end restarts at least once.
  const Eigen::Index n = shape.size();
  EXPECT_EQ(dense.hessian_vector_products, n);
  EXPECT_EQ(dense.lanczos_restarts, 0);
  EXPECT_GE(lanczos.hessian_vector_products, 2 * std::min<Eigen::Index>(n, 40));
  EXPECT_GE(lanczos.lanczos_restarts, 2);
  // At the origin of a depth-3 network the Hessian is zero: Lanczos fails there, and the dense route answers.
  const HessianSpectrum origin = hessian_spectrum(p, shape, Eigen::VectorXd::Zero(shape.size()), /*dense_limit=*/10);
  EXPECT_EQ(origin.method, "dense");
  EXPECT_EQ(origin.min_eigenvalue, 0.0);
  EXPECT_EQ(origin.max_eigenvalue, 0.0);
  EXPECT_EQ(origin.zero, shape.size());
  EXPECT_GT(origin.hessian_vector_products, n);  // the failed Lanczos attempt's products, then the n columns
}

// Sharpness along training (RecordOptions::sharpness): every method's samples, and its last row at the final θ.
constexpr double kLanczosTol = 1e-8;  // relative: Spectra converges to 1e-10; as LanczosFindsTheDenseExtremes

std::vector<Sample> record_sharpness(const Problem& p, const Shape& shape, Eigen::VectorXd& theta,
                                     const SolverOptions& o, bool sharpness, Summary* summary = nullptr) {
  RecordOptions record;
  record.times = sample_times(o.t_max, 5, 10, 1e-2);
  record.sharpness = sharpness;
  std::vector<Sample> samples;
  const Summary s = train(p, shape, theta, o, record, [&](const Sample& x) { samples.push_back(x); });
  if (summary) *summary = s;
  return samples;
}

SolverOptions method_options(Method m, double t_max) {
  SolverOptions o = test::tight_flow(t_max);
  o.method = m;
  o.lr = 0.05;
  return o;
}

TEST(Sharpness, ColumnIsTheDenseHessiansTopEigenvalueAtTheRecordedTheta) {
  // 139 parameters (above kSharpnessDenseLimit: Lanczos) on data; the last row is taken at the returned θ.
  const Problem p = test::random_data(6, 5, 30, 29);
  const Shape shape({6, 8, 7, 5});
  ASSERT_GT(shape.size(), kSharpnessDenseLimit);
  std::mt19937_64 rng(29);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.5);
  for (Method m : {Method::gf, Method::gd}) {
    for (double t_max : {1e-3, 1e-2}) {  // GD at η = 1e-5, below 2/λ_max ≈ 6e-5 on these data
      Eigen::VectorXd theta = theta0;
      SolverOptions o = method_options(m, t_max);
      o.lr = 1e-5;
      const std::vector<Sample> rows = record_sharpness(p, shape, theta, o, true);
      ASSERT_FALSE(rows.empty());
      const double dense = hessian_spectrum(p, shape, theta).max_eigenvalue;
      ASSERT_TRUE(rows.back().sharpness);
      EXPECT_NEAR(*rows.back().sharpness, dense, kLanczosTol * std::abs(dense)) << to_string(m) << " " << t_max;
      for (const Sample& r : rows) EXPECT_TRUE(r.sharpness && std::isfinite(*r.sharpness));
    }
  }
  // The reduced methods: that of the balanced network they stand for (θ rebuilt balanced at the end).
  const Problem whitened = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 31);
  const Shape narrow({3, 2, 1, 3});
  InitOptions init;
  init.sigma0 = 0.3;
  init.seed = 31;
  const Eigen::VectorXd start = initialize(narrow, init);
  for (Method m : {Method::end_to_end, Method::rank1, Method::exact}) {
    Eigen::VectorXd theta = start;
    const std::vector<Sample> rows = record_sharpness(whitened, narrow, theta, method_options(m, 3.0), true);
    const double dense = hessian_spectrum(whitened, narrow, theta).max_eigenvalue;
    ASSERT_TRUE(rows.back().sharpness);
    EXPECT_NEAR(*rows.back().sharpness, dense, kLanczosTol * std::abs(dense)) << to_string(m);
  }
}

// Small networks now take Lanczos too (kSharpnessDenseLimit): it agrees with the dense route from 3 parameters on,
// and where the Hessian is zero (the origin, N = 3) it gives 0 — by Lanczos or, if that fails, the dense fallback.
TEST(Sharpness, LanczosAgreesWithTheDenseRouteOnSmallNetworksAndAtTheOrigin) {
  const Problem p = test::synthetic(2, 2, {2.0, 1.0}, 41);
  for (const std::vector<int>& widths :
       std::vector<std::vector<int>>{{2, 1, 2}, {2, 2, 2}, {2, 2, 2, 2}, {2, 3, 3, 2}}) {
    const Shape shape(widths);
    std::mt19937_64 rng(41);
    Hessian h(p, shape);
    h.set_point(test::random_theta(shape, rng, 0.7));
    const double dense = hessian_max_eigenvalue(h, shape.size());
    EXPECT_NEAR(hessian_max_eigenvalue(h, kSharpnessDenseLimit), dense, kLanczosTol * std::abs(dense)) << shape.size();
    h.set_point(Eigen::VectorXd::Zero(shape.size()));
    if (shape.depth() >= 3) {
      EXPECT_EQ(hessian_max_eigenvalue(h, kSharpnessDenseLimit), 0.0) << shape.size();
    }
  }
}

TEST(Sharpness, ApproachesTheClosedFormAtABalancedGlobalMinimizerOfAWhitenedProblem) {
  // A balanced start stays balanced under GF and converges to a balanced minimizer, where λ_max = N s_1^{2−2/N}
  // (docs/theory.md §9). At excess loss ≤ eps, θ is within about √eps of it; λ_max moves by O(‖δθ‖).
  constexpr double kEps = 1e-14;
  const double tolerance = 100 * std::sqrt(kEps);
  const Problem p = test::synthetic(4, 3, {2.0, 1.0, 0.5}, 37);
  for (int N : {2, 3, 4}) {
    std::vector<int> widths(static_cast<size_t>(N) + 1, 4);
    widths.back() = 3;
    const Shape shape(widths);
    InitOptions init;
    init.kind = InitKind::balanced;
    init.scale = 0.5;
    init.seed = 37;
    Eigen::VectorXd theta = initialize(shape, init);
    SolverOptions o = test::tight_flow(1e3);
    o.eps = kEps;
    o.stop_at_eps = true;
    Summary summary;
    const std::vector<Sample> rows = record_sharpness(p, shape, theta, o, true, &summary);
    ASSERT_EQ(summary.status, Status::converged) << summary.message;
    const double closed_form = N * std::pow(2.0, 2.0 - 2.0 / N);
    EXPECT_NEAR(*rows.back().sharpness, closed_form, tolerance * closed_form) << "N = " << N;
  }
}

TEST(Sharpness, RecordingItLeavesEveryMethodsStepsBitForBit) {
  const Problem p = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 43);
  const Shape shape({3, 2, 1, 3});
  InitOptions init;
  init.sigma0 = 0.2;
  init.seed = 43;
  const Eigen::VectorXd start = initialize(shape, init);
  for (Method m : {Method::gf, Method::gd, Method::end_to_end, Method::rank1, Method::exact}) {
    Eigen::VectorXd with = start, without = start;
    Summary a, b;
    const std::vector<Sample> rows_with = record_sharpness(p, shape, with, method_options(m, 20.0), true, &a);
    const std::vector<Sample> rows_without = record_sharpness(p, shape, without, method_options(m, 20.0), false, &b);
    EXPECT_EQ(with, without) << to_string(m);
    EXPECT_EQ(a.stats.steps, b.stats.steps) << to_string(m);
    EXPECT_EQ(a.stats.rejected_steps, b.stats.rejected_steps) << to_string(m);
    EXPECT_EQ(a.stats.rhs_evals, b.stats.rhs_evals) << to_string(m);
    EXPECT_EQ(a.t_eps, b.t_eps) << to_string(m);
    ASSERT_EQ(rows_with.size(), rows_without.size()) << to_string(m);
    for (size_t i = 0; i < rows_with.size(); ++i) {
      EXPECT_EQ(rows_with[i].t, rows_without[i].t);
      EXPECT_EQ(rows_with[i].loss, rows_without[i].loss);
      EXPECT_EQ(rows_with[i].grad_norm, rows_without[i].grad_norm);
      EXPECT_EQ(rows_with[i].singular_values, rows_without[i].singular_values);
      EXPECT_TRUE(rows_with[i].sharpness.has_value());
      EXPECT_FALSE(rows_without[i].sharpness.has_value());
    }
  }
}

TEST(PointKind, ConstructedCriticalPointsAreClassifiedAsTheTheorySays) {
  const Problem p = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 41);
  // The origin: a strict saddle for N = 2, a non-strict one (Hessian zero) for N ≥ 3 (docs/theory.md §3, §9).
  const Shape two({3, 2, 3}), three({3, 2, 2, 3});
  EXPECT_EQ(theory::classify_point(p, two, Eigen::VectorXd::Zero(two.size())).kind, "strict_saddle");
  EXPECT_EQ(theory::classify_point(p, three, Eigen::VectorXd::Zero(three.size())).kind, "non_strict_saddle");
  // Width-one layers: the balanced factorization of s_1 u_1 v_1ᵀ is the global minimum, of s_2 u_2 v_2ᵀ a strict
  // saddle; the rescaling orbit is one dimension per width-one hidden layer.
  const Shape thin({3, 1, 1, 3});
  const theory::PointKind minimum = theory::classify_point(p, thin, balanced_at_mode(p, thin, 0));
  EXPECT_EQ(minimum.kind, "minimum");
  EXPECT_EQ(minimum.spectrum.negative, 0);
  EXPECT_EQ(minimum.symmetry_zeros, 2);
  EXPECT_GE(minimum.spectrum.zero, minimum.symmetry_zeros);
  const theory::PointKind saddle = theory::classify_point(p, thin, balanced_at_mode(p, thin, 1));
  EXPECT_EQ(saddle.kind, "strict_saddle");
  EXPECT_GT(saddle.spectrum.negative, 0);
  // Anywhere else: not critical.
  std::mt19937_64 rng(41);
  EXPECT_EQ(theory::classify_point(p, thin, test::random_theta(thin, rng, 0.5)).kind, "not_critical");
}

// A network diagonal in the target's singular bases: W_1 = diag(d_1) V_pᵀ, W_j = diag(d_j) for 1 < j < N,
// W_N = U_p diag(d_N), every hidden width p; factors[j − 1] holds d_j (one entry per mode).
Eigen::VectorXd diagonal_network(const Problem& p, const Shape& shape, const std::vector<Eigen::VectorXd>& factors) {
  Eigen::VectorXd theta(shape.size());
  const int N = shape.depth();
  const Eigen::Index r = factors.front().size();
  for (int j = 1; j <= N; ++j) {
    const Eigen::MatrixXd d = factors[static_cast<size_t>(j - 1)].asDiagonal();
    shape.mutable_layer(theta, j) = j == 1   ? Eigen::MatrixXd(d * p.v().leftCols(r).transpose())
                                    : j == N ? Eigen::MatrixXd(p.u().leftCols(r) * d)
                                             : d;
  }
  return theta;
}

// Kawaguchi (2016), Theorem 2.3 (iv): at a saddle point (a critical point that is not a global minimum) of a deep
// linear network where the product of the middle layers W_{N−1} ⋯ W_2 has rank p (the smallest hidden width), the
// Hessian has a negative eigenvalue; for N = 2 that product is empty, so every saddle is strict. Corollary 2.4: for
// N ≥ 3 there are saddles with none (the origin). Critical points are built mode by mode in the target's singular
// bases: a mode is learned (its N factors multiply to s_a) or has at least two zero factors.
TEST(PointKind, KawaguchisStrictSaddlesOfDeepLinearNetworks) {
  const Problem p = test::synthetic(3, 3, {2.0, 1.0, 0.5}, 43);
  const double s1 = p.s()(0), s2 = p.s()(1);
  for (const int N : {2, 3, 4}) {
    SCOPED_TRACE("N = " + std::to_string(N));
    std::vector<int> widths(static_cast<size_t>(N) + 1, 2);
    widths.front() = widths.back() = 3;
    const Shape shape(widths);
    const double root1 = std::pow(s1, 1.0 / N), root2 = std::pow(s2, 1.0 / N);
    // Mode 1 learned; mode 2 zero in the first and last layers only, the middle ones full rank (rank p = 2).
    std::vector<Eigen::VectorXd> full_rank_middle(static_cast<size_t>(N), Eigen::Vector2d(root1, 0.7));
    full_rank_middle.front()(1) = full_rank_middle.back()(1) = 0;
    const theory::PointKind a = theory::classify_point(p, shape, diagonal_network(p, shape, full_rank_middle));
    EXPECT_EQ(a.kind, "strict_saddle") << a.spectrum.min_eigenvalue;
    // Mode 2 learned, mode 1 not (its first and last factors zero): rank p in the middle too.
    std::vector<Eigen::VectorXd> second(static_cast<size_t>(N), Eigen::Vector2d(0.7, root2));
    second.front()(0) = second.back()(0) = 0;
    EXPECT_EQ(theory::classify_point(p, shape, diagonal_network(p, shape, second)).kind, "strict_saddle");
    if (N == 2) continue;  // below: the middle product loses rank, which N = 2 has no room for
    // Mode 1 learned, mode 2 zero in every layer: the middle product has rank 1 < p; (iv) says nothing and linflow
    // finds no negative eigenvalue (docs/theory.md §9): a non-strict saddle other than the origin.
    std::vector<Eigen::VectorXd> rank_deficient(static_cast<size_t>(N), Eigen::Vector2d(root1, 0.0));
    const theory::PointKind c = theory::classify_point(p, shape, diagonal_network(p, shape, rank_deficient));
    EXPECT_EQ(c.kind, "non_strict_saddle") << c.spectrum.min_eigenvalue;
    EXPECT_LT(c.grad_norm, c.critical_tolerance);
  }
}

// The Newton systems' preconditioner of the implicit integrator (flows/block_preconditioner.hpp): I + γ G with G the
// Gauss–Newton matrix JᵀJ (J = ∂(W_N ⋯ W_1)/∂θ) restricted to its diagonal and, for a, b below every width, to the
// couplings among the entries (a, b) of all layers. The product is linear in each single entry, so J's columns are
// exact differences W(θ + e_i) − W(θ); the test builds G from them and the block structure from the definition.
constexpr double kGaussNewtonTol = 1e-12;  // relative to G's largest entry (J's columns are differences of O(1) terms)
constexpr double kBackwardTol = 1e-13;  // ‖r − (I + γ G) z‖ against ‖I + γ G‖ ‖z‖ (Cholesky is backward stable)

Eigen::MatrixXd gauss_newton_blocks(const Shape& shape, const Eigen::VectorXd& theta) {
  const Eigen::Index n = shape.size();
  const Eigen::MatrixXd w = shape.end_to_end(theta);
  Eigen::MatrixXd J(w.size(), n);
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::VectorXd moved = theta;
    moved(i) += 1.0;
    J.col(i) = (shape.end_to_end(moved) - w).reshaped();
  }
  const Eigen::MatrixXd full = J.transpose() * J;
  // Which (a, b) each index is, and whether it lies in a block (a, b < min width).
  const Eigen::VectorXd position = Eigen::VectorXd::LinSpaced(n, 0, static_cast<double>(n - 1));
  std::vector<int> block(static_cast<size_t>(n), -1);
  const int m = shape.min_width();
  for (int j = 1; j <= shape.depth(); ++j) {
    const auto layer = shape.layer(position, j);
    for (int b = 0; b < m; ++b) {
      for (int a = 0; a < m; ++a) block[static_cast<size_t>(layer(a, b))] = a + m * b;
    }
  }
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index k = 0; k < n; ++k) {
      const int bi = block[static_cast<size_t>(i)], bk = block[static_cast<size_t>(k)];
      if (i == k || (bi >= 0 && bi == bk)) g(i, k) = full(i, k);
    }
  }
  return g;
}

TEST(BlockPreconditioner, HoldsTheGaussNewtonBlocksAndTheHessiansDiagonal) {
  for (const std::vector<int>& widths : std::vector<std::vector<int>>{
           {4, 4, 4, 4}, {3, 5, 2, 4}, {5, 4, 6, 3, 2}, {1, 3, 3, 2}, {3, 4}, {4, 3, 3, 3, 3, 3, 4}}) {
    const Shape shape(widths);
    SCOPED_TRACE(::testing::Message() << "depth " << shape.depth() << ", " << shape.size() << " parameters");
    std::mt19937_64 rng(41);
    const int rank = std::min(widths.front(), widths.back());
    const Problem p = Problem::synthetic(widths.front(), widths.back(), std::vector<double>(rank, 1.5), rng);
    const Eigen::VectorXd theta = test::random_theta(shape, rng, 0.8);
    detail::BlockPreconditioner pc(shape);
    pc.set_point(theta);
    const Eigen::MatrixXd expected = gauss_newton_blocks(shape, theta);
    const Eigen::MatrixXd g = pc.dense();
    EXPECT_LE((g - expected).cwiseAbs().maxCoeff(), kGaussNewtonTol * expected.cwiseAbs().maxCoeff());
    // L is quadratic in each single entry: ∇²L's diagonal is the Gauss–Newton one.
    Hessian h(p, shape);
    h.set_point(theta);
    Eigen::MatrixXd H(shape.size(), shape.size());
    h.dense(H);
    EXPECT_LE((H.diagonal() - g.diagonal()).cwiseAbs().maxCoeff(), kGaussNewtonTol * g.diagonal().maxCoeff());
  }
}

// Each block I + γ G_ab is factored (Cholesky) and substituted through: backward stable at every γ, up to the γ λ ~
// 1e10 of depth-6 plateaus, and in place.
TEST(BlockPreconditioner, SolvesItsSystemBackwardStablyAtEveryGamma) {
  const Shape shape({5, 4, 6, 4, 5});
  std::mt19937_64 rng(43);
  const Eigen::VectorXd theta = test::random_theta(shape, rng, 1.2);
  detail::BlockPreconditioner pc(shape);
  pc.set_point(theta);
  const Eigen::MatrixXd g = pc.dense();
  const Eigen::Index n = shape.size();
  for (double gamma : {0.0, 1e-3, 1.0, 1e4, 1e10}) {
    SCOPED_TRACE(::testing::Message() << "gamma " << gamma);
    const double stiffness = pc.factor(gamma);
    EXPECT_DOUBLE_EQ(stiffness, gamma * g.diagonal().maxCoeff());
    const Eigen::MatrixXd a = Eigen::MatrixXd::Identity(n, n) + gamma * g;
    const Eigen::VectorXd r = test::random_theta(shape, rng, 1.0);
    Eigen::VectorXd z(n);
    pc.solve(r, z);
    EXPECT_LE((r - a * z).norm(), kBackwardTol * a.norm() * z.norm());
    Eigen::VectorXd in_place = r;
    pc.solve(in_place, in_place);
    EXPECT_EQ(in_place, z);
  }
}

}  // namespace
}  // namespace linflow
