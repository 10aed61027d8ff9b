#pragma once
// The analyses behind `analyze_experiment`, one file each, and what they share.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "linflow/experiment.hpp"

namespace linflow::detail {

ExperimentReport analyze_escape_time(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);
ExperimentReport analyze_gd_step_size(const SweepConfig& sweep, const std::vector<nlohmann::json>& runs);

/// Rows of cells as text columns padded to a common width (first row: the header).
std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows);
/// `v` with `digits` significant digits ("%.*g").
std::string format_number(double v, int digits = 3);

}  // namespace linflow::detail
