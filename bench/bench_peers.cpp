// linflow's side of the peer benchmark (bench/peers.py, bench/run_peers): the gradient flow dθ/dt = −∇L(θ),
// L = ½‖Z − W_N ⋯ W_1‖_F², integrated by linflow's `gf` method (each of its adaptive integrators — dopri5, rk78,
// dop853 — with rtol = atol; the reference is dopri5) to a fixed horizon T at a range of tolerances, timed
// in-process.
//
//   bench_peers DIR [--reps R] [--rtols a,b,...] [--ref-rtol r] [--problems name,...] [--budget S]
//               [--integrators a,b,...] [--list]
//
// --budget S skips a tolerance whose R runs are predicted (from the previous tolerance, steps ∝ rtol^(−1/order)) to
// take longer than S seconds; --list writes DIR/problems.json with each problem's convergence time instead.
//
// For every problem it writes DIR/<problem>/: problem.json (widths, T, seeds, target spectrum), Z.npy (the
// whitened target), init/W1.npy … WN.npy (θ(0)), ref/W1.npy … WN.npy (θ(T) at the reference tolerance); and
// DIR/linflow.json: for each problem and tolerance the median wall and CPU time over R repetitions (after one
// untimed warm-up run when a run takes under a second), the step and evaluation counts, and the relative error
// at T of the end-to-end product and of θ against the reference. The Python peers read the same files, so every
// method integrates the identical ODE from the identical θ(0).
//
// Single-threaded: Eigen is built without OpenMP here, so one core does all the work.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/version.hpp>
#include <nlohmann/json.hpp>

#include "linflow/init.hpp"
#include "linflow/io.hpp"
#include "linflow/solver.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One benchmark problem. The target is whitened, d × d, with singular values 3, then 2 … 1 evenly spaced (full
// rank, a gap of 1 at the top, every mode ≥ 1 so the full-width flow converges at a linear rate). The width-one
// variant replaces the middle hidden layer by a single unit (its optimum is 3 u_1 v_1ᵀ).
struct Spec {
  std::string size;  // small, medium, large
  int d = 8;
  int depth = 3;
  bool width_one = false;
  linflow::InitKind init = linflow::InitKind::balanced;
  double T = 1.0;

  std::string name() const {
    return size + (width_one ? "-w1" : "") + "-" + (init == linflow::InitKind::balanced ? "balanced" : "gaussian");
  }
  std::vector<int> widths() const {
    std::vector<int> w(static_cast<size_t>(depth + 1), d);
    if (width_one) w[static_cast<size_t>(depth / 2)] = 1;
    return w;
  }
  std::vector<double> spectrum() const {
    std::vector<double> s{3.0};
    for (int i = 1; i < d; ++i) s.push_back(d == 2 ? 2.0 : 2.0 - (i - 1) / static_cast<double>(d - 2));
    return s;
  }
};

constexpr unsigned long long kTargetSeed = 1;
constexpr unsigned long long kInitSeed = 2;

// Horizons: small and medium runs go well into convergence (excess loss below 1e-9 of its initial value except
// where --list shows otherwise); the medium Gaussian start crosses a long plateau first, hence T = 20. Large runs
// stop at T = 1, in the escape phase: one evaluation costs about 30 ms there, and a converged large run at tight
// tolerances would not fit the benchmark's time budget.
std::vector<Spec> all_specs() {
  using linflow::InitKind;
  std::vector<Spec> specs;
  struct Size {
    const char* name;
    int d, N;
    double T_balanced, T_gaussian, T_w1;
  };
  for (const Size& z :
       {Size{"small", 8, 3, 10, 10, 10}, Size{"medium", 64, 4, 8, 20, 8}, Size{"large", 256, 6, 1, 1, 1}}) {
    for (bool w1 : {false, true}) {
      for (InitKind k : {InitKind::balanced, InitKind::gaussian}) {
        specs.push_back(
            Spec{z.name, z.d, z.N, w1, k, w1 ? z.T_w1 : (k == InitKind::balanced ? z.T_balanced : z.T_gaussian)});
      }
    }
  }
  return specs;
}

