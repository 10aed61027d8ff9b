// Built-in experiments: the shipped sweeps run and their analyses reach the verdict the theory predicts; an
// analysis fed a measurement that contradicts the theory says FAIL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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

TEST(Experiments, AreListedByName) {
  std::vector<std::string> names;
  for (const auto& e : experiments()) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"escape-time", "gd-step-size"}));
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

}  // namespace
}  // namespace linflow
