// Small problems are overhead-bound (performance issue): no heap allocation per evaluation of the loss and
// gradients, and none per step of any integrator. This executable interposes glibc's malloc, calloc and realloc
// (forwarding to __libc_*), so every heap allocation of the process is counted — linflow's, Eigen's and
// operator new's alike. A contract breaks when an evaluation allocates, or when a run that takes many more steps
// allocates more. Calls made from inside the BLAS library are counted apart: OpenBLAS 0.3.21's small-matrix
// kernels (Cooper Lake) malloc a buffer per product whose row count is not a multiple of 8 (k ≥ 16), which is
// theirs, not linflow's; the test prints that count. Under AddressSanitizer, which owns malloc, the tests are
// skipped.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>

#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define LINFLOW_COUNT_ALLOCATIONS 0
#else
#define LINFLOW_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};       // from linflow, Eigen, the C++ library …
std::atomic<long> g_blas_allocations{0};  // from inside the BLAS library

void count(void* caller) {
  Dl_info info{};
  if (dladdr(caller, &info) != 0 && info.dli_fname != nullptr && std::strstr(info.dli_fname, "blas") != nullptr) {
    g_blas_allocations.fetch_add(1, std::memory_order_relaxed);
  } else {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
}
}  // namespace

#if LINFLOW_COUNT_ALLOCATIONS
extern "C" {
void* __libc_malloc(std::size_t size);                 // NOLINT(bugprone-reserved-identifier)
void* __libc_calloc(std::size_t n, std::size_t size);  // NOLINT(bugprone-reserved-identifier)
void* __libc_realloc(void* p, std::size_t size);       // NOLINT(bugprone-reserved-identifier)

void* malloc(std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
  count(__builtin_return_address(0));
  return __libc_realloc(p, size);
}
}
#endif

namespace {

using linflow::Integrator;

long allocations() { return g_allocations.load(std::memory_order_relaxed); }

#define SKIP_UNLESS_COUNTING() \
  if (!LINFLOW_COUNT_ALLOCATIONS) GTEST_SKIP() << "AddressSanitizer owns malloc: allocations are not counted"

Eigen::VectorXd gaussian_theta(const linflow::Shape& shape, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  Eigen::VectorXd theta(shape.size());
  for (Eigen::Index i = 0; i < theta.size(); ++i) theta[i] = normal(rng);
  return theta;
}

// Whitened (from a target) and non-whitened (from data) problems, full width and with a width-one layer.
struct Case {
  std::vector<int> widths;
  bool whitened;
};

linflow::Problem make_problem(const Case& c, std::mt19937_64& rng) {
  const int dx = c.widths.front(), dy = c.widths.back();
  if (c.whitened) return linflow::Problem::synthetic(dx, dy, std::vector<double>(static_cast<size_t>(dy), 1.5), rng);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd X(dx, 3 * dx), Y(dy, 3 * dx);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < Y.size(); ++i) Y.data()[i] = normal(rng);
  return linflow::Problem::from_data(X, Y);
}

TEST(Allocation, NoneInObjectiveEvaluate) {
  SKIP_UNLESS_COUNTING();
  for (const Case& c : {Case{{8, 8, 8, 8}, true}, Case{{8, 8, 1, 8}, true}, Case{{6, 5, 4, 3, 2}, false},
                        Case{{8, 8}, true}, Case{{4, 16, 16, 16, 16, 4}, true}}) {
    std::mt19937_64 rng(7);
    const linflow::Problem problem = make_problem(c, rng);
    const linflow::Shape shape(c.widths);
    linflow::Objective objective(problem, shape);
    const Eigen::VectorXd theta = gaussian_theta(shape, rng, 0.5);
    Eigen::VectorXd grad(shape.size());
    ASSERT_GT(allocations(), 0) << "the malloc counter is not wired";  // the problem and θ were allocated
    objective.evaluate(theta, grad);                                   // warm-up
    const long before = allocations(), blas_before = g_blas_allocations.load();
    double sum = 0;
    for (int i = 0; i < 100; ++i) {
      sum += objective.evaluate(theta, grad);
      sum += objective.velocity(theta, grad);
      sum += objective.loss(theta);
    }
    EXPECT_EQ(allocations() - before, 0) << c.widths.size() - 1 << " layers, d_0 = " << c.widths[0];
    if (const long blas = g_blas_allocations.load() - blas_before; blas > 0) {
      std::cout << "note: " << c.widths.size() - 1 << " layers, d_0 = " << c.widths[0] << ": " << blas
                << " allocations inside the BLAS library in 300 calls\n";
    }
    EXPECT_GT(sum, 0.0);
  }
}

// The velocity is exactly −∇L (the sign is folded into ∇L_1, so not even rounding differs).
TEST(Allocation, VelocityIsMinusGradient) {
  std::mt19937_64 rng(3);
  const Case c{{5, 4, 1, 4, 3}, false};
  const linflow::Problem problem = make_problem(c, rng);
  const linflow::Shape shape(c.widths);
  linflow::Objective objective(problem, shape);
  const Eigen::VectorXd theta = gaussian_theta(shape, rng, 0.7);
  Eigen::VectorXd grad(shape.size()), v(shape.size());
  const double l1 = objective.evaluate(theta, grad);
  const double l2 = objective.velocity(theta, v);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ((grad + v).cwiseAbs().maxCoeff(), 0.0);
}

// Allocations of a whole gradient-flow run from a fixed start to t_max: set-up only, so a run with many more
// steps allocates exactly as often.
long run_allocations(Integrator integrator, double t_max, long* steps) {
  std::mt19937_64 rng(11);
  const Case c{{6, 6, 6, 6}, true};
  const linflow::Problem problem = make_problem(c, rng);
  const linflow::Shape shape(c.widths);
  Eigen::VectorXd theta = gaussian_theta(shape, rng, 0.4);
  linflow::SolverOptions o;
  o.method = linflow::Method::gf;
  o.integrator = integrator;
  o.t_max = t_max;
  o.stop_at_eps = false;
  o.eps = 1e-300;
  o.grad_tol = 0;
  o.dt = 0.05;
  const long before = allocations();
  const linflow::Summary s = linflow::train(problem, shape, theta, o);
  const long used = allocations() - before;
  *steps = s.stats.steps;
  return used;
}

TEST(Allocation, NoneGrowingWithTheNumberOfSteps) {
  SKIP_UNLESS_COUNTING();
  constexpr double kShort = 1.0, kLong = 8.0;
  for (Integrator integrator : {Integrator::dopri5, Integrator::rk78, Integrator::dop853, Integrator::gauss_legendre}) {
    long short_steps = 0, long_steps = 0;
    run_allocations(integrator, kShort, &short_steps);  // one-time set-up (libxsmm generates its kernels once)
    const long short_allocs = run_allocations(integrator, kShort, &short_steps);
    const long long_allocs = run_allocations(integrator, kLong, &long_steps);
    ASSERT_GT(long_steps, 2 * short_steps) << linflow::to_string(integrator);
    EXPECT_EQ(long_allocs, short_allocs) << linflow::to_string(integrator) << ": " << short_steps << " vs "
                                         << long_steps << " steps";
  }
}

}  // namespace
