#pragma once
// Run configuration: the TOML file of `linflow train`, its `--set section.key=value` overrides, and its JSON echo
// in summary.json. Every key has a default; README.md documents them all. Unknown sections or keys are rejected
// with a "did you mean" suggestion.
#include <memory>
#include <string>
#include <vector>

#include "linflow/init.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow {

struct ProblemOptions {
  /// Whitened target matrix Z (d_y × d_x) from a .npy or .csv file. Excludes x/y.
  std::string target;
  /// Data X (d_x × m) and Y (d_y × m), columns are samples, .npy or .csv. Both or neither. Excludes target.
  std::string x, y;
  /// Synthetic target (used when neither target nor x/y is given): dims = [d_x, d_y] (default: the network's
  /// d_0 and d_N), singular values (positive, non-increasing, at most min(d_x, d_y)) and the seed of its random
  /// orthogonal singular vectors.
  std::vector<int> dims;
  std::vector<double> singular_values{3.0, 2.0, 1.0};
  unsigned long long seed = 0;
};

struct OutputOptions {
  int samples_log = 200;     ///< log-spaced sample times on [t_min, t_max] (≥ 0)
  int samples_uniform = 0;   ///< uniformly spaced sample times on [0, t_max] (≥ 0)
  double t_min = 1e-3;       ///< first log-spaced time (> 0)
  int modes = 8;             ///< singular values / alignments per trajectory row (≥ 0)
  bool save_weights = true;  ///< write weights/W1.npy … WN.npy
  bool trajectory = true;    ///< write trajectory.csv
  bool hessian = false;      ///< analyze: the Hessian at the start (and the end, simulated) in analysis.json
};

struct RunConfig {
  ProblemOptions problem;
  std::vector<int> widths{6, 4, 1, 4, 5};
  InitOptions init;
  std::string init_end_to_end_file;  ///< where init.end_to_end was read from (echoed in summary.json)
  SolverOptions solver;
  OutputOptions output;
};

namespace detail {
struct ConfigTable;  // the parsed TOML (src/run/config_table.hpp)
}

/// A configuration file parsed once, from which run configurations are made by applying `--set`-style overrides to
/// a copy: what a sweep keeps of its base, so that a run costs a table copy rather than a parse. Cheap to copy
/// (copies share the parsed table), immutable, safe to use from several threads.
class ConfigTemplate {
 public:
  /// The empty file: every key at its default.
  ConfigTemplate();
  /// Parses TOML text; paths inside are taken relative to `base_dir`. InputError "ORIGIN:LINE:COLUMN: …" on a
  /// syntax error (keys and values are checked by `instantiate`).
  static ConfigTemplate parse(const std::string& toml_text, const std::string& base_dir,
                              const std::string& origin = "config");
  /// Reads and parses a TOML file; paths in it are relative to the file's directory.
  static ConfigTemplate load(const std::string& path);

  /// The configuration with `overrides` ("section.key=value", value in TOML syntax; a bare word is taken as a
  /// string) applied. Throws InputError naming the origin and the key.
  RunConfig instantiate(const std::vector<std::string>& overrides = {}) const;

  const std::string& base_dir() const { return base_dir_; }
  const std::string& origin() const { return origin_; }

  ConfigTemplate(std::shared_ptr<const detail::ConfigTable> table, std::string base_dir, std::string origin);

 private:
  std::shared_ptr<const detail::ConfigTable> table_;
  std::string base_dir_ = ".";
  std::string origin_ = "config";
};

/// Parses TOML text (paths inside are taken relative to `base_dir`), then applies `overrides` of the form
/// "section.key=value" (value in TOML syntax; a bare word is taken as a string). Throws InputError naming the key.
RunConfig parse_config(const std::string& toml_text, const std::string& base_dir,
                       const std::vector<std::string>& overrides = {}, const std::string& origin = "config");
/// Reads and parses a TOML file; paths in it are relative to the file's directory.
RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Builds the problem a configuration describes (reads files; InputError on bad data or shapes).
Problem make_problem(const RunConfig& config);

}  // namespace linflow
