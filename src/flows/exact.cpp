#include "linflow/exact.hpp"

#include <algorithm>
#include <boost/math/tools/roots.hpp>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "linflow/error.hpp"

namespace linflow {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// A panel whose series have not converged is halved; this many halvings (a width 1e-12 of the first) means the
// integrands are not smooth at all, which cannot happen for finite inputs.
constexpr int kMaxHalvings = 40;

// Chebyshev interpolation on [−1, 1] at the n points of the first kind x_k = cos(π (k + ½) / n): the
// coefficients of p(x) = Σ_j a_j T_j(x) through samples f_k are a_j = (2/n) Σ_k f_k cos(π j (k + ½) / n), a_0 halved.
struct Chebyshev {
  int n;
  Eigen::ArrayXd nodes;
  Eigen::MatrixXd transform;  // (2/n) cos(π j (k + ½) / n), first row halved
  Eigen::MatrixXd at_nodes;   // T_j(x_k) = cos(π j (k + ½) / n) for j ≤ n: a series of degree ≤ n at the nodes

  explicit Chebyshev(int points) : n(points), nodes(points), transform(points, points), at_nodes(points, points + 1) {
    for (int k = 0; k < n; ++k) nodes(k) = std::cos(M_PI * (k + 0.5) / n);
    for (int j = 0; j <= n; ++j) {
      for (int k = 0; k < n; ++k) {
        const double c = std::cos(M_PI * j * (k + 0.5) / n);
        if (j < n) transform(j, k) = (j == 0 ? 1.0 : 2.0) / n * c;
        at_nodes(k, j) = c;
      }
    }
  }

  static const Chebyshev& instance() {
    static const Chebyshev c(ExactRank1Flow::chebyshev_points());
    return c;
  }

  Eigen::ArrayXd coefficients(const Eigen::ArrayXd& samples) const { return transform * samples.matrix(); }

  // Converged: the last two coefficients are below the tolerance relative to the largest sample.
  static bool converged(const Eigen::ArrayXd& a, const Eigen::ArrayXd& samples) {
    const Eigen::Index n = a.size();
    const double tail = std::abs(a(n - 1)) + std::abs(a(n - 2));
    return std::isfinite(tail) && tail <= ExactRank1Flow::series_tolerance() * samples.abs().maxCoeff();
  }

  // The coefficients of F(x) = half_width ∫_{−1}^x p, one degree higher: ∫T_0 = T_1, ∫T_1 = T_2/4,
  // ∫T_j = T_{j+1}/(2(j+1)) − T_{j−1}/(2(j−1)), and the constant term makes F(−1) = 0.
  static Eigen::ArrayXd integral(const Eigen::ArrayXd& a, double half_width) {
    const Eigen::Index n = a.size();
    auto at = [&](Eigen::Index j) { return j < n ? a(j) : 0.0; };
    Eigen::ArrayXd c = Eigen::ArrayXd::Zero(n + 1);
    c(1) = at(0) - 0.5 * at(2);
    for (Eigen::Index k = 2; k <= n; ++k) c(k) = (at(k - 1) - at(k + 1)) / (2.0 * static_cast<double>(k));
    double at_minus_one = 0;
    for (Eigen::Index k = 1; k <= n; ++k) at_minus_one += (k % 2 == 0 ? 1.0 : -1.0) * c(k);
    c(0) = -at_minus_one;
    return half_width * c;
  }

