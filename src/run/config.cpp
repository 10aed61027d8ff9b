#include "linflow/config.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "core/files.hpp"
#include "linflow/error.hpp"
#include "linflow/io.hpp"
#include "linflow/json.hpp"
#include "run/config_table.hpp"
#include "run/toml_reader.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::vector<std::string>>& schema() {
  static const std::map<std::string, std::vector<std::string>> s{
      {"problem", {"target", "x", "y", "layout", "header", "delimiter", "dims", "singular_values", "seed"}},
      {"network", {"widths"}},
      {"init", {"kind", "seed", "scale", "rank", "end_to_end", "sigma0", "u0", "v0", "delta", "modes", "dir"}},
      {"solver",
       {"method", "rtol", "atol", "plateau_rtol", "dt0", "integrator", "linear_solver", "gradient_precision", "dt",
        "lr", "steps", "t_max", "eps", "stop_at_eps", "max_steps", "grad_tol", "divergence_factor", "balance_tol"}},
      {"output",
       {"samples_log", "samples_uniform", "t_min", "modes", "save_weights", "trajectory", "hessian", "sharpness"}},
  };
  return s;
}

// Reads the run configuration's sections through the shared TomlReader, adding what is specific to this file:
// sections, paths relative to the file, integer ranges.
class Reader {
 public:
  Reader(const toml::table& root, const std::string& origin, fs::path base)
      : root_(root), toml_(origin), base_(std::move(base)) {}

  void check_keys() const {
    std::vector<std::string> sections;
    for (const auto& [name, keys] : schema()) sections.push_back(name);
    for (auto&& [key, node] : root_) {
      const std::string section(key.str());
      const auto it = schema().find(section);
      if (it == schema().end()) fail("unknown section [" + section + "]" + detail::did_you_mean(section, sections));
      if (!node.is_table()) fail("'" + section + "' must be a table [" + section + "]");
      for (auto&& [k, v] : *node.as_table()) {
        const std::string name(k.str());
        if (std::find(it->second.begin(), it->second.end(), name) != it->second.end()) continue;
        std::string near = detail::did_you_mean(name, it->second);
        if (near.empty()) {
          for (const auto& [other, keys] : schema()) {
            if (std::find(keys.begin(), keys.end(), name) != keys.end()) near = " (it belongs in [" + other + "])";
          }
        }
        fail("unknown key " + section + "." + name + near);
      }
    }
  }

  void get(const char* section, const char* key, double& out) const {
    if (const auto v = toml_.number(table(section), key, where(section))) out = *v;
  }
  template <class Int>
  requires std::is_integral_v<Int>
  void get(const char* section, const char* key, Int& out) const {
    if (const auto v = toml_.integer(table(section), key, where(section))) out = in_range<Int>(*v, section, key);
  }
  void get(const char* section, const char* key, bool& out) const {
    if (const auto v = toml_.boolean(table(section), key, where(section))) out = *v;
  }
  void get(const char* section, const char* key, std::string& out) const {
    if (auto v = toml_.string(table(section), key, where(section))) out = std::move(*v);
  }
  void get_path(const char* section, const char* key, std::string& out) const {
    std::string raw;
    get(section, key, raw);
    if (!raw.empty()) out = (base_ / raw).lexically_normal().string();
  }
  void get(const char* section, const char* key, std::vector<int>& out) const {
    if (const auto v = toml_.integers(table(section), key, where(section))) {
      std::vector<int> values;
      values.reserve(v->size());
      for (const std::int64_t i : *v) values.push_back(in_range<int>(i, section, key));
      out = std::move(values);
    }
  }
  void get(const char* section, const char* key, std::vector<double>& out) const {
    if (auto v = toml_.numbers(table(section), key, where(section))) out = std::move(*v);
  }
  void get(const char* section, const char* key, std::optional<Eigen::VectorXd>& out) const {
    if (const auto v = toml_.numbers(table(section), key, where(section))) {
      out = Eigen::Map<const Eigen::VectorXd>(v->data(), static_cast<Eigen::Index>(v->size()));
    }
  }

