#include "linflow/exact.hpp"

#include <algorithm>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "linflow/error.hpp"

namespace linflow {
namespace {

using Rule = boost::math::quadrature::gauss_kronrod<double, 31>;
// Every integrand varies by at most e^{panel_log_range()} and is analytic on its panel, so one 31-point rule
// usually meets the tolerance; the depth only bounds the cost of a pathological call.
constexpr int kMaxDepth = 12;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ∫_a^b f by the Gauss–Kronrod (15, 31) pair of Boost.Math with bisection until |K − G| ≤ tolerance × |integral|.
// The bisection is ours because Boost 1.74's own recursion compares the error estimate of the rule on [−1, 1]
// with a tolerance scaled to the subinterval, so on short intervals it demands far below ε and always recurses
// to its maximum depth. Each call here maps its interval onto [−1, 1] itself, where that estimate is exact.
template <class F>
double integrate_on(const F& f, double a, double b, double abs_tol, int depth) {
  const double mid = 0.5 * (a + b), half = 0.5 * (b - a);
  double error = 0;
  const double k = Rule::integrate([&](double x) { return half * f(mid + half * x); }, -1.0, 1.0, 0, 0.0, &error);
  const double tol = abs_tol > 0 ? abs_tol : ExactRank1Flow::quadrature_tolerance() * std::abs(k);
  if (error <= tol || depth == 0 || !std::isfinite(k)) return k;
  return integrate_on(f, a, mid, 0.5 * tol, depth - 1) + integrate_on(f, mid, b, 0.5 * tol, depth - 1);
}

// ∫_0^b f.
template <class F>
double integrate(const F& f, double b) {
  return b > 0 ? integrate_on(f, 0.0, b, 0.0, kMaxDepth) : 0.0;
}

// ln Σ_j exp(c_j + r_j δ); the terms are all ≥ 0, so nothing cancels.
double log_sum_exp(const Eigen::ArrayXd& c, const Eigen::ArrayXd& r, double delta) {
  double m = -kInf;
  for (Eigen::Index j = 0; j < c.size(); ++j) m = std::max(m, c(j) + r(j) * delta);
  if (!std::isfinite(m)) return m;
  double sum = 0;
  for (Eigen::Index j = 0; j < c.size(); ++j) sum += std::exp(c(j) + r(j) * delta - m);
  return m + std::log(sum);
}

Eigen::VectorXd unit(const Eigen::VectorXd& x, Eigen::Index n, const char* name) {
  if (x.size() != n) {
    std::ostringstream os;
    os << "exact flow: " << name << " has length " << x.size() << ", expected " << n;
    throw InputError(os.str());
  }
  const double norm = x.stableNorm();
  if (!x.allFinite() || !(norm > 0) || !std::isfinite(norm)) {
    throw InputError(std::string("exact flow: ") + name + " must be finite and nonzero");
  }
  return x / norm;
}

void require_time(double t, const char* name) {
  if (!(t >= 0) || !std::isfinite(t)) {
    std::ostringstream os;
    os << "exact flow: " << name << " must be finite and >= 0, got " << t;
    throw InputError(os.str());
  }
}

}  // namespace

ExactRank1Flow::ExactRank1Flow(const Problem& problem, int depth, double sigma0, const Eigen::VectorXd& u0,
                               const Eigen::VectorXd& v0)
    : depth_(depth), sigma0_(sigma0) {
  if (!problem.whitened()) {
    throw InputError("exact flow: the problem must be whitened (a target Z, or data with X Xᵀ = I); spec §4");
  }
  if (depth < 2) {
    throw InputError("exact flow: depth must be >= 2, got " + std::to_string(depth) +
                     " (depth 1 is the linear flow W' = Z − W)");
  }
  if (!(sigma0 > 0) || !std::isfinite(sigma0)) {
    std::ostringstream os;
    os << "exact flow: sigma0 must be finite and > 0, got " << sigma0;
    throw InputError(os.str());
  }
  const Eigen::VectorXd u = unit(u0, problem.output_dim(), "u0");
  const Eigen::VectorXd v = unit(v0, problem.input_dim(), "v0");
  u_basis_ = problem.u();
  v_basis_ = problem.v();
  s_ = problem.s();
  s1_ = s_.size() > 0 ? s_(0) : 0.0;
  const Eigen::VectorXd alpha = u_basis_.transpose() * u;
  const Eigen::VectorXd beta = v_basis_.transpose() * v;
  // A square basis spans everything: the complement is exactly empty, not a rounding residue. This keeps exact
  // starts exact, e.g. the anti-aligned scalar start whose ρ must decay like e^{−s_1 τ} forever.
  const bool u_spans = u_basis_.cols() == u_basis_.rows(), v_spans = v_basis_.cols() == v_basis_.rows();
  u_perp_ = u_spans ? Eigen::VectorXd::Zero(u.size()) : Eigen::VectorXd(u - u_basis_ * alpha);
  v_perp_ = v_spans ? Eigen::VectorXd::Zero(v.size()) : Eigen::VectorXd(v - v_basis_ * beta);
  a_ = 0.5 * (alpha + beta);
  b_ = 0.5 * (alpha - beta);

  const Eigen::Index r = s_.size();
  log_coef_.resize(2 * r + 1);
  rate_.resize(2 * r + 1);
  log_coef_.head(r) = 2.0 * a_.array().abs().log();
  log_coef_.segment(r, r) = 2.0 * b_.array().abs().log();
  log_coef_(2 * r) = std::log(0.5 * (u_perp_.squaredNorm() + v_perp_.squaredNorm()));
  rate_.head(r) = 2.0 * s_.array();
  rate_.segment(r, r) = -2.0 * s_.array();
  rate_(2 * r) = 0.0;
}

ExactRank1Flow::Panel ExactRank1Flow::make_panel(const Knot& start) const {
  const double N = depth_;
  Panel p;
  p.start = start;
  // |d ln ρ^N/dτ| = N|f| ≤ N s_1 and |d ln σ/dτ| = N|f − σ| ≤ N (s_1 + max(σ, s_1)) on the panel, because σ decreases
  // wherever it exceeds s_1 ≥ f (spec §2: dσ/dτ = N σ (f − σ)).
  const double sigma = std::exp(start.log_sigma);
  const double rate_bound = N * (s1_ + std::max(sigma, s1_));
  p.width = rate_bound > 0 ? panel_log_range() / rate_bound : panel_log_range();
  p.log_terms = log_coef_ + rate_ * start.tau;
  const double top = p.log_terms.maxCoeff();
  p.log_terms -= top;
  p.log_rho2 = log_sum_exp(p.log_terms, rate_, 0.0);
  p.g_max = std::max(0.0, delta_g(p, p.width));
  p.kappa = std::exp(std::log(N) + start.log_sigma + p.g_max);

  const double log_growth = std::log1p(p.kappa * inner_integral(p, p.width));
  p.end.tau = start.tau + p.width;
  p.end.log_sigma = start.log_sigma + delta_g(p, p.width) - log_growth;
  p.end.t = time_in(p, p.width);
  return p;
}

void ExactRank1Flow::advance(Panel& panel, long& count) const {
  if (++count > max_panels() || std::isnan(panel.end.t) || !std::isfinite(panel.end.tau)) {
    std::ostringstream os;
    os << "exact flow: requested time beyond the reach of the trajectory (t = " << panel.end.t << " at tau = "
       << panel.end.tau << " after " << count - 1 << " panels)";
    throw InputError(os.str());
  }
  panel = make_panel(panel.end);
}

double ExactRank1Flow::delta_g(const Panel& p, double delta) const {
  return 0.5 * depth_ * (log_sum_exp(p.log_terms, rate_, delta) - p.log_rho2);
}

double ExactRank1Flow::inner_integral(const Panel& p, double delta) const {
  return integrate([&](double x) { return std::exp(delta_g(p, x) - p.g_max); }, delta);
}

double ExactRank1Flow::log_sigma_in(const Panel& p, double delta) const {
  // σ = ρ^N / D (spec §4) relative to the panel start: ln σ − ln σ_start = Δg − ln(D/D_start).
  return p.start.log_sigma + delta_g(p, delta) - std::log1p(p.kappa * inner_integral(p, delta));
}

double ExactRank1Flow::time_in(const Panel& p, double delta) const {
  if (depth_ == 2) return p.start.tau + delta;  // σ^{2/N−1} = 1: t = τ exactly
  const double power = 2.0 / depth_ - 1.0;
  const double k = integrate(
      [&](double x) { return std::exp(power * (log_sigma_in(p, x) - p.start.log_sigma)); }, delta);
  return p.start.t + std::exp(power * p.start.log_sigma) * k;
}

double ExactRank1Flow::delta_of_time(const Panel& p, double t) const {
  if (t <= p.start.t) return 0.0;
  if (t >= p.end.t) return p.width;
  if (depth_ == 2) return std::clamp(t - p.start.tau, 0.0, p.width);
  const double power = 2.0 / depth_ - 1.0;
  auto residual = [&](double delta) {
    const double dt = std::exp(power * log_sigma_in(p, delta));  // dt/dτ = σ^{2/N−1}
    return std::make_pair(time_in(p, delta) - t, dt);
  };
  const double guess = p.width * (t - p.start.t) / (p.end.t - p.start.t);
  // 45 bits: the residual itself is only accurate to about quadrature_tolerance(), so asking for more would only
  // make the iteration bisect on rounding noise.
  std::uintmax_t iterations = 100;
  return boost::math::tools::newton_raphson_iterate(residual, guess, 0.0, p.width, 45, iterations);
}

Rank1Point ExactRank1Flow::point(double t, double tau, double log_sigma) const {
  // Directions x/ρ and y/ρ with every coefficient scaled by 1/ρ before it is formed: each is at most 1 in size.
  const double log_rho = 0.5 * log_sum_exp(log_coef_, rate_, tau);
  const Eigen::Index r = s_.size();
  Eigen::VectorXd p(r), q(r);
  for (Eigen::Index i = 0; i < r; ++i) {
    p(i) = a_(i) == 0 ? 0.0 : std::copysign(std::exp(0.5 * log_coef_(i) + s_(i) * tau - log_rho), a_(i));
    q(i) = b_(i) == 0 ? 0.0 : std::copysign(std::exp(0.5 * log_coef_(r + i) - s_(i) * tau - log_rho), b_(i));
  }
  const double perp = std::exp(-log_rho);
  Rank1Point pt;
  pt.t = t;
  pt.tau = tau;
  pt.log_sigma = log_sigma;
  pt.sigma = std::exp(log_sigma);
  pt.u = u_basis_ * (p + q) + perp * u_perp_;
  pt.v = v_basis_ * (p - q) + perp * v_perp_;
  pt.u.normalize();
  pt.v.normalize();
  // f = d ln ρ/dτ = Σ s_i (p_i² − q_i²) / ρ̂², ρ̂² being the same sum that scaled p, q (≈ 1).
  const double rho2 = p.squaredNorm() + q.squaredNorm() + std::exp(log_coef_(2 * r) - 2.0 * log_rho);
  pt.f = (s_.array() * (p.array().square() - q.array().square())).sum() / rho2;
  return pt;
}

std::vector<Rank1Point> ExactRank1Flow::trajectory(const std::vector<double>& times) const {
  for (size_t i = 0; i < times.size(); ++i) {
    require_time(times[i], "t");
    if (i > 0 && times[i] < times[i - 1]) throw InputError("exact flow: times must be non-decreasing");
  }
  std::vector<Rank1Point> out;
  out.reserve(times.size());
  Panel panel = make_panel(Knot{0.0, std::log(sigma0_), 0.0});
  long count = 1;
  for (const double t : times) {
    while (panel.end.t < t) advance(panel, count);
    const double delta = delta_of_time(panel, t);
    out.push_back(point(t, panel.start.tau + delta, log_sigma_in(panel, delta)));
  }
  return out;
}

Rank1Point ExactRank1Flow::at(double t) const { return trajectory({t}).front(); }

Eigen::MatrixXd ExactRank1Flow::end_to_end(double t) const { return at(t).end_to_end(); }

double ExactRank1Flow::tau_of_time(double t) const { return at(t).tau; }

Rank1Point ExactRank1Flow::at_tau(double tau) const {
  require_time(tau, "tau");
  Panel panel = make_panel(Knot{0.0, std::log(sigma0_), 0.0});
  long count = 1;
  while (panel.end.tau < tau) advance(panel, count);
  const double delta = std::clamp(tau - panel.start.tau, 0.0, panel.width);
  return point(time_in(panel, delta), tau, log_sigma_in(panel, delta));
}

double ExactRank1Flow::time_of_tau(double tau) const { return at_tau(tau).t; }

}  // namespace linflow
