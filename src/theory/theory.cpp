#include "linflow/theory.hpp"

#include <algorithm>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "linflow/error.hpp"
#include "linflow/exact.hpp"
#include "linflow/hessian.hpp"
#include "linflow/init.hpp"
#include "theory/json.hpp"

namespace linflow::theory {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kInf = std::numeric_limits<double>::infinity();
// |c_1| below this makes the §5 lingering estimate worth reporting.
constexpr double kNearBoundary = 1e-2;
// An integrator run with local tolerance rtol leaves a global error in W of a few local errors (the flow is
// contracting near its limits); ten of them is the allowance used to judge what the excess loss can resolve.
constexpr double kGlobalErrorFactor = 10.0;

const Citation kStableSet{"Eftekhari 2020, stable sets of balanced rank-one starts (docs/theory.md §5)", Tag::proved};
const Citation kSublevel{"loss sublevel set below every non-optimal critical value (docs/theory.md §5 condition 2)",
                         Tag::proved};
const Citation kConvex{"N = 1: least squares, strictly convex since X Xᵀ has full rank (docs/theory.md §1)",
                       Tag::proved};
const Citation kZeroTarget{"Q = 0: every critical point has W = 0 = W* (docs/theory.md §3)", Tag::proved};
const Citation kZeroStart{"all layers zero: the gradient vanishes, θ stays put (N ≥ 2)", Tag::proved};
const Citation kAlignment{"alignment f0 > s_2 (docs/theory.md §5 condition 3)", Tag::proved};
const Citation kDeficiency{"Arora et al. 2018a, deficiency margin (docs/theory.md §5 condition 1)", Tag::published};
const Citation kKappa{"Eftekhari 2020, non-local linear rate κ (docs/theory.md §6)", Tag::proved};
const Citation kDeficiencyRate{
    "Arora et al. 2018a, gradient-flow rate 2 c^{2(N−1)/N} under a deficiency margin (docs/theory.md §6)",
    Tag::published};
const Citation kAsymptotic{
    "asymptotic rate of the slowest excited mode, 2 (s_1 − s_2) s_1^{1−2/N} when c_2 ≠ 0 (docs/theory.md §4, §6)",
    Tag::proved};
const Citation kAsymptoticConvex{"N = 1, whitened: W − Z = (W(0) − Z) e^{−t}, excess ∝ e^{−2t}", Tag::proved};
const Citation kEscape{"escape bracket from dσ/dt = N σ^{2−2/N}(f − σ), f0 ≤ f ≤ s_1 (docs/theory.md §2, §4, §6)",
                       Tag::proved};
const Citation kArora{"Arora, Cohen, Golowich & Hu 2018a, Theorem 1 (docs/theory.md §6)", Tag::published};
const Citation kGdRate{"GD late-time rate from the linearisation at W* with h_max = N s_1^{2−2/N} (docs/theory.md §3)",
                       Tag::checked};
const Citation kLinger{"time near s_2 u_2 v_2ᵀ ≈ ln(1/|c_1|) / ((s_1 − s_2) s_2^{1−2/N}) (docs/theory.md §5)",
                       Tag::heuristic};
const Citation kRoundoff{"round-off escape from a measure-zero limit set", Tag::heuristic};
const Citation kDecoupled{"Saxe et al. 2014, decoupled modes of an aligned balanced start (docs/theory.md §10)",
                          Tag::proved};
const Citation kOriginTransit{"transit near the origin, from the exact solution (docs/theory.md §4, §6)", Tag::proved};
const Citation kNearDecoupled{"approximately decoupled modes of a nearly aligned start (docs/theory.md §10)",
                              Tag::heuristic};

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
template <class T>
nlohmann::json optional_json(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_floating_point_v<T>) return number_or_null(*v);
  return *v;
}
nlohmann::json vector_json(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }
nlohmann::json citation_json(const Citation& c) {
  if (c.name.empty()) return nullptr;
  return {{"name", c.name}, {"tag", to_string(c.tag)}};
}

void check_arguments(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0) {
  check_compatible(problem, shape);
  if (theta0.size() != shape.size())
    throw InputError("initial parameter vector has the wrong size for the network shape");
  if (!theta0.allFinite()) throw InputError("initial parameters contain NaN or Inf");
}

// s_i for i = 1..r, 0 beyond the numerical rank.
double singular_value(const Eigen::VectorXd& s, int i) { return i >= 1 && i <= s.size() ? s(i - 1) : 0.0; }

// Value above L* of the critical point Σ_{i∈S} s_i u_i v_iᵀ, for ordering limits by loss.
double critical_excess(const Eigen::VectorXd& s, int k, const std::vector<int>& modes) {
  double kept = 0, best = 0;
  for (int i : modes) kept += s(i - 1) * s(i - 1);
  for (int i = 1; i <= std::min<int>(k, static_cast<int>(s.size())); ++i) best += s(i - 1) * s(i - 1);
  return 0.5 * (best - kept);
}

std::vector<int> limit_modes(Limit limit, int saddle_index, int k, int r) {
  std::vector<int> modes;
  if (limit == Limit::global_min) {
    for (int i = 1; i <= std::min(k, r); ++i) modes.push_back(i);
  } else if (limit == Limit::saddle && saddle_index > 0) {
    modes.push_back(saddle_index);
  }
  return modes;
}

}  // namespace

const char* to_string(Tag tag) {
  switch (tag) {
    case Tag::proved:
      return "proved";
    case Tag::published:
      return "published";
    case Tag::checked:
      return "checked";
    case Tag::heuristic:
      return "heuristic";
  }
  return "?";
}

const char* to_string(Limit limit) {
  switch (limit) {
    case Limit::global_min:
      return "global_min";
    case Limit::saddle:
      return "saddle";
    case Limit::origin:
      return "origin";
    case Limit::unknown:
      return "unknown";
  }
  return "?";
}

const char* to_string(AnalysisStatus status) {
  switch (status) {
    case AnalysisStatus::exact_theory:
      return "exact_theory";
    case AnalysisStatus::sufficient_condition:
      return "sufficient_condition";
    case AnalysisStatus::no_prediction:
      return "no_prediction";
  }
  return "?";
}

double magnitude_travel_time(int depth, double f, double sigma_from, double sigma_to) {
  if (depth < 1) throw InputError("magnitude_travel_time: depth must be ≥ 1");
  if (!(sigma_from > 0) || !(sigma_to > 0) || !std::isfinite(sigma_from) || !std::isfinite(sigma_to) ||
      !std::isfinite(f)) {
    throw InputError("magnitude_travel_time: σ values must be finite and > 0, f finite");
  }
  if (sigma_from == sigma_to) return 0.0;
  const double lo = std::min(sigma_from, sigma_to), hi = std::max(sigma_from, sigma_to);
  if (f >= lo && f <= hi) return kInf;                              // σ stops at the fixed point f
  if ((f - sigma_from) * (sigma_to - sigma_from) < 0) return kInf;  // σ moves away from sigma_to
  const double N = depth;
  const double p = 1.0 - 2.0 / N;
  // In y = ln x the integrand e^{−p y} / (N (f − e^y)) is smooth and free of the x^{−(2−2/N)} spike at small σ.
  // It is integrated over u ∈ [0, 1], y = y0 + u (y1 − y0): Boost's recursive Gauss–Kronrod compares an error
  // estimate in unit coordinates with a tolerance in the caller's, so a short interval would be split to the
  // maximum depth (about a second per call) instead of being accepted at once.
  const double y0 = std::log(sigma_from), dy = std::log(sigma_to) - y0;
  auto integrand = [N, p, f, y0, dy](double u) {
    const double y = y0 + u * dy;
    return std::exp(-p * y) / (N * (f - std::exp(y)));
  };
  double error = 0;
  return dy * boost::math::quadrature::gauss_kronrod<double, 31>::integrate(integrand, 0.0, 1.0, 15, 1e-13, &error);
}