  // problem.header takes "auto", true or false: a string or a boolean.
  void get_header(CsvHeader& out) const {
    const toml::node* n = table("problem").get("header");
    if (!n) return;
    if (const auto b = n->value_exact<bool>()) {
      out = *b ? CsvHeader::present : CsvHeader::absent;
    } else if (const auto s = n->value_exact<std::string>(); s && *s == "auto") {
      out = CsvHeader::auto_detect;
    } else {
      fail("problem.header: expected \"auto\", true or false");
    }
  }

  [[noreturn]] void fail(const std::string& msg) const { toml_.fail(msg); }

 private:
  static std::string where(const char* section) { return std::string(section) + "."; }
  const toml::table& table(const char* section) const {
    static const toml::table empty;
    const auto* t = root_.get_as<toml::table>(section);
    return t ? *t : empty;
  }
  // An integer that must fit `Int` exactly: a value that would wrap (widths = [4294967299, …]) is refused.
  template <class Int>
  Int in_range(std::int64_t v, const char* section, const char* key) const {
    if constexpr (std::is_unsigned_v<Int>) {
      if (v < 0) fail(where(section) + key + ": must be ≥ 0");
    }
    if (!std::in_range<Int>(v)) fail(where(section) + key + ": " + std::to_string(v) + " is out of range");
    return static_cast<Int>(v);
  }

  const toml::table& root_;
  detail::TomlReader toml_;
  fs::path base_;
};

// An in-memory matrix checked as a file's content is (io.hpp: every value finite), `name` in the message.
const Eigen::MatrixXd& finite(const Eigen::MatrixXd& m, const std::string& name) {
  if (!m.allFinite()) throw InputError(name + ": contains NaN or Inf");
  return m;
}

// The keys whose values are paths: a relative one is resolved against the directory of whatever gave it.
bool is_path_key(const std::string& section, const std::string& key) {
  return (section == "problem" && (key == "target" || key == "x" || key == "y")) ||
         (section == "init" && (key == "end_to_end" || key == "dir"));
}

void apply_override(toml::table& root, const std::string& assignment, const fs::path& paths_dir) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw InputError("--set '" + assignment + "': expected section.key=value");
  }
  const std::string section = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, eq - dot - 1);
  const std::string value = assignment.substr(eq + 1);
  // TOML would read the first line and drop the rest without a word.
  if (value.find_first_of("\r\n") != std::string::npos) {
    throw InputError("--set '" + section + "." + key + "': the value spans several lines; give it on one line");
  }
  if (section.empty() || key.empty() || key.find('.') != std::string::npos) {
    throw InputError("--set '" + assignment + "': expected section.key=value");
  }
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed.insert_or_assign("v", value);  // a bare word: take it as a string
  }
  if (!paths_dir.empty() && is_path_key(section, key)) {
    if (const auto text = parsed.get("v")->value_exact<std::string>(); text && !text->empty()) {
      if (fs::path(*text).is_relative()) parsed.insert_or_assign("v", (paths_dir / *text).lexically_normal().string());
    }
  }
  if (!root.contains(section)) root.insert(section, toml::table{});
  auto* tbl = root.get_as<toml::table>(section);
  if (!tbl) throw InputError("--set '" + assignment + "': '" + section + "' is not a table");
  tbl->insert_or_assign(key, *parsed.get("v"));
}

// JSON values as the TOML values a configuration file would hold, added to `out` by `add(value)`; nulls (an absent
// u0, v0) are left out.
template <class Add>
void add_json_value(const nlohmann::json& j, const std::string& origin, const std::string& where, Add&& add);

toml::array toml_array(const nlohmann::json& j, const std::string& origin, const std::string& where) {
  toml::array a;
  for (const auto& item : j) {
    if (item.is_null()) throw InputError(origin + ": " + where + ": null inside an array");
    add_json_value(item, origin, where, [&](auto&& v) { a.push_back(std::forward<decltype(v)>(v)); });
  }
  return a;
}

toml::table toml_table(const nlohmann::json& j, const std::string& origin, const std::string& where) {
  toml::table t;
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    add_json_value(item.value(), origin, where + key, [&](auto&& v) { t.insert(key, std::forward<decltype(v)>(v)); });
  }
  return t;
}

