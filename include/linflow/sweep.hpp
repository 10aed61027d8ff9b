#pragma once
// Sweeps: many runs of one base configuration with some keys varied, run in parallel (threads, and MPI ranks when
// linflow is built with MPI), written crash-safely to one JSON line per run.
//
// A sweep file (TOML):
//
//   [sweep]
//   base = "base.toml"     # the base run configuration, relative to this file. Or an inline [base] table holding
//                          # the run configuration's sections ([base.problem], [base.network], …); exactly one.
//   seeds = 3              # repeats of every point, ≥ 1 (default 1)
//   seed_per = "repeat"    # "repeat" (default) or "run": what the derived seeds follow (see below)
//   samples = 0            # 0 (default): cross the axes as a grid; M in 1..1e9: M random points instead
//   seed = 0               # seed of the random points (default 0); ≥ 0
//   analyze = false        # true: every run does what `linflow analyze --simulate` does (below)
//
//   [[axis]]               # one table per varied key, in the order that sets the run numbering
//   key = "network.widths" # any "section.key" of the run configuration
//   values = [[2, 1, 2], [2, 1, 1, 2]]
//
//   [[axis]]
//   key = "init.sigma0"
//   from = 1e-1            # a range: grid points from..to inclusive (count of them, ≥ 1), evenly spaced, or
//   to = 1e-6              # log-spaced with log = true (from, to > 0); integer = true rounds every value to the
//   count = 6              # nearest integer (for integer keys). With samples = M, a range is drawn uniformly (or
//   log = true             # log-uniformly) and a values list uniformly among its entries; count is then unused.
//
//   [experiment]           # optional, ignored by the sweep: description = "…" (shown by `linflow experiment`)
//
// Run numbering. Run k is point p = k / seeds, repeat r = k % seeds. Grid points enumerate the axes like nested
// loops in file order (the last axis varies fastest); random point p draws its values from a splitmix64 stream
// seeded by derive_seed(seed, p), one draw per axis in file order.
//
// Derived seeds. problem.seed (only for a synthetic target) and init.seed, unless an axis sets them, are replaced
// per run: seed_per = "repeat" gives repeat r the seeds derive_seed(base seed, r) at every point (common random
// numbers: points differ only in their axes) — when seeds = 1 the base seeds are kept, so every run equals
// `linflow train` of the base with its parameters; seed_per = "run" gives run k derive_seed(base seed, k) (every
// run an independent instance). Either way a run's seeds depend on (base seed, k) only, never on threads,
// processes or the order runs finish in, so the output is bitwise identical for any parallelism.
//
// Output, in the directory `out_dir`:
//   sweep.json   the sweep: format, version, mode, counts, axes, derived-seed keys, and the base configuration as
//                the JSON of `to_json(RunConfig)`; written before the first run.
//   runs.jsonl   one line per finished run, sorted by "run" once the sweep completes:
//                {"run": k, "point": p, "repeat": r, "params": {"section.key": value, …},
//                 <the fields of summary.json except "config" and "version">}
//                "params" holds every axis value and every derived seed of the run, so
//                `linflow train --config BASE --set key=value …` reproduces it. Each line is a pure function of
//                the sweep and k: stats.wall_seconds is dropped (compare stats.rhs_evals and stats.steps for cost).
//                A run whose combination of parameters is rejected as input gets "status": "error" and the
//                message; the sweep goes on.
//                With analyze = true the run is `analyze` followed by `observe` (theory.hpp) instead of `train`,
//                with the observation options `linflow analyze --simulate` derives from [output]: the summary
//                fields are those of the observation's simulation (the same trajectory `train` follows, so the
//                same values; the solver runs in observe's two passes only, never a third time), and the line
//                gains "analysis" (analysis.json's members: status, message, method, hypotheses, start,
//                prediction with c_i, conditions with margins, bounds with κ and the t_eps bound, not_applicable,
//                still_applies) and "observed" (analysis.json's "observed": the limit reached, the late-time rate,
//                t_eps, and every prediction beside its observation, contradictions listed).
//
// Crash safety. Each line is appended with one write() as its run finishes, so killing a sweep loses only the runs
// in flight. `resume` re-reads runs.jsonl (truncating a partially written last line), checks that sweep.json
// describes the same sweep and linflow version, and runs exactly the missing indices. At the end runs.jsonl is
// rewritten sorted by run index (temporary file + rename), so the final file is byte-identical to that of an
// uninterrupted sweep.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "linflow/config.hpp"

namespace linflow {

/// One varied key: an explicit list of values, or a numeric range.
struct SweepAxis {
  std::string key;                     ///< "section.key" of the run configuration
  std::vector<nlohmann::json> values;  ///< explicit values (numbers, booleans, strings or arrays); empty: a range
  double from = 0.0;                   ///< range start (finite; > 0 when log)
  double to = 0.0;                     ///< range end, inclusive (finite; > 0 when log); may be below `from`
  int count = 0;                       ///< grid points of a range (≥ 1); unused when sampling
  bool log = false;                    ///< log-spaced grid / log-uniform draws
  bool integer = false;                ///< round values to the nearest integer

  bool is_range() const { return values.empty(); }
};

enum class SeedPer {
  repeat,  ///< repeat r of every point gets the seeds derive_seed(base, r): points share random instances
  run,     ///< run k gets derive_seed(base, k): every run an independent instance
};
const char* to_string(SeedPer seed_per);
SeedPer seed_per_from_string(const std::string& name);  ///< throws InputError naming the valid words

struct SweepConfig {
  /// The base run configuration, parsed once; its origin ("base.toml", "sweep.toml [base]") names it in messages.
  ConfigTemplate base;
  std::vector<SweepAxis> axes;
  int seeds = 1;  ///< repeats of every point, ≥ 1
  SeedPer seed_per = SeedPer::repeat;
  long samples = 0;             ///< 0: grid; > 0: that many random points
  unsigned long long seed = 0;  ///< seed of the random points
  std::string description;      ///< from [experiment], informational
  /// sweep.analyze: run `analyze` + `observe` (theory.hpp) instead of `train` and add their JSON to each line.
  /// Costs about twice a plain run (observe's two passes over the same trajectory). Default false.
  bool analyze = false;

