// Trains the demo's network twice through the installed library: once from the C++ objects, once from a TOML
// configuration (the run layer), and checks that both converge to the same time t_eps.
#include <cmath>
#include <iostream>
#include <random>

#include <linflow/config.hpp>
#include <linflow/init.hpp>
#include <linflow/run.hpp>
#include <linflow/solver.hpp>

int main() {
  std::mt19937_64 rng(7);
  const linflow::Problem problem = linflow::Problem::synthetic(6, 5, {3.0, 2.0, 1.0}, rng);
  const linflow::Shape shape({6, 4, 1, 4, 5});
  linflow::InitOptions init;
  init.kind = linflow::InitKind::balanced_rank1;
  init.sigma0 = 0.05;
  init.seed = 11;
  Eigen::VectorXd theta = linflow::initialize(shape, init);
  linflow::SolverOptions solver;
  solver.eps = 1e-12;
  solver.t_max = 1000.0;
  const linflow::Summary direct = linflow::train(problem, shape, theta, solver);

  const linflow::RunConfig config = linflow::parse_config(R"(
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
                                                          ".");
  const linflow::RunResult configured = linflow::run_config(config, "");

  std::cout << "linflow " << linflow::version() << ": " << direct.message << "\n";
  const bool ok = direct.status == linflow::Status::converged && configured.summary.t_eps && direct.t_eps &&
                  *configured.summary.t_eps == *direct.t_eps;
  if (!ok) std::cerr << "consumer: the two runs disagree or did not converge\n";
  return ok ? 0 : 1;
}
