// The implicit integrator (solver.integrator = "bdf", SUNDIALS CVODE with the exact Hessian as its Jacobian): the
// same contract as the explicit ones — the closed form of an aligned depth-2 flow (Saxe et al. 2014, docs/theory.md
// §7), agreement with DOP853 on unbalanced starts, recordings at the requested times, t_eps, the statuses — and the
// reason it exists: on small starts its step count does not grow with the plateau (docs/theory.md §9).
#include <gtest/gtest.h>

#include <nvector/nvector_serial.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>
#include <vector>

#include "fixtures.hpp"
#include "flows/ode/gmres.hpp"
#include "flows/ode/vector_ops.hpp"
#include "linflow/error.hpp"
#include "linflow/init.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

// rtol 1e-10 keeps BDF's global error on these short, well-conditioned runs under about 1e-7.
constexpr double kAgreement = 1e-6;
// solver.plateau_rtol = 3e-9 under rtol 3e-7 against each tolerance alone
// (PlateauRtolBuysTEpsAccuracyWhereItIsDecided): its t_eps error below kPlateauGain of the loose run's and within
// kPlateauLoss of the tight run's, in fewer than kPlateauSteps of the tight run's steps. Measured: errors 4.0e-5
// (loose), 5.3e-7 (tight), 8.9e-7; steps 2023 (tight), 1415.
constexpr double kPlateauGain = 0.1, kPlateauLoss = 4.0, kPlateauSteps = 0.85;

SolverOptions bdf(double t_max, LinearSolver linear = LinearSolver::automatic) {
  SolverOptions o;
  o.integrator = Integrator::bdf;
  o.linear_solver = linear;
  o.rtol = 1e-10;
  o.atol = 1e-12;
  o.t_max = t_max;
  return o;
}

struct Outcome {
  Summary summary;
  Eigen::VectorXd theta;
  std::vector<Sample> samples;
};

Outcome run(const Problem& p, const Shape& shape, Eigen::VectorXd theta, const SolverOptions& o,
            const std::vector<double>& times = {}) {
  Outcome r;
  RecordOptions record;
  record.times = times;
  r.summary = train(p, shape, theta, o, record, [&](const Sample& s) { r.samples.push_back(s); });
  r.theta = theta;
  return r;
}

TEST(Bdf, FollowsTheClosedFormOfAnAlignedDepthTwoFlow) {
  // W(t) = σ(t) u_1 v_1ᵀ, σ(t) = s e^{2st}/(e^{2st} − 1 + s/σ0); the excess loss ½(s − σ)² reaches eps at a known time.
  const double s = 1.5, sigma0 = 0.2, eps = 1e-10;
  const Problem p = test::synthetic(3, 3, {s}, 7);
  const Shape shape({3, 1, 3});
  Eigen::VectorXd theta(6);
  theta << std::sqrt(sigma0) * p.v().col(0), std::sqrt(sigma0) * p.u().col(0);
  SolverOptions o = bdf(100);
  o.rtol = 1e-12;  // t_eps moves by δσ / (2s √(2 eps)): the state must be right to well under √eps
  o.atol = 1e-14;
  o.eps = eps;
  const Outcome r = run(p, shape, theta, o, {0.5, 1.0, 2.0});
  ASSERT_EQ(r.summary.status, Status::converged) << r.summary.message;
  const double sigma1 = s - std::sqrt(2 * eps);
  const double t_eps = std::log((sigma1 * (s / sigma0 - 1)) / (s - sigma1)) / (2 * s);
  EXPECT_NEAR(*r.summary.t_eps, t_eps, kAgreement * t_eps);
  EXPECT_NEAR(r.summary.t_final, t_eps, kAgreement * t_eps);
  ASSERT_GE(r.samples.size(), 3U);
  for (size_t i = 0; i < 3; ++i) {
    const double t = r.samples[i].t, e = std::exp(2 * s * t);
    EXPECT_NEAR(r.samples[i].singular_values(0), s * e / (e - 1 + s / sigma0), kAgreement) << "t = " << t;
  }
  EXPECT_GT(r.summary.stats.jacobians, 0);
}

TEST(Bdf, AgreesWithDop853OnUnbalancedStartsWithDenseAndKrylovSolves) {
  for (const Problem& p : {test::synthetic(4, 3, {2.0, 1.0, 0.5}, 3), test::random_data(4, 3, 12, 5)}) {
    const Shape shape({4, 5, 2, 3});
    std::mt19937_64 rng(11);
    const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.4);
    const std::vector<double> times{0.25, 1.0, 3.0};
    SolverOptions reference = test::tight_flow(6.0);
    const Outcome ref = run(p, shape, theta0, reference, times);
    for (LinearSolver linear : {LinearSolver::dense, LinearSolver::krylov}) {
      SolverOptions o = bdf(6.0, linear);
      o.eps = 1e-300;
      o.stop_at_eps = false;
      o.grad_tol = 0;
      const Outcome r = run(p, shape, theta0, o, times);
      ASSERT_EQ(r.summary.status, Status::t_max) << r.summary.message;
      EXPECT_LE((r.theta - ref.theta).norm(), kAgreement * ref.theta.norm()) << to_string(linear);
      ASSERT_EQ(r.samples.size(), ref.samples.size());
      for (size_t i = 0; i < ref.samples.size(); ++i) {
        EXPECT_EQ(r.samples[i].t, ref.samples[i].t);
        EXPECT_NEAR(r.samples[i].loss, ref.samples[i].loss, kAgreement * ref.samples[i].loss) << to_string(linear);
      }
      if (linear == LinearSolver::krylov) {
        EXPECT_GT(r.summary.stats.jacobian_vector_products, 0);
      }
    }
  }
}