namespace {

// The numbers of the problem and the network that every stage of an analysis reads.
struct Setting {
  const Problem& problem;
  const Shape& shape;
  const Eigen::Ref<const Eigen::VectorXd>& theta0;
  const SolverOptions& options;
  int N, k, d0, dN;           // depth, narrowest width (the largest rank of W), d_0, d_N
  int m, r, kr;               // min(d_0, d_N), the rank of Q, min(k, r)
  const Eigen::MatrixXd& Q;   // Q = B Σ^{-1/2} (Z when whitened)
  Eigen::VectorXd s;          // the nonzero singular values of Q
  double s1, s2;              // s_1, s_2 (0 when absent)
  bool all_wide;              // every width is at least min(d_0, d_N)
  Problem::Optimum optimum;   // over rank ≤ k
  double sublevel_threshold;  // ½(s_kr² − s_{kr+1}²): the lowest non-optimal critical value above L*
};

Setting make_setting(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0,
                     const SolverOptions& options) {
  const int N = shape.depth(), k = shape.min_width(), d0 = shape.width(0), dN = shape.width(N);
  const int m = std::min(d0, dN), r = problem.target_rank(), kr = std::min(k, r);
  const Eigen::VectorXd s = problem.s().head(r);
  bool all_wide = true;
  for (int w : shape.widths()) all_wide = all_wide && w >= m;
  const double sublevel_threshold = r == 0 ? 0.0
                                           : 0.5 * (singular_value(s, kr) * singular_value(s, kr) -
                                                    singular_value(s, kr + 1) * singular_value(s, kr + 1));
  return Setting{problem,
                 shape,
                 theta0,
                 options,
                 N,
                 k,
                 d0,
                 dN,
                 m,
                 r,
                 kr,
                 problem.q(),
                 s,
                 singular_value(s, 1),
                 singular_value(s, 2),
                 all_wide,
                 problem.optimum(k),
                 sublevel_threshold};
}

// W(0) in polar form, its loss and its distance to the target.
Start describe_start(const Setting& S) {
  const Problem& problem = S.problem;
  const Shape& shape = S.shape;
  const auto& theta0 = S.theta0;
  const Eigen::MatrixXd& Q = S.Q;
  const Problem::Optimum& optimum = S.optimum;
  Start st;
  const Eigen::MatrixXd W0 = shape.end_to_end(theta0);
  const Eigen::MatrixXd Wt = problem.whitened() ? W0 : Eigen::MatrixXd(W0 * problem.sigma_sqrt());
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(Wt, Eigen::ComputeThinU | Eigen::ComputeThinV);
  st.sigma0 = svd.singularValues()(0);
  st.u0 = svd.matrixU().col(0);
  st.v0 = svd.matrixV().col(0);
  st.f0 = st.sigma0 > 0 ? st.u0.dot(Q * st.v0) : 0.0;
  st.loss = problem.loss(W0);
  st.optimal_loss = optimum.loss;
  st.excess_loss = problem.excess_loss(W0, optimum);
  st.distance_to_target = (Q - Wt).norm();
  return st;
}

// Which hypotheses of the theory the problem, the network and the start meet.
Hypotheses check_hypotheses(const Setting& S, const Start& st) {
  const Problem& problem = S.problem;
  const Shape& shape = S.shape;
  const auto& theta0 = S.theta0;
  const SolverOptions& options = S.options;
  const int N = S.N, k = S.k, r = S.r;
  const Eigen::VectorXd& s = S.s;
  const double s1 = S.s1, s2 = S.s2;
  Hypotheses h;
  h.whitened = problem.whitened();
  h.depth = N;
  h.widths = shape.widths();
  h.min_width = k;
  h.width_one = k == 1;
  double layer_sq = 0;
  for (int j = 1; j <= N; ++j) layer_sq = std::max(layer_sq, shape.layer(theta0, j).squaredNorm());
  h.imbalance = shape.max_imbalance(theta0);
  h.imbalance_tolerance = options.balance_tol * (1.0 + layer_sq);  // the reduced flows' test
  h.balanced = h.imbalance <= h.imbalance_tolerance;
  h.singular_values = s;
  h.spectral_gap = s1 - s2;
  h.distinct_top = r >= 1 && s1 - s2 > kDistinctRtol * s1;
  h.distinct_all = r >= 1;
  for (int i = 1; i < r; ++i) h.distinct_all = h.distinct_all && s(i - 1) - s(i) > kDistinctRtol * s1;
  h.rank_one_theory = h.whitened && h.width_one && h.balanced && N >= 2 && st.sigma0 > 0 && h.distinct_top;
  return h;
}

// The stable-set coefficients c_i = u_iᵀu0 + v_iᵀv0 (docs/theory.md §5) and the tolerance below which one is zero.
Prediction stable_set_coefficients(const Setting& S, const Hypotheses& h, const Start& st) {
  const Problem& problem = S.problem;
  const int d0 = S.d0, dN = S.dN, r = S.r;
  Prediction p;
  // The smallest gap s_i − s_{i+1} (s_{r+1} = 0) between distinct values: a repeated value has no unique vectors,
  // and §5 names no limit through them.
  double gap = S.s1;
  for (int i = 1; i <= r; ++i) {
    const double g = singular_value(S.s, i) - singular_value(S.s, i + 1);
    if (g > kDistinctRtol * S.s1) gap = std::min(gap, g);
  }
  const double conditioning = gap > 0 ? S.s1 / gap : 1.0;
  p.c_zero_tolerance = kCZeroUlps * kEps * (d0 + dN + S.N + conditioning);
  if (h.rank_one_theory) {
    p.c = problem.u().leftCols(r).transpose() * st.u0 + problem.v().leftCols(r).transpose() * st.v0;
    p.margin = std::abs(p.c(0));
  }
  return p;
}

// Why the rank-one theory of §4–§6 does not cover this start: its first missing hypothesis, with the numbers.
std::string rank_one_missing(const Setting& S, const Hypotheses& h, const Start& st) {
  if (!h.whitened) return "data not whitened (X Xᵀ ≠ I)";
  if (!h.width_one) return "no layer of width one (narrowest " + std::to_string(h.min_width) + ")";
  if (!h.balanced) return "start not balanced (max_j ‖D_j‖_F = " + num(h.imbalance) + ")";
  if (S.N < 2) return "depth 1";
  if (!(st.sigma0 > 0)) return "W(0) = 0";
  if (!h.distinct_top) return "s_1 = s_2";
  return "";
}

// The sufficient conditions for the global minimum (docs/theory.md §5, strongest first). Each statement prints the
// relation that holds between its two sides ("<" when the condition holds, "≥" when it fails), and a condition whose
// result does not cover the start says why instead.
Conditions check_conditions(const Setting& S, const Hypotheses& h, const Start& st, const Prediction& p) {
  const int k = S.k, m = S.m, r = S.r, kr = S.kr;
  const Eigen::VectorXd& s = S.s;
  const double s2 = S.s2, f0 = st.f0, sublevel_threshold = S.sublevel_threshold;
  const bool all_wide = S.all_wide;
  const std::string rank_one_na = "n/a: §4–§6 do not cover this start: " + rank_one_missing(S, h, st);
  Conditions cond;
  {
    Condition& c = cond.deficiency_margin;
    const double smin = singular_value(s, m);
    c.applies = h.whitened && all_wide;
    c.margin = smin - st.distance_to_target;
    c.holds = c.applies && c.margin > 0;
    if (!c.applies) {
      c.statement = std::string("n/a: Arora et al. 2018a need ") +
                    (!h.whitened ? "whitened data (X Xᵀ ≠ I here)"
                                 : "every width ≥ min(d_0, d_N) = " + std::to_string(m) + " (narrowest " +
                                       std::to_string(k) + ")");
    } else {
      c.statement = "‖W(0) − Z‖_F = " + num(st.distance_to_target) + (c.holds ? " < " : " ≥ ") + "s_min(Z) = s_" +
                    std::to_string(m) + " = " + num(smin) + (c.holds ? ": margin c = " : ": no margin (c = ") +
                    num(c.margin) + (c.holds ? "" : " ≤ 0)");
    }
    c.result = kDeficiency;
  }
  {
    Condition& c = cond.sublevel;
    c.applies = r >= 1;
    c.margin = sublevel_threshold - st.excess_loss;
    c.holds = c.applies && c.margin > 0;
    if (!c.applies) {
      c.statement = "n/a: the target Q is zero (every critical point is optimal)";
    } else {
      c.statement =
          "L(0) − L* = " + num(st.excess_loss) + (c.holds ? " < " : " ≥ ") + "½(s_" + std::to_string(kr) + "² − s_" +
          std::to_string(kr + 1) + "²) = " + num(sublevel_threshold) +
          (k == 1 ? (h.whitened ? std::string(" (⟺ ‖Z − W(0)‖_F² ") + (c.holds ? "<" : "≥") + " ‖Z‖_F² − s_2²)"
                                : std::string(" (⟺ ‖Q − W(0)Σ^{1/2}‖_F² ") + (c.holds ? "<" : "≥") + " ‖Q‖_F² − s_2²)")
                  : "");
    }
    c.result = kSublevel;
  }
  {
    Condition& c = cond.alignment;
    c.applies = h.rank_one_theory;
    c.margin = f0 - s2;
    c.holds = c.applies && c.margin > 0;
    c.statement =
        !c.applies ? rank_one_na : "f0 = u0ᵀ Z v0 = " + num(f0) + (c.holds ? " > " : " ≤ ") + "s_2 = " + num(s2);
    c.result = kAlignment;
  }
  {
    Condition& c = cond.stable_set;
    c.applies = h.rank_one_theory;
    c.margin = p.margin.value_or(0.0);
    c.holds = c.applies && c.margin > p.c_zero_tolerance;
    c.statement = !c.applies ? rank_one_na
                             : "|c_1| = |u_1ᵀu0 + v_1ᵀv0| = " + num(c.margin) + (c.holds ? " > " : " ≤ ") +
                                   num(p.c_zero_tolerance) + (c.holds ? "" : " (zero: c_1 = 0)");
    c.result = kStableSet;
  }
  return cond;
}

// Stage-wise learning of an aligned or nearly aligned balanced start (docs/theory.md §10): each mode on the scalar
// flow dσ_a/dt = N σ_a^{2−2/N}(s_a − σ_a), its half-time by the §6 integral, t_eps from the exact per-mode flows.
std::optional<DecoupledModes> decoupled_modes(const Setting& S, const Hypotheses& h, const Start& st) {
  if (!(h.whitened && h.balanced && S.N >= 2 && st.sigma0 > 0 && h.distinct_all)) return std::nullopt;
  const Alignment al = alignment_with_target(S.problem, S.shape.end_to_end(S.theta0));
  if (al.misalignment > kNearAlignedRtol) return std::nullopt;
  DecoupledModes d;
  d.exact = al.misalignment <= kAlignedRtol;
  d.misalignment = al.misalignment;
  d.result = d.exact ? kDecoupled : kNearDecoupled;
  const double floor = kAlignedRtol * al.sigma.cwiseAbs().maxCoeff();
  // A mode with u_aᵀ W v_a < 0 points away from its target and collapses (as the anti-aligned start of §6): not
  // covered here.
  if ((al.sigma.array() < -floor).any()) return std::nullopt;
  Eigen::VectorXd sigma0 = Eigen::VectorXd::Zero(al.sigma.size());
  for (int a = 1; a <= S.r; ++a) {
    if (!(al.sigma(a - 1) > floor)) continue;
    d.modes.push_back(a);
    sigma0(a - 1) = al.sigma(a - 1);
    Stage stage;
    stage.mode = a;
    stage.s = S.s(a - 1);
    stage.sigma0 = al.sigma(a - 1);
    stage.half_time =
        stage.sigma0 < 0.5 * stage.s ? magnitude_travel_time(S.N, stage.s, stage.sigma0, 0.5 * stage.s) : 0.0;
    d.stages.push_back(stage);
  }
  if (d.stages.empty()) return std::nullopt;
  std::stable_sort(d.stages.begin(), d.stages.end(),
                   [](const Stage& x, const Stage& y) { return x.half_time < y.half_time; });
  double previous = 0;
  for (Stage& stage : d.stages) {
    stage.plateau = stage.half_time - previous;
    previous = stage.half_time;
  }
  double s_min = kInf;
  for (const Stage& stage : d.stages) s_min = std::min(s_min, stage.s);
  const bool reaches_minimum = d.modes == limit_modes(Limit::global_min, 0, S.k, S.r);
  if (reaches_minimum) {
    // Off the aligned set, components such as u_a v_bᵀ outside the range of Z relax more slowly than any magnitude
    // mode (docs/theory.md finding 10): a nearly aligned start gets no late-time rate.
    if (d.exact) d.late_rate = 2.0 * S.N * std::pow(s_min, 2.0 - 2.0 / S.N);
    const ExactDecoupledFlow flow(S.problem, S.N, sigma0);
    // Below about (ε ‖Q‖_F)² the excess loss is rounding: an eps there is never reached, and the search would only
    // spend the closed form's panel budget (seconds) to find that out.
    const double floor_excess = 100.0 * std::pow(kEps * S.Q.norm(), 2);
    if (S.options.eps > floor_excess) {
      try {
        d.t_eps = flow.time_to_excess(S.problem, S.optimum, S.options.eps, 1e12);
      } catch (const ExactFlowFailure&) {
        // Out of the closed form's panel budget before eps: no prediction rather than an error.
      }
    }
  }
  return d;
}

// The predicted limit (written into `p`) and how firmly the theory predicts it.
AnalysisStatus predict_limit(const Setting& S, const Hypotheses& h, const Start& st, const Conditions& cond,
                             const std::optional<DecoupledModes>& decoupled, Prediction& p) {
  const Problem& problem = S.problem;
  const auto& theta0 = S.theta0;
  const int N = S.N, d0 = S.d0, dN = S.dN, r = S.r;
  const Eigen::VectorXd& s = S.s;
  const Problem::Optimum& optimum = S.optimum;
  const double sublevel_threshold = S.sublevel_threshold;
  AnalysisStatus status = AnalysisStatus::no_prediction;
  auto rank_one = [&](int i) -> Eigen::MatrixXd {  // s_i u_i v_iᵀ (whitened: only used by the rank-one theory)
    return s(i - 1) * problem.u().col(i - 1) * problem.v().col(i - 1).transpose();
  };
  const Eigen::MatrixXd zero = Eigen::MatrixXd::Zero(dN, d0);
  if (r == 0) {
    p.limit = Limit::global_min;
    p.limit_matrix = zero;
    p.result = kZeroTarget;
    p.reason = "the target Q is zero, so every critical point is a global minimizer";
    status = AnalysisStatus::exact_theory;
  } else if (N == 1) {
    p.limit = Limit::global_min;
    p.limit_matrix = optimum.w;
    p.result = kConvex;
    p.reason = "depth 1: gradient flow on a strictly convex quadratic converges to W* = Q Σ^{-1/2}";
    status = AnalysisStatus::exact_theory;
  } else if (theta0.isZero(0.0)) {
    p.limit = Limit::origin;
    p.limit_matrix = zero;
    p.result = kZeroStart;
    p.reason = "every layer is zero: a critical point (strict for N = 2, non-strict for N ≥ 3)";
    status = AnalysisStatus::exact_theory;
  } else if (h.rank_one_theory) {
    status = AnalysisStatus::exact_theory;
    p.result = kStableSet;
    const double tol = p.c_zero_tolerance;
    if (std::abs(p.c(0)) > tol) {
      p.limit = Limit::global_min;
      p.limit_matrix = rank_one(1);
      p.reason = "c_1 = " + num(p.c(0)) + " ≠ 0: the start lies in the stable set of the global minimizer s_1 u_1 v_1ᵀ";
    } else if (!h.distinct_all) {
      p.limit = Limit::unknown;
      p.reason = "c_1 = 0 and Z has repeated singular values: §5 names saddle limits only for distinct s_i";
      status = AnalysisStatus::no_prediction;
    } else {
      int first = 0;
      for (int i = 1; i <= r && first == 0; ++i) {
        if (std::abs(p.c(i - 1)) > tol) first = i;
      }
      if (first > 0) {
        p.limit = Limit::saddle;
        p.saddle_index = first;
        p.limit_matrix = rank_one(first);
        p.reason = (first == 2 ? std::string("c_1 = 0") : "c_1 = … = c_" + std::to_string(first - 1) + " = 0") +
                   " (|c_i| ≤ " + num(tol) + "), c_" + std::to_string(first) + " = " + num(p.c(first - 1)) +
                   " ≠ 0: W → s_" + std::to_string(first) + " u_" + std::to_string(first) + " v_" +
                   std::to_string(first) + "ᵀ, a strict saddle";
      } else {
        p.limit = Limit::origin;
        p.limit_matrix = zero;
        // With all c_i = 0, x(τ) = Σ α_i e^{−s_i τ} u_i + (I − UUᵀ) u0: f → 0 when a component outside the range
        // of Z is present, otherwise f → −s_j for the last mode j present.
        const Eigen::MatrixXd U = problem.u().leftCols(r);
        const Eigen::VectorXd alpha = U.transpose() * st.u0;
        const double outside = (st.u0 - U * alpha).norm();
        double f_inf = 0;
        if (!(outside > tol)) {
          for (int i = r; i >= 1; --i) {
            if (std::abs(alpha(i - 1)) > tol) {
              f_inf = -s(i - 1);
              break;
            }
          }
        }
        p.f_infinity = f_inf;
        p.reason = "all c_i = 0 (|c_i| ≤ " + num(tol) + "): W → 0, with f → " + num(f_inf);
      }
    }
  } else if (decoupled && decoupled->exact) {
    status = AnalysisStatus::exact_theory;
    p.result = kDecoupled;
    p.modes = decoupled->modes;
    std::string list;
    for (int a : p.modes) list += (list.empty() ? "" : ", ") + std::to_string(a);
    if (p.modes == limit_modes(Limit::global_min, 0, S.k, r)) {
      p.limit = Limit::global_min;
      p.limit_matrix = optimum.w;
      p.reason = "the start is aligned with the singular vectors of Z (misalignment " + num(decoupled->misalignment) +
                 ") and excites modes " + list + ": each grows to s_a on its own";
    } else {
      p.limit = Limit::saddle;
      p.saddle_index = p.modes.size() == 1 ? p.modes.front() : 0;
      p.limit_matrix = Eigen::MatrixXd::Zero(dN, d0);
      for (int a : p.modes) p.limit_matrix += rank_one(a);
      p.reason = "the start is aligned with the singular vectors of Z and excites only modes " + list +
                 ": a mode with σ_a(0) = 0 stays at 0, so W → Σ_{a∈{" + list + "}} s_a u_a v_aᵀ, a saddle";
    }
  } else if (cond.sublevel.holds) {
    p.limit = Limit::global_min;
    p.limit_matrix = optimum.w;
    p.result = kSublevel;
    p.reason = "L(0) − L* = " + num(st.excess_loss) + " is below every non-optimal critical value (L* + " +
               num(sublevel_threshold) + "), the loss decreases and GF converges to a critical point (Bah et al. 2019)";
    status = AnalysisStatus::sufficient_condition;
  } else {
    p.limit = Limit::unknown;
    p.reason = "the exact theory does not apply and the sublevel condition fails (L(0) − L* = " + num(st.excess_loss) +
               " ≥ " + num(sublevel_threshold) + ")";
    status = AnalysisStatus::no_prediction;
  }
  if (p.modes.empty()) p.modes = limit_modes(p.limit, p.saddle_index, S.k, r);
  return status;
}

// Rates, t_eps bounds, escape and near-saddle times for gradient flow, and Theorem 1's bounds for gradient descent.
// λ_max(∇²L) at a balanced global minimizer: a balanced factorization of W* = [Q]_k Σ^{−1/2}; every balanced
// minimizer has the same spectrum (orthogonal changes of the hidden bases, docs/theory.md §9). On whitened data it is
// N s_1^{2−2/N} [checked]; on data there is no closed form, and the whitened one was wrong by 4.6× on standardised
// digits (widths 61-20-10: 3.36 printed against a true limit of 0.73, issue 16).
double sharpness_at_minimum(const Setting& S) {
  InitOptions balanced;
  balanced.kind = InitKind::balanced;
  balanced.end_to_end = S.optimum.w;
  const Eigen::VectorXd minimizer = initialize(S.shape, balanced);
  return hessian_spectrum(S.problem, S.shape, minimizer).max_eigenvalue;
}

// The passage near the origin of a start close to the all-c_i-zero set, from the exact flow of §4 in τ: ln σ(τ) falls
// while f < σ and rises once f > σ (f never decreases), so its minimum is found by ternary search and the return to the
// target by bisection.
std::optional<Bounds::OriginTransit> origin_transit(const Setting& S, const Start& st, const Prediction& p) {
  const int index = p.limit == Limit::saddle ? p.saddle_index : 1;
  const double target = 0.5 * S.s(index - 1);
  try {
    const ExactRank1Flow flow(S.problem, S.N, st.sigma0, st.u0, st.v0);
    auto log_sigma = [&](double tau) { return flow.at_tau(tau).log_sigma; };
    double hi = 1.0 / S.s1;
    for (int i = 0; i < 200; ++i, hi *= 2) {
      const Rank1Point q = flow.at_tau(hi);
      if (q.f > q.sigma && q.log_sigma >= std::log(target)) break;
    }
    double a = 0, b = hi;
    for (int i = 0; i < 200 && b - a > 1e-12 * hi; ++i) {
      const double m1 = a + (b - a) / 3, m2 = b - (b - a) / 3;
      if (log_sigma(m1) < log_sigma(m2)) {
        b = m2;
      } else {
        a = m1;
      }
    }
    const double tau_min = 0.5 * (a + b);
    const Rank1Point low = flow.at_tau(tau_min);
    if (!(low.log_sigma < std::log(target)) || !(low.sigma < st.sigma0)) return std::nullopt;
    double lo = tau_min, up = hi;
    for (int i = 0; i < 200 && up - lo > 4 * kEps * up; ++i) {
      const double mid = 0.5 * (lo + up);
      (log_sigma(mid) < std::log(target) ? lo : up) = mid;
    }
    Bounds::OriginTransit o;
    o.sigma_min = low.sigma;
    o.t_min = low.t;
    o.sigma_target = target;
    o.time = flow.time_of_tau(up);
    o.result = kOriginTransit;
    if (!std::isfinite(o.time)) return std::nullopt;
    return o;
  } catch (const ExactFlowFailure&) {
    return std::nullopt;  // beyond the closed form's budget: no estimate
  }
}

Bounds compute_bounds(const Setting& S, const Hypotheses& h, const Start& st, const Conditions& cond,
                      const Prediction& p, const std::optional<DecoupledModes>& decoupled) {
  const Problem& problem = S.problem;
  const SolverOptions& options = S.options;
  const int N = S.N, d0 = S.d0, dN = S.dN, m = S.m, r = S.r;
  const Eigen::MatrixXd& Q = S.Q;
  const Eigen::VectorXd& s = S.s;
  const double s1 = S.s1, s2 = S.s2;
  const bool all_wide = S.all_wide;
  const double E0 = std::max(st.excess_loss, 0.0), sigma0 = st.sigma0, f0 = st.f0;
  Bounds b;
  b.eps = options.eps;
  auto t_eps_for = [&](double rate) { return E0 <= options.eps ? 0.0 : std::log(E0 / options.eps) / rate; };
  if (h.rank_one_theory && f0 > s2) {
    const double kappa = 2.0 * (f0 - s2) / s1 * std::pow(std::min(sigma0, f0), 2.0 - 2.0 / N);
    b.kappa = kappa;
    b.rates.push_back({"kappa", kappa, t_eps_for(kappa), kKappa});
  }
  if (cond.deficiency_margin.holds && h.balanced) {
    const double rate = 2.0 * std::pow(cond.deficiency_margin.margin, 2.0 * (N - 1) / N);
    b.rates.push_back({"deficiency_margin", rate, t_eps_for(rate), kDeficiencyRate});
  }
  for (const RateBound& rb : b.rates) b.t_eps_bound = std::min(b.t_eps_bound.value_or(kInf), rb.t_eps_bound);
  if (p.limit == Limit::global_min && h.rank_one_theory) {
    // Late-time expansion of the §4 solution: with a_i = (α_i + β_i)/2 = c_i/2 and b_i = (α_i − β_i)/2, the
    // direction x(τ) = Σ (a_i e^{s_i τ} + b_i e^{−s_i τ}) u_i + (I − UUᵀ)u0 approaches u_1 with relative errors
    // e^{−(s_1 − s_i)τ} (a_i ≠ 0), e^{−s_1 τ} (outside part) and e^{−(s_1 + s_i)τ} (b_i ≠ 0), i ≥ 2; the excess is
    // quadratic in them. The magnitude relaxes by the linearisation of dσ/dt = N σ^{2−2/N}(f − σ) at σ = s_1.
    const double to_t = std::pow(s1, 1.0 - 2.0 / N);  // dτ/dt at the limit
    const double tol = p.c_zero_tolerance;
    const Eigen::MatrixXd U = problem.u().leftCols(r), V = problem.v().leftCols(r);
    const Eigen::VectorXd alpha = U.transpose() * st.u0, beta = V.transpose() * st.v0;
    const double outside = (st.u0 - U * alpha).norm() + (st.v0 - V * beta).norm();
    auto add = [&](std::string name, double rate) { b.mode_rates.push_back({std::move(name), rate}); };
    for (int i = 2; i <= r; ++i) {
      if (std::abs(alpha(i - 1) + beta(i - 1)) > tol)
        add("alignment, mode " + std::to_string(i), 2.0 * (s1 - s(i - 1)) * to_t);
    }
    if (outside > tol) add("alignment, outside the range of Z", 2.0 * s1 * to_t);
    for (int i = 2; i <= r; ++i) {
      if (std::abs(alpha(i - 1) - beta(i - 1)) > tol)
        add("decaying part, mode " + std::to_string(i), 2.0 * (s1 + s(i - 1)) * to_t);
    }
    add("magnitude σ", 2.0 * N * std::pow(s1, 2.0 - 2.0 / N));
    std::sort(b.mode_rates.begin(), b.mode_rates.end(),
              [](const Bounds::ModeRate& x, const Bounds::ModeRate& y) { return x.rate < y.rate; });
    b.asymptotic_rate = b.mode_rates.front().rate;
    b.asymptotic_mode = b.mode_rates.front().mode;
    b.asymptotic_result = kAsymptotic;
  } else if (p.limit == Limit::global_min && decoupled && decoupled->exact && decoupled->late_rate) {
    // Each excited mode relaxes on the linearisation of its scalar flow at σ_a = s_a.
    for (const Stage& stage : decoupled->stages)
      b.mode_rates.push_back(
          {"magnitude, mode " + std::to_string(stage.mode), 2.0 * N * std::pow(stage.s, 2.0 - 2.0 / N)});
    std::sort(b.mode_rates.begin(), b.mode_rates.end(),
              [](const Bounds::ModeRate& x, const Bounds::ModeRate& y) { return x.rate < y.rate; });
    b.asymptotic_rate = *decoupled->late_rate;
    b.asymptotic_mode = b.mode_rates.front().mode;
    b.asymptotic_result = kDecoupled;
  } else if (N == 1 && h.whitened && r >= 1) {
    b.asymptotic_rate = 2.0;
    b.asymptotic_mode = "W − Z";
    b.mode_rates.push_back({"W − Z", 2.0});
    b.asymptotic_result = kAsymptoticConvex;
  }
  if (h.rank_one_theory && f0 > 0 && sigma0 < 0.5 * f0) {
    EscapeBound e;
    e.sigma_target = 0.5 * f0;
    e.lower = magnitude_travel_time(N, s1, sigma0, e.sigma_target);
    e.upper = magnitude_travel_time(N, f0, sigma0, e.sigma_target);
    e.result = kEscape;
    b.escape = e;
  }
  if (p.limit == Limit::global_min && h.rank_one_theory && s2 > 0 && *p.margin < kNearBoundary) {
    b.lingering_estimate = std::log(1.0 / *p.margin) / ((s1 - s2) * std::pow(s2, 1.0 - 2.0 / N));
  }
  if (h.rank_one_theory && (p.limit == Limit::saddle || p.limit == Limit::origin)) {
    // Round-off seeds the unstable directions at ~ε per entry; the integrator's truncation error does not (its
    // stages stay in the invariant set), which measured escape times confirm (docs/theory.md §5 heuristic, c_1 = 0
    // starts).
    const double delta = kEps * (d0 + dN);
    const double log_inv = std::log(1.0 / delta);
    double t = kInf;
    if (p.limit == Limit::saddle) {
      const double sk = s(p.saddle_index - 1);
      t = log_inv / ((s1 - sk) * std::pow(sk, 1.0 - 2.0 / N));
    } else {
      // Intrinsic time needed, then physical time from the collapse law of σ (docs/theory.md §6).
      const double f_inf = p.f_infinity.value_or(0.0);
      const double tau = log_inv / (s1 - f_inf);
      if (N == 2) {
        t = tau;
      } else if (f_inf < 0) {
        const double rate = (N - 2) * std::abs(f_inf);
        t = std::expm1(rate * tau) / (rate * std::pow(sigma0, 1.0 - 2.0 / N));
      } else {
        const double a0 = std::pow(sigma0, -(2.0 - 2.0 / N));
        const double q = N / (2.0 * (N - 1));
        t = (std::pow(N * tau + std::pow(a0, q), 1.0 / q) - a0) / (2.0 * (N - 1));
      }
    }
    if (std::isfinite(t)) b.roundoff_escape_estimate = t;
  }
  if (!h.rank_one_theory && p.limit == Limit::saddle && decoupled && decoupled->exact) {
    // An aligned start that leaves a mode b out ends at a saddle that round-off (relative size δ) leaves: an
    // excited mode a below b turns towards it at the rate of the rank-one case, (s_b − s_a) s_a^{1−2/N}; with no
    // such pair, an empty mode grows from δ s_1 on its own scalar flow (docs/theory.md §6 integral).
    const double delta = kEps * (d0 + dN);
    double t = kInf;
    for (int b_mode = 1; b_mode <= std::min(S.k, r); ++b_mode) {
      if (std::find(p.modes.begin(), p.modes.end(), b_mode) != p.modes.end()) continue;
      const double sb = s(b_mode - 1);
      for (int a_mode : p.modes) {
        const double sa = s(a_mode - 1);
        if (sa < sb) t = std::min(t, std::log(1.0 / delta) / ((sb - sa) * std::pow(sa, 1.0 - 2.0 / N)));
      }
      if (static_cast<int>(p.modes.size()) < S.k && delta * s1 < 0.5 * sb)
        t = std::min(t, magnitude_travel_time(N, sb, delta * s1, 0.5 * sb));
    }
    if (std::isfinite(t)) b.roundoff_escape_estimate = t;
  }

  if (h.rank_one_theory && N >= 3 && (p.limit == Limit::global_min || p.limit == Limit::saddle) && p.c.size() &&
      p.c.cwiseAbs().maxCoeff() < kNearBoundary) {
    b.origin_transit = origin_transit(S, st, p);
  }

  GdBounds& g = b.gd;
  g.result = kArora;
  if (r >= 1 && h.whitened) {
    g.local_stability_lr = 2.0 / (N * std::pow(s1, 2.0 - 2.0 / N));
    g.local_stability_source = "closed form 2/(N s_1^{2−2/N}) (whitened)";
  } else if (r >= 1) {
    g.local_stability_lr = 2.0 / sharpness_at_minimum(S);
    g.local_stability_source = "2/λ_max(∇²L) at a balanced global minimizer (no closed form on data)";
  }
  const double c = cond.deficiency_margin.margin;
  const double normQ = Q.norm();
  if (!h.whitened) g.failed.emplace_back("data not whitened (X Xᵀ ≠ I)");
  if (!all_wide) g.failed.push_back("a width d_j is below min(d_0, d_N) = " + std::to_string(m));
  if (!(c > 0)) {
    g.failed.push_back("no deficiency margin: c = s_min − ‖W(0) − Z‖_F = " + num(c) + " ≤ 0");
  } else {
    g.delta_max = c * c / (256.0 * N * N * N * std::pow(normQ, 2.0 * (N - 1) / N));
    g.lr_max = std::pow(c, (4.0 * N - 2) / N) / (6144.0 * N * N * N * std::pow(normQ, (6.0 * N - 4) / N));
    if (h.imbalance > *g.delta_max) {
      g.failed.push_back("imbalance " + num(h.imbalance) + " > δ_max = " + num(*g.delta_max));
    }
    if (options.lr > *g.lr_max) g.failed.push_back("lr = " + num(options.lr) + " > lr_max = " + num(*g.lr_max));
  }
  g.applies = g.failed.empty();
  if (g.applies) {
    g.iterations_bound =
        E0 <= options.eps ? 0.0 : std::log(E0 / options.eps) / (options.lr * std::pow(c, 2.0 * (N - 1) / N));
  }
  if (b.asymptotic_rate && g.local_stability_lr) {
    const double h_min = 0.5 * *b.asymptotic_rate;
    const double h_max = 2.0 / *g.local_stability_lr;
    const double q = std::max(std::abs(1.0 - options.lr * h_min), std::abs(1.0 - options.lr * h_max));
    if (q > 0 && q < 1) g.asymptotic_rate = -2.0 * std::log(q) / options.lr;
  }
  return b;
}

// The results that do not apply here, each with the hypothesis that fails and by how much.
std::vector<std::string> not_applicable(const Setting& S, const Hypotheses& h, const Start& st, const GdBounds& g,
                                        const std::optional<DecoupledModes>& decoupled) {
  const SolverOptions& options = S.options;
  const int N = S.N, k = S.k, r = S.r;
  const double s1 = S.s1, s2 = S.s2, sigma0 = st.sigma0, f0 = st.f0;
  std::vector<std::string> na;
  if (N >= 2) {
    if (!h.whitened)
      na.emplace_back("§4–§6 (exact solution, stable sets, rates) assume whitened data, X Xᵀ = I; here X Xᵀ ≠ I");
    if (!h.width_one) {
      na.push_back("§3–§6 need a layer of width one; the narrowest layer has width " + std::to_string(k) +
                   ", so W can have rank up to " + std::to_string(k) +
                   (decoupled ? std::string("; §10 (decoupled modes) covers this start instead: ") +
                                    (decoupled->exact ? "it is aligned with the singular vectors of Z"
                                                      : "it is nearly aligned (approximately decoupled)")
                              : std::string(h.whitened && h.balanced && h.distinct_all
                                                ? "; §10 (decoupled modes) needs a start aligned with the singular "
                                                  "vectors of Z (init.kind = \"spectral\")"
                                                : "")));
    }
    if (!h.balanced) {
      na.push_back("§4–§6 need a balanced start: max_j ‖D_j‖_F = " + num(h.imbalance) + " > tolerance " +
                   num(h.imbalance_tolerance));
    }
    if (sigma0 == 0) na.emplace_back("§4–§6 need W(0) ≠ 0 (the polar form W = σ u vᵀ with σ > 0)");
    if (r >= 1 && !h.distinct_top) {
      na.push_back("§5 needs s_1 > s_2: s_1 − s_2 = " + num(s1 - s2) + " (the global minimizer is not unique)");
    }
    if (h.rank_one_theory && !(f0 > s2)) {
      na.push_back("§6 non-local rate κ needs f0 > s_2: f0 = " + num(f0) + ", s_2 = " + num(s2));
    }
  }
  if (options.method == Method::gd) {
    na.push_back("§4–§6 are gradient-flow results: gradient descent with lr = " + num(options.lr) +
                 " follows them only up to O(lr)");
    if (!g.applies) {
      std::string list;
      for (const auto& f : g.failed) list += (list.empty() ? "" : "; ") + f;
      na.push_back("Arora et al. 2018a Theorem 1 (GD): " + list);
    }
    if (g.local_stability_lr && options.lr >= *g.local_stability_lr) {
      na.push_back("lr = " + num(options.lr) + " ≥ the local step limit " + num(*g.local_stability_lr) + ", " +
                   g.local_stability_source + ": GD cannot settle at a balanced global minimizer [checked]");
    }
  }
  return na;
}

// The results that hold for every start of this problem and network.
std::vector<std::string> still_applies(const Setting& S, const Conditions& cond) {
  const int N = S.N, k = S.k, r = S.r, kr = S.kr;
  const Eigen::VectorXd& s = S.s;
  const double s1 = S.s1;
  const Problem::Optimum& optimum = S.optimum;
  std::vector<std::string> sa;
  sa.emplace_back(
      "Bah et al. 2019 [published]: X Xᵀ has full rank, so gradient flow from any start stays bounded and "
      "converges to a critical point");
  sa.push_back("critical points [proved]: every critical point has W Σ^{1/2} = Σ_{i∈S} s_i u_i v_iᵀ with |S| ≤ k = " +
               std::to_string(k) + " (from W_{N:2}ᵀ∇L_1 = 0 and ∇L_1 W_{N−1:1}ᵀ = 0)");
  sa.push_back("Eckart–Young–Mirsky [proved]: the optimum over rank ≤ " + std::to_string(k) + " is [Q]_" +
               std::to_string(k) + " Σ^{-1/2}, L* = " + num(optimum.loss) +
               (singular_value(s, kr) > singular_value(s, kr + 1) + kDistinctRtol * s1 || kr == r ? ", unique"
                                                                                                  : ", not unique"));
  sa.push_back("loss sublevel set [proved]: " + cond.sublevel.statement +
               (cond.sublevel.holds ? ": holds, so gradient flow reaches W*" : ": fails"));
  if (N == 2) {  // Bah et al. need X Xᵀ of full rank (which every Problem has), not whitened data
    sa.emplace_back("Bah et al. 2019 [published]: for N = 2 almost every start reaches a global minimizer");
  }
  return sa;
}

// The one-line message: the predicted limit, its result, the t_eps bound and the late-time rate.
std::string summary_line(const Analysis& a, const SolverOptions& options) {
  const Prediction& p = a.prediction;
  const Bounds& b = a.bounds;
  std::ostringstream msg;
  msg << "predicted limit " << to_string(p.limit);
  if (p.limit == Limit::saddle && p.saddle_index)
    msg << " s_" << p.saddle_index << " u_" << p.saddle_index << " v_" << p.saddle_index << "ᵀ";
  msg << ": " << p.reason;
  if (!p.result.name.empty()) msg << " (" << p.result.name << " [" << to_string(p.result.tag) << "])";
  if (b.t_eps_bound) msg << "; excess loss ≤ eps " << num(options.eps) << " by t ≤ " << num(*b.t_eps_bound);
  if (b.kappa) msg << " (κ = " << num(*b.kappa) << ")";
  if (b.asymptotic_rate) msg << "; late-time rate " << num(*b.asymptotic_rate);
  if (a.decoupled) {
    msg << "; " << (a.decoupled->exact ? "stage" : "approximate stage") << " times";
    for (const Stage& stage : a.decoupled->stages) msg << " t_" << stage.mode << " = " << num(stage.half_time);
    if (a.decoupled->t_eps) msg << ", t_eps = " << num(*a.decoupled->t_eps);
  }
  return msg.str();
}

}  // namespace

