#pragma once
// One run of a configuration, assembled in one place for `linflow train`, `analyze`, `demo` and sweeps:
//   set_up(config)            the problem, the network shape and the start a configuration describes;
//   run_config(config, DIR)   train it (what `linflow train` does);
//   analyze_config(config, simulate, DIR)   the theory's analysis of the start, and with `simulate` the run
//                             confronted with it (what `linflow analyze [--simulate]` does).
// The files a run writes into DIR:
//   DIR/summary.json     status, message, times, losses, statistics, the effective configuration and version;
//   DIR/trajectory.csv   one row per recorded time (see `trajectory_header`);
//   DIR/weights/Wj.npy   the final layers, float64;
//   DIR/target.npy       the whitened target the run fitted (float64, d_y × d_x): Z for a synthetic target or
//                        problem.target, Q = Y Xᵀ Σ^{-1/2} for data (docs/theory.md §1);
//   DIR/sigma.npy        data only: Σ = X Xᵀ (d_x × d_x). With them L(W) = ½‖Q − W Σ^{1/2}‖_F² + c, where c is
//                        summary.json's data_constant (0 when whitened) and L* its optimal_loss;
//   DIR/checkpoint.bin   while a run goes, and after it was interrupted or killed: where `--resume` continues it;
//   DIR/analysis.json    (analyze_config) the analysis, with `observed` when simulated, the version and configuration.
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "linflow/config.hpp"
#include "linflow/json.hpp"
#include "linflow/solver.hpp"
#include "linflow/theory.hpp"

namespace linflow {

/// The linflow version string ("0.1.0").
const char* version();

/// A configuration set up for running: its problem (files read, synthetic target drawn and factored), the network
/// shape and the initial parameters.
struct RunSetup {
  RunConfig config;
  Problem problem;
  Shape shape;
  Eigen::VectorXd theta0;
  ReadNotes notes;  ///< what the matrix readers decided on their own (a CSV header skipped, …), one sentence each
};
/// Sets `config` up. Throws InputError on bad files, shapes or initialization options.
RunSetup set_up(const RunConfig& config);

/// The recording `[output]` asks of a train run: its sample times, number of modes (clamped to the shape) and
/// whether samples carry the sharpness.
RecordOptions record_options(const RunSetup& setup);
/// The observation options `[output]` asks of a simulated analysis (at least ObserveOptions' uniform samples).
theory::ObserveOptions observe_options(const OutputOptions& output);

struct RunResult {
  Summary summary;
  Eigen::VectorXd theta;  ///< final parameters
  nlohmann::json json;    ///< the content of summary.json
  ReadNotes notes;        ///< RunSetup::notes, also in summary.json's "notes"
  /// An interrupted run (Status::interrupted) into a folder that holds a finished run: its files were not written,
  /// the finished run was kept (see run_config).
  bool kept_finished_run = false;
};

/// Checkpoints of a run_config run into a folder, and resuming one (`linflow train --resume`).
struct ResumeOptions {
  /// Wall time between checkpoints written to DIR/checkpoint.bin while the run goes (0: none). An interrupted run
  /// writes one at the state it reached (bdf: its last restart is its checkpoint), a finished run removes it.
  double checkpoint_seconds = 5;
  /// Continue the run whose checkpoint DIR holds, with the same configuration (refused otherwise): the files it ends
  /// with are those of the run that was never stopped, byte for byte, but summary.json's wall_seconds and a note.
  /// Without a checkpoint (a run killed before its first) the run starts at t = 0, with a note saying so.
  bool resume = false;
};

/// Whether DIR holds a finished run: a summary.json whose status is not "interrupted" (one that cannot be read
/// counts as finished, since summary.json is only ever written whole).
bool holds_finished_run(const std::string& out_dir);

/// Runs `config`; when `out_dir` is non-empty writes the files above into it (created if missing; InputError when
/// it cannot be written — checked before the run starts, so no work is lost to an unwritable directory). A run that
/// ends interrupted (request_interrupt(), interrupt.hpp) writes its files like any other — summary.json with status
/// "interrupted", the trajectory and weights of the state reached — unless the folder holds a finished run (a
/// summary.json with another status): finished work is never replaced by unfinished work, so that folder is left
/// as it was and `kept_finished_run` is set.
RunResult run_config(const RunConfig& config, const std::string& out_dir, const ProgressSink& progress = {},
                     const ResumeOptions& resume = {});

struct AnalysisResult {
  theory::Analysis analysis;
  std::optional<theory::Observation> observation;  ///< the simulated run confronted with the analysis (`simulate` only)
  std::optional<RunResult> run;                    ///< the simulated run as `run_config` reports it (`simulate` only)
  std::optional<theory::PointKind> hessian_start;  ///< output.hessian: the kind of the start
  std::optional<theory::PointKind> hessian_end;    ///< output.hessian with `simulate`: the kind of the end
  nlohmann::json json;                             ///< the content of analysis.json
  ReadNotes notes;                                 ///< RunSetup::notes, also in analysis.json's "notes"
  std::optional<Problem> problem;                  ///< the problem analyzed (what write_problem_files writes)
};

/// Analyzes `config`'s start; with `simulate` also runs it and confronts the run with every prediction (the run
/// follows the steps `run_config` would). When `out_dir` is non-empty writes analysis.json into it and, when
/// simulated, the run's files as `run_config` does, analysis.json among them (the directory is checked before any work,
/// as there; a write that fails leaves the folder as it was; an interrupted simulation writes nothing, analysis.json
/// included, into a folder that holds a finished run).
AnalysisResult analyze_config(const RunConfig& config, bool simulate, const std::string& out_dir,
                              const ProgressSink& progress = {});

/// The content of summary.json for a finished run of `config`: to_json(summary), the optimal loss, whether the
/// problem is whitened and its data constant c, the readers' notes, version and the effective configuration.
nlohmann::json summary_json(const RunConfig& config, const Problem& problem, const Shape& shape, const Summary& summary,
                            const ReadNotes& notes = {});

/// Writes the problem a run solved into DIR: target.npy (the whitened target Q, Z when whitened) and, for data,
/// sigma.npy (Σ = X Xᵀ); an earlier run's sigma.npy is removed when the problem is whitened.
void write_problem_files(const std::string& out_dir, const Problem& problem);

/// Puts a finished run's files in place in DIR, so that a folder with a summary.json holds one run's files only:
/// DIR/weights/Wj.npy (when config.output.save_weights; an earlier, deeper run's extra layers are removed), the
/// problem's files (as write_problem_files), the trajectory the run wrote to DIR/trajectory.csv.tmp as
/// DIR/trajectory.csv (when config.output.trajectory; an earlier one removed otherwise), and DIR/summary.json last.
/// Every file is first written whole beside its final name (NAME.tmp); only then is an earlier run's summary.json
/// removed and the new files renamed into place. A write that fails (a full disk) throws InputError naming the file
/// and leaves DIR as it was, without a temporary.
void write_run_outputs(const std::string& out_dir, const RunConfig& config, const Problem& problem, const Shape& shape,
                       const nlohmann::json& summary, const Eigen::VectorXd& theta);

/// Column names of trajectory.csv for `modes` singular values / alignments, and the sharpness column last when
/// `sharpness` (output.sharpness).
std::string trajectory_header(int modes, bool sharpness = false);

/// One row of trajectory.csv (the stream should have precision 17).
void write_trajectory_row(std::ostream& csv, const Sample& sample);

}  // namespace linflow
