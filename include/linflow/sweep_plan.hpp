#pragma once
// The plan of a sweep: many runs of one base configuration with some keys varied. What each run is — its parameters,
// seeds and configuration — is a pure function of the sweep file and the run index; what a run is *named* by — its
// key and id — depends on its parameters only, so a sweep can be extended without rerunning what it has.
//
// A sweep file (TOML):
//
//   [sweep]
//   base = "base.toml"     # the base run configuration, relative to this file. Or an inline [base] table holding
//                          # the run configuration's sections ([base.problem], [base.network], …); exactly one.
//                          # `linflow sweep --set section.key=value` overrides a key of the base (before the axes).
//   seeds = 3              # repeats of every point, ≥ 1 (default 1)
//   seed_per = "repeat"    # "repeat" (default) or "run": what the derived seeds follow (see below)
//   samples = 0            # 0 (default): cross the axes as a grid; M in 1..1e9: M random points instead
//   seed = 0               # seed of the random points (default 0); ≥ 0
//   analyze = false        # true: every run does what `linflow analyze --simulate` does (sweep.hpp)
//   save = []              # "trajectory", "weights": each run also writes these files into DIR/runs/<id>/ (sweep.hpp)
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
//   [[axis]]
//   key = "solver.t_max"
//   values = [1e3, 1e5]
//   zip = true             # paired with the axis before it: they take their i-th values together (equal lengths
//                          # in a grid), so this pair adds 2 points, not 2 × 2. A chain of zips pairs several axes.
//                          # With samples = M a zipped group takes one uniform draw (lists of equal length).
//
//   [experiment]           # optional, ignored by the sweep: description = "…" (shown by `linflow experiment`)
//
// Run numbering. Run k is point p = k / seeds, repeat r = k % seeds. Grid points enumerate the axes like nested
// loops in file order (the last axis varies fastest; a zipped group is one loop); random point p draws its values
// from a splitmix64 stream seeded by derive_seed(seed, p), one draw per axis (per zipped group) in file order. Two
// grid points may not be equal (an InputError names the repeated point; a range with integer = true longer than
// 1e6 points is not searched).
//
// Run names. Run k's key is the canonical JSON text (keys sorted) of {"params": run_parameters, "repeat": r}, plus
// "point": p for drawn points (which may repeat); its id is 16 hex digits of the key's FNV-1a hash. Neither depends
// on k, so the same run keeps its key when the sweep gains seeds, points on a range, values in a list or axes'
// order changes — which is how `--resume` finds finished runs of an extended sweep (sweep.hpp).
//
// Derived seeds. problem.seed (only for a synthetic target) and init.seed, unless an axis sets them, are replaced
// per run, from what the run is and never from its index: seed_per = "repeat" keeps the base seeds for repeat 0 (so
// repeat 0 of every point equals `linflow train` of the base with its parameters) and gives repeat r ≥ 1 the seeds
// derive_seed(base seed, r) at every point (common random numbers: points differ only in their axes);
// seed_per = "run" gives every run derive_seed(derive_seed(base seed, h), r), h the FNV-1a hash of the point's axis
// values (and its sample number when drawn): every run an independent instance. Either way a run's seeds never
// depend on threads, processes, the order runs finish in, or the size of the grid, so the output is bitwise
// identical for any parallelism and an extended sweep's earlier runs keep their seeds.
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
  bool zip = false;                    ///< take values together with the axis before it (not on the first axis)

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
  /// sweep.save: each run also writes its trajectory.csv and/or weights/ (with its summary.json, and analysis.json
  /// when analyzed) into DIR/runs/<run id>/. Default none.
  bool save_trajectory = false;
  bool save_weights = false;
  /// `--set section.key=value` overrides of the base, applied before each run's parameters; a key an axis varies is
  /// refused.
  std::vector<std::string> base_overrides;

  /// Checks the fields above (not the keys and values against the run configuration: `validate_sweep` does).
  bool is_valid(std::string* why) const;
};

/// Parses a sweep file's text; relative paths (sweep.base, paths inside an inline [base]) are taken from
/// `base_dir`; `overrides` ("section.key=value") are `--set` on the base. Validates the result with `validate_sweep`.
/// Throws InputError naming the key and `origin`.
SweepConfig parse_sweep(const std::string& toml_text, const std::string& base_dir, const std::string& origin = "sweep",
                        const std::vector<std::string>& overrides = {});
/// Reads and parses a sweep file.
SweepConfig load_sweep(const std::string& path, const std::vector<std::string>& overrides = {});

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
/// Run k's key (see Run names above): the same for the same run in any extension of the sweep.
std::string run_key(const SweepConfig& sweep, long k);
/// Run k's id: 16 hex digits of the key's hash; its line's "id" and the folder of its saved files.
std::string run_id(const SweepConfig& sweep, long k);
/// The key of a runs.jsonl line (from its params, repeat and, for drawn points, point) as `sweep` names runs; empty
/// when the line lacks them.
std::string line_key(const SweepConfig& sweep, const nlohmann::json& line);
/// Executes run k and returns its runs.jsonl line (without the newline). With sweep.save and a non-empty `out_dir`
/// the run writes its files into out_dir/runs/<id>/; otherwise nothing is written.
std::string run_line(const SweepConfig& sweep, long k, const std::string& out_dir = "");

/// splitmix64(splitmix64(base) xor k) >> 1: a 63-bit seed (it fits TOML's signed integers) that depends on
/// (base, k) only.
unsigned long long derive_seed(unsigned long long base, unsigned long long k);

/// The content of sweep.json.
nlohmann::ordered_json to_json(const SweepConfig& sweep);

}  // namespace linflow