  // Σ_j a_j T_j(x) by Clenshaw's recurrence.
  static double evaluate(const Eigen::ArrayXd& a, double x) {
    double b1 = 0, b2 = 0;
    for (Eigen::Index j = a.size() - 1; j >= 1; --j) {
      const double b0 = 2 * x * b1 - b2 + a(j);
      b2 = b1;
      b1 = b0;
    }
    return x * b1 - b2 + a(0);
  }
};

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
    throw InputError("exact flow: the problem must be whitened (a target Z, or data with X Xᵀ = I); docs/theory.md §4");
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
  // The parts of the start outside the target's singular vectors, and the cancellations α_i ± β_i, are exactly
  // zero when they are at rounding level: a square basis spans everything, and e.g. the anti-aligned start
  // (α = −β) leaves a_1 ≈ 1e-17 or exactly 0 depending on whether the build contracts to FMA. A rounding residue
  // is not a direction to escape along (e^{2 s τ} would bring it to O(1) by τ ≈ 5): exact starts stay exact, e.g.
  // the anti-aligned scalar start whose ρ must decay like e^{−s_1 τ} forever.
  constexpr double kRounding = 8 * std::numeric_limits<double>::epsilon();
  auto residue = [&](const Eigen::VectorXd& w, const Eigen::MatrixXd& basis, const Eigen::VectorXd& coef) {
    if (basis.cols() == basis.rows()) return Eigen::VectorXd::Zero(w.size()).eval();
    Eigen::VectorXd perp = w - basis * coef;
    if (perp.norm() <= kRounding) perp.setZero();  // w is a unit vector
    return perp;
  };
  u_perp_ = residue(u, u_basis_, alpha);
  v_perp_ = residue(v, v_basis_, beta);
  a_ = 0.5 * (alpha + beta);
  b_ = 0.5 * (alpha - beta);
  for (Eigen::Index i = 0; i < a_.size(); ++i) {
    const double scale = std::abs(alpha(i)) + std::abs(beta(i));
    if (std::abs(a_(i)) <= kRounding * scale) a_(i) = 0.0;
    if (std::abs(b_(i)) <= kRounding * scale) b_(i) = 0.0;
  }

  const Eigen::Index r = s_.size();
  log_coef_.resize(2 * r + 1);
  rate_.resize(2 * r + 1);
  log_coef_.head(r) = 2.0 * a_.array().abs().log();
  log_coef_.segment(r, r) = 2.0 * b_.array().abs().log();
  log_coef_(2 * r) = std::log(0.5 * (u_perp_.squaredNorm() + v_perp_.squaredNorm()));
  rate_.head(r) = 2.0 * s_.array();
  rate_.segment(r, r) = -2.0 * s_.array();
  rate_(2 * r) = 0.0;

  // ρ² as a sum over distinct rates: modes with equal singular values (the zero ones above all) share a rate, and
  // zero coefficients drop out, so the exponentials per evaluation of ρ number at most 2 × (distinct s_i) + 1.
  std::vector<std::pair<double, double>> terms;  // (rate, ln coefficient)
  for (Eigen::Index j = 0; j < log_coef_.size(); ++j) {
    if (std::isfinite(log_coef_(j))) terms.emplace_back(rate_(j), log_coef_(j));
  }
  std::sort(terms.begin(), terms.end());
  std::vector<std::pair<double, double>> merged;
  for (const auto& [rate, log_c] : terms) {
    if (!merged.empty() && merged.back().first == rate) {
      double& m = merged.back().second;
      m = std::max(m, log_c) + std::log1p(std::exp(-std::abs(m - log_c)));
    } else {
      merged.emplace_back(rate, log_c);
    }
  }
  rho_rate_.resize(static_cast<Eigen::Index>(merged.size()));
  rho_log_coef_.resize(rho_rate_.size());
  for (size_t j = 0; j < merged.size(); ++j) {
    rho_rate_(static_cast<Eigen::Index>(j)) = merged[j].first;
    rho_log_coef_(static_cast<Eigen::Index>(j)) = merged[j].second;
  }
  // Pair the rates r ≥ 0 with −r (exactly: they are ±2 s_i).
  for (Eigen::Index j = 0; j < rho_rate_.size(); ++j) {
    const double r = std::abs(rho_rate_(j));
    auto it = std::find_if(rate_pairs_.begin(), rate_pairs_.end(), [&](const RatePair& q) { return q.rate == r; });
    if (it == rate_pairs_.end()) it = rate_pairs_.insert(rate_pairs_.end(), RatePair{r, -1, -1});
    (rho_rate_(j) >= 0 ? it->plus : it->minus) = static_cast<int>(j);
  }
}

