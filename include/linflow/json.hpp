#pragma once
// linflow's records as JSON, in one place: what summary.json, analysis.json and every runs.jsonl line are made of.
// The library's other headers are free of JSON; the sweep and experiment headers, whose files are JSON lines, build
// on this one.
#include <nlohmann/json.hpp>

#include "linflow/config.hpp"
#include "linflow/solver.hpp"
#include "linflow/theory.hpp"

namespace linflow {

/// The effective configuration as JSON (absolute paths, every key), for summary.json; ConfigTemplate::load reads it
/// back (the "config" member of a summary.json or analysis.json), so it repeats the run exactly.
nlohmann::json to_json(const RunConfig& config);

/// A configuration given as a JSON object of sections ({"solver": {"rtol": 1e-8}, …}): what ConfigTemplate::load
/// reads from a JSON file, already parsed, for a program that holds its configuration as data (the Python module's
/// dicts); paths inside are taken relative to `base_dir`. Keys and values are checked by `instantiate`, with the
/// messages a TOML file gets; nulls are left out, as in a summary.json's "config". InputError when `sections` is
/// not an object.
ConfigTemplate config_from_json(const nlohmann::json& sections, const std::string& base_dir,
                                const std::string& origin = "config");

/// The summary fields of a run as JSON (status, message, t_final, loss, excess_loss, t_eps, stats, …).
nlohmann::json to_json(const Summary& summary);

/// The analysis as JSON: analysis.json without its "observed", "version" and "config" members. Numbers that do not
/// apply are null; every "result" is {"name", "tag"}.
///   status, message, method
///   hypotheses  {whitened, depth, widths, min_width, width_one, imbalance, imbalance_tolerance, balanced,
///                singular_values, spectral_gap, distinct_top, distinct_all, rank_one_theory}
///   start       {sigma0, u0, v0, f0, loss, optimal_loss, excess_loss, distance_to_target}
///   prediction  {limit: global_min|saddle|origin|unknown, saddle_index, limit_norm, c, c_zero_tolerance, margin,
///                f_infinity, result, reason, modes (the modes of the predicted limit, 1-based)}
///   conditions  {deficiency_margin, sublevel, alignment, stable_set: {applies, holds, margin, statement, result}}
///   bounds      {eps, rates: [{name, rate, t_eps_bound, result}], kappa, t_eps_bound, asymptotic_rate,
///                asymptotic_result, asymptotic_mode, mode_rates: [{mode, rate}],
///                escape_time: {sigma_target, lower, upper, result}, lingering_estimate, lingering_result,
///                origin_transit: {sigma_min, t_min, sigma_target, time, result} (or null),
///                roundoff_escape_estimate, roundoff_result,
///                gd: {applies, failed, delta_max, lr_max, iterations_bound, local_stability_lr,
///                local_stability_source,
///                     asymptotic_rate,
///                     result, local_stability_result, asymptotic_result}}
///   decoupled   null, or for an aligned / nearly aligned balanced start (docs/theory.md §10): {exact, misalignment,
///                modes, stages: [{mode, s, sigma0, half_time, plateau}], t_eps, late_rate, result}
///   not_applicable, still_applies   [string]
nlohmann::json to_json(const theory::Analysis& analysis);

/// The observation as JSON, the "observed" member of analysis.json:
///   message, status, solver_message, t_final, t_eps, initial_excess_loss, excess_loss, steps, iterations,
///   limit, saddle_index, modes, distance, distance_tolerance, distances {origin, modes: [‖W̃ − s_i u_i v_iᵀ‖]},
///   late_time_rate {value, points, t_begin, t_end, rms_residual}, escape_time {after, by},
///   comparisons [{quantity, relation, predicted, predicted_lower, observed, ratio, contradiction, note, result}],
///   contradictions [string], notes [string]
nlohmann::json to_json(const theory::Observation& observation);

/// A point's kind from its Hessian, the "start" and "end" members of analysis.json's "hessian" (output.hessian):
///   kind, grad_norm, excess_loss, critical_tolerance, method, min_eigenvalue, max_eigenvalue, zero_tolerance, and
///   when dense negative, zero, positive, symmetry_zeros.
nlohmann::json to_json(const theory::PointKind& point);

}  // namespace linflow