Analysis analyze(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0,
                 const SolverOptions& options) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError(why);
  check_arguments(problem, shape, theta0);
  const Setting setting = make_setting(problem, shape, theta0, options);
  Analysis a;
  a.method = options.method;
  a.start = describe_start(setting);
  a.hypotheses = check_hypotheses(setting, a.start);
  a.prediction = stable_set_coefficients(setting, a.hypotheses, a.start);
  a.conditions = check_conditions(setting, a.hypotheses, a.start, a.prediction);
  a.decoupled = decoupled_modes(setting, a.hypotheses, a.start);
  a.status = predict_limit(setting, a.hypotheses, a.start, a.conditions, a.decoupled, a.prediction);
  a.bounds = compute_bounds(setting, a.hypotheses, a.start, a.conditions, a.prediction, a.decoupled);
  a.not_applicable = not_applicable(setting, a.hypotheses, a.start, a.bounds.gd, a.decoupled);
  a.still_applies = still_applies(setting, a.conditions);
  a.message = summary_line(a, options);
  return a;
}

nlohmann::json analysis_json(const Analysis& a) {
  using nlohmann::json;
  const Hypotheses& h = a.hypotheses;
  json j;
  j["status"] = to_string(a.status);
  j["message"] = a.message;
  j["method"] = to_string(a.method);
  j["hypotheses"] = {{"whitened", h.whitened},
                     {"depth", h.depth},
                     {"widths", h.widths},
                     {"min_width", h.min_width},
                     {"width_one", h.width_one},
                     {"imbalance", h.imbalance},
                     {"imbalance_tolerance", h.imbalance_tolerance},
                     {"balanced", h.balanced},
                     {"singular_values", vector_json(h.singular_values)},
                     {"spectral_gap", h.spectral_gap},
                     {"distinct_top", h.distinct_top},
                     {"distinct_all", h.distinct_all},
                     {"rank_one_theory", h.rank_one_theory}};
  const Start& st = a.start;
  j["start"] = {{"sigma0", st.sigma0},
                {"u0", vector_json(st.u0)},
                {"v0", vector_json(st.v0)},
                {"f0", st.f0},
                {"loss", st.loss},
                {"optimal_loss", st.optimal_loss},
                {"excess_loss", st.excess_loss},
                {"distance_to_target", st.distance_to_target}};
  const Prediction& p = a.prediction;
  j["prediction"] = {{"limit", to_string(p.limit)},
                     {"saddle_index", p.limit == Limit::saddle ? json(p.saddle_index) : json(nullptr)},
                     {"limit_norm", p.limit_matrix.size() ? json(p.limit_matrix.norm()) : json(nullptr)},
                     {"c", p.c.size() ? vector_json(p.c) : json(nullptr)},
                     {"c_zero_tolerance", p.c_zero_tolerance},
                     {"margin", optional_json(p.margin)},
                     {"f_infinity", optional_json(p.f_infinity)},
                     {"result", citation_json(p.result)},
                     {"reason", p.reason}};
  auto condition = [](const Condition& c) {
    return json{{"applies", c.applies},
                {"holds", c.holds},
                {"margin", number_or_null(c.margin)},
                {"statement", c.statement},
                {"result", citation_json(c.result)}};
  };
  j["conditions"] = {{"deficiency_margin", condition(a.conditions.deficiency_margin)},
                     {"sublevel", condition(a.conditions.sublevel)},
                     {"alignment", condition(a.conditions.alignment)},
                     {"stable_set", condition(a.conditions.stable_set)}};
  const Bounds& b = a.bounds;
  json rates = json::array();
  for (const RateBound& rb : b.rates) {
    rates.push_back({{"name", rb.name},
                     {"rate", rb.rate},
                     {"t_eps_bound", number_or_null(rb.t_eps_bound)},
                     {"result", citation_json(rb.result)}});
  }
  json mode_rates = json::array();
  for (const Bounds::ModeRate& m : b.mode_rates) mode_rates.push_back({{"mode", m.mode}, {"rate", m.rate}});
  json escape = nullptr;
  if (b.escape) {
    escape = {{"sigma_target", b.escape->sigma_target},
              {"lower", number_or_null(b.escape->lower)},
              {"upper", number_or_null(b.escape->upper)},
              {"result", citation_json(b.escape->result)}};
  }
  const GdBounds& g = b.gd;
  j["bounds"] = {
      {"eps", b.eps},
      {"rates", rates},
      {"kappa", optional_json(b.kappa)},
      {"t_eps_bound", optional_json(b.t_eps_bound)},
      {"asymptotic_rate", optional_json(b.asymptotic_rate)},
      {"asymptotic_result", citation_json(b.asymptotic_result)},
      {"asymptotic_mode", b.asymptotic_mode.empty() ? json(nullptr) : json(b.asymptotic_mode)},
      {"mode_rates", mode_rates},
      {"escape_time", escape},
      {"lingering_estimate", optional_json(b.lingering_estimate)},
      {"lingering_result", b.lingering_estimate ? citation_json(kLinger) : json(nullptr)},
      {"origin_transit", b.origin_transit ? json{{"sigma_min", b.origin_transit->sigma_min},
                                                 {"t_min", b.origin_transit->t_min},
                                                 {"sigma_target", b.origin_transit->sigma_target},
                                                 {"time", b.origin_transit->time},
                                                 {"result", citation_json(b.origin_transit->result)}}
                                          : json(nullptr)},
      {"roundoff_escape_estimate", optional_json(b.roundoff_escape_estimate)},
      {"roundoff_result", b.roundoff_escape_estimate ? citation_json(kRoundoff) : json(nullptr)},
      {"gd",
       {{"applies", g.applies},
        {"failed", g.failed},
        {"delta_max", optional_json(g.delta_max)},
        {"lr_max", optional_json(g.lr_max)},
        {"iterations_bound", optional_json(g.iterations_bound)},
        {"local_stability_lr", optional_json(g.local_stability_lr)},
        {"local_stability_source", g.local_stability_source},
        {"asymptotic_rate", optional_json(g.asymptotic_rate)},
        {"result", citation_json(g.result)},
        {"local_stability_result",
         citation_json({a.hypotheses.whitened
                            ? "top Hessian eigenvalue N s_1^{2−2/N} at a balanced minimizer (docs/theory.md §3)"
                            : "top Hessian eigenvalue at a balanced minimizer, computed from the exact Hessian "
                              "(docs/theory.md §9)",
                        Tag::checked})},
        {"asymptotic_result", g.asymptotic_rate ? citation_json(kGdRate) : json(nullptr)}}}};
  j["decoupled"] = nullptr;
  if (a.decoupled) {
    const DecoupledModes& d = *a.decoupled;
    json stages = json::array();
    for (const Stage& stage : d.stages) {
      stages.push_back({{"mode", stage.mode},
                        {"s", stage.s},
                        {"sigma0", stage.sigma0},
                        {"half_time", number_or_null(stage.half_time)},
                        {"plateau", number_or_null(stage.plateau)}});
    }
    j["decoupled"] = {{"exact", d.exact},
                      {"misalignment", d.misalignment},
                      {"modes", d.modes},
                      {"stages", stages},
                      {"t_eps", optional_json(d.t_eps)},
                      {"late_rate", optional_json(d.late_rate)},
                      {"result", citation_json(d.result)}};
  }
  j["prediction"]["modes"] = p.modes;
  j["not_applicable"] = a.not_applicable;
  j["still_applies"] = a.still_applies;
  return j;
}

