// Loss + all layer gradients (Objective::evaluate) against the bare matrix products it needs.
//
// For N layers of width d (d_0 = … = d_N = d), one evaluation needs 3N − 3 products of d × d matrices:
// N − 1 for the prefixes W_{j:1}, N − 2 for the transposed suffixes T_j = ∇L_1ᵀ W_N ⋯ W_{j+1}, N for the
// gradients. BM_BareProducts times exactly those products, in the same storage orders and through the same planned
// products (src/core/products.hpp), into preallocated storage; the ratio of the two is
// the overhead of everything else (the loss, ∇L_1, the bookkeeping). Target (core issue): ≤ 1.3 for d ≥ 64.
// BM_Gemm is the machine's product rate with the same library, call and threads (one d × d product), the hardware limit
// the evaluation is measured against (performance issue: ≥ 70 % for large d).
// BM_GfRun integrates gradient flow (default tolerances) for a fixed simulated time from the same kind of start at
// every size, so that its cost per unit simulated time shows how the whole engine scales in d and N.
// BM_Sharpness times λ_max(∇²L) at a random point by the dense route (n Hessian-vector products and a
// symmetric eigensolve) and by Lanczos (Spectra on the Hessian-vector product): where they cross sets
// kSharpnessDenseLimit (include/linflow/solver.hpp).
#include <benchmark/benchmark.h>

#include <random>

#include "core/products.hpp"
#include "linflow/hessian.hpp"
#include "linflow/init.hpp"
#include "linflow/network.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace {

std::vector<int> widths(int d, int N) { return std::vector<int>(static_cast<size_t>(N + 1), d); }

Eigen::MatrixXd gaussian(int rows, int cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(cols));
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M.data()[i] = normal(rng);
  return M;
}

// A synthetic d × d target (singular values 1 + 1/(1 + i)), N layers of width d and a Gaussian point θ.
struct RandomPoint {
  RandomPoint(int d, int N, std::mt19937_64& rng)
      : problem(linflow::Problem::synthetic(d, d, singular_values(d), rng)), shape(widths(d, N)), theta(shape.size()) {
    for (int j = 1; j <= N; ++j) shape.mutable_layer(theta, j) = gaussian(d, d, rng);
  }
  static std::vector<double> singular_values(int d) {
    std::vector<double> s(static_cast<size_t>(d));
    for (int i = 0; i < d; ++i) s[static_cast<size_t>(i)] = 1.0 + 1.0 / (1 + i);
    return s;
  }
  linflow::Problem problem;
  linflow::Shape shape;
  Eigen::VectorXd theta;
};

