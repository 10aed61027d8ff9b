#include "linflow/solver.hpp"

#include <chrono>
#include <cmath>
#include <sstream>

#include "detail/monitor.hpp"
#include "detail/ode_driver.hpp"
#include "linflow/error.hpp"

namespace linflow {
namespace {

// Gradient flow of all layers: dθ/dt = −∇L(θ).
class LayerwiseFlow {
 public:
  LayerwiseFlow(Objective& objective, const Problem::Optimum& optimum) : obj_(objective), opt_(optimum) {}
  void operator()(const detail::State& x, detail::State& dxdt, double /*t*/) {
    obj_.evaluate(x, dxdt);
    dxdt = -dxdt;
    ++evals_;
  }
  double excess(const detail::State& x) {
    obj_.loss(x);
    return excess_fsal();
  }
  double excess_fsal() const { return obj_.problem().excess_loss(obj_.end_to_end(), opt_); }
  static double grad_norm(const detail::State& /*x*/, const detail::State& dxdt) { return dxdt.norm(); }
  long evals() const { return evals_; }

 private:
  Objective& obj_;
  const Problem::Optimum& opt_;
  long evals_ = 0;
};

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

std::string describe(const Summary& s, const SolverOptions& o) {
  std::ostringstream os;
  os.precision(3);
  switch (s.status) {
    case Status::converged:
      os << "converged: excess loss " << s.excess_loss << " ≤ eps " << o.eps << " at t = " << s.t_final;
      break;
    case Status::t_max:
      os << "reached t_max = " << o.t_max << " with excess loss " << s.excess_loss << " > eps " << o.eps;
      break;
    case Status::max_steps:
      os << "step budget exhausted (" << s.stats.steps << " steps) at t = " << s.t_final << " with excess loss "
         << s.excess_loss;
      break;
    case Status::diverged:
      os << "diverged at t = " << s.t_final;
      break;
    case Status::stalled:
      os << "stalled at a critical point: gradient norm ≤ grad_tol " << o.grad_tol << " at t = " << s.t_final
         << " with excess loss " << s.excess_loss << " > eps " << o.eps;
      break;
  }
  if (s.t_eps && s.status != Status::converged) os << "; excess loss first reached eps at t = " << *s.t_eps;
  return os.str();
}

Summary run_gf(const Problem& problem, const Shape& shape, Eigen::VectorXd& theta, const SolverOptions& o,
               const Problem::Optimum& optimum, Objective& objective, detail::Monitor& monitor,
               const RecordOptions& record, const SampleSink& sink, const ProgressSink& progress) {
  LayerwiseFlow flow(objective, optimum);
  detail::DriverOptions d;
  d.rtol = o.rtol;
  d.atol = o.atol;
  d.dt0 = o.dt0;
  d.t_max = o.t_max;
  d.eps = o.eps;
  d.stop_at_eps = o.stop_at_eps;
  d.max_steps = o.max_steps;
  d.grad_tol = o.grad_tol;
  d.times = &record.times;
  Objective sampler(problem, shape);  // keeps the flow's FSAL cache intact while sampling
  const auto r = detail::integrate_dopri5(
      flow, theta, d,
      [&](const detail::State& x, double t) {
        if (sink) sink(monitor.sample(sampler, x, t));
      },
      [&](double t, double excess, long steps) {
        if (progress) progress(Progress{t, o.t_max, excess, steps});
      });
  Summary s;
  s.status = r.status;
  s.t_final = r.t;
  s.t_eps = r.t_eps;
  s.stats.steps = r.steps;
  s.stats.rejected_steps = r.rejected;
  s.stats.rhs_evals = flow.evals();
  if (!r.reason.empty()) s.message = r.reason;
  return s;
}

Summary run_gd(const Shape& shape, Eigen::VectorXd& theta, const SolverOptions& o, const Problem::Optimum& optimum,
               Objective& objective, detail::Monitor& monitor, const RecordOptions& record, const SampleSink& sink,
               const ProgressSink& progress) {
  Summary s;
  const long budget_t = static_cast<long>(std::min(std::floor(o.t_max / o.lr + 1e-9), 9.0e18));
  const long budget = o.steps > 0 ? std::min<long>(o.steps, budget_t) : budget_t;
  Eigen::VectorXd grad(shape.size());
  size_t next_sample = 0;
  double ceiling = 0;
  long k = 0;
  for (;; ++k) {
    const double t = static_cast<double>(k) * o.lr;
    const double loss = objective.evaluate(theta, grad);
    ++s.stats.rhs_evals;
    if (k == 0) ceiling = o.divergence_factor * std::max(1.0, loss);
    const double excess = objective.problem().excess_loss(objective.end_to_end(), optimum);
    s.t_final = t;
    if (!std::isfinite(loss) || !grad.allFinite() || loss > ceiling) {
      s.status = Status::diverged;
      s.message = std::isfinite(loss) ? "loss " + fmt(loss) + " exceeded " + fmt(ceiling) + " at iteration " +
                                            std::to_string(k) + " (t = " + fmt(t) + ")"
                                      : "non-finite loss or gradient at iteration " + std::to_string(k);
      break;
    }
    bool sampled = false;
    while (next_sample < record.times.size() && record.times[next_sample] <= t) {
      ++next_sample;
      if (!sampled && sink) sink(monitor.sample_end_to_end(objective.end_to_end(), t, loss, grad.norm(), monitor.max_drift(theta)));
      sampled = true;
    }
    if (excess <= o.eps && !s.t_eps) {
      s.t_eps = t;
      if (o.stop_at_eps) {
        s.status = Status::converged;
        break;
      }
    }
    if (o.grad_tol > 0 && grad.norm() <= o.grad_tol && excess > o.eps) {
      s.status = Status::stalled;
      break;
    }
    if (k >= budget) {
      s.status = (s.t_eps && excess <= o.eps) ? Status::converged
                 : (o.steps > 0 && o.steps <= budget_t) ? Status::max_steps
                                                        : Status::t_max;
      break;
    }
    theta.noalias() -= o.lr * grad;
    if (progress && (k & 1023) == 0) progress(Progress{t, o.t_max, excess, k});
  }
  s.stats.steps = k;
  return s;
}

}  // namespace

const char* to_string(Method method) {
  switch (method) {
    case Method::gf: return "gf";
    case Method::gd: return "gd";
  }
  return "?";
}

Method method_from_string(const std::string& name) {
  for (auto m : {Method::gf, Method::gd}) {
    if (name == to_string(m)) return m;
  }
  throw InputError("solver.method: unknown method '" + name + "' (expected gf or gd)");
}

const char* to_string(Status status) {
  switch (status) {
    case Status::converged: return "converged";
    case Status::t_max: return "t_max";
    case Status::max_steps: return "max_steps";
    case Status::diverged: return "diverged";
    case Status::stalled: return "stalled";
  }
  return "?";
}

bool SolverOptions::is_valid(std::string* why) const {
  auto bad = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  auto positive = [](double v) { return v > 0 && std::isfinite(v); };
  if (!positive(rtol)) return bad("solver.rtol: must be finite and > 0, got " + fmt(rtol));
  if (!positive(atol)) return bad("solver.atol: must be finite and > 0, got " + fmt(atol));
  if (!(dt0 >= 0) || !std::isfinite(dt0)) return bad("solver.dt0: must be finite and ≥ 0, got " + fmt(dt0));
  if (!positive(lr)) return bad("solver.lr: must be finite and > 0, got " + fmt(lr));
  if (steps < 0) return bad("solver.steps: must be ≥ 0, got " + std::to_string(steps));
  if (!positive(t_max)) return bad("solver.t_max: must be finite and > 0, got " + fmt(t_max));
  if (!positive(eps)) return bad("solver.eps: must be finite and > 0, got " + fmt(eps));
  if (max_steps <= 0) return bad("solver.max_steps: must be > 0, got " + std::to_string(max_steps));
  if (!(grad_tol >= 0) || !std::isfinite(grad_tol)) return bad("solver.grad_tol: must be finite and ≥ 0, got " + fmt(grad_tol));
  if (!(divergence_factor > 1)) return bad("solver.divergence_factor: must be > 1, got " + fmt(divergence_factor));
  return true;
}

std::vector<double> sample_times(double t_max, int uniform_count, int log_count, double t_min) {
  std::vector<double> times{0.0};
  for (int i = 1; i <= uniform_count; ++i) times.push_back(t_max * i / uniform_count);
  if (log_count > 0 && t_min > 0 && t_min < t_max) {
    const double a = std::log(t_min), b = std::log(t_max);
    for (int i = 0; i < log_count; ++i) {
      times.push_back(log_count == 1 ? t_max : std::exp(a + (b - a) * i / (log_count - 1)));
    }
    times.back() = t_max;
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  return times;
}

Summary train(const Problem& problem, const Shape& shape, Eigen::VectorXd& theta, const SolverOptions& options,
              const RecordOptions& record, const SampleSink& sink, const ProgressSink& progress) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError(why);
  if (theta.size() != shape.size()) throw InputError("parameter vector has the wrong size for the network shape");
  const auto start = std::chrono::steady_clock::now();
  Objective objective(problem, shape);
  const Problem::Optimum optimum = problem.optimum(shape.min_width());
  detail::Monitor monitor(problem, shape, optimum, theta, record.modes);
  const double loss0 = objective.loss(theta);
  const double excess0 = problem.excess_loss(objective.end_to_end(), optimum);
  const double imbalance0 = shape.max_imbalance(theta);

  Summary s = options.method == Method::gf
                  ? run_gf(problem, shape, theta, options, optimum, objective, monitor, record, sink, progress)
                  : run_gd(shape, theta, options, optimum, objective, monitor, record, sink, progress);

  Objective final_eval(problem, shape);
  s.loss = final_eval.loss(theta);
  s.excess_loss = problem.excess_loss(final_eval.end_to_end(), optimum);
  s.initial_loss = loss0;
  s.initial_excess_loss = excess0;
  s.initial_imbalance = imbalance0;
  if (sink && (record.times.empty() || record.times.back() != s.t_final)) {
    sink(monitor.sample(final_eval, theta, s.t_final));
  }
  const std::string reason = s.message;
  s.message = describe(s, options);
  if (!reason.empty()) s.message += " (" + reason + ")";
  s.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace linflow
