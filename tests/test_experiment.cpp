// Built-in experiments: the shipped sweeps run and their analyses reach the verdict the theory predicts; an
// analysis fed a measurement that contradicts the theory says FAIL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "experiments/analyses.hpp"
#include "linflow/error.hpp"
#include "linflow/experiment.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;

// Every output of this executable lives under one temporary directory, removed when the tests end.
fs::path scratch() { return fs::temp_directory_path() / ("linflow_test_experiment_" + std::to_string(::getpid())); }

class RemoveScratch : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(scratch()); }
};
[[maybe_unused]] ::testing::Environment* const remove_scratch = ::testing::AddGlobalTestEnvironment(new RemoveScratch);

struct Ran {
  SweepConfig sweep;
  std::vector<nlohmann::json> runs;
};

Ran run_experiment_sweep(const std::string& name) {
  Ran r{load_sweep(std::string(LINFLOW_EXPERIMENTS_DIR) + "/" + name + ".toml"), {}};
  const fs::path dir = scratch() / name;
  fs::remove_all(dir);
  SweepOptions options;
  options.out_dir = dir.string();
  options.threads = 2;
  const SweepSummary s = run_sweep(r.sweep, options);
  EXPECT_EQ(s.status, SweepStatus::complete) << s.message;
  r.runs = read_runs((dir / "runs.jsonl").string());
  return r;
}

// The shipped sweep of `name`, cut down for the test suite: each listed axis keeps only the values at `keep`
// (indices into its values list), a random sweep draws `samples` points and every point gets `seeds` repeats (0: as
// shipped). The base and every other setting stay those of the shipped experiment.
Ran run_reduced_sweep(const std::string& name, const std::map<std::string, std::vector<size_t>>& keep, long samples = 0,
                      int seeds = 0) {
  Ran r{load_sweep(std::string(LINFLOW_EXPERIMENTS_DIR) + "/" + name + ".toml"), {}};
  for (auto& axis : r.sweep.axes) {
    const auto it = keep.find(axis.key);
    if (it == keep.end()) continue;
    std::vector<nlohmann::json> values;
    for (const size_t i : it->second) values.push_back(axis.values.at(i));
    axis.values = values;
  }
  if (samples > 0) r.sweep.samples = samples;
  if (seeds > 0) r.sweep.seeds = seeds;
  const fs::path dir = scratch() / (name + "_reduced");
  fs::remove_all(dir);
  SweepOptions options;
  options.out_dir = dir.string();
  options.threads = 2;
  const SweepSummary s = run_sweep(r.sweep, options);
  EXPECT_EQ(s.status, SweepStatus::complete) << s.message;
  r.runs = read_runs((dir / "runs.jsonl").string());
  return r;
}

// Reference values of the 95 % Wilson score interval (Wilson 1927; e.g. Brown, Cai & DasGupta 2001, Table 1).
TEST(Experiments, WilsonIntervalMatchesReferenceValues) {
  constexpr double kDigits = 5e-5;  // the references are printed to four decimals
  const auto [lo0, hi0] = detail::wilson_interval(0, 10);
  EXPECT_NEAR(lo0, 0.0, kDigits);
  EXPECT_NEAR(hi0, 0.2775, kDigits);
  const auto [lo5, hi5] = detail::wilson_interval(5, 10);
  EXPECT_NEAR(lo5, 0.2366, kDigits);
  EXPECT_NEAR(hi5, 0.7634, kDigits);
  const auto [lo10, hi10] = detail::wilson_interval(10, 10);
  EXPECT_NEAR(lo10, 0.7225, kDigits);
  EXPECT_NEAR(hi10, 1.0, kDigits);
}

TEST(Experiments, AreListedByName) {
  std::vector<std::string> names;
  for (const auto& e : experiments()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"beyond-one-neuron", "bound-vs-observed", "escape-time", "gd-step-size",
                                             "rate-vs-depth", "stable-set-map", "stage-wise"}));
  EXPECT_THROW(analyze_experiment("no-such", SweepConfig{}, {}), InputError);
}