// ------------------------------------------------------------------------------------------------------------------
// observe

bool ObserveOptions::is_valid(std::string* why) const {
  auto bad = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (samples_uniform < 0 || samples_log < 0 || samples_window < 0) return bad("observe: sample counts must be ≥ 0");
  if (!(t_min > 0) || !std::isfinite(t_min)) return bad("observe.t_min: must be finite and > 0");
  if (!(limit_rtol > 0 && limit_rtol < 0.5)) return bad("observe.limit_rtol: must lie in (0, 0.5)");
  if (!(fit_lo > 0 && fit_lo < fit_hi && fit_hi < 1)) return bad("observe: need 0 < fit_lo < fit_hi < 1");
  if (fit_min_points < 3) return bad("observe.fit_min_points: must be ≥ 3");
  if (!(bound_rtol > 0) || !std::isfinite(bound_rtol)) return bad("observe.bound_rtol: must be finite and > 0");
  if (!(rate_rtol > 0) || !std::isfinite(rate_rtol)) return bad("observe.rate_rtol: must be finite and > 0");
  return true;
}

namespace {

struct Point {
  double t;
  double excess;
};

// Relative error of an excess loss e caused by an error δW in W: ≈ 2‖δW‖/‖E‖ with ‖E‖ ≈ √(2e).
struct NoiseModel {
  double dw = 0;  // assumed global error in W̃
  double relative(double e) const { return e > 0 ? 2.0 * dw / std::sqrt(2.0 * e) : kInf; }
  // The excess below which the relative error exceeds `rel`.
  double floor(double rel) const { return 0.5 * std::pow(2.0 * dw / rel, 2); }
};

struct LogFit {
  bool valid = false;
  double slope = 0;
  double rms_residual = 0;
};

// Least-squares line through (t, ln excess) over [first, last).
template <class It>
LogFit fit_log_excess(It first, It last) {
  LogFit fit;
  const double n = static_cast<double>(last - first);
  if (n < 2) return fit;
  double mt = 0, my = 0;
  for (It it = first; it != last; ++it) {
    mt += it->t;
    my += std::log(it->excess);
  }
  mt /= n;
  my /= n;
  double stt = 0, sty = 0;
  for (It it = first; it != last; ++it) {
    stt += (it->t - mt) * (it->t - mt);
    sty += (it->t - mt) * (std::log(it->excess) - my);
  }
  if (!(stt > 0)) return fit;
  fit.slope = sty / stt;
  double ss = 0;
  for (It it = first; it != last; ++it) {
    const double res = std::log(it->excess) - my - fit.slope * (it->t - mt);
    ss += res * res;
  }
  fit.rms_residual = std::sqrt(ss / n);
  fit.valid = true;
  return fit;
}

Comparison comparison(std::string quantity, std::string relation) {
  Comparison c;
  c.quantity = std::move(quantity);
  c.relation = std::move(relation);
  return c;
}

void add_uniform(std::vector<double>& times, double a, double b, int count) {
  if (!(b > a) || count <= 0) return;
  for (int i = 0; i <= count; ++i) times.push_back(a + (b - a) * i / count);
}

}  // namespace

