// Sweep files and their runs: parsing, the points of a grid or a random sample, derived seeds, and one run's line.
// Executing a whole sweep is in runner.cpp.
#include "linflow/sweep_plan.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "core/files.hpp"
#include "linflow/error.hpp"
#include "linflow/run.hpp"
#include "linflow/theory.hpp"
#include "run/config_table.hpp"
#include "run/json_text.hpp"
#include "run/toml_reader.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

// Of sweep.json and runs.jsonl. 2: runs named by their parameters ("id"), index-free derived seeds, zip, save.
constexpr int kFormat = 2;
constexpr long kMaxRuns = 1'000'000'000;
// Points whose configuration validate_sweep parses before anything runs (about 20 µs each): 1e9 points would be hours
// of silence, and a later point's bad value is its run's error line anyway.
constexpr long kValidatedUpFront = 1000;
// Rounded ranges longer than this are not searched for repeated points (seconds of work for a sweep's start).
constexpr long kDuplicatesCheckedUpTo = 1'000'000;

// FNV-1a, 64 bits: the same hash of the same bytes on every platform, which std::hash does not promise.
std::uint64_t fnv1a64(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Uniform doubles in [0, 1) from a splitmix64 stream: the same numbers on every platform and standard library,
// which std::uniform_real_distribution does not promise.
class UnitStream {
 public:
  explicit UnitStream(std::uint64_t seed) : state_(seed) {}
  double next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    return static_cast<double>(splitmix64(state_) >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};

// ---- parsing ---------------------------------------------------------------------------------------------------

// A sweep value as JSON: numbers (finite), booleans, strings, or arrays of them.
json value(const detail::TomlReader& r, const toml::node& n, const std::string& where) {
  if (const auto* v = n.as_integer()) return v->get();
  if (const auto* v = n.as_floating_point()) {
    if (!std::isfinite(v->get())) r.fail(where + ": values must be finite");
    return v->get();
  }
  if (const auto* v = n.as_boolean()) return v->get();
  if (const auto* v = n.as_string()) return v->get();
  if (const auto* a = n.as_array()) {
    json out = json::array();
    for (const auto& item : *a) out.push_back(value(r, item, where));
    return out;
  }
  r.fail(where + ": values must be numbers, booleans, strings or arrays of them");
}

// A number that must be finite (a range end).
std::optional<double> finite_number(const detail::TomlReader& r, const toml::table& t, const char* key,
                                    const std::string& where) {
  const auto v = r.number(t, key, where);
  if (v && !std::isfinite(*v)) r.fail(where + key + ": must be finite");
  return v;
}

// ---- points ----------------------------------------------------------------------------------------------------

long axis_length(const SweepAxis& axis) { return axis.is_range() ? axis.count : static_cast<long>(axis.values.size()); }

json range_value(const SweepAxis& axis, double fraction) {
  double v = 0;
  if (fraction <= 0) {
    v = axis.from;  // the endpoints exactly, not exp(log(x))
  } else if (fraction >= 1) {
    v = axis.to;
  } else if (axis.log) {
    v = std::exp(std::log(axis.from) + (std::log(axis.to) - std::log(axis.from)) * fraction);
  } else {
    v = axis.from + (axis.to - axis.from) * fraction;
  }
  if (axis.integer) return static_cast<std::int64_t>(std::llround(v));
  return v;
}

json grid_value(const SweepAxis& axis, long i) {
  if (!axis.is_range()) return axis.values[static_cast<size_t>(i)];
  const double fraction = axis.count == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(axis.count - 1);
  return range_value(axis, fraction);
}

// Axes joined by zip = true, as index lists in file order: a group takes one index (grid) or one draw (samples).
std::vector<std::vector<size_t>> axis_groups(const std::vector<SweepAxis>& axes) {
  std::vector<std::vector<size_t>> groups;
  for (size_t a = 0; a < axes.size(); ++a) {
    if (!axes[a].zip || groups.empty()) groups.emplace_back();
    groups.back().push_back(a);
  }
  return groups;
}

json sampled_value(const SweepAxis& axis, double u) {
  if (!axis.is_range()) {
    const auto n = axis.values.size();
    return axis.values[std::min(n - 1, static_cast<size_t>(u * static_cast<double>(n)))];
  }
  // Endpoints have probability zero for a draw; `fraction` 0 and 1 only select them exactly in the grid.
  return range_value(axis, std::clamp(u, 1e-300, std::nextafter(1.0, 0.0)));
}

// The axis values of point p, in file order.
ordered_json point_values(const SweepConfig& sweep, long point) {
  ordered_json values = ordered_json::object();
  const auto groups = axis_groups(sweep.axes);
  if (sweep.samples > 0) {
    UnitStream stream(derive_seed(sweep.seed, static_cast<unsigned long long>(point)));
    for (const auto& group : groups) {
      const double u = stream.next();
      for (const size_t a : group) values[sweep.axes[a].key] = sampled_value(sweep.axes[a], u);
    }
  } else {
    std::vector<long> index(groups.size());
    long rest = point;
    for (size_t g = groups.size(); g-- > 0;) {
      const long n = axis_length(sweep.axes[groups[g].front()]);
      index[g] = rest % n;
      rest /= n;
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      for (const size_t a : groups[g]) values[sweep.axes[a].key] = grid_value(sweep.axes[a], index[g]);
    }
  }
  return values;
}

// Canonical text: keys sorted (an axis moved in the file names the same run), no spaces.
std::string canonical(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct DerivedSeed {
  const char* key;
  unsigned long long base;
};

std::vector<DerivedSeed> derived_seed_keys(const SweepConfig& sweep, const RunConfig& base) {
  std::vector<DerivedSeed> keys;
  auto on_axis = [&](const char* key) {
    return std::any_of(sweep.axes.begin(), sweep.axes.end(), [&](const SweepAxis& a) { return a.key == key; });
  };
  const bool synthetic = base.problem.target.empty() && base.problem.x.empty();
  if (synthetic && !on_axis("problem.seed")) keys.push_back({"problem.seed", base.problem.seed});
  if (!on_axis("init.seed")) keys.push_back({"init.seed", base.init.seed});
  return keys;
}

// The base configuration with `overrides` applied: a copy of the parsed base, never a second parse.
// --set overrides come first, so that a run's own parameters are applied over them.
RunConfig parse_base(const SweepConfig& sweep, const std::vector<std::string>& overrides = {}) {
  if (sweep.base_overrides.empty()) return sweep.base.instantiate(overrides);
  std::vector<std::string> all = sweep.base_overrides;
  all.insert(all.end(), overrides.begin(), overrides.end());
  return sweep.base.instantiate(all);
}

// Derived seeds depend on what a run is, never on its index, so that a sweep extended by seeds, points or values
// gives its earlier runs the same seeds: repeat r of a point under seed_per = "repeat", and the point's axis values
// (with its sample number when drawn) and r under "run".
ordered_json parameters(const SweepConfig& sweep, const RunConfig& base, long k) {
  const long point = k / sweep.seeds;
  const auto repeat = static_cast<unsigned long long>(k % sweep.seeds);
  ordered_json params = point_values(sweep, point);
  if (sweep.seed_per == SeedPer::run) {
    json name = {{"values", json(params)}};
    if (sweep.samples > 0) name["point"] = point;
    const std::uint64_t of_point = fnv1a64(canonical(name));
    for (const auto& d : derived_seed_keys(sweep, base)) {
      params[d.key] = derive_seed(derive_seed(d.base, of_point), repeat);
    }
  } else if (repeat > 0) {  // repeat 0 keeps the base seeds: it is `linflow train` of the base with its axis values
    for (const auto& d : derived_seed_keys(sweep, base)) params[d.key] = derive_seed(d.base, repeat);
  }
  return params;
}

std::string key_of(const SweepConfig& sweep, const json& params, long point, long repeat) {
  json key = {{"params", params}, {"repeat", repeat}};
  if (sweep.samples > 0) key["point"] = point;  // drawn points may repeat: the sample number tells them apart
  return canonical(key);
}

std::string id_of(const std::string& key) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(key)));
  return hex;
}

