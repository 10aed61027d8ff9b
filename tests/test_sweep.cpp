// Sweeps: grid and random expansion, derived seeds, output identical for any thread count, crash-safe resume, and
// bad sweep files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "linflow/error.hpp"
#include "linflow/interrupt.hpp"
#include "linflow/run.hpp"
#include "linflow/sweep.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;

// Every output of this executable lives under one temporary directory, removed when the tests end.
fs::path scratch() { return fs::temp_directory_path() / ("linflow_test_sweep_" + std::to_string(::getpid())); }

class RemoveScratch : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(scratch()); }
};
[[maybe_unused]] ::testing::Environment* const remove_scratch = ::testing::AddGlobalTestEnvironment(new RemoveScratch);

const char* kBase = R"(
[base.problem]
singular_values = [2.0, 1.0]
seed = 3
[base.network]
widths = [3, 2, 1, 2]
[base.init]
kind = "balanced_rank1"
sigma0 = 0.1
seed = 4
[base.solver]
eps = 1e-8
t_max = 100.0
lr = 0.05
)";

SweepConfig sweep_of(const std::string& text) { return parse_sweep(text + kBase, ".", "test sweep"); }

// 3 starts × 2 methods × 2 seeds = 12 small runs, GF and GD.
SweepConfig small_sweep() {
  return sweep_of(R"(
[sweep]
seeds = 2
[[axis]]
key = "init.sigma0"
from = 1e-1
to = 1e-3
count = 3
log = true
[[axis]]
key = "solver.method"
values = ["gf", "gd"]
)");
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = scratch() / name;
  fs::remove_all(dir);
  return dir;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A file size limit while it lives: a write past it fails (EFBIG, SIGXFSZ ignored) as one on a full disk does, without
// root or a disk to fill (tests/cli/full_disk.sh fills a real one).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) : previous_(std::signal(SIGXFSZ, SIG_IGN)) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_);
  }

 private:
  rlimit saved_{};
  void (*previous_)(int);
};

std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == ".tmp") found.push_back(entry.path().string());
  }
  return found;
}

SweepSummary run(const SweepConfig& sweep, const fs::path& dir, int threads, bool resume = false,
                 const SweepProgressSink& progress = {}) {
  SweepOptions options;
  options.out_dir = dir.string();
  options.threads = threads;
  options.resume = resume;
  return run_sweep(sweep, options, progress);
}

TEST(SweepGrid, EnumeratesAxesLikeNestedLoopsWithRepeatsFastest) {
  const SweepConfig sweep = small_sweep();
  ASSERT_EQ(point_count(sweep), 6);
  ASSERT_EQ(run_count(sweep), 12);
  // Run k = (point, repeat): point = (sigma0 index, method index), the last axis fastest.
  const std::vector<double> sigma{1e-1, 1e-2, 1e-3};
  const std::vector<std::string> method{"gf", "gd"};
  for (long k = 0; k < 12; ++k) {
    const auto params = run_parameters(sweep, k);
    const long point = k / 2;
    // Log spacing: endpoints exactly, the midpoint exp(mean of logs) to a few ulps.
    EXPECT_NEAR(params["init.sigma0"].get<double>(), sigma[static_cast<size_t>(point / 2)],
                4 * std::numeric_limits<double>::epsilon() * sigma[static_cast<size_t>(point / 2)]);
    EXPECT_EQ(params["solver.method"], method[static_cast<size_t>(point % 2)]);
  }
  EXPECT_EQ(run_parameters(sweep, 0)["init.sigma0"].get<double>(), 1e-1);
  EXPECT_EQ(run_parameters(sweep, 11)["init.sigma0"].get<double>(), 1e-3);
  EXPECT_EQ(run_configuration(sweep, 3).solver.method, Method::gd);
  EXPECT_THROW(run_parameters(sweep, 12), InputError);
}

TEST(SweepGrid, LinearIntegerRangeRoundsToIntegers) {
  const SweepConfig sweep = sweep_of(R"(
[sweep]
[[axis]]
key = "solver.steps"
from = 10
to = 20
count = 4
integer = true
)");
  std::vector<long> steps;
  for (long k = 0; k < run_count(sweep); ++k) steps.push_back(run_parameters(sweep, k)["solver.steps"].get<long>());
  EXPECT_EQ(steps, (std::vector<long>{10, 13, 17, 20}));  // 10 + 10·i/3 rounded
}

TEST(SweepGrid, NoAxesIsOneRunOfTheBase) {
  const SweepConfig sweep = sweep_of("[sweep]\n");
  EXPECT_EQ(run_count(sweep), 1);
  EXPECT_TRUE(run_parameters(sweep, 0).empty());  // seeds = 1: the base seeds, nothing derived
  EXPECT_EQ(run_configuration(sweep, 0).init.seed, 4u);
}

TEST(SweepSeeds, RepeatsShareSeedsAcrossPointsAndDependOnBaseAndRepeatOnly) {
  const SweepConfig sweep = small_sweep();
  for (long k = 0; k < run_count(sweep); ++k) {
    const auto params = run_parameters(sweep, k);
    const auto repeat = static_cast<unsigned long long>(k % 2);
    if (repeat == 0) {  // repeat 0 keeps the base seeds: `linflow train` of the base with the point's values
      EXPECT_FALSE(params.contains("init.seed")) << params;
      EXPECT_EQ(run_configuration(sweep, k).init.seed, 4u);
      continue;
    }
    EXPECT_EQ(params["init.seed"].get<unsigned long long>(), derive_seed(4, repeat));
    EXPECT_EQ(params["problem.seed"].get<unsigned long long>(), derive_seed(3, repeat));
  }
  EXPECT_NE(derive_seed(4, 0), derive_seed(4, 1));
}