ExactRank1Flow::Panel ExactRank1Flow::make_panel(const Knot& start, double width_hint) const {
  const double N = depth_;
  Panel p;
  p.start = start;
  p.log_terms = rho_log_coef_ + rho_rate_ * start.tau;
  const double top = p.log_terms.maxCoeff();
  p.log_terms -= top;
  p.log_rho2 = log_sum_exp(p.log_terms, rho_rate_, 0.0);
  // |d ln ρ^N/dτ| = N|f| ≤ N s_1 and |d ln σ/dτ| = N|f − σ| ≤ N (s_1 + max(σ, s_1)) on the panel, because σ decreases
  // wherever it exceeds s_1 ≥ f (docs/theory.md §2: dσ/dτ = N σ (f − σ)).
  const double sigma = std::exp(start.log_sigma);
  const double rate_bound = N * (s1_ + std::max(sigma, s1_));
  const double cap = rate_bound > 0 ? panel_log_range() / rate_bound : panel_log_range();
  // Start from the width the previous panel ended with: a panel accepted at its first width proposes twice it to
  // its successor, one that had to be halved proposes its own (a step-size control for the series' convergence).
  double width = width_hint > 0 ? std::min(width_hint, cap) : cap;
  int halving = 0;
  for (; !fill_panel(p, width); ++halving) {
    if (halving == kMaxHalvings) {
      std::ostringstream os;
      os << "exact flow: the Chebyshev series do not converge at tau = " << start.tau << " (sigma = " << sigma << ")";
      throw ExactFlowFailure(os.str(), /*budget_spent=*/false);
    }
    width *= 0.5;
  }
  p.next_width = halving == 0 ? 2 * width : width;
  return p;
}

bool ExactRank1Flow::fill_panel(Panel& p, double width) const {
  const Chebyshev& cheb = Chebyshev::instance();
  const double half = 0.5 * width;
  p.width = width;
  // Δg at the nodes. On a panel |r_j δ| ≤ 2 s_1 width ≤ panel_log_range() / N, so ρ² relative to its largest term
  // at the start, Σ_j C_j e^{r_j δ} with C_j = e^{log_terms_j} ≤ 1, neither overflows nor underflows, and the
  // terms of rates ±r share one exponential: e^{−r δ} = 1 / e^{r δ}.
  const Eigen::ArrayXd delta = half * (1 + cheb.nodes);
  const Eigen::ArrayXd coef = p.log_terms.exp();
  Eigen::ArrayXd rho2 = Eigen::ArrayXd::Zero(cheb.n);
  for (const RatePair& pair : rate_pairs_) {
    if (pair.rate == 0) {
      rho2 += coef(pair.plus);
      continue;
    }
    const Eigen::ArrayXd grow = (pair.rate * delta).exp();
    if (pair.plus >= 0) rho2 += coef(pair.plus) * grow;
    if (pair.minus >= 0) rho2 += coef(pair.minus) / grow;
  }
  const Eigen::ArrayXd dg = 0.5 * depth_ * (rho2.log() - p.log_rho2);
  Eigen::ArrayXd samples(cheb.n);
  const double dg_end = delta_g(p, width);
  p.g_max = std::max(0.0, dg_end);
  samples = (dg - p.g_max).exp();
  const Eigen::ArrayXd e = cheb.coefficients(samples);
  if (!Chebyshev::converged(e, samples)) return false;
  p.j_series = Chebyshev::integral(e, half);
  p.kappa = std::exp(std::log(static_cast<double>(depth_)) + p.start.log_sigma + p.g_max);
  if (depth_ > 2) {
    const double power = 2.0 / depth_ - 1.0;
    const Eigen::ArrayXd j_at_nodes = (cheb.at_nodes * p.j_series.matrix()).array();
    samples = (power * (dg - (p.kappa * j_at_nodes).log1p())).exp();
    p.h_series = cheb.coefficients(samples);
    if (!Chebyshev::converged(p.h_series, samples)) return false;
    p.k_series = Chebyshev::integral(p.h_series, half);
  }
  p.end.tau = p.start.tau + width;
  p.end.log_sigma = p.start.log_sigma + dg_end - std::log1p(p.kappa * Chebyshev::evaluate(p.j_series, 1.0));
  p.end.t = time_in(p, width);
  return true;
}

