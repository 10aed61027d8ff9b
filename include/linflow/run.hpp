#pragma once
// One run of a configuration, with its outputs on disk — what `linflow train`, `linflow demo` and sweeps do:
//   DIR/summary.json     status, message, times, losses, statistics, the effective configuration and version;
//   DIR/trajectory.csv   one row per recorded time (see `trajectory_header`);
//   DIR/weights/Wj.npy   the final layers, float64.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "linflow/config.hpp"
#include "linflow/solver.hpp"

namespace linflow {

/// The linflow version string ("0.1.0").
const char* version();

struct RunResult {
  Summary summary;
  Eigen::VectorXd theta;  ///< final parameters
  nlohmann::json json;    ///< the content of summary.json
};

/// Runs `config`; when `out_dir` is non-empty writes the files above into it (created if missing; InputError when
/// it cannot be written — checked before the run starts, so no work is lost to an unwritable directory).
RunResult run_config(const RunConfig& config, const std::string& out_dir, const ProgressSink& progress = {});

/// The content of summary.json for a finished run of `config`: to_json(summary), the optimal loss, version and the
/// effective configuration.
nlohmann::json summary_json(const RunConfig& config, const Problem& problem, const Shape& shape,
                            const Summary& summary);

/// Writes DIR/summary.json (atomically) and, when config.output.save_weights, DIR/weights/Wj.npy.
void write_run_outputs(const std::string& out_dir, const RunConfig& config, const Shape& shape,
                       const nlohmann::json& summary, const Eigen::VectorXd& theta);

/// Column names of trajectory.csv for `modes` singular values / alignments.
std::string trajectory_header(int modes);

/// One row of trajectory.csv (the stream should have precision 17).
void write_trajectory_row(std::ostream& csv, const Sample& sample);

/// The summary fields of a run as JSON (status, message, t_final, loss, excess_loss, t_eps, stats, …).
nlohmann::json to_json(const Summary& summary);

}  // namespace linflow