// seed_per = "run": every run its own instance, its seeds a function of its point's values and repeat — not of its
// index, so a point keeps its seeds when values are added before it.
TEST(SweepSeeds, PerRunSeedsDependOnThePointsValuesNotItsIndex) {
  const SweepConfig sweep = sweep_of(R"(
[sweep]
seed_per = "run"
seeds = 2
[[axis]]
key = "init.sigma0"
values = [0.1, 0.2, 0.3]
)");
  std::set<unsigned long long> seen;
  for (long k = 0; k < run_count(sweep); ++k)
    seen.insert(run_parameters(sweep, k)["init.seed"].get<unsigned long long>());
  EXPECT_EQ(seen.size(), 6u);
  const SweepConfig reordered = sweep_of(R"(
[sweep]
seed_per = "run"
seeds = 3
[[axis]]
key = "init.sigma0"
values = [0.05, 0.3, 0.1]
)");
  // sigma0 = 0.1 is point 0 of the first sweep and point 2 of the second; repeats 0 and 1 keep their seeds.
  constexpr long kPoint2 = 6;  // the first run of point 2: 2 points × 3 seeds before it
  for (long r = 0; r < 2; ++r) {
    EXPECT_EQ(run_parameters(reordered, kPoint2 + r), run_parameters(sweep, r));
    EXPECT_EQ(run_key(reordered, kPoint2 + r), run_key(sweep, r));
    EXPECT_EQ(run_id(reordered, kPoint2 + r), run_id(sweep, r));
  }
}

TEST(SweepSeeds, AnAxisOnASeedIsNeverReplaced) {
  const SweepConfig sweep = sweep_of(R"(
[sweep]
seeds = 3
[[axis]]
key = "init.seed"
values = [7, 8]
)");
  for (long k = 0; k < run_count(sweep); ++k) {
    EXPECT_EQ(run_parameters(sweep, k)["init.seed"].get<int>(), 7 + k / 3);
  }
}

TEST(SweepSeeds, DerivedSeedsFitInA63BitTomlInteger) {
  for (unsigned long long k = 0; k < 1000; ++k) EXPECT_LT(derive_seed(~0ULL, k), 1ULL << 63);
}

TEST(SweepSamples, DrawWithinRangesLogUniformlyAndReproducibly) {
  const std::string text = R"(
[sweep]
samples = 200
seed = 9
[[axis]]
key = "init.sigma0"
from = 1e-4
to = 1e-1
log = true
[[axis]]
key = "solver.method"
values = ["gf", "gd"]
)";
  const SweepConfig sweep = sweep_of(text);
  ASSERT_EQ(run_count(sweep), 200);
  long below_geometric_mean = 0, gd = 0;
  for (long k = 0; k < 200; ++k) {
    const auto params = run_parameters(sweep, k);
    const double s = params["init.sigma0"].get<double>();
    EXPECT_GE(s, 1e-4);
    EXPECT_LE(s, 1e-1);
    below_geometric_mean += s < std::sqrt(1e-4 * 1e-1);
    gd += params["solver.method"] == "gd";
    EXPECT_EQ(params, run_parameters(sweep, k));
  }
  // Log-uniform: half the draws below the geometric mean; a fair choice between two values. With 200 draws a
  // binomial count stays within 4 standard deviations (√200/2 ≈ 7) of 100.
  EXPECT_NEAR(below_geometric_mean, 100, 4 * 7.1);
  EXPECT_NEAR(gd, 100, 4 * 7.1);
  std::string other = text;
  other.replace(other.find("seed = 9"), 8, "seed = 10");
  EXPECT_NE(run_parameters(sweep_of(other), 0), run_parameters(sweep, 0));
}

TEST(SweepRun, OutputIsBitwiseIdenticalForOneAndTwoThreads) {
  const SweepConfig sweep = small_sweep();
  const fs::path one = fresh_dir("one"), two = fresh_dir("two");
  const SweepSummary a = run(sweep, one, 1);
  const SweepSummary b = run(sweep, two, 2);
  EXPECT_EQ(a.status, SweepStatus::complete) << a.message;
  EXPECT_EQ(a.executed, 12);
  EXPECT_EQ(b.threads, 2);
  const std::string runs = read(one / "runs.jsonl");
  EXPECT_EQ(runs, read(two / "runs.jsonl"));
  EXPECT_EQ(read(one / "sweep.json"), read(two / "sweep.json"));
  const auto lines = lines_of(runs);
  ASSERT_EQ(lines.size(), 12u);
  for (size_t k = 0; k < lines.size(); ++k) {
    const auto j = nlohmann::json::parse(lines[k]);
    EXPECT_EQ(j["run"], k);
    EXPECT_FALSE(j["stats"].contains("wall_seconds"));
    EXPECT_EQ(j["params"], nlohmann::json(run_parameters(sweep, static_cast<long>(k))));
    EXPECT_EQ(lines[k], run_line(sweep, static_cast<long>(k)));  // a line is a pure function of (sweep, k)
  }
}