void ExactRank1Flow::advance(Panel& panel, long& count) const {
  if (count >= max_panels() || std::isnan(panel.end.t) || !std::isfinite(panel.end.tau)) {
    std::ostringstream os;
    os << "exact flow: requested time beyond the reach of the trajectory (t = " << panel.end.t
       << " at tau = " << panel.end.tau << " after " << count << " panels)";
    throw ExactFlowFailure(os.str(), /*budget_spent=*/true);
  }
  panel = make_panel(panel.end, panel.next_width);
  ++count;
}

double ExactRank1Flow::delta_g(const Panel& p, double delta) const {
  return 0.5 * depth_ * (log_sum_exp(p.log_terms, rho_rate_, delta) - p.log_rho2);
}

double ExactRank1Flow::log_sigma_in(const Panel& p, double delta) const {
  // σ = ρ^N / D (docs/theory.md §4) relative to the panel start: ln σ − ln σ_start = Δg − ln(D/D_start).
  const double x = std::clamp(2 * delta / p.width - 1, -1.0, 1.0);
  return p.start.log_sigma + delta_g(p, delta) - std::log1p(p.kappa * Chebyshev::evaluate(p.j_series, x));
}

double ExactRank1Flow::time_in(const Panel& p, double delta) const {
  if (depth_ == 2) return p.start.tau + delta;  // σ^{2/N−1} = 1: t = τ exactly
  const double x = std::clamp(2 * delta / p.width - 1, -1.0, 1.0);
  return p.start.t + std::exp((2.0 / depth_ - 1.0) * p.start.log_sigma) * Chebyshev::evaluate(p.k_series, x);
}

double ExactRank1Flow::delta_of_time(const Panel& p, double t) const {
  if (t <= p.start.t) return 0.0;
  if (t >= p.end.t) return p.width;
  if (depth_ == 2) return std::clamp(t - p.start.tau, 0.0, p.width);
  const double scale = std::exp((2.0 / depth_ - 1.0) * p.start.log_sigma);
  auto residual = [&](double delta) {
    const double x = std::clamp(2 * delta / p.width - 1, -1.0, 1.0);
    return std::make_pair(p.start.t + scale * Chebyshev::evaluate(p.k_series, x) - t,
                          scale * Chebyshev::evaluate(p.h_series, x));  // dt/dτ = σ^{2/N−1}
  };
  const double guess = p.width * (t - p.start.t) / (p.end.t - p.start.t);
  std::uintmax_t iterations = 100;
  return boost::math::tools::newton_raphson_iterate(residual, guess, 0.0, p.width, 50, iterations);
}

Rank1Point ExactRank1Flow::point(double t, double tau, double log_sigma) const {
  // Directions x/ρ and y/ρ with every coefficient scaled by 1/ρ before it is formed: each is at most 1 in size.
  const double log_rho = 0.5 * log_sum_exp(rho_log_coef_, rho_rate_, tau);
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
  Walker walker(*this);
  for (const double t : times) out.push_back(walker.at(t));
  return out;
}

Rank1Point ExactRank1Flow::at(double t) const { return Walker(*this).at(t); }

Eigen::MatrixXd ExactRank1Flow::end_to_end(double t) const { return at(t).end_to_end(); }

double ExactRank1Flow::tau_of_time(double t) const { return at(t).tau; }

Rank1Point ExactRank1Flow::at_tau(double tau) const {
  require_time(tau, "tau");
  Panel panel = make_panel(Knot{0.0, std::log(sigma0_), 0.0}, 0.0);
  long count = 1;
  while (panel.end.tau < tau) advance(panel, count);
  const double delta = std::clamp(tau - panel.start.tau, 0.0, panel.width);
  return point(time_in(panel, delta), tau, log_sigma_in(panel, delta));
}