std::vector<std::string> overrides_of(const ordered_json& params) {
  std::vector<std::string> out;
  // JSON scalars and arrays of them are valid TOML values, so the override text is the JSON text.
  for (const auto& [key, value] : params.items()) out.push_back(key + "=" + value.dump());
  return out;
}

std::string describe_params(const ordered_json& params) {
  std::string s;
  for (const auto& [key, value] : params.items()) s += (s.empty() ? "" : ", ") + key + " = " + value.dump();
  return s.empty() ? "the base configuration" : s;
}

}  // namespace

// ---- public ----------------------------------------------------------------------------------------------------

unsigned long long derive_seed(unsigned long long base, unsigned long long k) {
  return splitmix64(splitmix64(base) ^ k) >> 1;
}

const char* to_string(SeedPer seed_per) {
  switch (seed_per) {
    case SeedPer::repeat:
      return "repeat";
    case SeedPer::run:
      return "run";
  }
  return "?";
}

SeedPer seed_per_from_string(const std::string& name) {
  if (name == "repeat") return SeedPer::repeat;
  if (name == "run") return SeedPer::run;
  throw InputError("sweep.seed_per: '" + name + "' is not one of: repeat, run");
}

bool SweepConfig::is_valid(std::string* why) const {
  auto bad = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (seeds < 1) return bad("sweep.seeds: must be ≥ 1, got " + std::to_string(seeds));
  if (samples < 0) return bad("sweep.samples: must be ≥ 0, got " + std::to_string(samples));
  std::set<std::string> keys;
  for (const auto& a : axes) {
    const std::string at = "axis '" + a.key + "'";
    const auto dot = a.key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == a.key.size() ||
        a.key.find('.', dot + 1) != std::string::npos) {
      return bad(at + ": key must be section.key, as in init.sigma0");
    }
    if (!keys.insert(a.key).second) return bad(at + ": appears twice");
    if (a.is_range()) {
      if (!std::isfinite(a.from) || !std::isfinite(a.to)) return bad(at + ": from and to must be finite");
      if (a.log && !(a.from > 0 && a.to > 0)) return bad(at + ": a log range needs from > 0 and to > 0");
      if (samples == 0 && a.count < 1) return bad(at + ": count must be ≥ 1");
    }
  }
  for (const auto& o : base_overrides) {
    const std::string key = o.substr(0, o.find('='));
    if (keys.count(key) != 0) return bad("--set " + key + ": an axis of the sweep varies this key");
  }
  if (!axes.empty() && axes.front().zip) {
    return bad("axis '" + axes.front().key + "': zip = true pairs an axis with the one before it; the first has none");
  }
  const auto groups = axis_groups(axes);
  double runs = static_cast<double>(seeds) * static_cast<double>(samples > 0 ? samples : 1);
  for (const auto& group : groups) {
    const SweepAxis& first = axes[group.front()];
    for (const size_t a : group) {
      const SweepAxis& axis = axes[a];
      // Drawn ranges share one uniform number per group; only grids and drawn lists need equal lengths.
      if (a == group.front() || (samples > 0 && (axis.is_range() || first.is_range()))) continue;
      if (axis_length(axis) != axis_length(first)) {
        return bad("axis '" + axis.key + "': zip = true pairs it with axis '" + first.key + "', so it needs as many " +
                   "values (" + std::to_string(axis_length(first)) + "), got " + std::to_string(axis_length(axis)));
      }
    }
    if (samples == 0) runs *= static_cast<double>(axis_length(first));
  }
  if (runs > static_cast<double>(kMaxRuns)) return bad("sweep has more than 1e9 runs");
  // A grid point names its runs (run_key), so two equal points would be one run twice. A range with from ≠ to that
  // is not rounded is strictly monotone, and a rounded one monotone (equal points adjacent): only lists need a set.
  for (const auto& group : groups) {
    const long n = axis_length(axes[group.front()]);
    const auto in_group = [&](auto&& predicate) { return std::any_of(group.begin(), group.end(), predicate); };
    if (samples > 0 || n < 2 ||
        in_group([&](size_t a) { return axes[a].is_range() && !axes[a].integer && axes[a].from != axes[a].to; })) {
      continue;
    }
    const bool has_list = in_group([&](size_t a) { return !axes[a].is_range(); });
    if (!has_list && n > kDuplicatesCheckedUpTo) continue;
    std::set<std::string> seen;
    std::string previous;
    for (long i = 0; i < n; ++i) {
      json point = json::object();
      for (const size_t a : group) point[axes[a].key] = grid_value(axes[a], i);
      std::string text = canonical(point);
      if (has_list ? !seen.insert(text).second : (i > 0 && text == previous)) {
        std::string shown;
        for (const auto& [key, v] : point.items()) shown += (shown.empty() ? "" : ", ") + key + " = " + v.dump();
        return bad("axis '" + axes[group.front()].key + "': the point " + shown +
                   " appears twice (a run is named by its parameters; a range with integer = true rounds close values "
                   "to one: lower its count)");
      }
      previous = std::move(text);
    }
  }
  return true;
}