// output.sharpness gives each line "sharpness", λ_max(∇²L) at the run's final θ, without any trajectory: at the
// balanced global minimizer a GF run reaches (widths 3-2-1-2, s_1 = 2) it is N s_1^{2−2/N} = 3 · 2^{4/3}.
TEST(SweepSharpness, EachLineCarriesTheFinalSharpness) {
  SweepConfig sweep = sweep_of(R"(
[sweep]
seeds = 1
[[axis]]
key = "solver.method"
values = ["gf", "gd"]
[base.output]
sharpness = true
)");
  const fs::path dir = fresh_dir("sharpness");
  const SweepSummary summary = run(sweep, dir, 1);
  ASSERT_EQ(summary.status, SweepStatus::complete) << summary.message;
  const auto lines = lines_of(read(dir / "runs.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& text : lines) {
    const auto line = nlohmann::json::parse(text);
    ASSERT_TRUE(line.contains("sharpness") && line["sharpness"].is_number()) << text;
    EXPECT_GT(line["sharpness"].get<double>(), 0.0) << text;
    if (line["params"]["solver.method"] == "gf") {
      EXPECT_NEAR(line["sharpness"].get<double>(), 3 * std::pow(2.0, 4.0 / 3), 1e-3) << text;
    }
  }
  EXPECT_FALSE(nlohmann::json::parse(run_line(small_sweep(), 0)).contains("sharpness"));  // only when asked
}

// sweep.analyze: each line gains the analysis and the observation of `linflow analyze --simulate`, while the summary
// fields — taken from observe's own simulation, no separate train() — equal those of the plain sweep. Only the
// evaluation count may grow: observe records the trajectory, and DOP853's dense output costs three evaluations on
// each step that holds a recording time (the steps themselves, hence the trajectory, are the same).
TEST(SweepAnalyze, AddsAnalysisAndObservationAndKeepsTheSummaryOfAPlainRun) {
  const SweepConfig plain = small_sweep();
  SweepConfig analyzed = plain;
  analyzed.analyze = true;
  const fs::path one = fresh_dir("analyze_one"), two = fresh_dir("analyze_two");
  const SweepSummary a = run(analyzed, one, 1);
  const SweepSummary b = run(analyzed, two, 2);
  EXPECT_EQ(a.status, SweepStatus::complete) << a.message;
  EXPECT_EQ(b.status, SweepStatus::complete) << b.message;
  const std::string runs = read(one / "runs.jsonl");
  EXPECT_EQ(runs, read(two / "runs.jsonl"));  // bitwise identical for 1 and 2 threads
  EXPECT_TRUE(nlohmann::json::parse(read(one / "sweep.json"))["analyze"].get<bool>());
  const auto lines = lines_of(runs);
  ASSERT_EQ(lines.size(), 12u);
  for (size_t k = 0; k < lines.size(); ++k) {
    auto j = nlohmann::json::parse(lines[k]);
    auto reference = nlohmann::json::parse(run_line(plain, static_cast<long>(k)));
    const long plain_evals = reference["stats"]["rhs_evals"].get<long>();
    EXPECT_GE(j["stats"]["rhs_evals"].get<long>(), plain_evals) << lines[k];
    EXPECT_LE(j["stats"]["rhs_evals"].get<long>(), plain_evals + 3 * j["stats"]["steps"].get<long>()) << lines[k];
    j["stats"]["rhs_evals"] = plain_evals;
    for (const auto& [key, value] : reference.items()) EXPECT_EQ(j[key], value) << "run " << k << " field " << key;
    ASSERT_TRUE(j.contains("analysis")) << lines[k];
    ASSERT_TRUE(j.contains("observed")) << lines[k];
    // The base is a balanced rank-one start with a one-neuron layer: the exact theory applies and predicts the
    // global minimizer, which the observation (from the same trajectory) confirms.
    EXPECT_EQ(j["analysis"]["status"], "exact_theory");
    EXPECT_EQ(j["analysis"]["prediction"]["limit"], "global_min");
    EXPECT_EQ(j["observed"]["t_eps"], j["t_eps"]);
    if (j["status"] == "converged") {
      EXPECT_EQ(j["observed"]["limit"], "global_min") << lines[k];
    }
    EXPECT_TRUE(j["observed"]["contradictions"].empty()) << lines[k];
  }
}

TEST(SweepAnalyze, IsReadFromTheSweepFileAndOffByDefault) {
  EXPECT_FALSE(small_sweep().analyze);
  EXPECT_TRUE(sweep_of("[sweep]\nanalyze = true\n").analyze);
  try {
    sweep_of("[sweep]\nanalyze = \"yes\"\n");
    FAIL() << "a string for sweep.analyze was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.analyze: expected true or false"), std::string::npos) << e.what();
  }
}

TEST(SweepRun, ResumeAfterAKillMidLineRunsOnlyTheMissingRunsAndMatchesAnUninterruptedSweep) {
  const SweepConfig sweep = small_sweep();
  const fs::path whole = fresh_dir("whole"), killed = fresh_dir("killed");
  run(sweep, whole, 1);
  const auto lines = lines_of(read(whole / "runs.jsonl"));
  // What a kill leaves: runs finished out of order, then half a line.
  run(sweep, killed, 1);
  write(killed / "runs.jsonl", lines[7] + "\n" + lines[2] + "\n" + lines[9] + "\n" + lines[4].substr(0, 40));
  long last_done = 0, resumed = 0;
  const SweepSummary s = run(sweep, killed, 2, /*resume=*/true, [&](const SweepProgress& p) {
    last_done = p.done;
    resumed = p.resumed;
  });
  EXPECT_EQ(s.resumed, 3);
  EXPECT_EQ(s.executed, 9);
  EXPECT_EQ(resumed, 3);
  EXPECT_EQ(last_done, 12);
  EXPECT_EQ(read(killed / "runs.jsonl"), read(whole / "runs.jsonl"));
  // Resuming a complete sweep runs nothing and leaves the file as it is.
  const SweepSummary again = run(sweep, killed, 1, /*resume=*/true);
  EXPECT_EQ(again.executed, 0);
  EXPECT_EQ(read(killed / "runs.jsonl"), read(whole / "runs.jsonl"));
}

// A journal line that does not fit (past the limit, as on a full disk) is cut back: the journal keeps whole lines of
// the sweep only (it used to keep the part that fitted), and --resume with room again writes the uninterrupted
// sweep's file.
TEST(SweepRun, AJournalWriteThatFailsKeepsWholeLinesThatResumeCompletes) {
  const SweepConfig sweep = small_sweep();
  const fs::path whole = fresh_dir("full_disk_whole"), full = fresh_dir("full_disk_journal");
  run(sweep, whole, 1);
  const std::string expected = read(whole / "runs.jsonl");
  {
    const FileSizeLimit limit(4096);  // sweep.json and about 6 of the 12 lines (580 to 680 bytes each)
    EXPECT_THROW(run(sweep, full, 2), InputError);
  }
  const std::string journal = read(full / "runs.jsonl");
  ASSERT_FALSE(journal.empty());
  EXPECT_EQ(journal.back(), '\n') << "a partial line was left";
  for (const std::string& line : lines_of(journal)) EXPECT_NE(expected.find(line + "\n"), std::string::npos) << line;
  EXPECT_TRUE(temporaries(full).empty()) << temporaries(full).front();
  run(sweep, full, 2, /*resume=*/true);
  EXPECT_EQ(read(full / "runs.jsonl"), expected);
}