  /// Checks the fields above (not the keys and values against the run configuration: `validate_sweep` does).
  bool is_valid(std::string* why) const;
};

/// Parses a sweep file's text; relative paths (sweep.base, paths inside an inline [base]) are taken from
/// `base_dir`. Validates the result with `validate_sweep`. Throws InputError naming the key and `origin`.
SweepConfig parse_sweep(const std::string& toml_text, const std::string& base_dir, const std::string& origin = "sweep");
/// Reads and parses a sweep file.
SweepConfig load_sweep(const std::string& path);

/// Checks that every point's configuration parses (unknown keys, wrong types, invalid values, with the axis
/// named). Called by parse_sweep; costs one configuration parse per point. Throws InputError.
void validate_sweep(const SweepConfig& sweep);

/// Grid size (product of axis lengths; 1 without axes) or `samples`.
long point_count(const SweepConfig& sweep);
/// point_count × seeds.
long run_count(const SweepConfig& sweep);

/// Run k's parameters: every axis key with its value, then the derived seeds, as {"section.key": value}.
nlohmann::ordered_json run_parameters(const SweepConfig& sweep, long k);
/// Run k's configuration: the base with `run_parameters` applied. Throws InputError if they are invalid.
RunConfig run_configuration(const SweepConfig& sweep, long k);
/// Executes run k without writing any files and returns its runs.jsonl line (without the newline).
std::string run_line(const SweepConfig& sweep, long k);

/// splitmix64(splitmix64(base) xor k) >> 1: a 63-bit seed (it fits TOML's signed integers) that depends on
/// (base, k) only.
unsigned long long derive_seed(unsigned long long base, unsigned long long k);

/// The content of sweep.json.
nlohmann::ordered_json to_json(const SweepConfig& sweep);

/// The processes that share one sweep. Create one per process (in main or the command) before `run_sweep` and
/// keep it alive until after. When linflow was built with MPI (`mpi_built()`) and the process was started by an
/// MPI launcher (mpirun/mpiexec/srun, recognised from their environment variables), it initialises MPI
/// (MPI_THREAD_FUNNELED) and the destructor finalises it; otherwise it is a group of one and touches nothing.
class ProcessGroup {
 public:
  ProcessGroup();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Whether this linflow was built with MPI support.
  static bool mpi_built();

 private:
  int rank_ = 0;
  int size_ = 1;
  bool initialized_ = false;
};

struct SweepOptions {
  /// Output directory (created if missing). Required.
  std::string out_dir;
  /// Compute threads in this process, ≥ 0 (0 = one per hardware thread). Under MPI, rank 0 runs this many
  /// alongside its coordination and every other rank runs one run at a time: start one rank per core.
  int threads = 1;
  /// Continue the sweep in out_dir (see Crash safety above). Without it an existing, non-empty runs.jsonl is an
  /// InputError, so nothing is overwritten by accident.
  bool resume = false;
  /// The MPI group; null means a single process.
  const ProcessGroup* processes = nullptr;

  bool is_valid(std::string* why) const;
};

struct SweepProgress {
  long done = 0;       ///< runs on disk, resumed ones included
  long total = 0;      ///< runs in the sweep
  long resumed = 0;    ///< runs found on disk at the start
  double elapsed = 0;  ///< seconds since this process started running
  double eta = -1;     ///< estimated seconds left (from this session's rate), < 0 before the first run ends
};
/// Called on rank 0 after every finished run, from worker threads but never concurrently.
using SweepProgressSink = std::function<void(const SweepProgress&)>;

enum class SweepStatus {
  complete,     ///< every run is in runs.jsonl, which is final
  run_errors,   ///< complete, but some runs' parameters were rejected as input ("status": "error" lines)
  worker_done,  ///< an MPI worker rank (rank > 0) finished; rank 0 wrote the files
};
const char* to_string(SweepStatus status);

struct SweepSummary {
  SweepStatus status = SweepStatus::complete;
  std::string message;  ///< "200 runs: 180 converged, 20 t_max (200 run now, 0 resumed) in 4.1 s"
  long total = 0;       ///< runs in the sweep
  long resumed = 0;     ///< runs found on disk
  long executed = 0;    ///< runs executed by this sweep invocation (all ranks)
  long errors = 0;      ///< "error" lines
  std::vector<std::pair<std::string, long>> status_counts;  ///< per "status" word, sorted by word
  double wall_seconds = 0;
  int processes = 1;      ///< MPI ranks
  int threads = 1;        ///< compute threads on this process
  std::string runs_file;  ///< out_dir/runs.jsonl
};

/// Runs the sweep into options.out_dir. Every process of `options.processes` calls it with the same arguments;
/// rank 0 writes the files. Throws InputError for an unusable output directory, an existing runs.jsonl without
/// `resume`, or one that belongs to a different sweep; numerical failures of runs are their statuses.
SweepSummary run_sweep(const SweepConfig& sweep, const SweepOptions& options, const SweepProgressSink& progress = {});

/// Reads a runs.jsonl file (every complete line; a partial last line is ignored). Throws InputError on a line that
/// is not a JSON object with a "run" index.
std::vector<nlohmann::json> read_runs(const std::string& path);

}  // namespace linflow
