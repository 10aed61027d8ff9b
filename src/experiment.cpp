#include "linflow/experiment.hpp"

#include <algorithm>
#include <cstdio>

#include "experiments/analyses.hpp"
#include "linflow/error.hpp"

namespace linflow {
namespace {

using Analysis = ExperimentReport (*)(const SweepConfig&, const std::vector<nlohmann::json>&);

struct Entry {
  const char* name;
  const char* summary;
  Analysis analysis;
};

constexpr Entry kExperiments[] = {
    {"escape-time", "GF escape time from a small aligned start vs the spec §6 integral (P9), N = 2..6",
     detail::analyze_escape_time},
    {"gd-step-size", "GD converges below 2/(N s_1^{2-2/N}) and not above it (spec §3), N = 2..4",
     detail::analyze_gd_step_size},
};

}  // namespace

std::vector<ExperimentInfo> experiments() {
  std::vector<ExperimentInfo> out;
  for (const auto& e : kExperiments) out.push_back({e.name, e.summary});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

ExperimentReport analyze_experiment(const std::string& name, const SweepConfig& sweep,
                                    const std::vector<nlohmann::json>& runs) {
  for (const auto& e : kExperiments) {
    if (name == e.name) return e.analysis(sweep, runs);
  }
  std::string names;
  for (const auto& e : kExperiments) names += (names.empty() ? "" : ", ") + std::string(e.name);
  throw InputError("unknown experiment '" + name + "' (known: " + names + ")");
}

namespace detail {

std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    lines.push_back(line);
  }
  return lines;
}

std::string format_number(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, v);
  return buffer;
}

}  // namespace detail
}  // namespace linflow