TEST(Bdf, ReducedFlowsIntegrateWithDifferenceQuotientJacobians) {
  // rank1 and end_to_end with BDF against the closed form (method exact) of the same balanced rank-one start.
  const Problem p = test::synthetic(3, 3, {2.0, 1.0}, 21);
  const Shape shape({3, 1, 1, 3});
  InitOptions init;
  init.sigma0 = 0.05;
  init.seed = 4;
  const Eigen::VectorXd theta0 = initialize(shape, init);
  SolverOptions exact;
  exact.method = Method::exact;
  exact.t_max = 200;
  exact.eps = 1e-9;
  const Outcome ref = run(p, shape, theta0, exact);
  ASSERT_EQ(ref.summary.status, Status::converged) << ref.summary.message;
  for (Method m : {Method::rank1, Method::end_to_end}) {
    SolverOptions o = bdf(200);
    o.method = m;
    o.eps = 1e-9;
    const Outcome r = run(p, shape, theta0, o);
    ASSERT_EQ(r.summary.status, Status::converged) << to_string(m) << ": " << r.summary.message;
    EXPECT_NEAR(*r.summary.t_eps, *ref.summary.t_eps, 1e-5 * *ref.summary.t_eps) << to_string(m);
    EXPECT_EQ(r.summary.stats.jacobian_vector_products, 0) << to_string(m);
  }
}

TEST(Bdf, SmallStartsCostStepsForAccuracyNotForThePlateau) {
  // Gaussian starts of entry size σ0 at depth 4: the plateaus between modes last ∝ σ0^{−2} and the explicit method is
  // held to h ≲ 3/λ_max through them (about 100× the steps for 10× smaller starts); BDF's step count barely moves.
  const Problem p = test::synthetic(4, 4, {5.0, 3.0, 1.0, 0.5}, 29);
  const Shape shape({4, 4, 4, 4, 4});
  std::vector<long> bdf_steps, explicit_steps;
  for (double sigma0 : {3e-1, 3e-2}) {
    std::mt19937_64 rng(29);
    const Eigen::VectorXd theta0 = test::random_theta(shape, rng, sigma0);
    SolverOptions o = bdf(1e6);
    o.rtol = 1e-8;
    o.eps = 1e-10;
    const Outcome implicit = run(p, shape, theta0, o);
    o.integrator = Integrator::dop853;
    const Outcome dop = run(p, shape, theta0, o);
    ASSERT_EQ(implicit.summary.status, Status::converged) << implicit.summary.message;
    ASSERT_EQ(dop.summary.status, Status::converged) << dop.summary.message;
    EXPECT_NEAR(*implicit.summary.t_eps, *dop.summary.t_eps, 1e-4 * *dop.summary.t_eps) << "σ0 = " << sigma0;
    bdf_steps.push_back(implicit.summary.stats.steps);
    explicit_steps.push_back(dop.summary.stats.steps);
  }
  // (2.0× with frames, bdf's run from t = 0 integrating in the start's frames up to its first restart.)
  EXPECT_LT(bdf_steps[1], 3 * bdf_steps[0]) << bdf_steps[0] << " → " << bdf_steps[1];
  EXPECT_GT(explicit_steps[1], 30 * explicit_steps[0]) << explicit_steps[0] << " → " << explicit_steps[1];
  EXPECT_LT(10 * bdf_steps[1], explicit_steps[1]);
}

// The gradient norm at each step serves only the stall test: with grad_tol = 0 bdf forms it once at the end of each
// CVODE run instead (one gradient per step less) and the run is the same to the bit — steps, t_eps, final θ — as
// one whose stall test (grad_tol > 0, never met) forms it at every step.
TEST(Bdf, FormsTheGradientNormPerStepOnlyForTheStallTest) {
  const Problem p = test::synthetic(4, 4, {5.0, 3.0, 1.0, 0.5}, 29);
  const Shape shape({4, 4, 4, 4, 4});
  std::mt19937_64 rng(29);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 3e-2);
  SolverOptions o = bdf(1e6);
  o.rtol = 1e-8;
  o.eps = 1e-10;
  o.grad_tol = 0;
  const Outcome lazy = run(p, shape, theta0, o);
  o.grad_tol = 1e-300;
  const Outcome eager = run(p, shape, theta0, o);
  ASSERT_EQ(lazy.summary.status, Status::converged) << lazy.summary.message;
  ASSERT_EQ(eager.summary.status, Status::converged) << eager.summary.message;
  EXPECT_EQ(*lazy.summary.t_eps, *eager.summary.t_eps);
  EXPECT_EQ(lazy.summary.stats.steps, eager.summary.stats.steps);
  EXPECT_EQ(lazy.summary.excess_loss, eager.summary.excess_loss);
  EXPECT_EQ(lazy.theta, eager.theta);
  const long steps = lazy.summary.stats.steps, saved = eager.summary.stats.rhs_evals - lazy.summary.stats.rhs_evals;
  // One norm per CVODE run: restarts come every kBdfRestartSteps steps and, in frames, at the plateau after each of
  // the target's 4 modes is learned.
  EXPECT_GE(saved, steps - 1 - steps / kBdfRestartSteps - 4) << steps << " steps";
  EXPECT_LE(saved, steps);
}

