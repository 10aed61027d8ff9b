#pragma once
// The plan of a sweep: many runs of one base configuration with some keys varied. What each run is — its parameters,
// seeds and configuration — is a pure function of the sweep file and the run index.
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
//
// Running a sweep, its output files and their crash safety: sweep.hpp.
#include <nlohmann/json.hpp>
#include <string>
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

/// Checks that the configurations of the first 1000 points parse (unknown keys, wrong types, invalid values, with
/// the axis named): one configuration parse per point, so a sweep of up to 1e9 points starts in milliseconds. A later
/// point with an invalid value becomes its run's "error" line. Called by parse_sweep. Throws InputError.
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

}  // namespace linflow