double ExactRank1Flow::time_of_tau(double tau) const { return at_tau(tau).t; }

ExactRank1Flow::Walker::Walker(const ExactRank1Flow& flow)
    : flow_(&flow), panel_(flow.make_panel(Knot{0.0, std::log(flow.sigma0_), 0.0}, 0.0)) {}

Rank1Point ExactRank1Flow::Walker::at(double t) {
  require_time(t, "t");
  if (t < panel_.start.t) {
    std::ostringstream os;
    os << "exact flow: a walker cannot go back in time (t = " << t << " < " << panel_.start.t << ")";
    throw InputError(os.str());
  }
  while (panel_.end.t < t) advance();
  const double delta = flow_->delta_of_time(panel_, t);
  return flow_->point(t, panel_.start.tau + delta, flow_->log_sigma_in(panel_, delta));
}

void ExactRank1Flow::Walker::advance() { flow_->advance(panel_, count_); }

ExactDecoupledFlow::ExactDecoupledFlow(const Problem& problem, int depth, const Eigen::VectorXd& sigma0)
    : depth_(depth), count_(static_cast<int>(sigma0.size())) {
  if (!problem.whitened()) throw InputError("decoupled modes need a whitened target (X Xᵀ = I)");
  if (depth < 2) throw InputError("decoupled modes: depth must be ≥ 2");
  if (sigma0.size() > problem.target_rank())
    throw InputError("decoupled modes: " + std::to_string(sigma0.size()) + " initial values for a target of rank " +
                     std::to_string(problem.target_rank()));
  if (!sigma0.allFinite() || (sigma0.array() < 0).any())
    throw InputError("decoupled modes: initial values must be finite and ≥ 0");
  u_ = problem.u().leftCols(count_);
  v_ = problem.v().leftCols(count_);
  const Eigen::VectorXd one = Eigen::VectorXd::Ones(1);
  for (int a = 0; a < count_; ++a) {
    if (!(sigma0(a) > 0)) continue;
    const Problem scalar = Problem::from_target(Eigen::MatrixXd::Constant(1, 1, problem.s()(a)));
    modes_.emplace_back(scalar, depth, sigma0(a), one, one);
    index_.push_back(a);
  }
}

Eigen::VectorXd ExactDecoupledFlow::sigmas(double t) const {
  Eigen::VectorXd out = Eigen::VectorXd::Zero(count_);
  for (size_t i = 0; i < modes_.size(); ++i) out(index_[i]) = modes_[i].at(t).sigma;
  return out;
}

Eigen::MatrixXd ExactDecoupledFlow::end_to_end(double t) const { return u_ * sigmas(t).asDiagonal() * v_.transpose(); }

std::optional<double> ExactDecoupledFlow::time_to_excess(const Problem& problem, const Problem::Optimum& optimum,
                                                         double eps, double t_max) const {
  auto excess = [&](double t) { return problem.excess_loss(end_to_end(t), optimum); };
  if (excess(0.0) <= eps) return 0.0;
  double lo = 0.0, hi = std::min(1.0, t_max);
  while (hi < t_max && excess(hi) > eps) {
    lo = hi;
    hi = std::min(2.0 * hi, t_max);
  }
  if (!(excess(hi) <= eps)) return std::nullopt;
  while (hi - lo > 4 * std::numeric_limits<double>::epsilon() * std::max(1.0, hi)) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (excess(mid) <= eps ? hi : lo) = mid;
  }
  return hi;
}

Alignment alignment_with_target(const Problem& problem, const Eigen::Ref<const Eigen::MatrixXd>& W) {
  const int r = problem.target_rank();
  Alignment al;
  const Eigen::MatrixXd U = problem.u().leftCols(r), V = problem.v().leftCols(r);
  al.sigma = (U.transpose() * W * V).diagonal();
  const double norm = W.norm();
  al.misalignment = norm > 0 ? (W - U * al.sigma.asDiagonal() * V.transpose()).norm() / norm : 0.0;
  return al;
}

}  // namespace linflow