// From a start of scale 1e-5 at depth 4 each layer's entries hold the learned mode (size ~1) and the unlearned part
// (size ~σ0) whose growth times the next escape. Error weights rtol |θ_i| on θ's own entries let every step move that
// part by rtol / σ0 of itself (t_eps moved by percents between tolerances, and double's rounding of the plateau
// gradient cost steps); bdf integrates in frames where the two sit in different entries (LayerwiseFlow::enter_frames):
// t_eps then agrees across two decades of rtol, and double and double-double gradients give the same run.
// A depth-4 plateau: every width d, target singular values 5, 3, 1, 0.5, a Gaussian start of scale sigma0, run by
// `auto` to eps 1e-10 without the stall test (the plateau's gradient is below the default grad_tol).
struct Plateau {
  Problem problem;
  Shape shape;
  Eigen::VectorXd theta0;
  SolverOptions options;
};

Plateau depth_four_plateau(int d, double sigma0, unsigned seed) {
  Plateau c{test::synthetic(d, d, {5.0, 3.0, 1.0, 0.5}, seed), Shape({d, d, d, d, d}), {}, bdf(1e30)};
  std::mt19937_64 rng(seed);
  c.theta0 = test::random_theta(c.shape, rng, sigma0);
  c.options.integrator = Integrator::automatic;
  c.options.eps = 1e-10;
  c.options.grad_tol = 0;
  return c;
}

TEST(Bdf, FramesHoldTheUnlearnedPartToRtolOfItself) {
  const Plateau c = depth_four_plateau(6, 1e-5, 31);
  SolverOptions o = c.options;
  o.atol = 1e-15;
  std::vector<Outcome> runs;
  for (double rtol : {1e-8, 1e-10}) {
    o.rtol = rtol;
    runs.push_back(run(c.problem, c.shape, c.theta0, o));
    ASSERT_EQ(runs.back().summary.status, Status::converged) << runs.back().summary.message;
  }
  o.gradient_precision = GradientPrecision::extended;
  const Outcome extended = run(c.problem, c.shape, c.theta0, o);
  ASSERT_EQ(extended.summary.status, Status::converged) << extended.summary.message;
  const double t_eps = *runs.back().summary.t_eps;
  EXPECT_NEAR(*runs.front().summary.t_eps, t_eps, 1e-6 * t_eps);
  EXPECT_NEAR(*extended.summary.t_eps, t_eps, 1e-7 * t_eps);
  EXPECT_LT(extended.summary.stats.steps, 1.1 * static_cast<double>(runs.back().summary.stats.steps));
  EXPECT_GT(extended.summary.stats.steps, 0.9 * static_cast<double>(runs.back().summary.stats.steps));
}

// solver.plateau_rtol: a plateau's small, growing modes decide when it ends, and their error there becomes t_eps's;
// the transitions' steps go mostly to entries whose error decays. Holding only the plateaus to plateau_rtol, a run at
// a rtol 100× looser finds t_eps about as well as one at plateau_rtol everywhere, in fewer steps — and far better
// than the loose rtol alone. plateau_rtol = rtol is the single tolerance bit for bit (atol scaled by 1).
TEST(Bdf, PlateauRtolBuysTEpsAccuracyWhereItIsDecided) {
  const Plateau c = depth_four_plateau(8, 1e-3, 47);
  auto t_eps = [&](double rtol, double plateau_rtol) {
    SolverOptions o = c.options;
    o.rtol = rtol;
    o.atol = rtol * 1e-3;  // rtol σ0: the entries that time the next escape are of size σ0
    o.plateau_rtol = plateau_rtol;
    Outcome r = run(c.problem, c.shape, c.theta0, o);
    EXPECT_EQ(r.summary.status, Status::converged) << r.summary.message;
    return std::make_pair(r.summary.t_eps.value_or(0.0), r.summary.stats.steps);
  };
  const double reference = t_eps(1e-11, 0).first;
  const auto loose = t_eps(3e-7, 0), tight = t_eps(3e-9, 0), proportioned = t_eps(3e-7, 3e-9);
  auto error = [&](double t) { return std::abs(t - reference) / reference; };
  std::ostringstream errors;
  errors << error(loose.first) << " " << error(tight.first) << " " << error(proportioned.first);
  RecordProperty("errors", errors.str());
  RecordProperty("steps", std::to_string(loose.second) + " " + std::to_string(tight.second) + " " +
                              std::to_string(proportioned.second));
  EXPECT_LT(error(proportioned.first), kPlateauGain * error(loose.first));
  EXPECT_LT(error(proportioned.first), kPlateauLoss * error(tight.first));
  EXPECT_LT(static_cast<double>(proportioned.second), kPlateauSteps * static_cast<double>(tight.second));
  EXPECT_EQ(t_eps(3e-7, 3e-7), loose);
}