TEST(SweepRun, RefusesToOverwriteARunsFileWithoutResume) {
  const SweepConfig sweep = sweep_of("[sweep]\n");
  const fs::path dir = fresh_dir("overwrite");
  run(sweep, dir, 1);
  EXPECT_THROW(run(sweep, dir, 1), InputError);
}

TEST(SweepRun, RefusesToResumeADifferentSweep) {
  const fs::path dir = fresh_dir("different");
  run(sweep_of("[sweep]\n"), dir, 1);
  EXPECT_THROW(run(small_sweep(), dir, 1, /*resume=*/true), InputError);
}

// A damaged sweep.json cannot vouch for runs.jsonl: resuming over it is refused (a failed parse used to compare
// unequal to nothing, so the runs of two sweeps could mix in one file).
TEST(SweepRun, RefusesToResumeOverADamagedSweepDescription) {
  const SweepConfig sweep = sweep_of("[sweep]\n");
  const fs::path dir = fresh_dir("damaged");
  run(sweep, dir, 1);
  std::ofstream(dir / "sweep.json", std::ios::trunc) << R"({"format": 1, "axes": [)";
  try {
    run(sweep, dir, 1, /*resume=*/true);
    FAIL() << "resumed over a damaged sweep.json";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.json: not valid JSON"), std::string::npos) << e.what();
  }
}

const char* kRun = R"(
[problem]
singular_values = [2.0, 1.0]
seed = 3
[network]
widths = [3, 2, 1, 2]
[init]
sigma0 = 0.1
seed = 4
[solver]
eps = 1e-10
t_max = 100.0
)";

// A run's files in a folder belong to one run: a rerun that fails midway leaves the earlier run's files as they
// were (and no pending trajectory); a finished rerun replaces them all, an earlier, deeper run's layers included.
TEST(RunOutputs, ARerunReplacesAFinishedRunOnlyWhenItFinishes) {
  const fs::path dir = fresh_dir("rerun");
  run_config(parse_config(kRun, "."), dir.string());
  const std::string summary = read(dir / "summary.json"), trajectory = read(dir / "trajectory.csv");
  const std::string w3 = read(dir / "weights" / "W3.npy");
  struct Interrupted {};
  const ProgressSink interrupt = [](const Progress& p) {
    if (p.t > 1.0) throw Interrupted{};
  };
  EXPECT_THROW(run_config(parse_config(kRun, ".", {"init.sigma0=0.2"}), dir.string(), interrupt), Interrupted);
  EXPECT_EQ(read(dir / "summary.json"), summary);
  EXPECT_EQ(read(dir / "trajectory.csv"), trajectory);
  EXPECT_EQ(read(dir / "weights" / "W3.npy"), w3);
  EXPECT_FALSE(fs::exists(dir / "trajectory.csv.tmp"));

  run_config(parse_config(kRun, ".", {"network.widths=[3, 1, 2]"}), dir.string());
  EXPECT_NE(read(dir / "summary.json"), summary);
  EXPECT_EQ(nlohmann::json::parse(read(dir / "summary.json"))["config"]["network"]["widths"],
            std::vector<int>({3, 1, 2}));
  EXPECT_TRUE(fs::exists(dir / "weights" / "W2.npy"));
  EXPECT_FALSE(fs::exists(dir / "weights" / "W3.npy")) << "a layer of the earlier, deeper run was left behind";
}

