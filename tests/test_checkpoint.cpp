// Checkpoints of train() (linflow/solver.hpp): a run resumed from any checkpoint — taken on the way or handed over
// when the run was interrupted — ends bit for bit where the run that was never stopped ends: the same status,
// times, t_eps, counts, recordings and final θ, for every method and integrator that takes checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "linflow/error.hpp"
#include "linflow/init.hpp"
#include "linflow/interrupt.hpp"
#include "linflow/solver.hpp"
#include "run/checkpoint_file.hpp"

namespace linflow {
namespace {

struct Case {
  std::string name;
  Problem problem;
  Shape shape;
  Eigen::VectorXd theta0;
  SolverOptions options;
};

// The demo's problem and start (depth 4, a width-one layer, balanced rank one: every method applies), recorded on
// 60 log-spaced times.
Case demo(const SolverOptions& o) {
  InitOptions init;
  init.kind = InitKind::balanced_rank1;
  init.sigma0 = 0.05;
  init.seed = 11;
  Shape shape{std::vector<int>{6, 4, 1, 4, 5}};
  Eigen::VectorXd theta0 = initialize(shape, init);
  std::string name = to_string(o.method);
  if (o.method != Method::gd) name += std::string("/") + to_string(o.integrator);
  return {name, test::synthetic(6, 5, {3.0, 2.0, 1.0}, 7), std::move(shape), std::move(theta0), o};
}

// A plateau (depth 4 from entries of size 3e-2) long enough for bdf to restart several times: the checkpoints of
// bdf, and of auto after it switched, are taken there.
Case plateau(Integrator integrator, LinearSolver linear) {
  Shape shape({4, 4, 4, 4, 4});
  std::mt19937_64 rng(29);
  Eigen::VectorXd theta0 = test::random_theta(shape, rng, 3e-2);
  SolverOptions o;
  o.integrator = integrator;
  o.linear_solver = linear;
  o.rtol = 1e-13;
  o.atol = 1e-15;
  o.t_max = 1e6;
  o.eps = 1e-10;
  return {std::string("plateau/") + to_string(integrator) + "/" + to_string(linear),
          test::synthetic(4, 4, {5.0, 3.0, 1.0, 0.5}, 29), std::move(shape), std::move(theta0), o};
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (const Integrator integrator :
       {Integrator::dop853, Integrator::dopri5, Integrator::rk78, Integrator::gauss_legendre, Integrator::automatic}) {
    SolverOptions o;
    o.integrator = integrator;
    o.t_max = 60;
    all.push_back(demo(o));
  }
  for (const Method method : {Method::gd, Method::end_to_end, Method::rank1}) {
    SolverOptions o;
    o.method = method;
    o.t_max = 60;
    o.lr = 0.05;
    all.push_back(demo(o));
  }
  all.push_back(plateau(Integrator::bdf, LinearSolver::dense));
  all.push_back(plateau(Integrator::bdf, LinearSolver::krylov));
  all.push_back(plateau(Integrator::automatic, LinearSolver::automatic));
  return all;
}

struct Outcome {
  Summary summary;
  Eigen::VectorXd theta;
  std::vector<Sample> samples;
  std::vector<Checkpoint> checkpoints;
  std::vector<size_t> recorded;  // samples recorded when each checkpoint was taken
};

Outcome run(const Case& c, const CheckpointOptions& in, const ProgressSink& progress = {}, bool sharpness = false) {
  Outcome out;
  out.theta = c.theta0;
  RecordOptions record;
  record.times = sample_times(c.options.t_max, 0, 60, 1e-2);
  record.sharpness = sharpness;
  CheckpointOptions options = in;
  options.save = [&](const Checkpoint& cp) {
    out.checkpoints.push_back(cp);
    out.recorded.push_back(out.samples.size());
  };
  out.summary = train(
      c.problem, c.shape, out.theta, c.options, record, [&](const Sample& s) { out.samples.push_back(s); }, progress,
      options);
  return out;
}

// The run of `c` with a checkpoint at every step where one can be taken.
Outcome run_checkpointing_every_step(const Case& c, bool sharpness = false) {
  CheckpointOptions every_step;
  every_step.every_seconds = 0;
  return run(c, every_step, {}, sharpness);
}

// Exact equality of the end of two runs, and of the recordings of `resumed` with those of `full` from `from` on.
void expect_same_end(const Outcome& full, const Outcome& resumed, size_t from) {
  const Summary &a = full.summary, &b = resumed.summary;
  EXPECT_EQ(b.status, a.status) << b.message;
  EXPECT_EQ(b.message, a.message);
  EXPECT_EQ(b.t_final, a.t_final);
  EXPECT_EQ(b.t_eps, a.t_eps);
  EXPECT_EQ(b.loss, a.loss);
  EXPECT_EQ(b.stats.steps, a.stats.steps);
  EXPECT_EQ(b.stats.rejected_steps, a.stats.rejected_steps);
  EXPECT_EQ(b.stats.rhs_evals, a.stats.rhs_evals);
  EXPECT_EQ(b.stats.jacobians, a.stats.jacobians);
  EXPECT_EQ(b.stats.jacobian_vector_products, a.stats.jacobian_vector_products);
  EXPECT_EQ(b.stats.implicit_from, a.stats.implicit_from);
  EXPECT_EQ(b.stats.sharpness_products, a.stats.sharpness_products);
  EXPECT_EQ(resumed.theta, full.theta);
  ASSERT_EQ(resumed.samples.size() + from, full.samples.size());
  for (size_t i = 0; i < resumed.samples.size(); ++i) {
    const Sample &x = full.samples[from + i], &y = resumed.samples[i];
    EXPECT_EQ(y.t, x.t);
    EXPECT_EQ(y.loss, x.loss);
    EXPECT_EQ(y.grad_norm, x.grad_norm);
    EXPECT_EQ(y.imbalance_drift, x.imbalance_drift);
  }
}

TEST(Checkpoint, AResumedRunEndsBitForBitWhereTheRunThatWasNotStoppedEnds) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Outcome full = run_checkpointing_every_step(c);
    ASSERT_NE(full.summary.status, Status::diverged) << full.summary.message;
    ASSERT_GE(full.checkpoints.size(), 3U) << full.summary.stats.steps << " steps";
    const size_t n = full.checkpoints.size();
    for (const size_t k : {size_t{0}, n / 3, n - 1}) {
      SCOPED_TRACE("checkpoint " + std::to_string(k) + " of " + std::to_string(n) +
                   " at t = " + std::to_string(full.checkpoints[k].t));
      CheckpointOptions from;
      from.resume = &full.checkpoints[k];
      expect_same_end(full, run(c, from), full.recorded[k]);
    }
  }
}