TEST(Bdf, PlateauRtolIsCheckedAndRefusedByExplicitIntegrators) {
  const Plateau c = depth_four_plateau(4, 1e-2, 5);
  SolverOptions o = c.options;
  o.plateau_rtol = 2 * o.rtol;
  std::string why;
  EXPECT_FALSE(o.is_valid(&why));
  EXPECT_NE(why.find("solver.plateau_rtol"), std::string::npos) << why;
  o.plateau_rtol = -1e-9;
  EXPECT_FALSE(o.is_valid(&why));
  o.plateau_rtol = o.rtol / 10;
  EXPECT_TRUE(o.is_valid(&why)) << why;
  o.integrator = Integrator::dop853;
  Eigen::VectorXd theta = c.theta0;
  EXPECT_THROW(train(c.problem, c.shape, theta, o), InputError);
}

// In the frames bdf's GMRES is preconditioned (flows/block_preconditioner.hpp, used where it measures that it pays):
// on this plateau problem of 256 parameters it took 6.3 Hessian-vector products per step without, about 2 with.
// t_eps stays within 1e-6 at rtol 3e-9: preconditioned solves are held to 0.03 of CVODE's linear tolerance, at which
// they no longer leave their residual in the few entries that time the next escape.
TEST(Bdf, PreconditionedKrylovSolvesTakeFewProductsPerStep) {
  const Plateau c = depth_four_plateau(8, 1e-3, 47);
  SolverOptions o = c.options;
  o.rtol = 1e-11;
  o.atol = 1e-14;
  const Outcome reference = run(c.problem, c.shape, c.theta0, o);
  ASSERT_EQ(reference.summary.status, Status::converged) << reference.summary.message;
  o.rtol = 3e-9;
  o.atol = 3e-12;
  const Outcome r = run(c.problem, c.shape, c.theta0, o);
  ASSERT_EQ(r.summary.status, Status::converged) << r.summary.message;
  const Stats& stats = r.summary.stats;
  EXPECT_LT(static_cast<double>(stats.jacobian_vector_products), 3.5 * static_cast<double>(stats.steps));
  EXPECT_NEAR(*r.summary.t_eps, *reference.summary.t_eps, 1e-6 * *reference.summary.t_eps);
}

// A run the stiffness test never switches is dop853's, bit for bit, under the default gradient_precision: deep into
// convergence the gradient is so small that the rounding bound fires, and `auto`'s explicit phase re-formed every
// evaluation in double-double there (1.1–2× dop853's wall time on the peer problems, same steps); the extended
// arithmetic now serves only the implicit phase.
TEST(Auto, AnUnswitchedRunIsDop853sBitForBitUnderAutomaticPrecision) {
  // A start 1e-12 from a balanced global minimizer: the gradient (~1e-11) is below what double's rounding bound
  // allows from the first evaluation on, and the run is too short for the stiffness test to switch.
  const Problem p = test::synthetic(4, 4, {3.0, 2.0, 1.0, 0.5}, 37);
  const Shape shape({4, 4, 4});
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(p.cross(), Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::VectorXd root = svd.singularValues().cwiseSqrt();
  Eigen::VectorXd theta0(shape.size());
  shape.mutable_layer(theta0, 1) = root.asDiagonal() * svd.matrixV().transpose();
  shape.mutable_layer(theta0, 2) = svd.matrixU() * root.asDiagonal();
  std::mt19937_64 rng(37);
  theta0 += test::random_theta(shape, rng, 1e-12);
  SolverOptions o;
  o.rtol = 1e-11;
  o.atol = 1e-13;
  o.t_max = 1;
  o.stop_at_eps = false;
  o.grad_tol = 0;
  o.integrator = Integrator::dop853;
  const Outcome explicit_run = run(p, shape, theta0, o);
  o.integrator = Integrator::automatic;
  const Outcome automatic = run(p, shape, theta0, o);
  ASSERT_FALSE(automatic.summary.stats.implicit_from.has_value());
  EXPECT_EQ(automatic.summary.stats.steps, explicit_run.summary.stats.steps);
  EXPECT_EQ(automatic.theta, explicit_run.theta);
  // and the rounding bound does fire there: forcing extended precision gives other bits
  o.gradient_precision = GradientPrecision::extended;
  EXPECT_NE(run(p, shape, theta0, o).theta, explicit_run.theta);
}

TEST(Bdf, StatusesMatchTheExplicitDrivers) {
  const Problem p = test::synthetic(3, 3, {2.0, 1.0}, 31);
  const Shape shape({3, 3, 3});
  std::mt19937_64 rng(31);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.3);
  SolverOptions o = bdf(0.5);
  EXPECT_EQ(run(p, shape, theta0, o).summary.status, Status::t_max);
  o.t_max = 1e4;
  o.max_steps = 3;
  const Outcome budget = run(p, shape, theta0, o);
  EXPECT_EQ(budget.summary.status, Status::max_steps);
  EXPECT_EQ(budget.summary.stats.steps, 3);
  o.max_steps = 100000;
  o.eps = 1e-8;
  o.stop_at_eps = false;
  o.t_max = 400;
  const Outcome on = run(p, shape, theta0, o);
  EXPECT_EQ(on.summary.status, Status::converged) << on.summary.message;
  EXPECT_EQ(on.summary.t_final, 400.0);
  ASSERT_TRUE(on.summary.t_eps.has_value());
  EXPECT_LT(*on.summary.t_eps, 400.0);
  EXPECT_LT(on.summary.excess_loss, 1e-8);
}

