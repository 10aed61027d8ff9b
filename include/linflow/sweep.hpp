#pragma once
// Running a sweep (sweep_plan.hpp): its runs in parallel (threads, and MPI ranks when linflow is built with MPI,
// process_group.hpp), written crash-safely to one JSON line per run.
//
// Output, in the directory `out_dir`:
//   sweep.json   the sweep: format, version, mode, counts, axes, derived-seed keys, and the base configuration as
//                the JSON of `to_json(RunConfig)`; written before the first run.
//   runs.jsonl   one line per finished run, in run order (k = 0, 1, …: the grid's nested loops, repeats
//                innermost; sweep_plan.hpp) once the sweep completes:
//                {"run": k, "point": p, "repeat": r, "id": "<16 hex digits>", "params": {"section.key": value, …},
//                 <the fields of summary.json except "config" and "version">}
//                "id" names the run by its parameters (sweep_plan.hpp, Run names): it stays the same when the sweep
//                is extended, while "run" and "point" are this sweep's numbering.
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
//   runs/<id>/   with sweep.save: what `linflow train --out` writes for that run — summary.json, and
//                trajectory.csv and/or weights/ as save asks (analysis.json too with analyze), so `linflow plot
//                DIR/runs/<id>` draws it. Written before the run's line, so a line on disk has its files.
//
// Crash safety. Each line is appended with one write() as its run finishes, so killing a sweep loses only the runs
// in flight. `resume` checks that sweep.json has the same format, linflow version, analyze and base configuration
// (after --set), re-reads runs.jsonl (ignoring a partially written last line) and matches its lines to the runs of
// the sweep given by their keys, not their indices: so the sweep given may extend the one in the folder — more
// seeds, more points on a range, more values in a list, a longer sample, axes reordered — and only its new runs are
// run; the lines taken over are renumbered. A finished run that the sweep given does not have is refused (resume
// never drops results), and with sweep.save a run whose files are missing is run again. The journal is then
// rewritten with the lines taken over, and at the end runs.jsonl is rewritten in run order (temporary file +
// rename), so the final file is byte-identical to that of an uninterrupted sweep of the sweep given.
//
// Interruption (request_interrupt(), interrupt.hpp: SIGINT or SIGTERM in the CLI). No run is handed out after it;
// the runs in flight stop at their next step with status "interrupted" and are not written (a run that finishes in
// spite of it is), so runs.jsonl holds finished runs only, unsorted, and `resume` runs the others. The sweep returns
// SweepStatus::interrupted. Under MPI a worker's interrupted runs are dropped by rank 0 in the same way.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "linflow/process_group.hpp"
#include "linflow/sweep_plan.hpp"

namespace linflow {

struct SweepOptions {
  /// Output directory (created if missing). Required.
  std::string out_dir;
  /// Compute threads in this process, ≥ 0 (0 = one per hardware thread). Under MPI, rank 0 runs this many
  /// alongside its coordination and every other rank runs one run at a time: start one rank per core.
  int threads = 1;
  /// Continue or extend the sweep in out_dir (see Crash safety above). Without it an existing, non-empty runs.jsonl
  /// is an InputError, so nothing is overwritten by accident.
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
  double eta = -1;     ///< estimated seconds left: runs left × the mean time of this session's finished runs / workers
                       ///< busy (threads, plus one per other MPI rank); < 0 before the first run ends
};
/// Called on rank 0 after every finished run, from worker threads but never concurrently.
using SweepProgressSink = std::function<void(const SweepProgress&)>;

enum class SweepStatus {
  complete,     ///< every run is in runs.jsonl, which is final
  run_errors,   ///< complete, but some runs' parameters were rejected as input ("status": "error" lines)
  worker_done,  ///< an MPI worker rank (rank > 0) finished; rank 0 wrote the files
  interrupted,  ///< stopped by request_interrupt() with runs missing: runs.jsonl holds the finished ones; resume it
};
const char* to_string(SweepStatus status);

struct SweepSummary {
  SweepStatus status = SweepStatus::complete;
  std::string message;  ///< "200 runs: 180 converged, 20 t_max (200 run now, 0 resumed) in 4.1 s"
  long total = 0;       ///< runs in the sweep
  long resumed = 0;     ///< runs found on disk
  long executed = 0;    ///< runs executed by this sweep invocation (all ranks)
  long missing = 0;     ///< runs not in runs.jsonl (interrupted only)
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