// train --resume (run_config with ResumeOptions::resume) continues only the run its checkpoint belongs to: another
// configuration is refused naming the key that differs, a damaged checkpoint or a trajectory that is not the one it
// was taken with are refused, and the resumed run ends with the uninterrupted run's files.
TEST(RunOutputs, AResumeContinuesOnlyTheRunItsCheckpointBelongsTo) {
  const fs::path clean = fresh_dir("resume_clean"), dir = fresh_dir("resume_cut");
  const RunConfig config = parse_config(kRun, ".");
  run_config(config, clean.string());
  const ProgressSink interrupt = [](const Progress& p) {
    if (p.steps == 20) request_interrupt();
  };
  EXPECT_EQ(run_config(config, dir.string(), interrupt).summary.status, Status::interrupted);
  clear_interrupt();
  ASSERT_TRUE(fs::exists(dir / "checkpoint.bin"));
  const std::string checkpoint = read(dir / "checkpoint.bin"), trajectory = read(dir / "trajectory.csv");
  const ResumeOptions resume{5, true};
  auto refused = [&](const RunConfig& c, const std::string& says) {
    try {
      run_config(c, dir.string(), {}, resume);
      ADD_FAILURE() << "accepted; expected a refusal saying " << says;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused(parse_config(kRun, ".", {"solver.rtol=1e-10"}), "solver.rtol differs");
  std::ofstream(dir / "checkpoint.bin", std::ios::trunc) << checkpoint.substr(0, checkpoint.size() - 8);
  refused(config, "damaged");
  std::ofstream(dir / "checkpoint.bin", std::ios::trunc) << checkpoint;
  std::ofstream(dir / "trajectory.csv", std::ios::trunc) << "t,loss\n";
  refused(config, "does not hold the trajectory the checkpoint was taken with");
  std::ofstream(dir / "trajectory.csv", std::ios::trunc) << trajectory;

  const RunResult resumed = run_config(config, dir.string(), {}, resume);
  EXPECT_EQ(resumed.summary.status, Status::converged);
  EXPECT_FALSE(fs::exists(dir / "checkpoint.bin"));
  EXPECT_EQ(read(dir / "trajectory.csv"), read(clean / "trajectory.csv"));
  EXPECT_EQ(read(dir / "weights" / "W3.npy"), read(clean / "weights" / "W3.npy"));
}

// A rerun whose files do not fit (a layer of 200 x 200 doubles past the limit, as on a full disk) fails naming the
// file and leaves the finished run as it was, without a temporary. Its layers used to be written over the finished
// run's, once its summary.json was removed: the folder then held neither run.
TEST(RunOutputs, ARerunWhoseFilesDoNotFitLeavesTheFinishedRun) {
  const fs::path dir = fresh_dir("full_disk_rerun");
  run_config(parse_config(kRun, "."), dir.string());
  const std::string summary = read(dir / "summary.json"), trajectory = read(dir / "trajectory.csv");
  const std::string target = read(dir / "target.npy"), w2 = read(dir / "weights" / "W2.npy");
  std::string error;
  {
    const FileSizeLimit limit(65536);
    try {
      run_config(parse_config(kRun, ".", {"network.widths=[3, 200, 200, 2]"}), dir.string());
    } catch (const InputError& e) {
      error = e.what();
    }
  }
  EXPECT_NE(error.find("W2.npy.tmp: write failed"), std::string::npos) << error;
  EXPECT_EQ(read(dir / "summary.json"), summary);
  EXPECT_EQ(read(dir / "trajectory.csv"), trajectory);
  EXPECT_EQ(read(dir / "target.npy"), target);
  EXPECT_EQ(read(dir / "weights" / "W2.npy"), w2);
  EXPECT_TRUE(temporaries(dir).empty()) << temporaries(dir).front();
}

// The same for analyze --simulate, whose analysis.json (10 KB, past the limit; the run's other files are under 4 KB)
// used to be written after the run's files were in place: the failure left this run's summary.json beside the finished
// run's analysis.json.
TEST(RunOutputs, AnAnalysisThatDoesNotFitLeavesTheFinishedRun) {
  const fs::path dir = fresh_dir("full_disk_analysis");
  analyze_config(parse_config(kRun, ".", {"output.trajectory=false"}), /*simulate=*/true, dir.string());
  const std::string summary = read(dir / "summary.json"), analysis = read(dir / "analysis.json");
  ASSERT_GT(analysis.size(), 4096u);
  std::string error;
  {
    const FileSizeLimit limit(4096);
    try {
      analyze_config(parse_config(kRun, ".", {"output.trajectory=false", "init.seed=5"}), true, dir.string());
    } catch (const InputError& e) {
      error = e.what();
    }
  }
  EXPECT_NE(error.find("analysis.json.tmp: write failed"), std::string::npos) << error;
  EXPECT_EQ(read(dir / "summary.json"), summary);
  EXPECT_EQ(read(dir / "analysis.json"), analysis);
  EXPECT_TRUE(temporaries(dir).empty()) << temporaries(dir).front();
}

// A path that is not UTF-8 (a folder named in Latin-1) is written to summary.json with U+FFFD in its place; it used
// to throw a JSON type_error after the run had finished, leaving no summary.
TEST(RunOutputs, APathThatIsNotUtf8StillGetsItsSummary) {
  const fs::path dir = fresh_dir(std::string("caf\xe9"));
  fs::create_directories(dir);
  std::ofstream(dir / "target.csv") << "2,0,0\n0,1,0\n";
  const RunConfig config =
      parse_config(kRun, ".", {"problem.target=" + (dir / "target.csv").string(), "network.widths=[3, 2, 1, 2]"});
  ASSERT_NO_THROW(run_config(config, (dir / "out").string()));
  EXPECT_NE(read(dir / "out" / "summary.json").find("caf\xef\xbf\xbd"), std::string::npos);
}

// Two sweeps never write one folder at once: while one holds it, a second (a concurrent --resume) is refused.
TEST(SweepRun, RefusesAFolderAnotherSweepIsWriting) {
  const SweepConfig sweep = sweep_of("[sweep]\n");
  const fs::path dir = fresh_dir("locked");
  fs::create_directories(dir);
  const int held = ::open((dir / ".linflow.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  try {
    run(sweep, dir, 1);
    FAIL() << "a second writer was let in";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another linflow process is writing to this folder"), std::string::npos)
        << e.what();
  }
  ::close(held);
  EXPECT_NO_THROW(run(sweep, dir, 1));
}

// A point too large for memory is refused by its estimate, as that run's error line, before anything is allocated:
// it used to end in bad_alloc, aborting the whole sweep (and every --resume the same way).
TEST(SweepRun, APointTooLargeForMemoryBecomesAnErrorLine) {
  const SweepConfig sweep = sweep_of(R"(
[[axis]]
key = "network.widths"
values = [[3, 2, 1, 2], [3, 2000000, 2000000, 2]]
)");
  const fs::path dir = fresh_dir("oversized");
  const SweepSummary summary = run(sweep, dir, 1);
  EXPECT_EQ(summary.status, SweepStatus::run_errors);
  const std::vector<nlohmann::json> lines = read_runs((dir / "runs.jsonl").string());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0]["status"], "error") << lines[0];
  EXPECT_EQ(lines[1]["status"], "error");
  EXPECT_NE(lines[1]["message"].get<std::string>().find("this run needs about"), std::string::npos) << lines[1];
}

TEST(SweepRun, AnInvalidCombinationBecomesAnErrorLineAndTheSweepGoesOn) {
  // Fixed target dimensions and a widths axis: the second network does not fit the target. Only building the
  // problem can tell, so the run reports it instead of the up-front check.
  const SweepConfig sweep = parse_sweep(R"(
[sweep]
[[axis]]
key = "network.widths"
values = [[3, 1, 2], [4, 1, 2]]
[base.problem]
dims = [3, 2]
singular_values = [2.0, 1.0]
)",
                                        ".", "test sweep");
  const fs::path dir = fresh_dir("errors");
  const SweepSummary s = run(sweep, dir, 1);
  EXPECT_EQ(s.status, SweepStatus::run_errors);
  EXPECT_EQ(s.errors, 1);
  const auto runs = read_runs((dir / "runs.jsonl").string());
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_NE(runs[0]["status"], "error");
  EXPECT_EQ(runs[1]["status"], "error");
  EXPECT_NE(runs[1]["message"].get<std::string>().find("d_0 = 4"), std::string::npos) << runs[1]["message"];
}

