// The same balanced rank-one gradient-flow run by every method that can do it: all layers (gf), the reduced
// flows (end_to_end, rank1) and the closed form (exact). Depth 4, widths d-d-1-d-d (d = 8, 32), target with singular values
// 3, 2, 1, horizon T = 10 (well into convergence), no recording. Each method's time per run; compare within one run.
#include <benchmark/benchmark.h>

#include <random>

#include "linflow/init.hpp"
#include "linflow/solver.hpp"

namespace {

void BM_Method(benchmark::State& state, linflow::Method method) {
  const int d = static_cast<int>(state.range(0));
  std::mt19937_64 rng(1);
  const linflow::Problem problem = linflow::Problem::synthetic(d, d, {3.0, 2.0, 1.0}, rng);
  const linflow::Shape shape({d, d, 1, d, d});
  linflow::InitOptions init;
  init.kind = linflow::InitKind::balanced_rank1;
  init.sigma0 = 0.05;
  const Eigen::VectorXd theta0 = linflow::initialize(shape, init);
  linflow::SolverOptions o;
  o.method = method;
  o.t_max = 10.0;
  o.stop_at_eps = false;
  o.eps = 1e-300;
  o.grad_tol = 0;
  for (auto _ : state) {
    Eigen::VectorXd theta = theta0;
    const linflow::Summary s = linflow::train(problem, shape, theta, o);
    benchmark::DoNotOptimize(s.loss);
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_Method, gf, linflow::Method::gf)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, end_to_end, linflow::Method::end_to_end)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, rank1, linflow::Method::rank1)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, exact, linflow::Method::exact)->Arg(8)->Arg(32)->Unit(benchmark::kMillisecond);