SweepConfig parse_sweep(const std::string& toml_text, const std::string& base_dir, const std::string& origin,
                        const std::vector<std::string>& overrides) {
  const detail::TomlReader r(origin);
  const toml::table root = detail::parse_toml(toml_text, origin);
  r.check_keys(root, "", {"sweep", "axis", "base", "experiment"});
  const fs::path dir = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir));

  SweepConfig s;
  const toml::table empty;
  const toml::node* sweep_node = root.get("sweep");
  if (sweep_node && !sweep_node->is_table()) r.fail("'sweep' must be a table [sweep]");
  const toml::table& t = sweep_node ? *sweep_node->as_table() : empty;
  r.check_keys(t, "sweep.", {"base", "seeds", "seed_per", "samples", "seed", "analyze", "save"});
  if (const auto v = r.integer(t, "seeds", "sweep.")) {
    if (*v < 1 || *v > 1'000'000) r.fail("sweep.seeds: must be in 1..1000000");
    s.seeds = static_cast<int>(*v);
  }
  if (const auto v = r.integer(t, "samples", "sweep.")) {
    if (*v < 0 || *v > kMaxRuns) r.fail("sweep.samples: must be in 0..1e9 (0 or left out: a grid)");
    s.samples = static_cast<long>(*v);
  }
  if (const auto v = r.integer(t, "seed", "sweep.")) {
    if (*v < 0) r.fail("sweep.seed: must be ≥ 0");
    s.seed = static_cast<unsigned long long>(*v);
  }
  s.analyze = r.boolean(t, "analyze", "sweep.").value_or(false);
  if (const toml::node* save = t.get("save")) {
    if (!save->is_array()) r.fail(R"(sweep.save: expected a list, as in save = ["trajectory", "weights"])");
    for (const auto& item : *save->as_array()) {
      const auto* word = item.as_string();
      if (word && word->get() == "trajectory") {
        s.save_trajectory = true;
      } else if (word && word->get() == "weights") {
        s.save_weights = true;
      } else {
        r.fail(R"(sweep.save: each entry must be "trajectory" or "weights")");
      }
    }
  }
  if (const auto v = r.string(t, "seed_per", "sweep.")) {
    try {
      s.seed_per = seed_per_from_string(*v);
    } catch (const InputError& e) {
      r.fail(e.what());
    }
  }

  const auto base_path = r.string(t, "base", "sweep.");
  const toml::node* inline_base = root.get("base");
  if (base_path && inline_base) r.fail("give the base configuration as sweep.base or as a [base] table, not both");
  if (!base_path && !inline_base) r.fail("no base configuration: set sweep.base = \"run.toml\" or add a [base] table");
  if (base_path) {
    const fs::path p = (dir / *base_path).lexically_normal();
    try {
      s.base = ConfigTemplate::parse(detail::read_text(p, "base configuration"), p.parent_path().string(), p.string());
    } catch (const InputError& e) {
      r.fail(std::string("sweep.base: ") + e.what());
    }
  } else {
    if (!inline_base->is_table()) r.fail("'base' must be a table [base]");
    s.base = ConfigTemplate(std::make_shared<const detail::ConfigTable>(detail::ConfigTable{*inline_base->as_table()}),
                            dir.string(), origin + " [base]");
  }

  if (const toml::node* e = root.get("experiment")) {
    if (!e->is_table()) r.fail("'experiment' must be a table [experiment]");
    r.check_keys(*e->as_table(), "experiment.", {"description"});
    s.description = r.string(*e->as_table(), "description", "experiment.").value_or("");
  }

  if (const toml::node* axes = root.get("axis")) {
    if (!axes->is_array_of_tables()) r.fail("'axis' must be an array of tables: write each as [[axis]]");
    int number = 0;
    for (const auto& node : *axes->as_array()) {
      const toml::table& a = *node.as_table();
      const std::string where = "axis " + std::to_string(++number) + ": ";
      r.check_keys(a, where, {"key", "values", "from", "to", "count", "log", "integer", "zip"});
      SweepAxis axis;
      axis.key = r.string(a, "key", where).value_or("");
      if (axis.key.empty()) r.fail(where + "key: required, as in key = \"init.sigma0\"");
      const std::string at = "axis '" + axis.key + "': ";
      axis.zip = r.boolean(a, "zip", at).value_or(false);
      if (const toml::node* values = a.get("values")) {
        if (!values->is_array() || values->as_array()->empty()) r.fail(at + "values: expected a non-empty array");
        for (const auto& v : *values->as_array()) axis.values.push_back(value(r, v, at + "values"));
        for (const char* range_key : {"from", "to", "count", "log", "integer"}) {
          if (a.contains(range_key)) r.fail(at + "give values or a range (from, to, count, log, integer), not both");
        }
      } else {
        const auto from = finite_number(r, a, "from", at);
        const auto to = finite_number(r, a, "to", at);
        if (!from || !to) r.fail(at + "needs values = [...] or a range from = …, to = …");
        axis.from = *from;
        axis.to = *to;
        const auto count = r.integer(a, "count", at);
        if (count && (*count < 1 || *count > kMaxRuns)) r.fail(at + "count: must be ≥ 1");
        if (!count && s.samples == 0) r.fail(at + "count: required for a grid (or set sweep.samples to draw points)");
        axis.count = count ? static_cast<int>(*count) : 0;
        axis.log = r.boolean(a, "log", at).value_or(false);
        axis.integer = r.boolean(a, "integer", at).value_or(false);
      }
      s.axes.push_back(std::move(axis));
    }
  }

  s.base_overrides = overrides;
  std::string why;
  if (!s.is_valid(&why)) r.fail(why);
  try {
    validate_sweep(s);
  } catch (const InputError& e) {
    r.fail(e.what());
  }
  return s;
}