template <class Add>
void add_json_value(const nlohmann::json& j, const std::string& origin, const std::string& where, Add&& add) {
  using nlohmann::json;
  switch (j.type()) {
    case json::value_t::null:
      return;
    case json::value_t::object:
      add(toml_table(j, origin, where + "."));
      return;
    case json::value_t::array:
      add(toml_array(j, origin, where));
      return;
    case json::value_t::string:
      add(j.get<std::string>());
      return;
    case json::value_t::boolean:
      add(j.get<bool>());
      return;
    case json::value_t::number_integer:
      add(j.get<std::int64_t>());
      return;
    case json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (!std::in_range<std::int64_t>(u)) {
        throw InputError(origin + ": " + where + ": " + std::to_string(u) + " is out of range");
      }
      add(static_cast<std::int64_t>(u));
      return;
    }
    case json::value_t::number_float:
      add(j.get<double>());
      return;
    default:
      throw InputError(origin + ": " + where + ": unsupported JSON value");
  }
}

// The configuration in JSON text: the "config" member of a summary.json or analysis.json, or the object itself.
toml::table parse_json_config(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(origin + ": not valid JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::out_of_range&) {  // found by fuzz_config: 1e500000000000
    throw InputError(origin + ": a JSON number beyond the range of a double");
  } catch (const nlohmann::json::exception&) {
    throw InputError(origin + ": not valid JSON");
  }
  if (!j.is_object()) throw InputError(origin + ": expected a JSON object");
  if (j.contains("config")) {
    if (!j["config"].is_object()) throw InputError(origin + ": \"config\" must be an object");
    return toml_table(j["config"], origin, "");
  }
  return toml_table(j, origin, "");
}

bool looks_like_json(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{';
}

}  // namespace

std::string to_string(DataLayout layout) { return layout == DataLayout::rows ? "rows" : "columns"; }

DataLayout data_layout_from_string(const std::string& word) {
  if (word == "columns") return DataLayout::columns;
  if (word == "rows") return DataLayout::rows;
  throw InputError("problem.layout: '" + word + R"(' is not "columns" (samples as columns) or "rows")");
}

ConfigTemplate::ConfigTemplate() : table_(std::make_shared<const detail::ConfigTable>()) {}

ConfigTemplate::ConfigTemplate(std::shared_ptr<const detail::ConfigTable> table, std::string base_dir,
                               std::string origin)
    : table_(std::move(table)), base_dir_(std::move(base_dir)), origin_(std::move(origin)) {}

ConfigTemplate ConfigTemplate::parse(const std::string& toml_text, const std::string& base_dir,
                                     const std::string& origin) {
  auto table = std::make_shared<detail::ConfigTable>(detail::ConfigTable{
      looks_like_json(toml_text) ? parse_json_config(toml_text, origin) : detail::parse_toml(toml_text, origin)});
  return {std::move(table), base_dir, origin};
}

ConfigTemplate config_from_json(const nlohmann::json& sections, const std::string& base_dir,
                                const std::string& origin) {
  if (!sections.is_object()) throw InputError(origin + ": expected a JSON object");
  auto table = std::make_shared<detail::ConfigTable>(detail::ConfigTable{toml_table(sections, origin, "")});
  return {std::move(table), base_dir, origin};
}

ConfigTemplate ConfigTemplate::load(const std::string& path) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    if (std::cin.bad()) throw InputError("standard input: cannot read the configuration");
    return parse(text.str(), fs::current_path().string(), "<stdin>");
  }
  return parse(detail::read_text(path, "config file"), fs::path(path).parent_path().string(), path);
}

RunConfig parse_config(const std::string& toml_text, const std::string& base_dir,
                       const std::vector<std::string>& overrides, const std::string& origin) {
  return ConfigTemplate::parse(toml_text, base_dir, origin).instantiate(overrides);
}