// The sharpness column's cost (Stats::sharpness_products, Lanczos on every row here: 52 parameters) is carried by the
// checkpoints, so a resumed run reports the whole run's, and the rows after the checkpoint are the same.
TEST(Checkpoint, TheSharpnessColumnsCostIsTheWholeRunsAfterAResumption) {
  SolverOptions o;
  o.integrator = Integrator::dop853;
  o.t_max = 60;
  const Case c = demo(o);
  const Outcome full = run_checkpointing_every_step(c, true);
  ASSERT_GE(full.checkpoints.size(), 3U);
  EXPECT_GE(full.summary.stats.sharpness_products, 2 * static_cast<long>(full.samples.size()));
  EXPECT_EQ(run(c, {}).summary.stats.sharpness_products, 0);
  const size_t k = full.checkpoints.size() / 2;
  EXPECT_GT(full.checkpoints[k].sharpness_products, 0);
  EXPECT_LT(full.checkpoints[k].sharpness_products, full.summary.stats.sharpness_products);
  CheckpointOptions from;
  from.resume = &full.checkpoints[k];
  const Outcome resumed = run(c, from, {}, true);
  expect_same_end(full, resumed, full.recorded[k]);
  for (size_t i = 0; i < resumed.samples.size(); ++i) {
    EXPECT_EQ(resumed.samples[i].sharpness, full.samples[full.recorded[k] + i].sharpness);
  }
}

TEST(Checkpoint, ImplicitCheckpointsAreTakenAtBdfRestarts) {
  const Case c = plateau(Integrator::automatic, LinearSolver::automatic);
  const Outcome full = run_checkpointing_every_step(c);
  ASSERT_TRUE(full.summary.stats.implicit_from.has_value());
  long implicit = 0;
  for (const Checkpoint& cp : full.checkpoints) {
    if (!cp.implicit) continue;
    ++implicit;
    EXPECT_EQ(cp.implicit_from, full.summary.stats.implicit_from);
    EXPECT_GE(cp.t, *full.summary.stats.implicit_from);
  }
  EXPECT_GE(implicit, 2);
  EXPECT_EQ(full.checkpoints.back().implicit, true);
  // The last explicit checkpoint, a step before the switch, holds the stiffness test's counts; the first implicit
  // one the first restart.
  size_t last_explicit = 0;
  while (!full.checkpoints[last_explicit + 1].implicit) ++last_explicit;
  EXPECT_GT(full.checkpoints[last_explicit].stiff, 0);
  for (const size_t k : {last_explicit, last_explicit + 1}) {
    SCOPED_TRACE("checkpoint " + std::to_string(k));
    CheckpointOptions from;
    from.resume = &full.checkpoints[k];
    expect_same_end(full, run(c, from), full.recorded[k]);
  }
}

