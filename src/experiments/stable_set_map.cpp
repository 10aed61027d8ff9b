// stable-set-map: gradient flow from every balanced rank-one start W(0) = σ0 u0 v0ᵀ of a 2-D slice, each run
// analysed and simulated (sweep.analyze). Spec §5 [proved]: c_1 = u_1ᵀu0 + v_1ᵀv0 ≠ 0 ⟹ the global minimizer
// s_1 u_1 v_1ᵀ; c_1 = … = c_{k−1} = 0 ≠ c_k ⟹ the saddle s_k u_k v_kᵀ; every c_i = 0 ⟹ the origin. The verdict:
// every start reaches the limit the analysis predicts. The slice's coordinates are the angles of u0 and v0 from u_1
// towards u_2 (v_1 towards v_2), and the map also measures how much of it the stronger sufficient conditions of §5
// cover (deficiency-margin ball ⊂ sublevel set ⊂ alignment f0 > s_2 ⊂ stable set {c_1 ≠ 0}).
#include <algorithm>
#include <cmath>
#include <map>

#include "experiments/analyses.hpp"
#include "linflow/error.hpp"
#include "linflow/network.hpp"

namespace linflow::detail {
namespace {

constexpr const char* kName = "stable-set-map";
// u0 (v0) must lie in the plane of u_1, u_2 (v_1, v_2) for its angle there to describe it: the part outside the
// plane may be round-off of the TOML values only.
constexpr double kPlaneTolerance = 1e-12;
// Round-off can carry a start on the measure-zero boundary away from its saddle; by the theory that is no failure once
// the run is past this fraction of the analysis's heuristic round-off escape time (the rule `observe` applies).
constexpr double kRoundoffFraction = 0.25;

struct Point {
  long run = 0;
  double a = 0, b = 0;  // degrees: angles of u0 and v0 in the (u_1, u_2) and (v_1, v_2) planes
  double c1 = 0;        // signed c_1 with the problem's (u_1, v_1): its zero level is the boundary
  double c1_abs = 0;    // |c_1| from the analysis (the value its prediction used)
  double c_zero_tolerance = 0;
  std::string predicted, observed, status;
  double t_final = 0;
  double roundoff_escape = NAN;
  double margin_deficiency = NAN, margin_sublevel = NAN, margin_alignment = NAN;
  bool deficiency = false, sublevel = false, alignment = false;
  bool match = false, roundoff_escaped = false;
};

double degrees(double y, double x) {
  double d = std::atan2(y, x) * 180.0 / M_PI;
  if (d < -1e-9) d += 360.0;  // [0, 360): the slice's own range, with −0 kept at 0
  return std::abs(d) < 1e-9 ? 0.0 : d;
}

// The angle of `w` from e1 towards e2 in the plane of the orthonormal pair (e1, e2); InputError when w leaves it.
double plane_angle(const Eigen::VectorXd& w, const Eigen::VectorXd& e1, const Eigen::VectorXd& e2, const char* name,
                   long run) {
  const double x = e1.dot(w), y = e2.dot(w);
  const double outside = (w - x * e1 - y * e2).norm();
  if (!(outside <= kPlaneTolerance)) {
    throw InputError(std::string(kName) + " run " + std::to_string(run) + ": " + name +
                     " leaves the plane of the target's first two singular vectors by " + format_number(outside) +
                     " (the slice needs it inside)");
  }
  return degrees(y, x);
}

Point read_point(const SweepConfig& sweep, const nlohmann::json& run) {
  Point p;
  p.run = run.at("run").get<long>();
  const std::string at = std::string(kName) + " run " + std::to_string(p.run) + ": ";
  const RunConfig c = run_configuration(sweep, p.run);
  const Problem problem = make_problem(c);
  if (c.solver.method != Method::gf) throw InputError(at + "needs solver.method = \"gf\"");
  if (!problem.whitened()) throw InputError(at + "needs a whitened problem (a target matrix)");
  if (Shape(c.widths).min_width() != 1) throw InputError(at + "needs a one-neuron layer");
  if (c.init.kind != InitKind::balanced_rank1 || !c.init.u0 || !c.init.v0) {
    throw InputError(at + "needs init.kind = \"balanced_rank1\" with u0 and v0 given");
  }
  if (problem.target_rank() < 2) throw InputError(at + "needs a target of rank ≥ 2 (a plane of singular vectors)");
  // The target's singular pairs up to a joint sign: fix it so that each u_i's largest entry is positive, which
  // makes the coordinates independent of the SVD's choice.
  Eigen::MatrixXd U = problem.u().leftCols(2), V = problem.v().leftCols(2);
  for (int i = 0; i < 2; ++i) {
    Eigen::Index imax = 0;
    U.col(i).cwiseAbs().maxCoeff(&imax);
    if (U(imax, i) < 0) {
      U.col(i) *= -1.0;
      V.col(i) *= -1.0;
    }
  }
  const Eigen::VectorXd u0 = c.init.u0->normalized(), v0 = c.init.v0->normalized();
  p.a = plane_angle(u0, U.col(0), U.col(1), "u0", p.run);
  p.b = plane_angle(v0, V.col(0), V.col(1), "v0", p.run);
  p.c1 = U.col(0).dot(u0) + V.col(0).dot(v0);

  const nlohmann::json& analysis = run_analysis(run, kName);
  const nlohmann::json& observed = run_observation(run, kName);
  const nlohmann::json& prediction = analysis.at("prediction");
  if (analysis.value("status", "") != "exact_theory" || !prediction.contains("c") || prediction["c"].empty()) {
    throw InputError(at + "the analysis did not apply docs/theory.md §5 (status " + analysis.value("status", "?") +
                     "): the slice must hold balanced rank-one starts on a whitened target with s_1 > s_2");
  }
  p.c1_abs = std::abs(prediction["c"][0].get<double>());
  p.c_zero_tolerance = prediction.at("c_zero_tolerance").get<double>();
  p.predicted = limit_name(prediction);
  p.observed = limit_name(observed);
  p.status = run.value("status", "unknown");
  p.t_final = number_or_nan(run, "t_final");
  p.roundoff_escape = number_or_nan(analysis.at("bounds"), "roundoff_escape_estimate");
  const nlohmann::json& conditions = analysis.at("conditions");
  p.margin_deficiency = number_or_nan(conditions.at("deficiency_margin"), "margin");
  p.margin_sublevel = number_or_nan(conditions.at("sublevel"), "margin");
  p.margin_alignment = number_or_nan(conditions.at("alignment"), "margin");
  p.deficiency = conditions["deficiency_margin"].value("holds", false);
  p.sublevel = conditions["sublevel"].value("holds", false);
  p.alignment = conditions["alignment"].value("holds", false);
  p.match = p.observed == p.predicted;
  // Left the measure-zero set for a lower critical value late in the run: round-off, as `observe` judges it.
  p.roundoff_escaped = !p.match && p.predicted != "global_min" && p.observed == "global_min" &&
                       std::isfinite(p.roundoff_escape) && p.t_final >= kRoundoffFraction * p.roundoff_escape;
  return p;
}

std::string percent(long n, long total) { return format_number(100.0 * static_cast<double>(n) / total, 3) + "%"; }

}  // namespace

ExperimentReport analyze_stable_set_map(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs) {
  std::vector<Point> points;
  points.reserve(runs.size());
  for (const auto& run : runs) points.push_back(read_point(sweep, run));
  if (points.empty()) throw InputError(std::string(kName) + ": no runs to analyse");
  std::sort(points.begin(), points.end(), [](const Point& x, const Point& y) { return x.run < y.run; });

  const long total = static_cast<long>(points.size());
  long interior = 0, interior_match = 0, boundary = 0, boundary_match = 0, escaped = 0;
  long deficiency = 0, sublevel = 0, alignment = 0, observed_min = 0;
  std::map<std::string, long> boundary_limits;  // predicted limit → count, on c_1 = 0
  std::map<std::string, long> mismatches;       // "predicted → observed" → count
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Point& p : points) {
    const bool inside = p.predicted == "global_min";
    (inside ? interior : boundary) += 1;
    if (p.match) (inside ? interior_match : boundary_match) += 1;
    if (!inside) ++boundary_limits[p.predicted];
    if (p.roundoff_escaped) ++escaped;
    if (!p.match && !p.roundoff_escaped) ++mismatches[p.predicted + " → " + p.observed];
    deficiency += p.deficiency;
    sublevel += p.sublevel;
    alignment += p.alignment;
    observed_min += p.observed == "global_min";
    list.push_back(
        {{"run", p.run},
         {"a", p.a},
         {"b", p.b},
         {"c1", p.c1},
         {"c1_abs", p.c1_abs},
         {"predicted", p.predicted},
         {"observed", p.observed},
         {"match", p.match},
         {"roundoff_escaped", p.roundoff_escaped},
         {"status", p.status},
         {"t_final", json_number(p.t_final)},
         {"margins",
          {{"deficiency_margin", json_number(p.margin_deficiency)},
           {"sublevel", json_number(p.margin_sublevel)},
           {"alignment", json_number(p.margin_alignment)}}},
         {"holds", {{"deficiency_margin", p.deficiency}, {"sublevel", p.sublevel}, {"alignment", p.alignment}}}});
  }
  long mismatch_count = 0;
  std::string mismatch_text;
  for (const auto& [what, n] : mismatches) {
    mismatch_count += n;
    mismatch_text += (mismatch_text.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  }
  std::string boundary_text;
  for (const auto& [limit, n] : boundary_limits) {
    boundary_text += (boundary_text.empty() ? "" : ", ") + std::to_string(n) + " " + limit;
  }
  const double c_tol = points.front().c_zero_tolerance;

  ExperimentReport report;
  report.table = format_table(
      {{"region of the slice", "starts", "fraction", "result"},
       {"stable set c_1 != 0 (predicted global min)", std::to_string(interior), percent(interior, total),
        "docs/theory.md §5 [proved]"},
       {"  observed at the global min", std::to_string(observed_min), percent(observed_min, total), "simulation"},
       {"alignment f0 > s_2", std::to_string(alignment), percent(alignment, total), "docs/theory.md §5 condition 3"},
       {"sublevel set L(0) - L* < (s_1^2 - s_2^2)/2", std::to_string(sublevel), percent(sublevel, total),
        "docs/theory.md §5 condition 2"},
       {"deficiency-margin ball", std::to_string(deficiency), percent(deficiency, total),
        "Arora et al. 2018a, docs/theory.md §5 condition 1"},
       {"boundary c_1 = 0 (|c_1| <= " + format_number(c_tol, 2) + ")", std::to_string(boundary),
        percent(boundary, total), boundary_text.empty() ? "-" : "predicted " + boundary_text},
       {"  observed at the predicted limit", std::to_string(boundary_match), percent(boundary_match, total),
        std::to_string(escaped) + " left it by round-off"}});

  report.passed = mismatch_count == 0;
  std::string verdict = std::string(kName) + ": " + (report.passed ? "PASS" : "FAIL") + " — ";
  if (report.passed) {
    verdict +=
        "every start of the slice reached the limit docs/theory.md §5 predicts: " + std::to_string(interior_match) +
        " of " + std::to_string(total) + " with c_1 != 0 at the global min";
    if (boundary > 0) {
      verdict += ", " + std::to_string(boundary_match) + " of the " + std::to_string(boundary) +
                 " on c_1 = 0 (|c_1| <= " + format_number(c_tol, 2) + ") at their predicted " + boundary_text;
      if (escaped > 0) verdict += " (" + std::to_string(escaped) + " left it by round-off late in the run)";
    }
  } else {
    verdict += std::to_string(mismatch_count) + " of " + std::to_string(total) +
               " starts ended elsewhere than docs/theory.md §5 predicts (predicted → observed: " + mismatch_text + ")";
  }
  verdict += "; the global-min basin covers " + percent(interior, total) + " of the slice, the sublevel set " +
             percent(sublevel, total) + ", alignment f0 > s_2 " + percent(alignment, total) +
             ", the deficiency-margin ball " + percent(deficiency, total);
  report.verdict = verdict;

  report.json["experiment"] = kName;
  report.json["passed"] = report.passed;
  report.json["verdict"] = report.verdict;
  report.json["axes"] = {{"a", "angle of u0 from u_1 towards u_2 [degrees]"},
                         {"b", "angle of v0 from v_1 towards v_2 [degrees]"}};
  report.json["c_zero_tolerance"] = c_tol;
  report.json["counts"] = {{"total", total},
                           {"stable_set", interior},
                           {"stable_set_observed_global_min", interior_match},
                           {"boundary", boundary},
                           {"boundary_observed_as_predicted", boundary_match},
                           {"boundary_left_by_roundoff", escaped},
                           {"mismatches", mismatch_count},
                           {"observed_global_min", observed_min},
                           {"alignment", alignment},
                           {"sublevel", sublevel},
                           {"deficiency_margin", deficiency}};
  report.json["fractions"] = {{"stable_set", static_cast<double>(interior) / total},
                              {"alignment", static_cast<double>(alignment) / total},
                              {"sublevel", static_cast<double>(sublevel) / total},
                              {"deficiency_margin", static_cast<double>(deficiency) / total}};
  report.json["points"] = list;
  return report;
}

}  // namespace linflow::detail
