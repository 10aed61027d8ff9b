// The same gradient-flow run by every method that can do it; time per run, compare within one run.
//
// BM_Method: a balanced rank-one start, depth 4, widths d-d-1-d-d (d = 8, 32, 64), target with singular values
//   3, 2, 1, σ0 = 0.05, horizon T = 10 (well into convergence), no recording: all layers (gf at the default
//   tolerances and gf_tight at rtol 1e-12, atol 1e-14, whose error is ~3e-12 — tests/test_exact.cpp, P1), the reduced
//   flows (end_to_end, rank1) and the closed form (exact, error ~1e-13).
// BM_WideHidden: a balanced start of rank 16 on widths 16-H-H-16 (H = 128, 512), target with singular values
//   2, 1.5, 1 and 13 more down to 0.1, T = 5: gf integrates 2 H² + 32 H weights, end_to_end a 16 × 16 matrix.
#include <benchmark/benchmark.h>

#include <random>

#include "linflow/init.hpp"
#include "linflow/solver.hpp"

namespace {

linflow::SolverOptions options(linflow::Method method, double t_max) {
  linflow::SolverOptions o;
  o.method = method;
  o.t_max = t_max;
  o.stop_at_eps = false;
  o.eps = 1e-300;
  o.grad_tol = 0;
  return o;
}

void run(benchmark::State& state, const linflow::Problem& problem, const linflow::Shape& shape,
         const Eigen::VectorXd& theta0, const linflow::SolverOptions& o) {
  for (auto _ : state) {
    Eigen::VectorXd theta = theta0;
    const linflow::Summary s = linflow::train(problem, shape, theta, o);
    benchmark::DoNotOptimize(s.loss);
  }
}

void BM_Method(benchmark::State& state, linflow::Method method, bool tight) {
  const int d = static_cast<int>(state.range(0));
  std::mt19937_64 rng(1);
  const linflow::Problem problem = linflow::Problem::synthetic(d, d, {3.0, 2.0, 1.0}, rng);
  const linflow::Shape shape({d, d, 1, d, d});
  linflow::InitOptions init;
  init.kind = linflow::InitKind::balanced_rank1;
  init.sigma0 = 0.05;
  linflow::SolverOptions o = options(method, 10.0);
  if (tight) {
    o.rtol = 1e-12;
    o.atol = 1e-14;
  }
  run(state, problem, shape, linflow::initialize(shape, init), o);
}

void BM_WideHidden(benchmark::State& state, linflow::Method method) {
  const int hidden = static_cast<int>(state.range(0));
  std::vector<double> s{2.0, 1.5, 1.0};
  for (int i = 0; i < 13; ++i) s.push_back(0.9 - 0.8 * i / 12.0);
  std::mt19937_64 rng(2);
  const linflow::Problem problem = linflow::Problem::synthetic(16, 16, s, rng);
  const linflow::Shape shape({16, hidden, hidden, 16});
  linflow::InitOptions init;
  init.kind = linflow::InitKind::balanced;
  init.scale = 0.5;
  run(state, problem, shape, linflow::initialize(shape, init), options(method, 5.0));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Method, gf, linflow::Method::gf, false)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, gf_tight, linflow::Method::gf, true)
    ->Arg(8)
    ->Arg(32)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, end_to_end, linflow::Method::end_to_end, false)
    ->Arg(8)
    ->Arg(32)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, rank1, linflow::Method::rank1, false)
    ->Arg(8)
    ->Arg(32)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, exact, linflow::Method::exact, false)
    ->Arg(8)
    ->Arg(32)
    ->Arg(64)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_WideHidden, gf, linflow::Method::gf)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond);
// The performance issue's 1024-wide case: one gf run takes tens of seconds, so three single runs (the median of
// three is what the table shows).
BENCHMARK_CAPTURE(BM_WideHidden, gf, linflow::Method::gf)
    ->Arg(1024)
    ->Iterations(1)
    ->Repetitions(3)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_WideHidden, end_to_end, linflow::Method::end_to_end)
    ->Arg(128)
    ->Arg(512)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