namespace {

// What every stage of an observation reads: the run's inputs, the analysis it is confronted with, the noise in the
// excess loss and the window where the late-time rate is fitted.
struct ObservationSetting {
  const Problem& problem;
  const Shape& shape;
  const Eigen::Ref<const Eigen::VectorXd>& theta0;
  const SolverOptions& options;
  const Analysis& analysis;
  const ObserveOptions& oo;
  bool gf;  // gf and its reduced forms (end_to_end, rank1)
  int k, r;
  Eigen::VectorXd s;
  NoiseModel noise;
  double fit_lo, fit_hi;  // the fit window of excess losses
};

ObservationSetting make_observation_setting(const Problem& problem, const Shape& shape,
                                            const Eigen::Ref<const Eigen::VectorXd>& theta0,
                                            const SolverOptions& options, const Analysis& analysis,
                                            const ObserveOptions& oo) {
  const bool gf = options.method != Method::gd;
  const int r = problem.target_rank();
  const Eigen::MatrixXd& Q = problem.q();
  const double e_ref = std::min(analysis.start.excess_loss, 0.5 * Q.squaredNorm());
  const NoiseModel noise{kGlobalErrorFactor * (gf ? std::max(options.rtol, kEps) : kEps) * (1.0 + Q.norm())};
  // Excess losses resolved to 1e-4 relative or better: the fit window ends above this.
  const double fit_floor = noise.floor(1e-4);
  return ObservationSetting{problem,
                            shape,
                            theta0,
                            options,
                            analysis,
                            oo,
                            gf,
                            shape.min_width(),
                            r,
                            problem.s().head(r),
                            noise,
                            std::max(oo.fit_lo * e_ref, fit_floor),
                            oo.fit_hi * e_ref};
}

// Marks `c` as contradicted and lists `text` among the observation's contradictions.
void flag(Observation& ob, Comparison& c, const std::string& text) {
  c.contradiction = true;
  ob.contradictions.push_back(text);
}

// Runs the solver twice over the same trajectory: the first pass finds where the run ends and when it enters the fit
// window, the second records there. Fills the summary, samples and final state of `ob`; returns the second pass's
// progress points (t, excess loss).
std::vector<Point> simulate(const ObservationSetting& S, const ProgressSink& progress, Observation& ob) {
  const Problem& problem = S.problem;
  const Shape& shape = S.shape;
  const auto& theta0 = S.theta0;
  const SolverOptions& options = S.options;
  const ObserveOptions& oo = S.oo;
  const Analysis& analysis = S.analysis;
  const bool gf = S.gf;
  const int k = S.k;
  const double fit_hi = S.fit_hi;
  // Pass 1: where does the run end, and when does it enter the fit window?
  std::vector<Point> curve;
  ProgressSink collect = [&](const Progress& pr) {
    curve.push_back({pr.t, pr.excess_loss});
    if (progress) progress(pr);
  };
  Eigen::VectorXd theta = theta0;
  // The samples at t = 0 and at the end only (recording changes no step): all there is of an interrupted run.
  RecordOptions ends;
  ends.times = {0.0};
  ends.modes = std::min({8, k, problem.input_dim(), problem.output_dim()});
  std::vector<Sample> end_samples;
  const Summary first = train(
      problem, shape, theta, options, ends, [&](const Sample& x) { end_samples.push_back(x); }, collect);
  if (first.status == Status::interrupted) {
    ob.summary = first;
    ob.samples = std::move(end_samples);
    ob.theta = theta;
    return curve;
  }
  const double t_end = first.t_final;
  std::optional<double> t_window;  // the last pass-1 point above the fit window: the window starts after it
  for (size_t i = 0; i < curve.size(); ++i) {
    if (curve[i].excess <= fit_hi) {
      t_window = i > 0 ? curve[i - 1].t : 0.0;
      break;
    }
  }

  // Pass 2: the same trajectory, recorded where the comparisons need it.
  RecordOptions record;
  record.times = sample_times(t_end, oo.samples_uniform, oo.samples_log, std::min(oo.t_min, 0.1 * t_end));
  if (t_window) add_uniform(record.times, *t_window, t_end, oo.samples_window);
  if (analysis.bounds.escape && gf) {
    add_uniform(record.times, 0.5 * analysis.bounds.escape->lower, std::min(1.5 * analysis.bounds.escape->upper, t_end),
                oo.samples_window);
  }
  if (analysis.bounds.origin_transit && gf) {
    const double t = analysis.bounds.origin_transit->time;
    add_uniform(record.times, 0.98 * t, std::min(1.02 * t, t_end), oo.samples_window);
  }
  if (analysis.decoupled && gf) {  // each stage time, closely enough to locate its crossing by interpolation
    for (const Stage& stage : analysis.decoupled->stages) {
      const double width = analysis.decoupled->exact ? 0.02 : 0.5;
      add_uniform(record.times, (1.0 - width) * stage.half_time, std::min((1.0 + width) * stage.half_time, t_end),
                  oo.samples_window);
    }
  }
  std::sort(record.times.begin(), record.times.end());
  record.times.erase(std::unique(record.times.begin(), record.times.end()), record.times.end());
  while (!record.times.empty() && record.times.back() > t_end) record.times.pop_back();
  record.modes = std::min({8, k, problem.input_dim(), problem.output_dim()});
  if (analysis.decoupled) {
    for (const Stage& stage : analysis.decoupled->stages) record.modes = std::max(record.modes, stage.mode);
    record.modes = std::min({record.modes, k, problem.input_dim(), problem.output_dim()});
  }
  record.sharpness = oo.sharpness;
  curve.clear();
  theta = theta0;
  ob.summary = train(
      problem, shape, theta, options, record, [&](const Sample& x) { ob.samples.push_back(x); }, collect);
  ob.theta = theta;
  return curve;
}

// The critical point nearest to the final state, and whether the run is within tolerance of it.
void identify_limit(const ObservationSetting& S, Observation& ob) {
  const Problem& problem = S.problem;
  const Shape& shape = S.shape;
  const ObserveOptions& oo = S.oo;
  const int k = S.k, r = S.r;
  const Eigen::VectorXd& s = S.s;
  const Eigen::VectorXd& theta = ob.theta;
  const Eigen::MatrixXd W = shape.end_to_end(theta);
  const Eigen::MatrixXd Wt = problem.whitened() ? W : Eigen::MatrixXd(W * problem.sigma_sqrt());
  Eigen::MatrixXd C = Eigen::MatrixXd::Zero(Wt.rows(), Wt.cols());
  for (int i = 1; i <= r; ++i) {
    const Eigen::MatrixXd mode = s(i - 1) * problem.u().col(i - 1) * problem.v().col(i - 1).transpose();
    const double along = problem.u().col(i - 1).dot(Wt * problem.v().col(i - 1));
    ob.distances.push_back((Wt - mode).norm());
    if (along > 0.5 * s(i - 1)) {
      ob.modes.push_back(i);
      C += mode;
    }
  }
  ob.distance = (Wt - C).norm();
  ob.distance_origin = Wt.norm();
  ob.distance_tolerance = oo.limit_rtol * (r > 0 ? s(r - 1) : 1.0);
  // With s_k = s_{k+1} the global minimizers form a continuum ([Q]_k for every choice of singular vectors), and the
  // run may end at one whose vectors are not Q's computed ones. The excess loss measures the distance to the whole
  // set: near it L − L* = ½ dist² to second order.
  const Problem::Optimum optimum = problem.optimum(k);
  const double to_minimizers = std::sqrt(2.0 * std::max(problem.excess_loss(W, optimum), 0.0));
  if (ob.distance <= ob.distance_tolerance) {
    if (ob.modes.empty()) {
      ob.limit = Limit::origin;
    } else if (ob.modes == limit_modes(Limit::global_min, 0, k, r)) {
      ob.limit = Limit::global_min;
    } else {
      ob.limit = Limit::saddle;
      if (ob.modes.size() == 1) ob.saddle_index = ob.modes.front();
    }
  }
  if (ob.limit != Limit::global_min && to_minimizers <= ob.distance_tolerance) {
    ob.limit = Limit::global_min;
    ob.saddle_index = 0;
    ob.distance = to_minimizers;
    ob.modes = limit_modes(Limit::global_min, 0, k, r);
  }
}

// Every (t, excess loss) of the second pass, recorded samples and progress points together, in time order.
std::vector<Point> excess_points(const Observation& ob, const std::vector<Point>& curve) {
  std::vector<Point> points;
  for (const Sample& x : ob.samples) points.push_back({x.t, x.excess_loss});
  points.insert(points.end(), curve.begin(), curve.end());
  std::stable_sort(points.begin(), points.end(), [](const Point& x, const Point& y) { return x.t < y.t; });
  return points;
}

// The late-time rate: the least-squares slope of ln(excess) over the last stretch inside the fit window, into `ob`;
// returns the rates fitted on the two halves of that stretch (equal when the decay is a settled exponential).
std::pair<double, double> fit_late_time_rate(const ObservationSetting& S, const std::vector<Point>& points,
                                             Observation& ob) {
  const ObserveOptions& oo = S.oo;
  const double fit_lo = S.fit_lo, fit_hi = S.fit_hi;
  double rate_first_half = 0, rate_second_half = 0;
  {
    long end = static_cast<long>(points.size()) - 1;
    while (end >= 0 && points[static_cast<size_t>(end)].excess < fit_lo) --end;
    long begin = end;
    while (begin >= 0 && points[static_cast<size_t>(begin)].excess >= fit_lo &&
           points[static_cast<size_t>(begin)].excess <= fit_hi) {
      --begin;
    }
    ++begin;
    const long n = end - begin + 1;
    if (end >= 0 && n >= oo.fit_min_points) {
      const auto first_point = points.begin() + begin;
      const LogFit all = fit_log_excess(first_point, first_point + n);
      if (all.valid) {
        ob.rate = -all.slope;
        ob.rate_points = static_cast<int>(n);
        ob.rate_t_begin = first_point->t;
        ob.rate_t_end = (first_point + n - 1)->t;
        ob.rate_rms_residual = all.rms_residual;
        rate_first_half = -fit_log_excess(first_point, first_point + n / 2).slope;
        rate_second_half = -fit_log_excess(first_point + n / 2, first_point + n).slope;
      }
    }
  }
  return {rate_first_half, rate_second_half};
}

// When the recorded top singular value crossed the escape target, and (GD) the iterations to eps.
void locate_escape(const ObservationSetting& S, Observation& ob) {
  const Summary& sm = ob.summary;
  const bool gf = S.gf;
  const SolverOptions& options = S.options;
  const Bounds& b = S.analysis.bounds;
  if (b.escape && !ob.samples.empty() && ob.samples.front().singular_values.size() > 0) {
    for (size_t i = 0; i < ob.samples.size(); ++i) {
      if (ob.samples[i].singular_values(0) >= b.escape->sigma_target) {
        ob.escape_by = ob.samples[i].t;
        ob.escape_after = i > 0 ? ob.samples[i - 1].t : 0.0;
        break;
      }
    }
  }
  if (!gf && sm.t_eps) ob.iterations = std::lround(*sm.t_eps / options.lr);
}

// Each t_eps bound of gradient flow against the observed t_eps, and its envelope against every recorded point.
void compare_t_eps_bounds(const ObservationSetting& S, const std::vector<Point>& points, Observation& ob) {
  const SolverOptions& options = S.options;
  const ObserveOptions& oo = S.oo;
  const Bounds& b = S.analysis.bounds;
  const Summary& sm = ob.summary;
  const bool gf = S.gf;
  const NoiseModel& noise = S.noise;
  const double E0 = S.analysis.start.excess_loss;
  if (gf) {
    for (const RateBound& rb : b.rates) {
      Comparison c = comparison("t_eps (" + rb.name + ")", "<=");
      c.predicted = rb.t_eps_bound;
      c.result = rb.result;
      // Slack: relative, plus the time the noise in the excess at eps is worth at this rate.
      const double slack = oo.bound_rtol * rb.t_eps_bound + std::min(noise.relative(options.eps), 1.0) / rb.rate;
      if (sm.t_eps) {
        c.observed = *sm.t_eps;
        if (rb.t_eps_bound > 0) c.ratio = *sm.t_eps / rb.t_eps_bound;
        if (*sm.t_eps > rb.t_eps_bound + slack) {
          flag(ob, c,
               "t_eps = " + num(*sm.t_eps) + " exceeds the " + rb.name + " bound " + num(rb.t_eps_bound) + " (ratio " +
                   num(*c.ratio) + ") — " + rb.result.name + " [" + to_string(rb.result.tag) + "]");
        }
      } else if (sm.t_final > rb.t_eps_bound + slack && sm.status != Status::diverged) {
        flag(ob, c,
             "excess loss " + num(sm.excess_loss) + " still above eps " + num(options.eps) +
                 " at t = " + num(sm.t_final) + " > the " + rb.name + " bound t_eps ≤ " + num(rb.t_eps_bound) + " — " +
                 rb.result.name + " [" + to_string(rb.result.tag) + "]");
      } else {
        c.note = "eps not reached within the horizon t = " + num(sm.t_final) + "; the bound is not tested";
      }
      ob.comparisons.push_back(c);

      // The whole envelope L(t) − L* ≤ (L(0) − L*) e^{−rate t}, at every recorded point.
      if (E0 > 0) {
        Comparison env = comparison("envelope (" + rb.name + ")", "<=");
        env.predicted = 0.0;
        env.result = rb.result;
        double worst = -kInf, worst_t = 0;
        bool violated = false;
        for (const Point& pt : points) {
          if (!(pt.excess > 0)) continue;
          const double v = std::log(pt.excess / E0) + rb.rate * pt.t;
          const double allowed = oo.bound_rtol * (1.0 + rb.rate * pt.t) + noise.relative(pt.excess);
          if (v > worst) {
            worst = v;
            worst_t = pt.t;
          }
          violated = violated || v > allowed;
        }
        env.observed = worst;
        env.note =
            "max over recorded t of ln((L(t) − L*)/(L(0) − L*)) + " + rb.name + " rate · t, at t = " + num(worst_t);
        if (violated) {
          flag(ob, env,
               "excess loss rises above the envelope e^{−" + num(rb.rate) + " t} of the " + rb.name +
                   " bound: max of ln ratio + rate·t = " + num(worst) + " at t = " + num(worst_t));
        }
        ob.comparisons.push_back(env);
      }
    }
  }
}

// The fitted late-time rate against the predicted asymptotic rate (`halves`: the rates of the window's halves).
void compare_late_time_rate(const ObservationSetting& S, std::pair<double, double> halves, Observation& ob) {
  const SolverOptions& options = S.options;
  const ObserveOptions& oo = S.oo;
  const Bounds& b = S.analysis.bounds;
  const bool gf = S.gf;
  const double fit_lo = S.fit_lo, fit_hi = S.fit_hi;
  const auto [rate_first_half, rate_second_half] = halves;
  const std::optional<double> rate_pred = gf ? b.asymptotic_rate : b.gd.asymptotic_rate;
  if (rate_pred) {
    Comparison c = comparison("late_time_rate", "==");
    c.predicted = *rate_pred;
    c.result = gf ? b.asymptotic_result : kGdRate;
    if (ob.rate) {
      c.observed = *ob.rate;
      c.ratio = *ob.rate / *rate_pred;
      // The asymptotic rate is a limit: before it is reached, faster excited modes (Bounds::mode_rates) can
      // dominate the window — for a small aligned start the magnitude mode does over every excess loss double
      // precision resolves. A contradiction needs a settled exponential (both halves of the window agree) that
      // matches none of them.
      const double drift = std::abs(rate_first_half - rate_second_half) / std::abs(*ob.rate);
      std::optional<std::string> faster_mode;
      for (const Bounds::ModeRate& m : b.mode_rates) {
        // GD: the same mode seen through one step, (1 − lr h)² per iteration with h = rate/2.
        const double q = std::abs(1.0 - options.lr * 0.5 * m.rate);
        const double rate = gf ? m.rate : (q > 0 && q < 1 ? -2.0 * std::log(q) / options.lr : 0.0);
        if (rate > *rate_pred * (1.0 + oo.rate_rtol) && std::abs(*ob.rate / rate - 1.0) <= oo.rate_rtol) {
          faster_mode = m.mode;
        }
      }
      if (ob.limit != Limit::global_min) {
        c.note = "the run did not end at the global minimizer; the fit is not asymptotic";
      } else if (std::abs(*c.ratio - 1.0) <= oo.rate_rtol) {
        c.note = "fit of " + std::to_string(ob.rate_points) + " points, t in [" + num(ob.rate_t_begin) + ", " +
                 num(ob.rate_t_end) + "]";
      } else if (drift > 0.25 * oo.rate_rtol) {
        c.note = "not yet asymptotic: the local rate drifts from " + num(rate_first_half) + " to " +
                 num(rate_second_half) + " across the window (lower eps to see the limit)";
      } else if (faster_mode) {
        c.note = "not yet asymptotic: the window is dominated by the faster mode '" + *faster_mode +
                 "' (the slowest one is too weak to show above eps)";
      } else if (!gf) {
        // GD moves the imbalance by η² terms (docs/theory.md §2) and so ends at an unbalanced minimizer whose Hessian
        // differs from the balanced one by O(lr): measured deviations grow linearly with lr (3% at lr = 0.1 on s = 3,
        // 2, 1).
        const double moved = ob.samples.empty() ? 0.0 : ob.samples.back().imbalance_drift;
        c.note = "GD ends at a minimizer whose imbalance moved by " + num(moved) +
                 "; the balanced linearisation predicts its rate only to O(lr) — not a contradiction";
      } else {
        flag(ob, c,
             "late-time rate " + num(*ob.rate) + " (fit of " + std::to_string(ob.rate_points) + " points, t in [" +
                 num(ob.rate_t_begin) + ", " + num(ob.rate_t_end) + "]) differs from the predicted " + num(*rate_pred) +
                 " by more than " + num(oo.rate_rtol) + " relative — " + c.result.name + " [" +
                 to_string(c.result.tag) + "]");
      }
    } else {
      c.note = "too few recorded points with excess loss in [" + num(fit_lo) + ", " + num(fit_hi) + "] to fit a rate";
    }
    ob.comparisons.push_back(c);
  }
}

// The escape time against its bracket.
void compare_escape_time(const ObservationSetting& S, Observation& ob) {
  const ObserveOptions& oo = S.oo;
  const Bounds& b = S.analysis.bounds;
  const Summary& sm = ob.summary;
  const bool gf = S.gf;
  if (b.escape && gf) {
    Comparison c = comparison("escape_time", "in");
    c.predicted_lower = b.escape->lower;
    c.predicted = b.escape->upper;
    c.result = b.escape->result;
    if (ob.escape_by) {
      c.observed = *ob.escape_by;
      c.ratio = *ob.escape_by / b.escape->upper;
      c.note = "σ crossed " + num(b.escape->sigma_target) + " in (" + num(*ob.escape_after) + ", " +
               num(*ob.escape_by) + "]";
      if (*ob.escape_by < b.escape->lower * (1.0 - oo.bound_rtol) ||
          *ob.escape_after > b.escape->upper * (1.0 + oo.bound_rtol)) {
        flag(ob, c,
             "σ reached " + num(b.escape->sigma_target) + " in (" + num(*ob.escape_after) + ", " + num(*ob.escape_by) +
                 "], outside the escape bracket [" + num(b.escape->lower) + ", " + num(b.escape->upper) + "] — " +
                 c.result.name + " [" + to_string(c.result.tag) + "]");
      }
    } else if (sm.t_final > b.escape->upper * (1.0 + oo.bound_rtol)) {
      flag(ob, c,
           "σ never reached " + num(b.escape->sigma_target) + " by t = " + num(sm.t_final) +
               " although the escape bracket ends at " + num(b.escape->upper));
    } else {
      c.note = "horizon ends before σ reached " + num(b.escape->sigma_target);
    }
    ob.comparisons.push_back(c);
  }
}

// Stage-wise learning (docs/theory.md §10): each mode's half-time against the time the recorded u_aᵀ W̃ v_a crossed
// s_a/2 (linear interpolation between the bracketing samples), and the decoupled t_eps against the run's.
void compare_stages(const ObservationSetting& S, Observation& ob) {
  const ObserveOptions& oo = S.oo;
  const SolverOptions& options = S.options;
  const Analysis& a = S.analysis;
  if (!a.decoupled || !S.gf) return;
  const DecoupledModes& d = *a.decoupled;
  // The crossing time is known to the integrator's error in σ over the local speed, far below this; the bracket
  // between samples is exact, interpolation within it good to its width squared.
  const double tol = std::max(oo.bound_rtol, 100.0 * options.rtol);
  for (const Stage& stage : d.stages) {
    Comparison c = comparison("stage " + std::to_string(stage.mode) + " time", d.exact ? "==" : "≈");
    c.predicted = stage.half_time;
    c.result = d.result;
    const double target = 0.5 * stage.s;
    const int i = stage.mode - 1;
    std::optional<double> after, by, crossing;
    for (size_t j = 0; j < ob.samples.size(); ++j) {
      const Eigen::VectorXd& al = ob.samples[j].alignments;
      if (al.size() <= i || al(i) < target) continue;
      by = ob.samples[j].t;
      if (j == 0) {
        after = by;
        crossing = by;
      } else {
        after = ob.samples[j - 1].t;
        const double y0 = ob.samples[j - 1].alignments(i), y1 = al(i);
        crossing = *after + (*by - *after) * (target - y0) / (y1 - y0);
      }
      break;
    }
    if (stage.half_time == 0) {
      c.note = "σ_" + std::to_string(stage.mode) + "(0) ≥ s_" + std::to_string(stage.mode) + "/2 already";
    } else if (!crossing) {
      c.note = "σ_" + std::to_string(stage.mode) + " did not reach s_" + std::to_string(stage.mode) +
               "/2 within the horizon t = " + num(ob.summary.t_final);
      if (d.exact && ob.summary.t_final > stage.half_time * (1.0 + tol) && ob.summary.status != Status::diverged) {
        flag(ob, c,
             "mode " + std::to_string(stage.mode) + " never reached s_a/2 by t = " + num(ob.summary.t_final) +
                 " although §10 predicts t_" + std::to_string(stage.mode) + " = " + num(stage.half_time));
      }
    } else {
      c.observed = *crossing;
      c.ratio = *crossing / stage.half_time;
      c.note = "u_aᵀ W v_a crossed s_a/2 in (" + num(*after) + ", " + num(*by) + "]";
      if (!d.exact) {
        c.note += "; approximately decoupled (misalignment " + num(d.misalignment) + "): deviation " +
                  num(*c.ratio - 1.0) + " relative";
      } else if (stage.half_time < *after * (1.0 - tol) || stage.half_time > *by * (1.0 + tol)) {
        flag(ob, c,
             "mode " + std::to_string(stage.mode) + " crossed s_a/2 in (" + num(*after) + ", " + num(*by) +
                 "], but §10 predicts t_" + std::to_string(stage.mode) + " = " + num(stage.half_time) + " — " +
                 c.result.name + " [" + to_string(c.result.tag) + "]");
      }
    }
    ob.comparisons.push_back(c);
  }
  if (d.t_eps) {
    Comparison c = comparison("t_eps (decoupled)", d.exact ? "==" : "≈");
    c.predicted = *d.t_eps;
    c.result = d.result;
    const Summary& sm = ob.summary;
    const double rate = d.late_rate.value_or(1.0);
    const double slack = oo.bound_rtol * *d.t_eps + std::min(S.noise.relative(options.eps), 1.0) / rate;
    if (sm.t_eps) {
      c.observed = *sm.t_eps;
      if (*d.t_eps > 0) c.ratio = *sm.t_eps / *d.t_eps;
      if (!d.exact) {
        c.note = "approximately decoupled: deviation " + num(*sm.t_eps - *d.t_eps);
      } else if (std::abs(*sm.t_eps - *d.t_eps) > slack) {
        flag(ob, c,
             "t_eps = " + num(*sm.t_eps) + " differs from the decoupled prediction " + num(*d.t_eps) +
                 " by more than " + num(slack) + " — " + c.result.name + " [" + to_string(c.result.tag) + "]");
      }
    } else {
      c.note = "eps not reached within the horizon t = " + num(sm.t_final);
    }
    ob.comparisons.push_back(c);
  }
}

// The passage near the origin: the first upward crossing of the target by the recorded σ after it fell below it.
void compare_origin_transit(const ObservationSetting& S, Observation& ob) {
  const Bounds& b = S.analysis.bounds;
  if (!b.origin_transit || !S.gf) return;
  const Bounds::OriginTransit& o = *b.origin_transit;
  Comparison c = comparison("origin transit", "in");
  c.predicted = o.time;
  c.result = o.result;
  const double tol = std::max(S.oo.bound_rtol, 100.0 * S.options.rtol);
  bool below = false;
  std::optional<double> after, by;
  for (size_t j = 0; j < ob.samples.size(); ++j) {
    const Eigen::VectorXd& sv = ob.samples[j].singular_values;
    if (sv.size() == 0) break;
    if (sv(0) < o.sigma_target) {
      below = true;
    } else if (below) {
      after = ob.samples[j - 1].t;
      by = ob.samples[j].t;
      break;
    }
  }
  if (by) {
    c.observed = *by;
    c.ratio = *by / o.time;
    c.note = "σ dipped to " + num(o.sigma_min) + " (predicted) and grew back through " + num(o.sigma_target) + " in (" +
             num(*after) + ", " + num(*by) + "]";
    if (o.time < *after * (1.0 - tol) || o.time > *by * (1.0 + tol)) {
      flag(ob, c,
           "σ grew back through " + num(o.sigma_target) + " in (" + num(*after) + ", " + num(*by) +
               "], but the exact solution says t = " + num(o.time) + " — " + c.result.name + " [" +
               to_string(c.result.tag) + "]");
    }
  } else {
    c.note =
        "σ did not grow back through " + num(o.sigma_target) + " within the horizon t = " + num(ob.summary.t_final);
  }
  ob.comparisons.push_back(c);
}

// GD's iterations to eps against Theorem 1's bound.
void compare_iterations(const ObservationSetting& S, Observation& ob) {
  const ObserveOptions& oo = S.oo;
  const Bounds& b = S.analysis.bounds;
  const Summary& sm = ob.summary;
  const bool gf = S.gf;
  if (!gf && b.gd.iterations_bound) {
    Comparison c = comparison("iterations", "<=");
    c.predicted = *b.gd.iterations_bound;
    c.result = b.gd.result;
    const double allowed = std::ceil(*b.gd.iterations_bound * (1.0 + oo.bound_rtol));
    if (ob.iterations) {
      c.observed = static_cast<double>(*ob.iterations);
      if (*b.gd.iterations_bound > 0) c.ratio = *c.observed / *b.gd.iterations_bound;
      if (*c.observed > allowed) {
        flag(ob, c,
             "GD needed " + std::to_string(*ob.iterations) + " iterations, more than the bound " +
                 num(*b.gd.iterations_bound) + " — " + c.result.name + " [" + to_string(c.result.tag) + "]");
      }
    } else if (sm.status == Status::diverged) {
      flag(ob, c, "GD diverged although every hypothesis of " + c.result.name + " holds: " + sm.message);
    } else if (static_cast<double>(sm.stats.steps) > allowed) {
      flag(ob, c,
           "excess loss still above eps after " + std::to_string(sm.stats.steps) + " iterations > bound " +
               num(*b.gd.iterations_bound));
    } else {
      c.note = "eps not reached within the iteration budget; the bound is not tested";
    }
    ob.comparisons.push_back(c);
  }
}

// "global_min", "saddle 2", …: a limit as the messages name it.
std::string limit_text(Limit limit, int saddle_index, const std::vector<int>& modes = {}) {
  if (limit == Limit::saddle && !saddle_index && modes.size() > 1) {
    std::string list;
    for (int a : modes) list += (list.empty() ? "" : ",") + std::to_string(a);
    return "saddle {" + list + "}";
  }
  return std::string(to_string(limit)) +
         (limit == Limit::saddle && saddle_index ? " " + std::to_string(saddle_index) : "");
}

// The limit reached against the predicted one: a contradiction, or a note saying why it is not (yet) one.
void compare_limit(const ObservationSetting& S, Observation& ob) {
  const SolverOptions& options = S.options;
  const ObserveOptions& oo = S.oo;
  const Bounds& b = S.analysis.bounds;
  const Summary& sm = ob.summary;
  const bool gf = S.gf;
  const int k = S.k, r = S.r;
  const Eigen::VectorXd& s = S.s;
  const Prediction& p = S.analysis.prediction;
  const std::string seen = limit_text(ob.limit, ob.saddle_index, ob.modes);
  const std::string expected = limit_text(p.limit, p.saddle_index, p.modes);
  if (sm.status == Status::diverged) {
    ob.notes.push_back("the run diverged (" + sm.message + "); no limit to compare" +
                       (b.gd.local_stability_lr && !gf && options.lr >= *b.gd.local_stability_lr
                            ? ": lr = " + num(options.lr) + " ≥ the local step limit " + num(*b.gd.local_stability_lr)
                            : std::string()));
  } else if (p.limit == Limit::unknown) {
    ob.notes.push_back("no prediction of the limit to compare with (observed " + seen + ")");
  } else if (ob.limit == Limit::unknown) {
    ob.notes.push_back("the final state is not within " + num(ob.distance_tolerance) +
                       " of any critical point (nearest: distance " + num(ob.distance) + ") at t = " + num(sm.t_final) +
                       "; predicted " + expected + " — the horizon may be too short");
  } else {
    // A saddle of several modes (a decoupled start that leaves a mode out) has no single index.
    const std::vector<int> predicted_modes =
        p.limit == Limit::saddle && p.saddle_index == 0 ? p.modes : limit_modes(p.limit, p.saddle_index, k, r);
    if (ob.modes != predicted_modes) {
      const double seen_value = critical_excess(s, k, ob.modes);
      const double expected_value = critical_excess(s, k, predicted_modes);
      const std::string what = "predicted " + expected + " (" + p.result.name + " [" + to_string(p.result.tag) +
                               "]) but the final state is at " + seen + " (distance " + num(ob.distance) +
                               ") at t = " + num(sm.t_final);
      if (!gf && !b.gd.applies) {
        ob.notes.push_back(what + "; the prediction is for gradient flow, not gradient descent");
      } else if (seen_value > expected_value) {
        // Stuck higher than predicted: a contradiction once the run is at a critical point or past a rigorous
        // bound; before that the horizon may be too short (a start near the boundary lingers at the saddle).
        const bool past_bound = b.t_eps_bound && sm.t_final > *b.t_eps_bound * (1.0 + oo.bound_rtol);
        if (sm.status == Status::stalled || past_bound) {
          ob.contradictions.push_back("limit: " + what);
        } else {
          ob.notes.push_back(
              what + "; not yet a contradiction: the run has not stalled there" +
              (b.lingering_estimate ? " (heuristic lingering time " + num(*b.lingering_estimate) + ")" : ""));
        }
      } else {
        // Lower than predicted: round-off can leave a measure-zero limit set; the heuristic says when.
        if (b.roundoff_escape_estimate && sm.t_final >= 0.25 * *b.roundoff_escape_estimate) {
          ob.notes.push_back(what + "; round-off escape from an unstable set is expected after ~" +
                             num(*b.roundoff_escape_estimate) + " [heuristic]");
        } else {
          ob.contradictions.push_back("limit: " + what);
        }
      }
    }
  }
}

// The one-line message: the limit seen, the status, how many comparisons and contradictions.
std::string observation_message(const Observation& ob) {
  const Summary& sm = ob.summary;
  const std::string seen = limit_text(ob.limit, ob.saddle_index);
  std::ostringstream msg;
  msg << "observed " << seen;
  if (ob.limit != Limit::unknown)
    msg << " (distance " << num(ob.distance) << " ≤ " << num(ob.distance_tolerance) << ")";
  msg << " at t = " << num(sm.t_final) << " [" << to_string(sm.status) << "]; " << ob.comparisons.size()
      << " comparisons, " << ob.contradictions.size() << " contradiction" << (ob.contradictions.size() == 1 ? "" : "s");
  return msg.str();
}

}  // namespace

