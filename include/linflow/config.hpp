#pragma once
// Run configuration: the TOML file of `linflow train`, its `--set section.key=value` overrides, and its JSON echo
// in summary.json. Every key has a default; README.md documents them all. Unknown sections or keys are rejected
// with a "did you mean" suggestion.
#include <Eigen/Dense>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "linflow/init.hpp"
#include "linflow/io.hpp"
#include "linflow/problem.hpp"
#include "linflow/solver.hpp"

namespace linflow {

/// How the data files x and y hold their samples: as columns (X is d_x × m, linflow's and the theory's layout) or as
/// rows (X is m × d_x, the layout of scikit-learn, PyTorch and pandas).
enum class DataLayout { columns, rows };
std::string to_string(DataLayout layout);
DataLayout data_layout_from_string(const std::string& word);  ///< "columns" or "rows"; InputError otherwise

struct ProblemOptions {
  /// Whitened target matrix Z (d_y × d_x) from a .npy, .npz[:KEY] or .csv file. Excludes x/y.
  std::string target;
  /// Data X and Y (.npy, .npz[:KEY] or .csv), samples as `layout` says. Both or neither. Excludes target.
  std::string x, y;
  /// Samples as columns (default) or rows of x and y. A shape that fits only the other layout is refused with a
  /// message naming the setting.
  DataLayout layout = DataLayout::columns;
  /// How CSV files of the problem are read: header row (auto, present, absent) and delimiter (auto or given).
  CsvOptions csv;
  /// Synthetic target (used when neither target nor x/y is given): dims = [d_x, d_y] (default: the network's
  /// d_0 and d_N), singular values (positive, non-increasing, at most min(d_x, d_y)) and the seed of its random
  /// orthogonal singular vectors.
  std::vector<int> dims;
  std::vector<double> singular_values{3.0, 2.0, 1.0};
  unsigned long long seed = 0;
  /// The target, X or Y given in memory instead of a file (ConfigMatrices): used as the file's content would be,
  /// while `target`, `x` or `y` holds kArrayLabel for messages and the echoed configuration. Immutable and shared:
  /// copies of a configuration (a batch's runs) do not copy the data.
  std::shared_ptr<const Eigen::MatrixXd> target_matrix, x_matrix, y_matrix;
};

struct OutputOptions {
  int samples_log = 200;     ///< log-spaced sample times on [t_min, t_max] (≥ 0)
  int samples_uniform = 0;   ///< uniformly spaced sample times on [0, t_max] (≥ 0)
  double t_min = 1e-3;       ///< first log-spaced time (> 0)
  int modes = 8;             ///< singular values / alignments per trajectory row (≥ 0)
  bool save_weights = true;  ///< write weights/W1.npy … WN.npy
  bool trajectory = true;    ///< write trajectory.csv
  bool hessian = false;      ///< analyze: the Hessian at the start (and the end, simulated) in analysis.json
  /// train: a `sharpness` column in trajectory.csv, λ_max(∇²L(θ)) at every recorded time (RecordOptions::sharpness;
  /// costly: a Lanczos run per row)
  bool sharpness = false;
};

/// What a key given as an in-memory matrix (ConfigMatrices) holds in place of its path: "(array)", so that messages
/// read "problem.target (array): contains NaN or Inf" and summary.json's configuration cannot be mistaken for a file.
inline constexpr const char* kArrayLabel = "(array)";

/// Matrices given in memory where the configuration takes a file: what a program that holds its data in memory (the
/// Python module's numpy arrays) passes instead of writing temporary files. Each one set replaces its key, whatever
/// the file or the overrides say: `target`, `x`, `y` and `init_end_to_end` stand for problem.target, problem.x,
/// problem.y and init.end_to_end; `init_weights` = [W1, …, WN] for init.dir's W1.npy … WN.npy (init.kind = "files"
/// reads them). Each is checked as its file would be (finite values, shapes, problem.layout), with messages that name
/// the key followed by "(array)"; the run is the one the same matrices read from files give, bit for bit.
struct ConfigMatrices {
  std::optional<Eigen::MatrixXd> target, x, y, init_end_to_end;
  std::vector<Eigen::MatrixXd> init_weights;
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
  /// Parses TOML text (or JSON, as `load` says); paths inside are taken relative to `base_dir`. InputError
  /// "ORIGIN:LINE:COLUMN: …" on a syntax error (keys and values are checked by `instantiate`).
  static ConfigTemplate parse(const std::string& toml_text, const std::string& base_dir,
                              const std::string& origin = "config");
  /// Reads and parses a configuration file; paths in it are relative to the file's directory. "-" reads standard
  /// input (paths relative to the current directory). Text whose first non-blank character is '{' is JSON: a
  /// summary.json or analysis.json of an earlier run (its "config" member, every key with absolute paths, so the run
  /// repeats exactly) or a configuration written as a JSON object of sections; anything else is TOML.
  static ConfigTemplate load(const std::string& path);

  /// The configuration with `overrides` ("section.key=value", value in TOML syntax; a bare word is taken as a
  /// string) applied. A relative path given by an override (problem.target, x, y, init.end_to_end, init.dir) is
  /// taken relative to `overrides_dir`, or to `base_dir()` when that is empty (a sweep's axes, which belong to the
  /// sweep file). Throws InputError naming the origin and the key.
  /// `matrices` replace the keys they stand for (see ConfigMatrices).
  RunConfig instantiate(const std::vector<std::string>& overrides = {}, const std::string& overrides_dir = "",
                        const ConfigMatrices& matrices = {}) const;

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
/// Reads and parses a configuration file as ConfigTemplate::load does ("-": standard input; JSON: an earlier run's
/// summary.json or analysis.json); paths in it are relative to the file's directory, paths in `overrides` (as
/// `--set` gives them) relative to the current directory.
RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Builds the problem a configuration describes (reads files; InputError on bad data or shapes). What the readers
/// decided on their own (a CSV header skipped, an index column dropped, a delimiter detected) is appended to `notes`.
Problem make_problem(const RunConfig& config, ReadNotes* notes = nullptr);

}  // namespace linflow