SweepConfig load_sweep(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_sweep(detail::read_text(path, "sweep file"), fs::path(path).parent_path().string(), path, overrides);
}

void validate_sweep(const SweepConfig& sweep) {
  std::string why;
  if (!sweep.is_valid(&why)) throw InputError(why);
  const RunConfig base = parse_base(sweep);
  const long points = std::min(point_count(sweep), kValidatedUpFront);
  for (long p = 0; p < points; ++p) {
    const long k = p * sweep.seeds;
    const ordered_json params = parameters(sweep, base, k);
    try {
      parse_base(sweep, overrides_of(params));
    } catch (const InputError& e) {
      throw InputError("run " + std::to_string(k) + " (" + describe_params(params) + "): " + e.what());
    }
  }
}

long point_count(const SweepConfig& sweep) {
  if (sweep.samples > 0) return sweep.samples;
  long n = 1;
  for (const auto& group : axis_groups(sweep.axes)) n *= axis_length(sweep.axes[group.front()]);
  return n;
}

long run_count(const SweepConfig& sweep) { return point_count(sweep) * sweep.seeds; }

ordered_json run_parameters(const SweepConfig& sweep, long k) {
  if (k < 0 || k >= run_count(sweep)) throw InputError("sweep: run " + std::to_string(k) + " out of range");
  return parameters(sweep, parse_base(sweep), k);
}