Observation observe(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta0,
                    const SolverOptions& options, const Analysis& analysis, const ObserveOptions& oo,
                    const ProgressSink& progress) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError(why);
  if (!oo.is_valid(&why)) throw InputError(why);
  check_arguments(problem, shape, theta0);
  if (analysis.hypotheses.widths != shape.widths())
    throw InputError("observe: the analysis is for another network shape");
  const ObservationSetting setting = make_observation_setting(problem, shape, theta0, options, analysis, oo);
  Observation ob;
  const std::vector<Point> curve = simulate(setting, progress, ob);
  if (ob.summary.status == Status::interrupted) {  // nothing to compare: the run did not go where it was going
    ob.message =
        "simulation interrupted at t = " + num(ob.summary.t_final) + " (" + ob.summary.message + "); no comparisons";
    return ob;
  }
  identify_limit(setting, ob);
  const std::vector<Point> points = excess_points(ob, curve);
  const std::pair<double, double> halves = fit_late_time_rate(setting, points, ob);
  locate_escape(setting, ob);
  compare_t_eps_bounds(setting, points, ob);
  compare_late_time_rate(setting, halves, ob);
  compare_escape_time(setting, ob);
  compare_iterations(setting, ob);
  compare_stages(setting, ob);
  compare_origin_transit(setting, ob);
  compare_limit(setting, ob);
  ob.message = observation_message(ob);
  return ob;
}