TEST(AutoIntegrator, SwitchesToBdfOnAPlateauAndAgreesWithBoth) {
  // Depth 4 from a start of entry size 3e-2: the first mode is learned early, then the explicit steps are held by
  // the stiff learned directions for the rest of the run. auto must switch (Hairer's test), keep every recording once
  // and in order, agree with tight DOP853 on t_eps and θ, and take a fraction of DOP853's steps.
  const Problem p = test::synthetic(4, 4, {5.0, 3.0, 1.0, 0.5}, 29);
  const Shape shape({4, 4, 4, 4, 4});
  std::mt19937_64 rng(29);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 3e-2);
  SolverOptions o = bdf(1e6);
  o.integrator = Integrator::automatic;
  o.eps = 1e-10;
  std::vector<double> times;
  for (double t = 1; t < 1e5; t *= 1.7) times.push_back(t);
  const Outcome a = run(p, shape, theta0, o, times);
  o.integrator = Integrator::dop853;
  o.rtol = 1e-12;
  const Outcome ref = run(p, shape, theta0, o, times);
  ASSERT_EQ(a.summary.status, Status::converged) << a.summary.message;
  ASSERT_EQ(ref.summary.status, Status::converged) << ref.summary.message;
  ASSERT_TRUE(a.summary.stats.implicit_from.has_value());
  EXPECT_GT(*a.summary.stats.implicit_from, 0.0);
  EXPECT_LT(*a.summary.stats.implicit_from, *a.summary.t_eps);
  EXPECT_GT(a.summary.stats.jacobian_vector_products + a.summary.stats.jacobians, 0);
  EXPECT_NEAR(*a.summary.t_eps, *ref.summary.t_eps, kAgreement * *ref.summary.t_eps);
  EXPECT_LT((a.theta - ref.theta).norm(), 1e-4 * ref.theta.norm());
  ASSERT_EQ(a.samples.size(), ref.samples.size());
  for (size_t i = 0; i < a.samples.size(); ++i) {
    EXPECT_NEAR(a.samples[i].t, ref.samples[i].t, kAgreement * ref.samples[i].t);  // the last one is at t_eps
    EXPECT_NEAR(a.samples[i].loss, ref.samples[i].loss, 1e-6 * std::max(1.0, ref.samples[i].loss))
        << "t = " << a.samples[i].t;
  }
  EXPECT_LT(5 * a.summary.stats.steps, ref.summary.stats.steps)
      << a.summary.stats.steps << " vs " << ref.summary.stats.steps;
}

TEST(AutoIntegrator, IsTheDefault) {
  // The documented default (README, "solver.integrator"): options that name no integrator switch on a plateau.
  const Problem p = test::synthetic(4, 4, {5.0, 3.0, 1.0, 0.5}, 29);
  const Shape shape({4, 4, 4, 4, 4});
  std::mt19937_64 rng(29);
  SolverOptions o;
  o.t_max = 1e6;
  o.eps = 1e-10;
  const Outcome a = run(p, shape, test::random_theta(shape, rng, 3e-2), o);
  ASSERT_EQ(a.summary.status, Status::converged) << a.summary.message;
  EXPECT_TRUE(a.summary.stats.implicit_from.has_value());
}

TEST(AutoIntegrator, IsDop853WhereNothingIsStiff) {
  // A short run from a moderate start: the stiffness test never fires and auto is DOP853 step for step.
  const Problem p = test::synthetic(3, 3, {2.0, 1.0}, 31);
  const Shape shape({3, 3, 3});
  std::mt19937_64 rng(31);
  const Eigen::VectorXd theta0 = test::random_theta(shape, rng, 0.3);
  SolverOptions o = bdf(1e3);
  o.rtol = 1e-8;
  o.eps = 1e-3;
  o.integrator = Integrator::automatic;
  const Outcome a = run(p, shape, theta0, o, {0.5, 1, 2});
  o.integrator = Integrator::dop853;
  const Outcome d = run(p, shape, theta0, o, {0.5, 1, 2});
  ASSERT_EQ(a.summary.status, Status::converged) << a.summary.message;
  EXPECT_FALSE(a.summary.stats.implicit_from.has_value());
  EXPECT_EQ(a.summary.stats.steps, d.summary.stats.steps);
  EXPECT_EQ(*a.summary.t_eps, *d.summary.t_eps);
  EXPECT_EQ(a.theta, d.theta);
}

// linflow's GMRES (the Krylov solver of bdf's Newton systems) against SUNDIALS's SPGMR, which it replaces: on a
// scaled non-symmetric system with weights over six decades (as CVODE's error weights are), the same iterations,
// solution and flags, converged or stopped at its Krylov dimension, from zero or from a given initial guess.
struct LinearSystem {
  Eigen::MatrixXd a;
  static int times(void* data, N_Vector v, N_Vector z) {
    const auto& s = *static_cast<LinearSystem*>(data);
    Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(z), N_VGetLength(z)) =
        s.a * Eigen::Map<const Eigen::VectorXd>(N_VGetArrayPointer(v), N_VGetLength(v));
    return 0;
  }
};