TEST(EscapeTime, ObservedEscapeMatchesTheSection6IntegralToP9Tolerance) {
  const Ran r = run_experiment_sweep("escape-time");
  ASSERT_EQ(r.runs.size(), 30u);
  const ExperimentReport report = analyze_experiment("escape-time", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_EQ(report.verdict.rfind("escape-time: PASS", 0), 0u) << report.verdict;
  EXPECT_LE(report.json["max_relative_error"].get<double>(), 1e-4);
  // As σ0 → 0 the growth exponent approaches 1 − 2/N from above; at σ0 = 1e-5..1e-6 it is within 2%.
  for (const auto& g : report.json["growth"]) {
    EXPECT_NEAR(g["measured"].get<double>(), g["predicted"].get<double>(), 0.02 * g["predicted"].get<double>()) << g;
  }
}

TEST(EscapeTime, SaysFailWhenTheMeasuredTimesAreOffByOnePercent) {
  Ran r = run_experiment_sweep("escape-time");
  for (auto& run : r.runs) run["t_eps"] = run["t_eps"].get<double>() * 1.01;
  const ExperimentReport report = analyze_experiment("escape-time", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.verdict.rfind("escape-time: FAIL", 0), 0u) << report.verdict;
}

TEST(GdStepSize, ConvergenceEdgeBracketsTheLocalStabilityLimitAtEveryDepth) {
  const Ran r = run_experiment_sweep("gd-step-size");
  const ExperimentReport report = analyze_experiment("gd-step-size", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  ASSERT_EQ(report.json["groups"].size(), 3u);
  for (const auto& g : report.json["groups"]) {
    EXPECT_LE(g["converged_max_ratio"].get<double>(), 1.0) << g["params"];
    EXPECT_GE(g["failed_min_ratio"].get<double>(), 1.0) << g["params"];
  }
}

TEST(GdStepSize, SaysFailWhenARunAboveTheLimitConverged) {
  Ran r = run_experiment_sweep("gd-step-size");
  r.runs.back()["status"] = "converged";  // the largest step of the deepest network
  const ExperimentReport report = analyze_experiment("gd-step-size", r.sweep, r.runs);
  EXPECT_FALSE(report.passed) << report.verdict;
}

// u0 at 0°, 30°, 90° × v0 at 0°, 90°, 150°, 180°, 270°: interior points, the saddle on both boundary lines
// (c_1 = 0: (30°, 150°), (90°, 90°)) and two of the origin's points ((0°, 180°), (90°, 270°)).
Ran stable_set_slice() {
  return run_reduced_sweep("stable-set-map", {{"init.u0", {0, 3, 9}}, {"init.v0", {0, 9, 15, 18, 27}}});
}

TEST(StableSetMap, EveryStartReachesTheLimitSection5Predicts) {
  const Ran r = stable_set_slice();
  ASSERT_EQ(r.runs.size(), 15u);
  const ExperimentReport report = analyze_experiment("stable-set-map", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_EQ(report.verdict.rfind("stable-set-map: PASS", 0), 0u) << report.verdict;
  const auto& counts = report.json["counts"];
  EXPECT_EQ(counts["total"], 15);
  EXPECT_EQ(counts["boundary"], 4);  // (30°, 150°), (90°, 90°): saddle 2; (0°, 180°), (90°, 270°): origin
  EXPECT_EQ(counts["boundary_observed_as_predicted"], 4);
  EXPECT_EQ(counts["stable_set_observed_global_min"], 11);
  // Nested sufficient conditions (docs/theory.md §5): deficiency ⊂ sublevel ⊂ alignment ⊂ stable set. With a one-neuron
  // layer and a 3 × 4 target the deficiency margin cannot hold (s_min = s_3 < ‖W(0) − Z‖_F).
  EXPECT_EQ(counts["deficiency_margin"], 0);
  EXPECT_LE(counts["sublevel"].get<long>(), counts["alignment"].get<long>());
  EXPECT_GT(counts["sublevel"].get<long>(), 0);
  EXPECT_LE(counts["alignment"].get<long>(), counts["stable_set"].get<long>());
  for (const auto& p : report.json["points"]) {
    EXPECT_NEAR(std::abs(p["c1"].get<double>()), p["c1_abs"].get<double>(), 1e-12) << p;  // the analysis' |c_1|
  }
}

TEST(StableSetMap, SaysFailWhenAStartInTheStableSetEndsAtASaddle) {
  Ran r = stable_set_slice();
  for (auto& run : r.runs) {
    if (run["analysis"]["prediction"]["limit"] == "global_min") {
      run["observed"]["limit"] = "saddle";
      run["observed"]["saddle_index"] = 2;
      break;
    }
  }
  const ExperimentReport report = analyze_experiment("stable-set-map", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_NE(report.verdict.find("1 global_min → saddle 2"), std::string::npos) << report.verdict;
}

TEST(StableSetMap, RefusesASweepRunWithoutAnalyze) {
  Ran r = stable_set_slice();
  r.runs.front().erase("analysis");
  EXPECT_THROW(analyze_experiment("stable-set-map", r.sweep, r.runs), InputError);
}

// N = 2 and 8, σ0 = 0.1 and 1.
Ran rate_slice() { return run_reduced_sweep("rate-vs-depth", {{"network.widths", {0, 6}}, {"init.sigma0", {1, 2}}}); }

TEST(RateVsDepth, LateTimeRateMatchesSection6ToThreeDigitsAndTepsStaysBelowTheKappaBound) {
  const Ran r = rate_slice();
  ASSERT_EQ(r.runs.size(), 4u);
  const ExperimentReport report = analyze_experiment("rate-vs-depth", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_LE(report.json["max_relative_deviation"].get<double>(), 1e-3);
  EXPECT_EQ(report.json["bound_violations"], 0);
  for (const auto& run : report.json["runs"]) {
    EXPECT_EQ(run["mode"], "alignment, mode 2") << run;  // c_2 ≠ 0: the §6 formula is the slowest mode
    EXPECT_DOUBLE_EQ(run["predicted_rate"].get<double>(), run["theory_rate"].get<double>());
    EXPECT_LE(run["t_eps_over_bound"].get<double>(), 1.0) << run;
  }
}

TEST(RateVsDepth, SaysFailWhenAnObservedRateIsOffByOnePercent) {
  Ran r = rate_slice();
  auto& rate = r.runs.back()["observed"]["late_time_rate"]["value"];
  rate = rate.get<double>() * 1.01;
  const ExperimentReport report = analyze_experiment("rate-vs-depth", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.verdict.rfind("rate-vs-depth: FAIL", 0), 0u) << report.verdict;
}

Ran bound_slice() { return run_reduced_sweep("bound-vs-observed", {}, 24); }

TEST(BoundVsObserved, TheKappaBoundIsNeverViolated) {
  const Ran r = bound_slice();
  ASSERT_EQ(r.runs.size(), 24u);
  const ExperimentReport report = analyze_experiment("bound-vs-observed", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_GT(report.json["tested"].get<long>(), 0);
  EXPECT_LT(report.json["tested"].get<long>(), 24);  // random directions: some have f0 ≤ s_2
  EXPECT_LE(report.json["ratio"]["max"].get<double>(), 1.0);
  EXPECT_LE(report.json["envelope_max"].get<double>(), 1e-6);  // P8 (observe's bound_rtol)
}

TEST(BoundVsObserved, SaysFailWhenATepsExceedsItsBound) {
  Ran r = bound_slice();
  for (auto& run : r.runs) {
    bool flagged = false;
    for (auto& c : run["observed"]["comparisons"]) {
      if (c["quantity"] == "t_eps (kappa)") c["contradiction"] = flagged = true;
    }
    if (flagged) break;
  }
  const ExperimentReport report = analyze_experiment("bound-vs-observed", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_NE(report.verdict.find("VIOLATED"), std::string::npos) << report.verdict;
}

// N = 2 and 3, both kinds, scales 0.1 and 1, two seeds: 16 runs.
Ran beyond_slice() {
  return run_reduced_sweep("beyond-one-neuron", {{"network.widths", {0, 1}}, {"init.scale", {1, 3}}}, 0, 2);
}

TEST(BeyondOneNeuron, EveryRunEndsAtACriticalPointAndTheFractionComesWithAWilsonInterval) {
  Ran r = beyond_slice();
  const ExperimentReport report = analyze_experiment("beyond-one-neuron", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_EQ(report.json["runs"].get<long>(), static_cast<long>(r.runs.size()));
  EXPECT_EQ(report.json["groups"].size(), 8u);
  for (const auto& g : report.json["groups"]) {
    const double lo = g["wilson_95"][0].get<double>(), hi = g["wilson_95"][1].get<double>();
    EXPECT_LE(lo, g["fraction"].get<double>());
    EXPECT_GE(hi, g["fraction"].get<double>());
    EXPECT_EQ(g["critical_point"], g["runs"]);
  }
}

TEST(BeyondOneNeuron, SaysFailWhenARunEndsAtNoCriticalPoint) {
  Ran r = beyond_slice();
  r.runs.front()["observed"]["limit"] = "unknown";
  const ExperimentReport report = analyze_experiment("beyond-one-neuron", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.verdict.rfind("beyond-one-neuron: FAIL", 0), 0u) << report.verdict;
}

// N = 2 and 4, scales 0.1 and 1e-3: 4 runs (the shipped sweep has N = 2..6 and four scales).
Ran stage_slice() { return run_reduced_sweep("stage-wise", {{"network.widths", {0, 2}}, {"init.scale", {0, 2}}}); }

TEST(StageWise, ObservedStageTimesMatchTheDecoupledModePrediction) {
  const Ran r = stage_slice();
  ASSERT_EQ(r.runs.size(), 4u);
  const ExperimentReport report = analyze_experiment("stage-wise", r.sweep, r.runs);
  EXPECT_TRUE(report.passed) << report.verdict;
  EXPECT_LE(report.json["max_relative_deviation"].get<double>(), 1e-4);
  for (const auto& run : report.json["runs"]) {
    EXPECT_EQ(run["limit"], "global_min") << run;
    ASSERT_EQ(run["stages"].size(), 3u) << run;
    // From equal starts the modes are learned in order of decreasing s_a.
    EXPECT_EQ(run["stages"][0]["mode"], 1);
    EXPECT_EQ(run["stages"][2]["mode"], 3);
  }
}

TEST(StageWise, SaysFailWhenAStageTimeIsOffByOnePermille) {
  Ran r = stage_slice();
  for (auto& c : r.runs.front()["observed"]["comparisons"]) {
    if (c["quantity"] == "stage 2 time") c["observed"] = c["observed"].get<double>() * 1.001;
  }
  const ExperimentReport report = analyze_experiment("stage-wise", r.sweep, r.runs);
  EXPECT_FALSE(report.passed);
  EXPECT_EQ(report.verdict.rfind("stage-wise: FAIL", 0), 0u) << report.verdict;
}

}  // namespace
}  // namespace linflow