nlohmann::json observation_json(const Observation& ob) {
  using nlohmann::json;
  const Summary& sm = ob.summary;
  json j;
  j["message"] = ob.message;
  j["status"] = to_string(sm.status);
  j["solver_message"] = sm.message;
  j["t_final"] = sm.t_final;
  j["t_eps"] = optional_json(sm.t_eps);
  j["initial_excess_loss"] = number_or_null(sm.initial_excess_loss);
  j["excess_loss"] = number_or_null(sm.excess_loss);
  j["steps"] = sm.stats.steps;
  j["iterations"] = optional_json(ob.iterations);
  j["limit"] = to_string(ob.limit);
  j["saddle_index"] = ob.limit == Limit::saddle && ob.saddle_index ? json(ob.saddle_index) : json(nullptr);
  j["modes"] = ob.modes;
  j["distance"] = ob.distance;
  j["distance_tolerance"] = ob.distance_tolerance;
  j["distances"] = {{"origin", ob.distance_origin}, {"modes", ob.distances}};
  j["late_time_rate"] = ob.rate ? json{{"value", *ob.rate},
                                       {"points", ob.rate_points},
                                       {"t_begin", ob.rate_t_begin},
                                       {"t_end", ob.rate_t_end},
                                       {"rms_residual", ob.rate_rms_residual}}
                                : json(nullptr);
  j["escape_time"] = ob.escape_by ? json{{"after", *ob.escape_after}, {"by", *ob.escape_by}} : json(nullptr);
  json comparisons = json::array();
  for (const Comparison& c : ob.comparisons) {
    comparisons.push_back({{"quantity", c.quantity},
                           {"relation", c.relation},
                           {"predicted", optional_json(c.predicted)},
                           {"predicted_lower", optional_json(c.predicted_lower)},
                           {"observed", optional_json(c.observed)},
                           {"ratio", optional_json(c.ratio)},
                           {"contradiction", c.contradiction},
                           {"note", c.note},
                           {"result", citation_json(c.result)}});
  }
  j["comparisons"] = comparisons;
  j["contradictions"] = ob.contradictions;
  j["notes"] = ob.notes;
  return j;
}