struct SolveResult {
  int flag;
  int iterations;
  double residual;
  Eigen::VectorXd x;
};

SolveResult solve_with(SUNLinearSolver s, LinearSystem& system, const Eigen::VectorXd& weights,
                       const Eigen::VectorXd& b, const Eigen::VectorXd* guess, double delta, SUNContext ctx) {
  const auto n = b.size();
  auto make = [&](const Eigen::VectorXd& v) {
    N_Vector out = N_VNew_Serial(n, ctx);
    Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(out), n) = v;
    return out;
  };
  N_Vector w = make(weights), bv = make(b), x = make(guess ? *guess : Eigen::VectorXd::Zero(n));
  SUNLinSolSetATimes(s, &system, LinearSystem::times);
  SUNLinSolSetScalingVectors(s, w, w);
  SUNLinSolInitialize(s);
  SUNLinSolSetZeroGuess(s, guess ? SUNFALSE : SUNTRUE);
  SolveResult r;
  r.flag = SUNLinSolSolve(s, nullptr, x, bv, delta);
  r.iterations = SUNLinSolNumIters(s);
  r.residual = SUNLinSolResNorm(s);
  r.x = Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(x), n);
  N_VDestroy(w);
  N_VDestroy(bv);
  N_VDestroy(x);
  return r;
}

TEST(Gmres, MatchesSundialsSpgmr) {
  SUNContext ctx = nullptr;
  ASSERT_EQ(SUNContext_Create(nullptr, &ctx), 0);
  const Eigen::Index n = 40;
  std::srand(7);
  LinearSystem system{Eigen::MatrixXd::Identity(n, n) + 0.3 * Eigen::MatrixXd::Random(n, n)};
  system.a.diagonal() += Eigen::VectorXd::LinSpaced(n, 0.0, 50.0);  // a spread spectrum: many iterations
  const Eigen::VectorXd weights = Eigen::pow(10.0, 3.0 * Eigen::ArrayXd::Random(n)).matrix();
  const Eigen::VectorXd b = Eigen::VectorXd::Random(n);
  const Eigen::VectorXd guess = 0.1 * Eigen::VectorXd::Random(n);
  const double scaled_b = b.cwiseProduct(weights).norm();
  N_Vector y = N_VNew_Serial(n, ctx);
  detail::use_eigen_vector_ops(y);
  struct Case {
    int max_dim;
    double delta;
    bool guessed;
    int flag;
  };
  for (const Case c :
       {Case{40, 1e-10 * scaled_b, false, SUNLS_SUCCESS}, Case{40, 1e-10 * scaled_b, true, SUNLS_SUCCESS},
        Case{5, 1e-10 * scaled_b, false, SUNLS_RES_REDUCED}, Case{5, 1e-10 * scaled_b, true, SUNLS_RES_REDUCED},
        Case{40, 2 * scaled_b, false, SUNLS_SUCCESS}}) {
    SCOPED_TRACE(::testing::Message() << "max_dim " << c.max_dim << ", delta " << c.delta << ", guess " << c.guessed);
    SUNLinearSolver ours = detail::gmres_solver(y, c.max_dim, ctx);
    SUNLinearSolver theirs = SUNLinSol_SPGMR(y, SUN_PREC_NONE, c.max_dim, ctx);
    SUNLinSol_SPGMRSetGSType(theirs, SUN_CLASSICAL_GS);
    const Eigen::VectorXd* g = c.guessed ? &guess : nullptr;
    const SolveResult mine = solve_with(ours, system, weights, b, g, c.delta, ctx);
    const SolveResult ref = solve_with(theirs, system, weights, b, g, c.delta, ctx);
    EXPECT_EQ(mine.flag, c.flag);
    EXPECT_EQ(mine.flag, ref.flag);
    EXPECT_EQ(mine.iterations, ref.iterations);
    EXPECT_NEAR(mine.residual, ref.residual, 1e-8 * scaled_b);
    EXPECT_LE((mine.x - ref.x).norm(), 1e-10 * ref.x.norm() + 1e-300);
    if (c.flag == SUNLS_SUCCESS) {
      EXPECT_LE((b - system.a * mine.x).cwiseProduct(weights).norm(), c.delta * (1 + 1e-6));
    }
    SUNLinSolFree(ours);
    SUNLinSolFree(theirs);
  }
  N_VDestroy(y);
  SUNContext_Free(&ctx);
}

// With a preconditioner (CVODE's, set through SUNLinSolSetPreconditioner), linflow's GMRES measures whether it pays in
// the regime it is told (gmres_set_regime): its first 16 solves there alternate with and without it, the cheaper way
// serves the rest. A preconditioned solve is held to 0.03 of the tolerance (kPreconditionedTolerance in gmres.cpp).
struct Diagonal {  // P = diag(p): exact Jacobi for a diagonal-dominant system, or a poor one
  Eigen::VectorXd p;
  static int solve(void* data, N_Vector r, N_Vector z, realtype /*tol*/, int lr) {
    const auto& d = *static_cast<Diagonal*>(data);
    Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(z), N_VGetLength(z)) =
        Eigen::Map<const Eigen::VectorXd>(N_VGetArrayPointer(r), N_VGetLength(r)).cwiseQuotient(d.p);
    return lr == SUN_PREC_RIGHT ? 0 : -1;
  }
};

