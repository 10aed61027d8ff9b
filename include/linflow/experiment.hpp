#pragma once
// Built-in experiments: a sweep file shipped as experiments/NAME.toml, plus an analysis that reads the sweep's
// runs and states, in one line, whether the measurements agree with the prediction of docs/theory.md.
//
// | name           | sweep                                                  | verdict measured from the runs         |
// |----------------|--------------------------------------------------------|----------------------------------------|
// | escape-time    | GF, aligned balanced rank-one starts, N = 2..6,        | t_eps equals the §6 escape integral    |
// |                | σ0 = 1e-1..1e-6, eps = (s_1/2)²/2                      | (P9, relative 1e-4); growth in 1/σ0    |
// | gd-step-size   | GD, N = 2..4, a log grid of η around                   | the observed convergence edge brackets |
// |                | η_c = 2/(N s_1^{2−2/N})                                | η_c for every N (docs/theory.md §3
// [checked])    | | stable-set-map | GF, balanced rank-one starts over the slice            | every start reaches the
// limit §5       | |                | u0 = (cos a, sin a), v0 = (cos b, sin b), analysed     | predicts from c_1
// (boundary: saddle /  | |                |                                                        | origin); fractions
// of the slice in the | |                |                                                        | stable set vs the
// sufficient conditions| | rate-vs-depth  | GF, fixed directions with c_2 ≠ 0, N = 2..8, 4 σ0,     | late-time rate =
// 2(s_1 − s_2)s_1^{1−2/N}| |                | analysed                                               | (P7, 1e-3);
// t_eps ≤ κ bound (§6)        | | bound-vs-      | GF, random balanced rank-one starts, N = 2..6,         | t_eps ≤ κ
// bound and the e^{−κt}        | | observed       | σ0 = 1e-2..1e1, analysed                               | envelope
// in every run with f0 > s_2    | | beyond-one-    | GF, no width-one layer, random balanced and gaussian   | measured:
// fraction at the global       | | neuron         | starts, N = 2..5, 4 scales, analysed                   | optimum
// (Wilson 95 %); PASS when every | |                |                                                        | run ends
// at a critical point (Bah et   | |                |                                                        | al. 2019)
// |
//
// "analysed": the sweep sets `analyze = true` (sweep.hpp), so each run line carries the analysis and observation
// of `linflow analyze --simulate`, which the experiment's analysis reads.
//
// `linflow experiment NAME --out DIR` runs the sweep (sweep.hpp) and then `report_experiment`.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "linflow/sweep.hpp"

namespace linflow {

struct ExperimentReport {
  bool passed = false;             ///< the measurements agree with the prediction
  std::string verdict;             ///< one line: "escape-time: PASS — …" with the numbers
  std::vector<std::string> table;  ///< the measurements as aligned text, header first
  nlohmann::ordered_json json;     ///< the measurements and verdict (DIR/experiment.json)
};

struct ExperimentInfo {
  std::string name;     ///< also the sweep file's name: experiments/NAME.toml
  std::string summary;  ///< one line
};

/// The experiments that have an analysis, sorted by name.
std::vector<ExperimentInfo> experiments();

/// Analyses the runs (the lines of runs.jsonl, see read_runs) of the sweep of experiment `name`. Throws
/// InputError for an unknown name or runs that do not fit the experiment (e.g. a start that is not aligned).
ExperimentReport analyze_experiment(const std::string& name, const SweepConfig& sweep,
                                    const std::vector<nlohmann::json>& runs);

/// Analyses the finished sweep of experiment `name` in `out_dir` (its runs.jsonl) and writes the report to
/// out_dir/experiment.json atomically (a temporary file, fsync, rename: a kill leaves the old report or the new one,
/// never a partial file). Throws InputError as `analyze_experiment`, or when the report cannot be written.
ExperimentReport report_experiment(const std::string& name, const SweepConfig& sweep, const std::string& out_dir);

}  // namespace linflow