RunConfig ConfigTemplate::instantiate(const std::vector<std::string>& overrides, const std::string& overrides_dir,
                                      const ConfigMatrices& matrices) const {
  // The overrides edit a copy: the template serves every run of a sweep. Without overrides the template's table is
  // read as it is (a Python loop over prepared configurations pays for no copy).
  std::optional<toml::table> edited;
  if (!overrides.empty()) {
    edited = table_->root;
    const fs::path paths_dir = overrides_dir.empty() ? fs::path() : fs::absolute(overrides_dir);
    for (const auto& o : overrides) apply_override(*edited, o, paths_dir);
  }
  const toml::table& root = edited ? *edited : table_->root;
  const std::string& origin = origin_;
  const std::string& base_dir = base_dir_;
  const Reader r(root, origin, fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir)));
  r.check_keys();

  RunConfig c;
  // A matrix given in memory replaces its key, whatever the file or the overrides said: its label stands in the
  // key's place, so that the checks below (target excludes x/y, x needs y) see it as given.
  const auto path_or_label = [&r](const char* section, const char* key, bool in_memory, std::string& out) {
    if (in_memory) {
      out = kArrayLabel;
    } else {
      r.get_path(section, key, out);
    }
  };
  const auto shared = [](const std::optional<Eigen::MatrixXd>& m) {
    return m ? std::make_shared<const Eigen::MatrixXd>(*m) : nullptr;
  };
  path_or_label("problem", "target", matrices.target.has_value(), c.problem.target);
  path_or_label("problem", "x", matrices.x.has_value(), c.problem.x);
  path_or_label("problem", "y", matrices.y.has_value(), c.problem.y);
  c.problem.target_matrix = shared(matrices.target);
  c.problem.x_matrix = shared(matrices.x);
  c.problem.y_matrix = shared(matrices.y);
  std::string word;
  r.get("problem", "layout", word);
  if (!word.empty()) c.problem.layout = data_layout_from_string(word);
  r.get_header(c.problem.csv.header);
  word.clear();
  r.get("problem", "delimiter", word);
  if (!word.empty()) c.problem.csv.delimiter = csv_delimiter_from_string(word);
  r.get("problem", "dims", c.problem.dims);
  r.get("problem", "singular_values", c.problem.singular_values);
  r.get("problem", "seed", c.problem.seed);
  if (!c.problem.target.empty() && (!c.problem.x.empty() || !c.problem.y.empty())) {
    r.fail("problem.target and problem.x/problem.y are exclusive: give a target matrix or data, not both");
  }
  if (c.problem.x.empty() != c.problem.y.empty()) r.fail("problem.x and problem.y must be given together");
  if (!c.problem.dims.empty() && c.problem.dims.size() != 2) r.fail("problem.dims: expected [d_x, d_y]");

  r.get("network", "widths", c.widths);
  Shape shape(c.widths);  // validates the widths

  std::string kind;
  r.get("init", "kind", kind);
  if (!kind.empty()) c.init.kind = init_kind_from_string(kind);
  r.get("init", "seed", c.init.seed);
  r.get("init", "scale", c.init.scale);
  r.get("init", "rank", c.init.rank);
  r.get("init", "sigma0", c.init.sigma0);
  r.get("init", "u0", c.init.u0);
  r.get("init", "v0", c.init.v0);
  r.get("init", "delta", c.init.delta);
  r.get("init", "modes", c.init.modes);
  if (matrices.init_weights.empty()) {
    r.get_path("init", "dir", c.init.dir);
  } else {
    c.init.dir = kArrayLabel;
    c.init.weights = matrices.init_weights;
  }
  if (matrices.init_end_to_end) {
    c.init_end_to_end_file = kArrayLabel;
    c.init.end_to_end = finite(*matrices.init_end_to_end, std::string("init.end_to_end ") + kArrayLabel);
  } else {
    r.get_path("init", "end_to_end", c.init_end_to_end_file);
    if (!c.init_end_to_end_file.empty()) c.init.end_to_end = read_matrix(c.init_end_to_end_file);
  }
  std::string why;
  if (!c.init.is_valid(&why)) r.fail(why);

  std::string method;
  r.get("solver", "method", method);
  if (!method.empty()) c.solver.method = method_from_string(method);
  r.get("solver", "rtol", c.solver.rtol);
  r.get("solver", "atol", c.solver.atol);
  r.get("solver", "plateau_rtol", c.solver.plateau_rtol);
  r.get("solver", "dt0", c.solver.dt0);
  std::string integrator;
  r.get("solver", "integrator", integrator);
  if (!integrator.empty()) c.solver.integrator = integrator_from_string(integrator);
  std::string linear_solver;
  r.get("solver", "linear_solver", linear_solver);
  if (!linear_solver.empty()) c.solver.linear_solver = linear_solver_from_string(linear_solver);
  std::string gradient_precision;
  r.get("solver", "gradient_precision", gradient_precision);
  if (!gradient_precision.empty()) c.solver.gradient_precision = gradient_precision_from_string(gradient_precision);
  r.get("solver", "dt", c.solver.dt);
  r.get("solver", "lr", c.solver.lr);
  r.get("solver", "steps", c.solver.steps);
  r.get("solver", "t_max", c.solver.t_max);
  r.get("solver", "eps", c.solver.eps);
  r.get("solver", "stop_at_eps", c.solver.stop_at_eps);
  r.get("solver", "max_steps", c.solver.max_steps);
  r.get("solver", "grad_tol", c.solver.grad_tol);
  r.get("solver", "divergence_factor", c.solver.divergence_factor);
  r.get("solver", "balance_tol", c.solver.balance_tol);
  if (!c.solver.is_valid(&why)) r.fail(why);

  r.get("output", "samples_log", c.output.samples_log);
  r.get("output", "samples_uniform", c.output.samples_uniform);
  r.get("output", "t_min", c.output.t_min);
  r.get("output", "modes", c.output.modes);
  r.get("output", "save_weights", c.output.save_weights);
  r.get("output", "hessian", c.output.hessian);
  r.get("output", "sharpness", c.output.sharpness);
  r.get("output", "trajectory", c.output.trajectory);
  if (c.output.samples_log < 0) r.fail("output.samples_log: must be ≥ 0");
  if (c.output.samples_uniform < 0) r.fail("output.samples_uniform: must be ≥ 0");
  if (!(c.output.t_min > 0)) r.fail("output.t_min: must be > 0");
  if (c.output.modes < 0) r.fail("output.modes: must be ≥ 0");
  return c;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  return ConfigTemplate::load(path).instantiate(overrides, fs::current_path().string());
}