TEST(Gmres, UsesAPreconditionerWhereItTakesFewerIterations) {
  SUNContext ctx = nullptr;
  ASSERT_EQ(SUNContext_Create(nullptr, &ctx), 0);
  const Eigen::Index n = 60;
  std::srand(13);
  LinearSystem system{0.02 * Eigen::MatrixXd::Random(n, n)};
  const Eigen::VectorXd spread = Eigen::pow(10.0, 4.0 * Eigen::ArrayXd::LinSpaced(n, 0.0, 1.0)).matrix();
  system.a.diagonal() += spread;  // diagonal-dominant, eigenvalues over four decades
  const Eigen::VectorXd weights = Eigen::VectorXd::Ones(n);
  N_Vector y = N_VNew_Serial(n, ctx);
  detail::use_eigen_vector_ops(y);
  const Eigen::VectorXd poor = Eigen::pow(10.0, 2.0 * Eigen::ArrayXd::Random(n)).matrix();
  for (const bool good : {true, false}) {
    SCOPED_TRACE(good ? "Jacobi preconditioner" : "poor preconditioner");
    Diagonal p{good ? Eigen::VectorXd(system.a.diagonal()) : poor};
    SUNLinearSolver ours = detail::gmres_solver(y, static_cast<int>(n), ctx);
    SUNLinearSolver plain = detail::gmres_solver(y, static_cast<int>(n), ctx);
    SUNLinSolSetPreconditioner(ours, &p, nullptr, Diagonal::solve);
    detail::gmres_set_regime(ours, 1e3);
    std::vector<int> with, without, later, plain_later;
    for (int k = 0; k < 40; ++k) {
      const Eigen::VectorXd b = Eigen::VectorXd::Random(n);
      const double delta = 1e-6 * b.norm();
      const SolveResult r = solve_with(ours, system, weights, b, nullptr, delta, ctx);
      const SolveResult q = solve_with(plain, system, weights, b, nullptr, delta, ctx);
      ASSERT_EQ(r.flag, SUNLS_SUCCESS);
      const bool preconditioned = k < 16 ? k % 2 == 0 : good;
      EXPECT_LE((b - system.a * r.x).norm(), (preconditioned ? 0.03 : 1.0) * delta * (1 + 1e-6)) << "solve " << k;
      if (k < 16) (k % 2 == 0 ? with : without).push_back(r.iterations);
      if (k >= 16) {
        later.push_back(r.iterations);
        plain_later.push_back(q.iterations);
      }
    }
    const auto total = [](const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0); };
    if (good) {
      EXPECT_LT(1.25 * total(with), total(without));
      EXPECT_LT(2 * total(later), total(plain_later));  // kept the preconditioner
    } else {
      EXPECT_GT(1.25 * total(with), total(without));
      EXPECT_EQ(later, plain_later);  // dropped it: the unpreconditioned solves, iteration for iteration
    }
    SUNLinSolFree(ours);
    SUNLinSolFree(plain);
  }
  N_VDestroy(y);
  SUNContext_Free(&ctx);
}