// Ctrl-C: the run hands over its last state, and the run resumed from it ends as the run that was not stopped.
TEST(Checkpoint, AnInterruptedRunResumesFromTheStateItReached) {
  for (const Case& c : cases()) {
    if (c.options.integrator == Integrator::bdf && c.options.method == Method::gf) continue;  // only its restarts
    SCOPED_TRACE(c.name);
    clear_interrupt();
    const Outcome full = run(c, {});
    ASSERT_TRUE(full.checkpoints.empty());  // every_seconds = 5: none in so short a run
    long requested_at = -1;
    const long after = c.options.method == Method::gd ? 0 : 5;  // gd reports every 1024 iterations
    const Outcome stopped = run(c, {}, [&](const Progress& p) {
      if (p.steps >= after && requested_at < 0) {
        requested_at = p.steps;
        request_interrupt();
      }
    });
    clear_interrupt();
    ASSERT_EQ(stopped.summary.status, Status::interrupted);
    ASSERT_EQ(stopped.checkpoints.size(), 1U);
    EXPECT_EQ(stopped.checkpoints[0].t, stopped.summary.t_final);
    CheckpointOptions from;
    from.resume = &stopped.checkpoints[0];
    expect_same_end(full, run(c, from), stopped.recorded[0]);
  }
}

TEST(Checkpoint, OneOfAnotherRunIsRefused) {
  const Case c = demo(SolverOptions{});
  const Outcome full = run_checkpointing_every_step(c);
  ASSERT_FALSE(full.checkpoints.empty());
  Checkpoint other = full.checkpoints[0];
  auto refused = [&](const Checkpoint& cp, SolverOptions o) {
    Eigen::VectorXd theta = c.theta0;
    CheckpointOptions from;
    from.resume = &cp;
    EXPECT_THROW(train(c.problem, c.shape, theta, o, {}, {}, {}, from), InputError);
  };
  SolverOptions rk = c.options;
  rk.integrator = Integrator::rk78;
  refused(other, rk);
  SolverOptions exact = c.options;
  exact.method = Method::exact;
  refused(other, exact);
  other.state.conservativeResize(other.state.size() - 1);
  refused(other, c.options);
  other = full.checkpoints[0];
  other.next_sample = 1000;
  refused(other, c.options);
}

// Replaces the first `from` in the file at `path` by `to`; false when `from` is not there.
bool edit_file(const std::filesystem::path& path, const std::string& from, const std::string& to) {
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find(from);
  if (at == std::string::npos) return false;
  text.replace(at, from.size(), to);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return true;
}

// checkpoint.bin keeps the sharpness column's cost as a ninth count; a file of the eight counts before it reads as 0.
TEST(CheckpointFile, KeepsTheSharpnessCostAndReadsTheEightCountsBeforeIt) {
  const Case c = demo(SolverOptions{});
  const Outcome full = run_checkpointing_every_step(c);
  ASSERT_FALSE(full.checkpoints.empty());
  Checkpoint cp = full.checkpoints[0];
  cp.sharpness_products = 987654;
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "linflow_test_checkpoint_counts.bin";
  detail::write_checkpoint_file(path, detail::CheckpointFile{cp, {}, "v", 12, 34});
  EXPECT_EQ(detail::read_checkpoint_file(path).checkpoint.sharpness_products, 987654);
  ASSERT_TRUE(edit_file(path, ",987654]", "]"));
  const detail::CheckpointFile eight = detail::read_checkpoint_file(path);
  EXPECT_EQ(eight.checkpoint.sharpness_products, 0);
  EXPECT_EQ(eight.checkpoint.steps, cp.steps);
  std::filesystem::remove(path);
}

// checkpoint.bin's reader (run/checkpoint_file.hpp) on a header whose whole number is a float beyond the range of
// the integer it stands for: refused as damaged. nlohmann's conversion cast it, undefined behaviour (UBSan), found by
// fuzz_checkpoint (fuzz/corpus/checkpoint/float-count.bin).
TEST(CheckpointFile, AFloatWhereAWholeNumberBelongsIsRefused) {
  const Case c = demo(SolverOptions{});
  const Outcome full = run_checkpointing_every_step(c);
  ASSERT_FALSE(full.checkpoints.empty());
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "linflow_test_checkpoint.bin";
  detail::write_checkpoint_file(path, detail::CheckpointFile{full.checkpoints[0], {}, "v", 12, 34});
  EXPECT_EQ(detail::read_checkpoint_file(path).checkpoint.state, full.checkpoints[0].state);
  ASSERT_TRUE(edit_file(path, "\"bytes\":12", "\"bytes\":4.45945e+19"));
  try {
    detail::read_checkpoint_file(path);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace linflow