namespace {

// The dimension of the tangent space of the rescaling orbit at θ: the rank of
// (A_1, …, A_{N−1}) ↦ (A_1 W_1, A_2 W_2 − W_2 A_1, …, −W_N A_{N−1}), A_j ∈ R^{d_j × d_j}.
int orbit_dimension(const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta) {
  const int N = shape.depth();
  Eigen::Index columns = 0;
  for (int j = 1; j < N; ++j) columns += Eigen::Index{shape.width(j)} * shape.width(j);
  if (columns == 0) return 0;
  Eigen::MatrixXd T = Eigen::MatrixXd::Zero(shape.size(), columns);
  Eigen::VectorXd column(shape.size());
  Eigen::Index c = 0;
  for (int j = 1; j < N; ++j) {
    for (int b = 0; b < shape.width(j); ++b) {
      for (int a = 0; a < shape.width(j); ++a, ++c) {
        column.setZero();
        // E_ab W_j: row a of the result is row b of W_j; −W_{j+1} E_ab: column b is −column a of W_{j+1}.
        shape.mutable_layer(column, j).row(a) = shape.layer(theta, j).row(b);
        shape.mutable_layer(column, j + 1).col(b) = -shape.layer(theta, j + 1).col(a);
        T.col(c) = column;
      }
    }
  }
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(T);
  qr.setThreshold(1e-10);
  return static_cast<int>(qr.rank());
}

}  // namespace

PointKind classify_point(const Problem& problem, const Shape& shape, const Eigen::Ref<const Eigen::VectorXd>& theta,
                         Eigen::Index dense_limit) {
  PointKind p;
  Objective objective(problem, shape);
  Eigen::VectorXd grad(shape.size());
  objective.evaluate(theta, grad);
  p.grad_norm = grad.norm();
  p.excess_loss = problem.excess_loss(objective.end_to_end(), problem.optimum(shape.min_width()));
  const double scale = std::max(1.0, problem.q().norm());
  p.critical_tolerance = 1e-5 * scale;
  const bool critical = p.grad_norm <= p.critical_tolerance;
  // Near a critical point its zero eigenvalues move by about the distance to it; elsewhere only rounding counts.
  p.spectrum = hessian_spectrum(problem, shape, theta, dense_limit, critical ? 10 * p.grad_norm : 0.0);
  p.zero_tolerance = p.spectrum.tolerance;
  if (p.spectrum.method == "dense") p.symmetry_zeros = orbit_dimension(shape, theta);
  // Near the set of global minimizers first: at the end of a run converged to eps the gradient is about √(2 eps) λ,
  // which can exceed the critical tolerance while L − L* is already tiny.
  if (p.excess_loss <= 1e-8 * scale * scale) {
    p.kind = "minimum";
  } else if (!critical) {
    p.kind = "not_critical";
  } else if (!std::isfinite(p.spectrum.min_eigenvalue)) {
    p.kind = "unknown";  // Lanczos did not converge: a critical point, but no eigenvalue to tell which kind
  } else {
    p.kind = p.spectrum.min_eigenvalue < -p.zero_tolerance ? "strict_saddle" : "non_strict_saddle";
  }
  return p;
}

}  // namespace linflow::theory