// CVODE's vector operations as linflow sets them (vector_ops.hpp: Eigen, or AVX2 + FMA kernels where the CPU has
// them) and the kernels GMRES, the preconditioner and the implicit driver call directly, against plain Eigen (the
// error weights against CVODE's own rounding, the finiteness test against a NaN or infinity anywhere) at every length
// up to 40 and at 256, the 4- and 16-wide loops' tails included.
TEST(VectorOps, AgreeWithEigenAtEveryLength) {
  SUNContext ctx = nullptr;
  ASSERT_EQ(SUNContext_Create(nullptr, &ctx), 0);
  std::srand(11);
  std::vector<Eigen::Index> lengths;
  for (Eigen::Index n = 1; n <= 40; ++n) lengths.push_back(n);
  lengths.push_back(256);
  for (const Eigen::Index n : lengths) {
    SCOPED_TRACE(::testing::Message() << "n = " << n);
    N_Vector proto = N_VNew_Serial(n, ctx);
    detail::use_eigen_vector_ops(proto);
    std::vector<N_Vector> v;
    std::vector<Eigen::VectorXd> e;
    for (int i = 0; i < 6; ++i) {
      v.push_back(N_VClone(proto));
      e.emplace_back(Eigen::VectorXd::Random(n));
      Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(v.back()), n) = e.back();
    }
    auto get = [&](N_Vector x) { return Eigen::VectorXd(Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(x), n)); };
    const double tol = 1e-14 * static_cast<double>(n);
    N_VLinearSum(0.3, v[0], -1.7, v[1], v[5]);
    EXPECT_LE((get(v[5]) - (0.3 * e[0] - 1.7 * e[1])).cwiseAbs().maxCoeff(), tol);
    N_VScale(2.5, v[0], v[5]);
    EXPECT_LE((get(v[5]) - 2.5 * e[0]).cwiseAbs().maxCoeff(), tol);
    N_VProd(v[0], v[1], v[5]);
    EXPECT_LE((get(v[5]) - e[0].cwiseProduct(e[1])).cwiseAbs().maxCoeff(), tol);
    EXPECT_NEAR(N_VDotProd(v[0], v[1]), e[0].dot(e[1]), tol);
    EXPECT_NEAR(N_VWrmsNorm(v[0], v[1]), std::sqrt(e[0].cwiseProduct(e[1]).squaredNorm() / n), tol);
    std::vector<double> c = {0.5, -1.25, 2.0, 0.75};
    std::vector<N_Vector> xs = {v[0], v[1], v[2], v[3]};
    N_VLinearCombination(4, c.data(), xs.data(), v[5]);
    const Eigen::VectorXd combination = 0.5 * e[0] - 1.25 * e[1] + 2.0 * e[2] + 0.75 * e[3];
    EXPECT_LE((get(v[5]) - combination).cwiseAbs().maxCoeff(), tol);
    N_VLinearCombination(4, c.data(), xs.data(), v[0]);  // in place: z = X[0]
    EXPECT_LE((get(v[0]) - combination).cwiseAbs().maxCoeff(), tol);
    Eigen::Map<Eigen::VectorXd>(N_VGetArrayPointer(v[0]), n) = e[0];
    std::vector<N_Vector> ys = {v[1], v[2]}, zs = {v[4], v[5]};
    N_VScaleAddMulti(2, c.data(), v[0], ys.data(), zs.data());
    EXPECT_LE((get(v[4]) - (0.5 * e[0] + e[1])).cwiseAbs().maxCoeff(), tol);
    EXPECT_LE((get(v[5]) - (-1.25 * e[0] + e[2])).cwiseAbs().maxCoeff(), tol);
    std::vector<double> d(3);
    std::vector<N_Vector> three = {v[1], v[2], v[3]};
    N_VDotProdMulti(3, v[0], three.data(), d.data());
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(d[static_cast<size_t>(i)], e[0].dot(e[static_cast<size_t>(i + 1)]), tol);
    Eigen::VectorXd y = e[1];
    detail::vector_axpy(-0.6, e[0].data(), y.data(), n);
    EXPECT_LE((y - (e[1] - 0.6 * e[0])).cwiseAbs().maxCoeff(), tol);
    EXPECT_NEAR(detail::vector_dot(e[2].data(), e[3].data(), n), e[2].dot(e[3]), tol);
    detail::vector_prod(e[2].data(), e[3].data(), y.data(), n);
    EXPECT_LE((y - e[2].cwiseProduct(e[3])).cwiseAbs().maxCoeff(), tol);
    detail::vector_scale(-0.7, e[2].data(), y.data(), n);
    EXPECT_LE((y + 0.7 * e[2]).cwiseAbs().maxCoeff(), tol);
    // Gram–Schmidt's kernels on up to nine columns (two groups of four and the rest), columns n + 3 apart.
    const Eigen::Index stride = n + 3;
    const Eigen::MatrixXd X = Eigen::MatrixXd::Random(stride, 9);
    for (int k = 1; k <= 9; ++k) {
      SCOPED_TRACE(::testing::Message() << "k = " << k);
      std::vector<double> dots(static_cast<size_t>(k));
      detail::vector_dots(X.data(), stride, k, e[0].data(), dots.data(), n);
      for (int j = 0; j < k; ++j) EXPECT_NEAR(dots[static_cast<size_t>(j)], X.col(j).head(n).dot(e[0]), tol);
      Eigen::VectorXd w = e[1];
      const Eigen::VectorXd coefficients = Eigen::VectorXd::Random(k);
      detail::vector_subtract_combination(X.data(), stride, k, coefficients.data(), w.data(), n);
      EXPECT_LE((w - (e[1] - X.topLeftCorner(n, k) * coefficients)).cwiseAbs().maxCoeff(), tol * k);
    }
    y = e[4];
    detail::vector_sub_prod(e[2].data(), e[3].data(), y.data(), n);
    EXPECT_LE((y - (e[4] - e[2].cwiseProduct(e[3]))).cwiseAbs().maxCoeff(), tol);
    // The error weights bit for bit as CVODE's five passes round them (|y|, times rtol, plus atol, inverted).
    Eigen::VectorXd state = 1e3 * e[5];
    state(0) = 0.0;
    detail::vector_error_weights(3e-9, 3e-12, state.data(), y.data(), n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const double magnitude = std::abs(state(i)), scaled = 3e-9 * magnitude, shifted = scaled + 3e-12;
      EXPECT_EQ(y(i), 1.0 / shifted) << "entry " << i;
    }
    EXPECT_TRUE(detail::vector_all_finite(state.data(), n));
    for (const double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()}) {
      for (const Eigen::Index at : {Eigen::Index{0}, n / 2, n - 1}) {
        Eigen::VectorXd with_bad = state;
        with_bad(at) = bad;
        EXPECT_FALSE(detail::vector_all_finite(with_bad.data(), n)) << bad << " at " << at;
      }
    }
    for (N_Vector x : v) N_VDestroy(x);
    N_VDestroy(proto);
  }
  SUNContext_Free(&ctx);
}

TEST(Bdf, DenseJacobianBeyondItsLimitIsRefused) {
  const Problem p = test::synthetic(70, 70, {1.0}, 37);
  const Shape shape({70, 70});  // 4900 parameters
  Eigen::VectorXd theta = Eigen::VectorXd::Zero(shape.size());
  SolverOptions o = bdf(1.0, LinearSolver::dense);
  EXPECT_THROW(train(p, shape, theta, o), InputError);
}

}  // namespace
}  // namespace linflow