RunConfig run_configuration(const SweepConfig& sweep, long k) {
  return parse_base(sweep, overrides_of(run_parameters(sweep, k)));
}

std::string run_key(const SweepConfig& sweep, long k) {
  return key_of(sweep, json(run_parameters(sweep, k)), k / sweep.seeds, k % sweep.seeds);
}

std::string run_id(const SweepConfig& sweep, long k) { return id_of(run_key(sweep, k)); }

std::string line_key(const SweepConfig& sweep, const nlohmann::json& line) {
  if (!line.is_object() || !line.contains("params") || !line["params"].is_object() || !line.contains("repeat") ||
      !line["repeat"].is_number_integer() || (sweep.samples > 0 && !line.contains("point"))) {
    return "";
  }
  return key_of(sweep, line["params"], sweep.samples > 0 ? line["point"].get<long>() : 0, line["repeat"].get<long>());
}

std::string run_line(const SweepConfig& sweep, long k, const std::string& out_dir) {
  ordered_json line;
  line["run"] = k;
  line["point"] = k / sweep.seeds;
  line["repeat"] = k % sweep.seeds;
  const ordered_json params = run_parameters(sweep, k);
  const std::string id = id_of(key_of(sweep, json(params), k / sweep.seeds, k % sweep.seeds));
  line["id"] = id;
  line["params"] = params;
  const bool save = !out_dir.empty() && (sweep.save_trajectory || sweep.save_weights);
  const std::string run_dir = save ? (fs::path(out_dir) / "runs" / id).string() : std::string();
  try {
    RunConfig config = parse_base(sweep, overrides_of(params));
    if (save) {
      config.output.trajectory = sweep.save_trajectory;
      config.output.save_weights = sweep.save_weights;
    }
    json summary;
    json analysis, observed;
    if (sweep.analyze) {
      AnalysisResult result = analyze_config(config, /*simulate=*/true, run_dir);
      summary = std::move(result.run->json);
      observed = std::move(result.json["observed"]);
      // analysis.json's content less what the line holds elsewhere: to_json(analysis), not serialised a second time.
      analysis = std::move(result.json);
      for (const char* key : {"observed", "version", "config"}) analysis.erase(key);
    } else {
      // No checkpoints: a sweep resumes by runs, and its lines must not depend on what a folder held before.
      summary = run_config(config, run_dir, {}, ResumeOptions{0, false}).json;
    }
    for (const auto& [key, value] : summary.items()) {
      if (key == "config" || key == "version") continue;
      ordered_json v = value;
      if (key == "stats") v.erase("wall_seconds");  // the one field that differs between identical runs
      line[key] = std::move(v);
    }
    if (sweep.analyze) {
      line["analysis"] = analysis;  // json into ordered_json: a conversion, not a move
      line["observed"] = observed;
    }
  } catch (const InputError& e) {
    line["status"] = "error";
    line["message"] = e.what();
  }
  return detail::json_text(line);
}