// Member by member rather than from initializer lists, which nlohmann builds as arrays of pairs and then copies: this
// runs once per run (summary.json's "config"), and a loop of small runs from Python pays for it at every call.
nlohmann::json to_json(const RunConfig& c) {
  using nlohmann::json;
  auto vec = [](const std::optional<Eigen::VectorXd>& v) -> json {
    if (!v) return nullptr;
    return std::vector<double>(v->data(), v->data() + v->size());
  };
  json j = json::object();
  json& problem = j["problem"];
  problem["target"] = c.problem.target;
  problem["x"] = c.problem.x;
  problem["y"] = c.problem.y;
  problem["layout"] = to_string(c.problem.layout);
  problem["header"] =
      c.problem.csv.header == CsvHeader::auto_detect ? json("auto") : json(c.problem.csv.header == CsvHeader::present);
  problem["delimiter"] = to_string(c.problem.csv.delimiter);
  problem["dims"] = c.problem.dims;
  problem["singular_values"] = c.problem.singular_values;
  problem["seed"] = c.problem.seed;
  j["network"]["widths"] = c.widths;
  json& init = j["init"];
  init["kind"] = to_string(c.init.kind);
  init["seed"] = c.init.seed;
  init["scale"] = c.init.scale;
  init["rank"] = c.init.rank;
  init["sigma0"] = c.init.sigma0;
  init["u0"] = vec(c.init.u0);
  init["v0"] = vec(c.init.v0);
  init["delta"] = c.init.delta;
  init["modes"] = vec(c.init.modes);
  init["dir"] = c.init.dir;
  init["end_to_end"] = c.init_end_to_end_file;
  const auto& s = c.solver;
  json& solver = j["solver"];
  solver["method"] = to_string(s.method);
  solver["rtol"] = s.rtol;
  solver["atol"] = s.atol;
  solver["plateau_rtol"] = s.plateau_rtol;
  solver["dt0"] = s.dt0;
  solver["integrator"] = to_string(s.integrator);
  solver["linear_solver"] = to_string(s.linear_solver);
  solver["gradient_precision"] = to_string(s.gradient_precision);
  solver["dt"] = s.dt;
  solver["lr"] = s.lr;
  solver["steps"] = s.steps;
  solver["t_max"] = s.t_max;
  solver["eps"] = s.eps;
  solver["stop_at_eps"] = s.stop_at_eps;
  solver["max_steps"] = s.max_steps;
  solver["grad_tol"] = s.grad_tol;
  solver["divergence_factor"] = s.divergence_factor;
  solver["balance_tol"] = s.balance_tol;
  json& output = j["output"];
  output["samples_log"] = c.output.samples_log;
  output["samples_uniform"] = c.output.samples_uniform;
  output["t_min"] = c.output.t_min;
  output["modes"] = c.output.modes;
  output["save_weights"] = c.output.save_weights;
  output["trajectory"] = c.output.trajectory;
  output["hessian"] = c.output.hessian;
  output["sharpness"] = c.output.sharpness;
  return j;
}