TEST(SweepRun, ReadRunsIgnoresAPartialLastLine) {
  const fs::path dir = fresh_dir("partial");
  fs::create_directories(dir);
  write(dir / "runs.jsonl", "{\"run\":0}\n{\"run\":1}\n{\"ru");
  EXPECT_EQ(read_runs((dir / "runs.jsonl").string()).size(), 2u);
  write(dir / "runs.jsonl", "{\"run\":0}\nnot json\n");
  EXPECT_THROW(read_runs((dir / "runs.jsonl").string()), InputError);
}

// The up-front check parses the first 1000 points only (sweep_plan.hpp), so a sweep of a billion points starts at
// once; an invalid point beyond them is its run's error line, like any invalid combination.
TEST(SweepPlan, PointsBeyondTheFirstThousandAreCheckedWhenTheyRun) {
  const SweepConfig sweep = sweep_of(R"(
[sweep]
samples = 1000000000
[[axis]]
key = "init.sigma0"
from = 1e-3
to = 1.0
log = true
)");  // parse_sweep returns: it did not parse 1e9 points
  EXPECT_EQ(run_count(sweep), 1'000'000'000);
  const std::string axis = "[[axis]]\nkey = \"init.sigma0\"\n";
  // A grid whose point 1000 (the 1001st) is invalid passes parse_sweep; the run of that point is an error line.
  std::string values = "values = [";
  for (int i = 1; i <= 1000; ++i) values += std::to_string(i) + "e-3, ";
  values += "-1.0]\n";
  const SweepConfig late = sweep_of(axis + values);
  EXPECT_EQ(run_count(late), 1001);
  const nlohmann::json line = nlohmann::json::parse(run_line(late, 1000));
  EXPECT_EQ(line["status"], "error");
  EXPECT_NE(line["message"].get<std::string>().find("init.sigma0"), std::string::npos) << line["message"];
  // Within the first thousand the same value is refused up front.
  EXPECT_THROW(sweep_of(axis + "values = [0.1, -1.0]\n"), InputError);
}

struct BadSweep {
  const char* name;
  std::string text;
  const char* message;  // a part of the InputError's message
};
// Keeps CTest's test names short (otherwise GoogleTest appends the parameter's bytes).
void PrintTo(const BadSweep& c, std::ostream* os) { *os << c.name; }

class SweepConfigErrors : public ::testing::TestWithParam<BadSweep> {};

TEST_P(SweepConfigErrors, AreInputErrorsNamingTheProblem) {
  const BadSweep& c = GetParam();
  try {
    parse_sweep(c.text, ".", "bad.toml");
    FAIL() << "no InputError for " << c.name;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.toml", 0), 0u) << e.what();
  }
}

const std::string kAxis = "[[axis]]\nkey = \"init.sigma0\"\n";

INSTANTIATE_TEST_SUITE_P(
    Sweep, SweepConfigErrors,
    ::testing::Values(
        BadSweep{"syntax", "[sweep\n", "bad.toml:1"},
        BadSweep{"no base", "[sweep]\nseeds = 2\n", "no base configuration"},
        BadSweep{"two bases", std::string("[sweep]\nbase = \"x.toml\"\n") + kBase, "not both"},
        BadSweep{"missing base file", "[sweep]\nbase = \"absent.toml\"\n", "absent.toml: cannot open"},
        BadSweep{"unknown section", std::string("[sweeps]\n") + kBase, "unknown key sweeps"},
        BadSweep{"unknown sweep key", std::string("[sweep]\nseed_count = 2\n") + kBase, "unknown key sweep.seed_count"},
        BadSweep{"misspelt sweep key", std::string("[sweep]\nseeds_per = \"run\"\n") + kBase,
                 "unknown key sweep.seeds_per (did you mean 'seed_per'?)"},
        BadSweep{"negative samples", std::string("[sweep]\nsamples = -1\n") + kBase,
                 "sweep.samples: must be in 0..1e9"},
        BadSweep{"zero seeds", std::string("[sweep]\nseeds = 0\n") + kBase, "sweep.seeds"},
        BadSweep{"bad seed_per", std::string("[sweep]\nseed_per = \"point\"\n") + kBase, "seed_per"},
        BadSweep{"axis not a table array", std::string("axis = 3\n") + kBase, "[[axis]]"},
        BadSweep{"axis without key", std::string("[[axis]]\nvalues = [1]\n") + kBase, "key: required"},
        BadSweep{"axis key without section", std::string("[[axis]]\nkey = \"sigma0\"\nvalues = [1.0]\n") + kBase,
                 "section.key"},
        BadSweep{"unknown run key", std::string("[[axis]]\nkey = \"init.sigma\"\nvalues = [1.0]\n") + kBase,
                 "did you mean 'sigma0'"},
        BadSweep{"invalid value", kAxis + "values = [0.1, -1.0]\n" + kBase, "init.sigma0 = -1.0"},
        BadSweep{"wrong type", kAxis + "values = [\"big\"]\n" + kBase, "init.sigma0"},
        BadSweep{"empty values", kAxis + "values = []\n" + kBase, "non-empty"},
        BadSweep{"values and range", kAxis + "values = [1.0]\nfrom = 1.0\n" + kBase, "not both"},
        BadSweep{"range without count", kAxis + "from = 1.0\nto = 2.0\n" + kBase, "count: required"},
        BadSweep{"zero count", kAxis + "from = 1.0\nto = 2.0\ncount = 0\n" + kBase, "count: must be ≥ 1"},
        BadSweep{"log of zero", kAxis + "from = 0.0\nto = 1.0\ncount = 3\nlog = true\n" + kBase, "from > 0"},
        BadSweep{"unknown axis key", kAxis + "values = [1.0]\nstep = 2\n" + kBase, "unknown key axis 1: step"},
        BadSweep{"duplicate axis", kAxis + "values = [1.0]\n" + kAxis + "values = [2.0]\n" + kBase, "appears twice"},
        BadSweep{"inline table value", kAxis + "values = [{a = 1}]\n" + kBase, "values must be"},
        BadSweep{"repeated value", kAxis + "values = [0.1, 0.2, 0.1]\n" + kBase,
                 "the point init.sigma0 = 0.1 appears twice"},
        BadSweep{"integer range rounding to one value",
                 std::string("[[axis]]\nkey = \"solver.steps\"\nfrom = 1\nto = 3\ncount = 5\ninteger = true\n") + kBase,
                 "appears twice"},
        BadSweep{"zip on the first axis", kAxis + "values = [0.1]\nzip = true\n" + kBase, "the first has none"},
        BadSweep{"zip of unequal lengths",
                 kAxis + "values = [0.1, 0.2]\n[[axis]]\nkey = \"solver.t_max\"\nvalues = [1.0]\nzip = true\n" + kBase,
                 "needs as many values (2), got 1"},
        BadSweep{"save of an unknown file", std::string("[sweep]\nsave = [\"trajectory\", \"loss\"]\n") + kBase,
                 "sweep.save: each entry must be"}),
    [](const ::testing::TestParamInfo<BadSweep>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// samples = 0 is the grid, as the sweep file format documents (it was refused before).
TEST(SweepFile, ZeroSamplesIsTheGrid) {
  const SweepConfig grid = parse_sweep(kAxis + "values = [0.1, 0.2, 0.3]\n" + kBase, ".", "grid.toml");
  const SweepConfig zero = parse_sweep(
      std::string("[sweep]\nsamples = 0\n") + kAxis + "values = [0.1, 0.2, 0.3]\n" + kBase, ".", "zero.toml");
  EXPECT_EQ(zero.samples, 0);
  EXPECT_EQ(run_count(zero), run_count(grid));
  for (long k = 0; k < run_count(grid); ++k) EXPECT_EQ(run_parameters(zero, k), run_parameters(grid, k));
}

// Zipped axes take their values together: two pairs, not four points.
TEST(SweepGrid, ZippedAxesTakeTheirValuesTogether) {
  const SweepConfig sweep = sweep_of(R"(
[sweep]
[[axis]]
key = "solver.method"
values = ["gf", "gd"]
[[axis]]
key = "init.sigma0"
values = [0.1, 0.01]
[[axis]]
key = "solver.t_max"
from = 50.0
to = 100.0
count = 2
zip = true
)");
  ASSERT_EQ(run_count(sweep), 4);
  for (long k = 0; k < 4; ++k) {
    const auto params = run_parameters(sweep, k);
    EXPECT_EQ(params["init.sigma0"].get<double>() == 0.1, params["solver.t_max"].get<double>() == 50.0) << params;
    EXPECT_EQ(params["solver.method"], k < 2 ? "gf" : "gd") << params;
  }
  EXPECT_TRUE(nlohmann::json(to_json(sweep))["axes"][2]["zip"].get<bool>());
  // Drawn points: one uniform number per zipped group, so paired lists keep their pairs.
  const SweepConfig drawn = sweep_of(R"(
[sweep]
samples = 50
[[axis]]
key = "init.sigma0"
values = [0.1, 0.01, 0.001]
[[axis]]
key = "solver.t_max"
values = [10.0, 100.0, 1000.0]
zip = true
)");
  for (long k = 0; k < run_count(drawn); ++k) {
    const auto params = run_parameters(drawn, k);
    EXPECT_NEAR(params["init.sigma0"].get<double>() * params["solver.t_max"].get<double>(), 1.0, 1e-12) << params;
  }
}

// --set overrides the base (before the axes): the runs, the derived seeds and sweep.json see it; an axis key is
// refused, since the axis would silently win.
TEST(SweepFile, SetOverridesTheBase) {
  const std::string text = "[[axis]]\nkey = \"init.sigma0\"\nvalues = [0.1, 0.2]\n" + std::string(kBase);
  const SweepConfig sweep =
      parse_sweep("[sweep]\nseeds = 2\n" + text, ".", "set.toml", {"solver.t_max=7.5", "init.seed=9"});
  EXPECT_EQ(run_configuration(sweep, 0).solver.t_max, 7.5);
  EXPECT_EQ(run_configuration(sweep, 0).init.seed, 9u);
  EXPECT_EQ(run_parameters(sweep, 1)["init.seed"].get<unsigned long long>(), derive_seed(9, 1));
  EXPECT_EQ(nlohmann::json(to_json(sweep))["base"]["solver"]["t_max"].get<double>(), 7.5);
  try {
    parse_sweep(text, ".", "set.toml", {"init.sigma0=0.5"});
    FAIL() << "--set of an axis key was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--set init.sigma0: an axis of the sweep varies this key"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_sweep(text, ".", "set.toml", {"init.sigma=0.5"}), InputError);
}

// Extending a finished sweep — a value inserted in a list, points added to a range, more seeds — and resuming it runs
// only the new runs and writes the bytes a fresh sweep of the extended grid writes (runs.jsonl in run order).
TEST(SweepExtend, ResumeOfAnExtendedSweepRunsOnlyTheNewRunsAndEqualsAFreshOne) {
  const std::string small = R"(
[sweep]
[[axis]]
key = "solver.method"
values = ["gf", "gd"]
[[axis]]
key = "init.sigma0"
from = 1e-1
to = 1e-3
count = 2
log = true
)";
  const std::string extended = R"(
[sweep]
seeds = 2
[[axis]]
key = "solver.method"
values = ["gf", "end_to_end", "gd"]
[[axis]]
key = "init.sigma0"
from = 1e-1
to = 1e-3
count = 3
log = true
)";
  const fs::path grown = fresh_dir("grown"), fresh = fresh_dir("fresh");
  EXPECT_EQ(run(sweep_of(small), grown, 2).executed, 4);
  const SweepSummary s = run(sweep_of(extended), grown, 2, /*resume=*/true);
  EXPECT_EQ(s.status, SweepStatus::complete) << s.message;
  EXPECT_EQ(s.resumed, 4);
  EXPECT_EQ(s.executed, 18 - 4);
  run(sweep_of(extended), fresh, 1);
  EXPECT_EQ(read(grown / "runs.jsonl"), read(fresh / "runs.jsonl"));
  EXPECT_EQ(read(grown / "sweep.json"), read(fresh / "sweep.json"));
  // The extended sweep's runs are a superset: resuming the small one over it would drop runs, and is refused.
  try {
    run(sweep_of(small), grown, 1, /*resume=*/true);
    FAIL() << "a resume that drops finished runs was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("never drops finished runs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read(grown / "runs.jsonl"), read(fresh / "runs.jsonl")) << "a refused resume changed runs.jsonl";
  // Another base is another sweep.
  EXPECT_THROW(run(parse_sweep(extended + kBase, ".", "t", {"solver.t_max=50"}), grown, 1, true), InputError);
}

// A kill during the extending session leaves a journal of the earlier sweep's lines (their old numbers), some new
// lines and half a line; --resume matches them all by key and still writes the fresh sweep's bytes.
TEST(SweepExtend, AKillWhileExtendingLeavesAJournalThatResumeCompletes) {
  const std::string axis = "[[axis]]\nkey = \"init.sigma0\"\n";
  const SweepConfig small = sweep_of("[sweep]\n" + axis + "values = [0.1, 0.001]\n");
  const SweepConfig extended = sweep_of("[sweep]\nseeds = 2\n" + axis + "values = [0.1, 0.01, 0.001]\n");
  const fs::path killed = fresh_dir("killed_extension"), fresh = fresh_dir("fresh_extension");
  run(small, killed, 1);
  run(extended, fresh, 1);
  const auto old_lines = lines_of(read(killed / "runs.jsonl"));
  const auto new_lines = lines_of(read(fresh / "runs.jsonl"));
  ASSERT_EQ(old_lines.size(), 2u);
  ASSERT_EQ(new_lines.size(), 6u);
  // Runs 0 (sigma0 0.1, repeat 0) and 4 (0.001, repeat 0) of the extended sweep are runs 0 and 1 of the small one.
  EXPECT_EQ(nlohmann::json::parse(old_lines[1])["id"], nlohmann::json::parse(new_lines[4])["id"]);
  std::ofstream(killed / "sweep.json", std::ios::trunc) << read(fresh / "sweep.json");
  write(killed / "runs.jsonl",
        old_lines[0] + "\n" + old_lines[1] + "\n" + new_lines[3] + "\n" + new_lines[2].substr(0, 30));
  const SweepSummary s = run(extended, killed, 2, /*resume=*/true);
  EXPECT_EQ(s.resumed, 3);
  EXPECT_EQ(s.executed, 3);
  EXPECT_EQ(read(killed / "runs.jsonl"), read(fresh / "runs.jsonl"));
}

TEST(SweepExtend, MoreDrawnPointsKeepTheEarlierOnes) {
  const std::string axis = "[[axis]]\nkey = \"init.sigma0\"\nfrom = 1e-2\nto = 1e-1\nlog = true\n";
  const fs::path grown = fresh_dir("drawn_grown"), fresh = fresh_dir("drawn_fresh");
  run(sweep_of("[sweep]\nsamples = 3\nseed_per = \"run\"\n" + axis), grown, 1);
  const SweepConfig more = sweep_of("[sweep]\nsamples = 5\nseed_per = \"run\"\n" + axis);
  const SweepSummary s = run(more, grown, 1, /*resume=*/true);
  EXPECT_EQ(s.resumed, 3);
  EXPECT_EQ(s.executed, 2);
  run(more, fresh, 1);
  EXPECT_EQ(read(grown / "runs.jsonl"), read(fresh / "runs.jsonl"));
}

// sweep.save: each run's files in DIR/runs/<id>/, the line unchanged by the saving; a run whose files are gone is
// run again by --resume.
TEST(SweepSave, WritesEachRunsFilesUnderItsIdAndResumeRestoresMissingOnes) {
  const SweepConfig plain = small_sweep();
  SweepConfig saving = plain;
  saving.save_trajectory = true;
  saving.save_weights = true;
  const fs::path dir = fresh_dir("save"), reference = fresh_dir("save_reference");
  run(saving, dir, 2);
  run(plain, reference, 1);
  EXPECT_EQ(read(dir / "runs.jsonl"), read(reference / "runs.jsonl"));
  EXPECT_FALSE(fs::exists(reference / "runs"));
  const auto lines = read_runs((dir / "runs.jsonl").string());
  ASSERT_EQ(lines.size(), 12u);
  std::set<std::string> ids;
  for (size_t k = 0; k < lines.size(); ++k) {
    const std::string id = lines[k]["id"].get<std::string>();
    EXPECT_EQ(id, run_id(saving, static_cast<long>(k)));
    EXPECT_EQ(id.size(), 16u);
    ids.insert(id);
    const fs::path run_dir = dir / "runs" / id;
    ASSERT_TRUE(fs::exists(run_dir / "summary.json")) << run_dir;
    const auto summary = nlohmann::json::parse(read(run_dir / "summary.json"));
    EXPECT_EQ(summary["t_eps"], lines[k]["t_eps"]);
    EXPECT_EQ(summary["stats"]["rhs_evals"], lines[k]["stats"]["rhs_evals"]);
    EXPECT_TRUE(fs::exists(run_dir / "trajectory.csv"));
    EXPECT_TRUE(fs::exists(run_dir / "weights" / "W3.npy"));
  }
  EXPECT_EQ(ids.size(), 12u);
  fs::remove_all(dir / "runs" / lines[5]["id"].get<std::string>());
  const SweepSummary s = run(saving, dir, 1, /*resume=*/true);
  EXPECT_EQ(s.executed, 1);
  EXPECT_TRUE(fs::exists(dir / "runs" / lines[5]["id"].get<std::string>() / "trajectory.csv"));
  EXPECT_EQ(read(dir / "runs.jsonl"), read(reference / "runs.jsonl"));
}

TEST(SweepOptions, RejectMissingOutputAndBadThreadCounts) {
  SweepOptions o;
  std::string why;
  EXPECT_FALSE(o.is_valid(&why));
  o.out_dir = "x";
  EXPECT_TRUE(o.is_valid(&why));
  o.threads = -1;
  EXPECT_FALSE(o.is_valid(&why));
  EXPECT_NE(why.find("threads"), std::string::npos);
}

}  // namespace
}  // namespace linflow