// Balanced: Arora et al. factorization (docs/theory.md §2) of W(0) = 0.5 U Vᵀ with Haar-random orthonormal U, V of rank
// k = min_j d_j (every singular value 0.5, so no mode starts near the origin's slow saddle).
//
// Full-width networks: det W(t) cannot change sign without W(t) passing through a singular matrix, where a flow
// of depth N ≥ 3 lingers for a long time (a non-strict saddle, docs/theory.md §3; Arora et al.'s deficiency margin). A
// start with det W(0) of the wrong sign does not converge within any practical horizon, so the balanced start flips one
// direction and the Gaussian start takes the first seed from kInitSeed on whose det W(0) has the sign of det Z
// (recorded as init_seed). Gaussian: i.i.d. N(0, 1/d_{j−1}) entries (LeCun scale), unbalanced.
linflow::InitOptions init_options(const Spec& s, const Eigen::MatrixXd& target) {
  linflow::InitOptions o;
  o.kind = s.init;
  o.seed = kInitSeed;
  if (s.init == linflow::InitKind::balanced) {
    const std::vector<int> w = s.widths();
    const int k = *std::min_element(w.begin(), w.end());
    std::mt19937_64 rng(kInitSeed + 1);
    Eigen::MatrixXd U = linflow::random_orthonormal(s.d, k, rng);
    const Eigen::MatrixXd V = linflow::random_orthonormal(s.d, k, rng);
    if (k == s.d && (U * V.transpose()).determinant() * target.determinant() < 0) U.col(0) *= -1.0;
    o.end_to_end = Eigen::MatrixXd(0.5 * U * V.transpose());
    o.scale = 0.5 * std::sqrt(static_cast<double>(k));  // = ‖W(0)‖_F, recorded in problem.json
  } else {
    o.scale = 1.0 / std::sqrt(static_cast<double>(s.d));
    const linflow::Shape shape(s.widths());
    // sign det W(0) = Π_j sign det W_j (the product's determinant itself underflows at d = 256).
    auto det_sign = [&](const Eigen::VectorXd& theta) {
      double sign = 1;
      for (int j = 1; j <= shape.depth(); ++j) sign *= shape.layer(theta, j).determinant() < 0 ? -1.0 : 1.0;
      return sign;
    };
    while (!s.width_one && det_sign(linflow::initialize(shape, o)) * target.determinant() < 0) ++o.seed;
  }
  return o;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

linflow::SolverOptions gf_options(double T, double rtol, linflow::Integrator integrator = linflow::Integrator::dopri5) {
  linflow::SolverOptions o;
  o.method = linflow::Method::gf;
  o.integrator = integrator;
  o.t_max = T;
  o.rtol = rtol;
  o.atol = rtol;
  o.stop_at_eps = false;
  o.eps = 1e-300;
  o.grad_tol = 0;
  return o;
}

struct Timed {
  linflow::Summary summary;
  Eigen::VectorXd theta;
  double wall = 0, cpu = 0;
};

Timed run_once(const linflow::Problem& problem, const linflow::Shape& shape, const Eigen::VectorXd& theta0,
               const linflow::SolverOptions& o) {
  Timed r;
  r.theta = theta0;
  const auto w0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  r.summary = linflow::train(problem, shape, r.theta, o);
  r.cpu = cpu_seconds() - c0;
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void write_layers(const fs::path& dir, const linflow::Shape& shape, const Eigen::VectorXd& theta) {
  fs::create_directories(dir);
  for (int j = 1; j <= shape.depth(); ++j) {
    std::string name = "W";  // built step by step: GCC 12 warns (-Wrestrict, a false positive) on "W" + … + ".npy"
    name += std::to_string(j);
    name += ".npy";
    linflow::write_npy((dir / name).string(), shape.layer(theta, j));
  }
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int usage() {
  std::cerr << "usage: bench_peers DIR [--reps R] [--rtols a,b,...] [--ref-rtol r] [--problems name,...] [--budget S] "
               "[--integrators a,b,...] [--list]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const fs::path out = argv[1];
  int reps = 5;
  double ref_rtol = 1e-13;
  std::vector<linflow::Integrator> integrators{linflow::Integrator::dopri5, linflow::Integrator::rk78,
                                               linflow::Integrator::dop853};
  std::vector<double> rtols{1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12};
  std::vector<std::string> only;
  bool list = false;
  double budget = 1e300;  // seconds per tolerance, all repetitions
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--reps" && has_value) {
      reps = std::stoi(argv[++i]);
    } else if (a == "--rtols" && has_value) {
      rtols.clear();
      for (const std::string& r : split(argv[++i])) rtols.push_back(std::stod(r));
    } else if (a == "--integrators" && has_value) {
      integrators.clear();
      for (const std::string& name : split(argv[++i])) integrators.push_back(linflow::integrator_from_string(name));
    } else if (a == "--ref-rtol" && has_value) {
      ref_rtol = std::stod(argv[++i]);
    } else if (a == "--problems" && has_value) {
      only = split(argv[++i]);
    } else if (a == "--budget" && has_value) {
      budget = std::stod(argv[++i]);
    } else if (a == "--list") {
      list = true;
    } else {
      return usage();
    }
  }
  if (reps < 1) return usage();

  json results = json::array();
  for (const Spec& spec : all_specs()) {
    if (!only.empty() && std::find(only.begin(), only.end(), spec.name()) == only.end()) continue;
    std::mt19937_64 rng(kTargetSeed);
    const linflow::Problem problem = linflow::Problem::synthetic(spec.d, spec.d, spec.spectrum(), rng);
    const linflow::Shape shape(spec.widths());
    const linflow::InitOptions init = init_options(spec, problem.q());
    const Eigen::VectorXd theta0 = linflow::initialize(shape, init);
    const fs::path dir = out / spec.name();
    fs::create_directories(dir);
    linflow::write_npy((dir / "Z.npy").string(), problem.q());
    write_layers(dir / "init", shape, theta0);

    // Reference: the tightest tolerance, also one point of linflow's own curve.
    const Timed ref = run_once(problem, shape, theta0, gf_options(spec.T, ref_rtol));
    write_layers(dir / "ref", shape, ref.theta);
    const Eigen::MatrixXd W_ref = shape.end_to_end(ref.theta);
    const linflow::Problem::Optimum opt = problem.optimum(shape.min_width());
    const double excess0 = problem.excess_loss(shape.end_to_end(theta0), opt);
    const double excessT = problem.excess_loss(W_ref, opt);

    json p = {{"name", spec.name()},
              {"size", spec.size},
              {"widths", spec.widths()},
              {"width_one", spec.width_one},
              {"init", linflow::to_string(spec.init)},
              {"init_scale", init.scale},
              {"target_seed", kTargetSeed},
              {"init_seed", init.seed},
              {"T", spec.T},
              {"parameters", shape.size()},
              {"excess_loss_0", excess0},
              {"excess_loss_T", excessT},
              {"imbalance_0", shape.max_imbalance(theta0)},
              {"ref_rtol", ref_rtol},
              {"ref_status", linflow::to_string(ref.summary.status)},
              {"ref_steps", ref.summary.stats.steps},
              {"ref_rhs_evals", ref.summary.stats.rhs_evals},
              {"ref_wall", ref.wall}};
    {
      std::ofstream f(dir / "problem.json");
      f << p.dump(2) << "\n";
    }
    std::cerr << spec.name() << ": excess loss " << excess0 << " -> " << excessT << " at T = " << spec.T
              << "; reference rtol " << ref_rtol << ": " << ref.summary.stats.steps << " steps, "
              << ref.summary.stats.rhs_evals << " evaluations, " << ref.wall << " s\n";
    if (list) {
      // How long each run takes to converge: first time the excess loss falls below 1e-9 of its initial value.
      linflow::SolverOptions probe = gf_options(10 * spec.T, 1e-6);
      probe.eps = 1e-9 * excess0;
      probe.stop_at_eps = true;
      Eigen::VectorXd theta = theta0;
      const linflow::Summary s = linflow::train(problem, shape, theta, probe);
      p["t_converged_1e-9"] = s.t_eps ? *s.t_eps : -1.0;
      std::cerr << "  excess loss below 1e-9 of its start at t = " << p["t_converged_1e-9"].get<double>() << "\n";
      results.push_back(p);
      continue;
    }

    json points = json::array();
    // linflow's adaptive integrators: Dormand–Prince 5(4) (steps ∝ rtol^(−1/5)), Fehlberg 7(8) and DOP853
    // (∝ rtol^(−1/8)).
    for (const auto integrator : integrators) {
      const double order = integrator == linflow::Integrator::dopri5 ? 5.0 : 8.0;
      double last_wall = 0, last_rtol = 0;
      for (double rtol : rtols) {
        const linflow::SolverOptions o = gf_options(spec.T, rtol, integrator);
        // Skip a tolerance whose repetitions would exceed the budget.
        if (last_wall > 0) {
          const double predicted = last_wall * std::pow(last_rtol / rtol, 1.0 / order);
          if (predicted * reps > budget) {
            points.push_back(json{{"rtol", rtol},
                                  {"integrator", linflow::to_string(integrator)},
                                  {"skipped", true},
                                  {"predicted_wall", predicted}});
            std::cerr << "  " << linflow::to_string(integrator) << " rtol " << rtol << ": skipped (predicted "
                      << predicted << " s per run)\n";
            continue;
          }
        }
        Timed first = run_once(problem, shape, theta0, o);  // warm-up (untimed) unless it is long
        std::vector<double> walls, cpus;
        if (first.wall >= 1.0) {
          walls.push_back(first.wall);
          cpus.push_back(first.cpu);
        }
        while (static_cast<int>(walls.size()) < reps) {
          const Timed r = run_once(problem, shape, theta0, o);
          walls.push_back(r.wall);
          cpus.push_back(r.cpu);
        }
        const Eigen::MatrixXd W = shape.end_to_end(first.theta);
        last_wall = median(walls);
        last_rtol = rtol;
        json pt = {{"rtol", rtol},
                   {"integrator", linflow::to_string(integrator)},
                   {"skipped", false},
                   {"atol", rtol},
                   {"status", linflow::to_string(first.summary.status)},
                   {"steps", first.summary.stats.steps},
                   {"rejected", first.summary.stats.rejected_steps},
                   {"rhs_evals", first.summary.stats.rhs_evals},
                   {"wall", median(walls)},
                   {"cpu", median(cpus)},
                   {"walls", walls},
                   {"reps", walls.size()},
                   {"warmup", first.wall < 1.0},
                   {"err_W", (W - W_ref).norm() / W_ref.norm()},
                   {"err_theta", (first.theta - ref.theta).norm() / ref.theta.norm()}};
        std::cerr << "  " << linflow::to_string(integrator) << " rtol " << rtol << ": " << pt["wall"].get<double>()
                  << " s, err_W " << pt["err_W"].get<double>() << "\n";
        points.push_back(pt);
      }
    }
    p["points"] = points;
    results.push_back(p);
  }
  std::ofstream f(out / (list ? "problems.json" : "linflow.json"));
  f << json{{"eigen", std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                          std::to_string(EIGEN_MINOR_VERSION)},
            {"boost", std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                          std::to_string(BOOST_VERSION % 100)},
            {"problems", results}}
           .dump(2)
    << "\n";
  return 0;
}