namespace {

// X (d_x × m) and Y (d_y × m) from the files, transposed when the samples are rows; a shape that fits only the other
// layout (the network's d_0 and d_N, and one sample count) is refused with the setting that reads it.
std::pair<Eigen::MatrixXd, Eigen::MatrixXd> read_data(const RunConfig& c, ReadNotes* notes) {
  const auto read = [&](const std::string& path, const std::shared_ptr<const Eigen::MatrixXd>& matrix,
                        const char* key) {
    return matrix ? Eigen::MatrixXd(finite(*matrix, std::string(key) + " " + kArrayLabel))
                  : read_matrix(path, c.problem.csv, notes);
  };
  Eigen::MatrixXd X = read(c.problem.x, c.problem.x_matrix, "problem.x");
  Eigen::MatrixXd Y = read(c.problem.y, c.problem.y_matrix, "problem.y");
  const bool rows = c.problem.layout == DataLayout::rows;
  if (rows) {
    X.transposeInPlace();
    Y.transposeInPlace();
  }
  const long d0 = c.widths.front(), dN = c.widths.back();
  const auto fits = [&](const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
    return x.rows() == d0 && y.rows() == dN && x.cols() == y.cols();
  };
  if (fits(X, Y)) return {std::move(X), std::move(Y)};
  const auto shape = [](const Eigen::MatrixXd& m, bool transposed) {
    return std::to_string(transposed ? m.cols() : m.rows()) + " x " + std::to_string(transposed ? m.rows() : m.cols());
  };
  std::ostringstream os;
  os << "problem.x " << c.problem.x << " is " << shape(X, rows) << " and problem.y " << c.problem.y << " is "
     << shape(Y, rows) << ": with problem.layout = \"" << to_string(c.problem.layout) << "\" (samples as "
     << (rows ? "rows" : "columns") << ") ";
  if (X.cols() != Y.cols()) {
    os << "x has " << X.cols() << " samples but y has " << Y.cols();
  } else {
    os << "d_x = " << X.rows() << ", d_y = " << Y.rows() << " but network.widths has d_0 = " << d0 << ", d_N = " << dN;
  }
  if (fits(X.transpose(), Y.transpose())) {
    os << "; the files hold samples as " << (rows ? "columns" : "rows") << ": set problem.layout = \""
       << (rows ? "columns" : "rows") << "\"";
  }
  throw InputError(os.str());
}

}  // namespace

Problem make_problem(const RunConfig& c, ReadNotes* notes) {
  const int d0 = c.widths.front();
  const int dN = c.widths.back();
  auto check_shape = [&](const Problem& p, const std::string& what) {
    if (p.input_dim() != d0 || p.output_dim() != dN) {
      std::ostringstream os;
      os << what << " gives d_x = " << p.input_dim() << ", d_y = " << p.output_dim()
         << " but network.widths has d_0 = " << d0 << ", d_N = " << dN;
      throw InputError(os.str());
    }
    return p;
  };
  if (!c.problem.target.empty()) {
    const std::string name = "problem.target " + c.problem.target;
    if (c.problem.target_matrix) {
      return check_shape(Problem::from_target(finite(*c.problem.target_matrix, name)), name);
    }
    return check_shape(Problem::from_target(read_matrix(c.problem.target, c.problem.csv, notes)), name);
  }
  if (!c.problem.x.empty()) {
    const auto [X, Y] = read_data(c, notes);
    return check_shape(Problem::from_data(X, Y), "problem.x/problem.y");
  }
  const int dx = c.problem.dims.empty() ? d0 : c.problem.dims[0];
  const int dy = c.problem.dims.empty() ? dN : c.problem.dims[1];
  std::mt19937_64 rng(c.problem.seed);
  return check_shape(Problem::synthetic(dx, dy, c.problem.singular_values, rng), "problem.dims");
}

}  // namespace linflow