ordered_json to_json(const SweepConfig& sweep) {
  ordered_json axes = ordered_json::array();
  for (const auto& a : sweep.axes) {
    ordered_json j;
    j["key"] = a.key;
    if (a.is_range()) {
      j["from"] = a.from;
      j["to"] = a.to;
      if (sweep.samples == 0) j["count"] = a.count;
      j["log"] = a.log;
      j["integer"] = a.integer;
    } else {
      j["values"] = a.values;
    }
    if (a.zip) j["zip"] = true;
    axes.push_back(std::move(j));
  }
  const RunConfig base = parse_base(sweep);
  ordered_json derived = ordered_json::array();
  if (sweep.seed_per == SeedPer::run || sweep.seeds > 1) {
    for (const auto& d : derived_seed_keys(sweep, base)) derived.push_back(d.key);
  }
  ordered_json j;
  j["format"] = kFormat;
  j["version"] = version();
  j["mode"] = sweep.samples > 0 ? "random" : "grid";
  j["points"] = point_count(sweep);
  j["seeds"] = sweep.seeds;
  j["runs"] = run_count(sweep);
  j["seed_per"] = to_string(sweep.seed_per);
  j["seed"] = sweep.seed;
  j["analyze"] = sweep.analyze;
  ordered_json save = ordered_json::array();
  if (sweep.save_trajectory) save.push_back("trajectory");
  if (sweep.save_weights) save.push_back("weights");
  j["save"] = save;
  j["derived_seeds"] = derived;
  j["axes"] = axes;
  if (!sweep.description.empty()) j["description"] = sweep.description;
  j["base"] = to_json(base);
  return j;
}

}  // namespace linflow