void BM_Objective(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  const int N = static_cast<int>(state.range(1));
  std::mt19937_64 rng(1);
  const RandomPoint point(d, N, rng);
  const Eigen::VectorXd& theta = point.theta;
  Eigen::VectorXd grad(point.shape.size());
  linflow::Objective obj(point.problem, point.shape);
  for (auto _ : state) {
    benchmark::DoNotOptimize(obj.evaluate(theta, grad));
    benchmark::ClobberMemory();
  }
  state.counters["flops"] =
      benchmark::Counter(2.0 * (3 * N - 3) * d * double(d) * d, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BareProducts(benchmark::State& state) {
  using linflow::detail::Op;
  using linflow::detail::Product;
  const int d = static_cast<int>(state.range(0));
  const int N = static_cast<int>(state.range(1));
  std::mt19937_64 rng(1);
  std::vector<Eigen::MatrixXd> W, P(static_cast<size_t>(N)), T(static_cast<size_t>(N)), G(static_cast<size_t>(N));
  for (int j = 0; j < N; ++j) {
    W.push_back(gaussian(d, d, rng));
    P[static_cast<size_t>(j)].resize(d, d);
    T[static_cast<size_t>(j)].resize(d, d);
    G[static_cast<size_t>(j)].resize(d, d);
  }
  const Eigen::MatrixXd g = gaussian(d, d, rng);
  // The plans of Objective::evaluate (src/core/network.cpp): layer N from ∇L_1 as Aᵀ, the layers below from T_j.
  Product forward(d, d, d, Op::none, Op::none), top_gradient(d, d, d, Op::none, Op::transpose),
      top_suffix(d, d, d, Op::transpose, Op::none), gradient(d, d, d, Op::transpose, Op::transpose),
      suffix(d, d, d, Op::none, Op::none);
  for (auto _ : state) {
    P[0] = W[0];
    for (int j = 1; j < N; ++j)
      forward(P[static_cast<size_t>(j)], W[static_cast<size_t>(j)], P[static_cast<size_t>(j - 1)]);
    top_gradient(G[static_cast<size_t>(N - 1)], g, P[static_cast<size_t>(N - 2)]);
    top_suffix(T[static_cast<size_t>(N - 2)], g, W[static_cast<size_t>(N - 1)]);
    for (int j = N - 2; j >= 1; --j) {
      gradient(G[static_cast<size_t>(j)], T[static_cast<size_t>(j)], P[static_cast<size_t>(j - 1)]);
      suffix(T[static_cast<size_t>(j - 1)], T[static_cast<size_t>(j)], W[static_cast<size_t>(j)]);
    }
    gradient(G[0], W[1], T[0]);
    benchmark::DoNotOptimize(G[0].data());
    benchmark::ClobberMemory();
  }
  state.counters["flops"] =
      benchmark::Counter(2.0 * (3 * N - 3) * d * double(d) * d, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gemm(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd A = gaussian(d, d, rng), B = gaussian(d, d, rng);
  Eigen::MatrixXd C(d, d);
  linflow::detail::Product product(d, d, d, linflow::detail::Op::none, linflow::detail::Op::none);  // as evaluate's
  for (auto _ : state) {
    product(C, A, B);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["flops"] = benchmark::Counter(2.0 * d * double(d) * d, benchmark::Counter::kIsIterationInvariantRate);
}

// One d × d product op(A) op(B) (ops: 0 = A·B, 1 = A·Bᵀ, 2 = Aᵀ·B, 3 = Aᵀ·Bᵀ) by its planned route (jit = 1) and
// by the route planned without libxsmm (jit = 0): the measurements behind the limits in src/core/products.hpp.
void BM_Product(benchmark::State& state) {
  using linflow::detail::Op;
  const int d = static_cast<int>(state.range(0));
  const Op op_a = state.range(1) >= 2 ? Op::transpose : Op::none, op_b = state.range(1) % 2 ? Op::transpose : Op::none;
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd A = gaussian(d, d, rng), B = gaussian(d, d, rng);
  Eigen::MatrixXd C(d, d);
  linflow::detail::Product product(d, d, d, op_a, op_b, state.range(2) != 0);
  for (auto _ : state) {
    product(C, A, B);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["route"] = static_cast<double>(product.route());
  state.counters["flops"] = benchmark::Counter(2.0 * d * double(d) * d, benchmark::Counter::kIsIterationInvariantRate);
}

// Widths d everywhere, depth N, target with singular values 2, 1.5, 1 (the dynamics hardly depend on d), balanced
// start with ‖W(0)‖_F = 0.5, T = 0.5 (the fast phase). Dormand–Prince 5(4), not the default DOP853: it takes some 30
// steps over this horizon (DOP853 takes 3–8), enough for the cost per evaluation to be the engine's, not the run's
// set-up.
void BM_GfRun(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  const int N = static_cast<int>(state.range(1));
  std::mt19937_64 rng(3);
  const linflow::Problem problem = linflow::Problem::synthetic(d, d, {2.0, 1.5, 1.0}, rng);
  const linflow::Shape shape(widths(d, N));
  linflow::InitOptions init;
  init.kind = linflow::InitKind::balanced;
  init.scale = 0.5;
  const Eigen::VectorXd theta0 = linflow::initialize(shape, init);
  linflow::SolverOptions o;
  o.integrator = linflow::Integrator::dopri5;
  o.t_max = 0.5;
  o.stop_at_eps = false;
  o.grad_tol = 0;
  long evals = 0;
  for (auto _ : state) {
    Eigen::VectorXd theta = theta0;
    const linflow::Summary s = linflow::train(problem, shape, theta, o);
    evals = s.stats.rhs_evals;
    benchmark::DoNotOptimize(s.loss);
  }
  state.counters["evals"] = static_cast<double>(evals);
  state.counters["T"] = o.t_max;
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int d : {8, 64, 256}) {
    for (int N : {3, 5, 8}) b->Args({d, N});
  }
  for (int d : {16, 32, 128}) b->Args({d, 3});  // between: where the product routes change (src/core/products.hpp)
}

}  // namespace

// λ_max(∇²L) at a random point of a depth-N network of width d (Hessians of n = N d² parameters), dense (arg 2 = 1)
// or Lanczos (0). Counter: the value, so the two routes can be seen to agree.
void BM_Sharpness(benchmark::State& state) {
  const bool dense = state.range(2) == 1;
  std::mt19937_64 rng(3);
  const RandomPoint point(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), rng);
  linflow::Hessian h(point.problem, point.shape);
  h.set_point(point.theta);
  const Eigen::Index limit = dense ? point.shape.size() : 0;
  double lambda = 0;
  for (auto _ : state) benchmark::DoNotOptimize(lambda = linflow::hessian_max_eigenvalue(h, limit));
  state.counters["n"] = static_cast<double>(point.shape.size());
  state.counters["lambda_max"] = lambda;
}

BENCHMARK(BM_Objective)->Apply(sizes);
BENCHMARK(BM_BareProducts)->Apply(sizes);
BENCHMARK(BM_Gemm)->Arg(8)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->Arg(256)->Arg(512);
BENCHMARK(BM_Product)->ArgsProduct({{8, 16, 32, 64, 128, 256}, {0, 1, 2, 3}, {0, 1}});
BENCHMARK(BM_Sharpness)->ArgsProduct({{2, 3, 4, 5, 6, 8}, {2, 3}, {0, 1}});
BENCHMARK(BM_GfRun)
    ->ArgsProduct({{8, 16, 32, 64, 128, 256, 512}, {4}})
    ->ArgsProduct({{64}, {2, 3, 6, 8, 12, 16}})
    ->Unit(benchmark::kMillisecond);
