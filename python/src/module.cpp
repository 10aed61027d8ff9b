// linflow._linflow: the compiled half of `import linflow` (the pure-Python package python/linflow/ wraps it). A thin
// client of the library's public headers, like the CLI: runs are assembled by set_up / run_config / analyze_config /
// run_sweep, so a run from Python follows the same steps as `linflow train` on the same configuration.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "linflow/config.hpp"
#include "linflow/error.hpp"
#include "linflow/experiment.hpp"
#include "linflow/init.hpp"
#include "linflow/interrupt.hpp"
#include "linflow/io.hpp"
#include "linflow/json.hpp"
#include "linflow/run.hpp"
#include "linflow/sweep.hpp"

#ifdef LINFLOW_OPENBLAS
extern "C" void openblas_set_num_threads(int threads);
#endif

namespace py = pybind11;
namespace fs = std::filesystem;

namespace linflow::python {
namespace {

// A Python callable `callback(dict)` made into a callback the engine can call from any thread, at most every
// `interval` seconds (the GIL is taken for each call). The callable must outlive the engine call that uses it. An
// exception it raises stops further calls and is dropped (progress display must never end a run), except
// KeyboardInterrupt: Python runs its SIGINT handler in the main thread's next Python code, which during a run with a
// progress display is this callback, so Ctrl-C lands here and is remembered for run_engine to raise.
struct Throttled {
  PyObject* callback = nullptr;
  double interval = 0.1;
  std::mutex mutex;
  std::chrono::steady_clock::time_point last{};
  bool failed = false;
  std::atomic<bool> interrupted{false};

  bool due(bool force) {
    const std::lock_guard<std::mutex> lock(mutex);
    const auto now = std::chrono::steady_clock::now();
    if (failed || (!force && std::chrono::duration<double>(now - last).count() < interval)) return false;
    last = now;
    return true;
  }
  void call(py::dict&& arg) {
    try {
      const py::handle function(callback);
      function(std::move(arg));
    } catch (py::error_already_set& e) {
      failed = true;
      if (e.matches(PyExc_KeyboardInterrupt)) {
        interrupted = true;
        request_interrupt();  // the run stops within a step, as on Ctrl-C outside a callback
      } else {
        e.discard_as_unraisable("linflow progress callback");
      }
    }
  }
};
using Callback = std::shared_ptr<Throttled>;

Callback callback_of(const py::object& callback) {
  if (callback.is_none()) return nullptr;
  auto state = std::make_shared<Throttled>();
  state->callback = callback.ptr();
  return state;
}

ProgressSink progress_sink(const Callback& state) {
  if (!state) return {};
  return [state](const Progress& p) {
    if (!state->due(false)) return;
    const py::gil_scoped_acquire gil;
    py::dict d;
    d["t"] = p.t;
    d["t_max"] = p.t_max;
    d["excess_loss"] = p.excess_loss;
    d["steps"] = p.steps;
    state->call(std::move(d));
  };
}

SweepProgressSink sweep_progress_sink(const Callback& state) {
  if (!state) return {};
  return [state](const SweepProgress& p) {
    if (!state->due(p.done == p.total)) return;
    const py::gil_scoped_acquire gil;
    py::dict d;
    d["done"] = p.done;
    d["total"] = p.total;
    d["resumed"] = p.resumed;
    d["elapsed"] = p.elapsed;
    d["eta"] = p.eta;
    state->call(std::move(d));
  };
}

// Engine work runs here, with the GIL released so that other Python threads (and train_many's workers) proceed.
// Ctrl-C stops it within a step: on the main thread, for the duration of the work, SIGINT calls
// linflow::request_interrupt() (Python's own handler only sets a flag the interpreter reads when it runs again); the
// runs end with status "interrupted" and KeyboardInterrupt is raised when the work returns. A KeyboardInterrupt
// raised inside a progress callback (above) stops the run the same way.
void on_sigint(int /*signal*/) { request_interrupt(); }

// Python's main thread (the one its signal handlers run in), set when the module is imported: run_engine compares the
// caller's identifier with it instead of asking the threading module at every call.
unsigned long main_thread_id = 0;
bool on_main_thread() { return PyThread_get_thread_ident() == main_thread_id; }

template <class Work>
auto run_engine(const Callback& callback, Work&& work) {
  const bool main_thread = on_main_thread();
  struct sigaction previous {};
  if (main_thread) {
    struct sigaction handler {};
    handler.sa_handler = on_sigint;
    sigemptyset(&handler.sa_mask);
    sigaction(SIGINT, &handler, &previous);
  }
  auto restore = [&] {
    if (main_thread) sigaction(SIGINT, &previous, nullptr);
  };
  auto result = [&] {
    const py::gil_scoped_release release;
    try {
      return work();
    } catch (...) {
      restore();
      throw;
    }
  }();
  restore();
  const bool stopped = interrupt_requested();
  if (main_thread) clear_interrupt();
  if (stopped || (callback && callback->interrupted)) {
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
  return result;
}

// One finished run held in memory: what `linflow train` would write, before it is written.
struct Run {
  RunConfig config;
  Problem problem;
  Shape shape;
  nlohmann::json summary;
  Eigen::VectorXd theta;
  std::vector<Sample> samples;
  int modes = 0;
  bool sharpness = false;  // output.sharpness: the last column
};

std::shared_ptr<Run> train_run(const RunConfig& config, const ProgressSink& progress) {
  RunSetup setup = set_up(config);
  const RecordOptions record = record_options(setup);
  // The run takes the set-up's configuration, problem and start rather than copies of them: per-call overhead saved.
  auto run = std::make_shared<Run>(Run{std::move(setup.config),
                                       std::move(setup.problem),
                                       std::move(setup.shape),
                                       {},
                                       std::move(setup.theta0),
                                       {},
                                       record.modes,
                                       record.sharpness});
  SampleSink sink;
  if (run->config.output.trajectory) sink = [&run](const Sample& s) { run->samples.push_back(s); };
  const Summary summary = train(run->problem, run->shape, run->theta, run->config.solver, record, sink, progress);
  run->summary = summary_json(run->config, run->problem, run->shape, summary, setup.notes);
  return run;
}

// Where save_run writes the matrices a run was given in memory, relative to the run's folder: the configuration in
// summary.json names them there, so that `linflow train -c DIR/summary.json` (which resolves a relative path against
// the file's folder) reads the same matrices and repeats the run.
constexpr const char* kInputsDir = "inputs";

// Writes each in-memory matrix of `config` into DIR/inputs/ (KEY.npy; init.weights as the folder init.weights/ of
// W1.npy … WN.npy that init.kind = "files" reads) and puts its path relative to DIR in place of "(array)" in
// `echoed` (summary.json's "config"). An earlier run's input that this run does not have is removed, so that the
// folder describes one run. write_npy's float64 files read back bit for bit.
void save_inputs(const fs::path& dir, const RunConfig& config, nlohmann::json& echoed) {
  const fs::path inputs = dir / kInputsDir;
  std::error_code ec;
  const auto put = [&](const char* section, const char* key, const Eigen::MatrixXd* matrix) {
    const std::string name = std::string(section) + "." + key + ".npy";
    if (matrix == nullptr) {
      fs::remove(inputs / name, ec);
      return;
    }
    fs::create_directories(inputs, ec);
    if (!fs::is_directory(inputs, ec)) throw InputError(inputs.string() + ": cannot create");
    write_npy((inputs / name).string(), *matrix);
    echoed[section][key] = (fs::path(kInputsDir) / name).generic_string();
  };
  const auto in_memory = [](const std::string& label, const std::shared_ptr<const Eigen::MatrixXd>& m) {
    return label == kArrayLabel ? m.get() : nullptr;
  };
  put("problem", "target", in_memory(config.problem.target, config.problem.target_matrix));
  put("problem", "x", in_memory(config.problem.x, config.problem.x_matrix));
  put("problem", "y", in_memory(config.problem.y, config.problem.y_matrix));
  const bool end_to_end = config.init_end_to_end_file == kArrayLabel && config.init.end_to_end.has_value();
  put("init", "end_to_end", end_to_end ? &*config.init.end_to_end : nullptr);
  const fs::path weights = inputs / "init.weights";
  fs::remove_all(weights, ec);
  if (config.init.dir == kArrayLabel) {
    fs::create_directories(weights, ec);
    if (!fs::is_directory(weights, ec)) throw InputError(weights.string() + ": cannot create");
    for (size_t j = 0; j < config.init.weights.size(); ++j) {
      write_npy((weights / weights_file_name(static_cast<int>(j) + 1)).string(), config.init.weights[j]);
    }
    echoed["init"]["dir"] = (fs::path(kInputsDir) / "init.weights").generic_string();
  }
  fs::remove(inputs, ec);  // only when empty: a run without arrays leaves no inputs/ folder
}

// Writes `run` into `dir` as `linflow train --out dir` does: the trajectory to trajectory.csv.tmp, then
// write_run_outputs puts the weights, the trajectory and summary.json in place in the same order. Matrices given in
// memory go to DIR/inputs/ (save_inputs), so that the saved configuration reruns the run.
void save_run(const Run& run, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw InputError(dir + ": cannot create output directory");
  nlohmann::json summary = run.summary;
  save_inputs(dir, run.config, summary["config"]);
  if (run.config.output.trajectory) {
    const fs::path pending = fs::path(dir) / "trajectory.csv.tmp";
    std::ofstream csv(pending, std::ios::trunc);
    if (!csv) throw InputError(pending.string() + ": cannot write");
    csv << trajectory_header(run.modes, run.sharpness) << '\n' << std::setprecision(17);
    for (const Sample& s : run.samples) write_trajectory_row(csv, s);
    csv.close();
    if (!csv) throw InputError(pending.string() + ": write failed");
  }
  write_run_outputs(dir, run.config, run.problem, run.shape, summary, run.theta);
}

// The trajectory as a (rows × columns) array in the column order of trajectory.csv.
py::array_t<double> trajectory_array(const Run& run) {
  const py::ssize_t cols = 6 + 2 * static_cast<py::ssize_t>(run.modes) + (run.sharpness ? 1 : 0);
  py::array_t<double> a({static_cast<py::ssize_t>(run.samples.size()), cols});
  auto m = a.mutable_unchecked<2>();
  for (py::ssize_t i = 0; i < static_cast<py::ssize_t>(run.samples.size()); ++i) {
    const Sample& s = run.samples[static_cast<size_t>(i)];
    const double fixed[] = {s.t, s.loss, s.excess_loss, s.dist_to_opt, s.grad_norm, s.imbalance_drift};
    py::ssize_t c = 0;
    for (const double v : fixed) m(i, c++) = v;
    for (py::ssize_t k = 0; k < run.modes; ++k) {
      m(i, 6 + k) = k < s.singular_values.size() ? s.singular_values[k] : 0.0;
      m(i, 6 + run.modes + k) = k < s.alignments.size() ? s.alignments[k] : 0.0;
    }
    if (run.sharpness) m(i, cols - 1) = s.sharpness.value_or(std::numeric_limits<double>::quiet_NaN());
  }
  return a;
}

std::vector<Eigen::MatrixXd> weights(const Run& run) {
  std::vector<Eigen::MatrixXd> out;
  for (int l = 1; l <= run.shape.depth(); ++l) out.emplace_back(run.shape.layer(run.theta, l));
  return out;
}

// numpy's scalar types, looked up once (the module lives as long as the interpreter; never freed, so nothing is
// released after Python has finalized).
struct NumpyTypes {
  py::object bool_, integer, floating, ndarray;
};
const NumpyTypes& numpy_types() {
  static const NumpyTypes* types = [] {
    const py::module_ np = py::module_::import("numpy");
    return new NumpyTypes{np.attr("bool_"), np.attr("integer"), np.attr("floating"), np.attr("ndarray")};
  }();
  return *types;
}

// A configuration value from Python as JSON, converted as linflow._config.toml_value writes it into TOML (the same
// values accepted, the same message otherwise): the dict of a configuration reaches the parser without a round trip
// through TOML text. `key` ("section.key") names the value in messages.
nlohmann::json json_of(const py::handle& v, const std::string& key) {
  PyObject* o = v.ptr();
  const NumpyTypes& np = numpy_types();
  if (PyBool_Check(o) || py::isinstance(v, np.bool_)) return PyObject_IsTrue(o) == 1;
  if (PyLong_Check(o) || py::isinstance(v, np.integer)) {
    const py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(o));
    if (!i) throw py::error_already_set();
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow != 0) throw InputError(key + ": " + py::str(py::handle(i)).cast<std::string>() + " is out of range");
    return static_cast<std::int64_t>(value);
  }
  if (PyFloat_Check(o) || py::isinstance(v, np.floating)) {
    const double x = PyFloat_AsDouble(o);
    if (x == -1.0 && PyErr_Occurred() != nullptr) throw py::error_already_set();
    return x;
  }
  if (PyUnicode_Check(o)) return v.cast<std::string>();
  if (PyDict_Check(o)) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [k, item] : py::reinterpret_borrow<py::dict>(v)) {
      const std::string name = py::str(k).cast<std::string>();
      object[name] = json_of(item, key.empty() ? name : key + "." + name);
    }
    return object;
  }
  if (PyList_Check(o) || PyTuple_Check(o)) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : v) array.push_back(json_of(item, key));
    return array;
  }
  if (py::isinstance(v, np.ndarray)) return json_of(v.attr("tolist")(), key);
  if (py::hasattr(v, "__fspath__")) return json_of(v.attr("__fspath__")(), key);
  if (py::hasattr(v, "keys") && py::hasattr(v, "items")) return json_of(py::dict(v.attr("items")()), key);
  throw InputError(key + ": cannot write a " + py::str(py::type::handle_of(v).attr("__name__")).cast<std::string>() +
                   " into a configuration");
}

// JSON (a run's summary, an analysis) as Python objects, built directly rather than dumped as text for json.loads to
// parse; invalid UTF-8 in a string (a path) is replaced, as dump's error_handler_t::replace does. Through CPython's
// own calls rather than pybind11's accessors: a summary has some hundred values and a loop of small runs converts
// one per call. Returns a new reference; throws error_already_set when Python fails (out of memory).
PyObject* new_python_of(const nlohmann::json& j) {
  using nlohmann::json;
  const auto checked = [](PyObject* o) {
    if (o == nullptr) throw py::error_already_set();
    return o;
  };
  switch (j.type()) {
    case json::value_t::object: {
      const py::object d = py::reinterpret_steal<py::object>(checked(PyDict_New()));
      for (const auto& [k, item] : j.get_ref<const json::object_t&>()) {
        const py::object key = py::reinterpret_steal<py::object>(
            checked(PyUnicode_DecodeUTF8(k.data(), static_cast<Py_ssize_t>(k.size()), "replace")));
        const py::object value = py::reinterpret_steal<py::object>(new_python_of(item));
        if (PyDict_SetItem(d.ptr(), key.ptr(), value.ptr()) != 0) throw py::error_already_set();
      }
      return d.inc_ref().ptr();
    }
    case json::value_t::array: {
      const py::object l = py::reinterpret_steal<py::object>(checked(PyList_New(static_cast<Py_ssize_t>(j.size()))));
      Py_ssize_t i = 0;
      for (const auto& item : j) PyList_SET_ITEM(l.ptr(), i++, new_python_of(item));  // steals the reference
      return l.inc_ref().ptr();
    }
    case json::value_t::string: {
      const auto& text = j.get_ref<const std::string&>();
      return checked(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace"));
    }
    case json::value_t::boolean:
      return py::bool_(j.get<bool>()).release().ptr();
    case json::value_t::number_integer:
      return checked(PyLong_FromLongLong(j.get<std::int64_t>()));
    case json::value_t::number_unsigned:
      return checked(PyLong_FromUnsignedLongLong(j.get<std::uint64_t>()));
    case json::value_t::number_float: {
      const double x = j.get<double>();
      if (std::isfinite(x)) return checked(PyFloat_FromDouble(x));
      return py::none().release().ptr();  // as dump writes them: null
    }
    default:
      return py::none().release().ptr();
  }
}

py::object python_of(const nlohmann::json& j) { return py::reinterpret_steal<py::object>(new_python_of(j)); }

// {"problem.target": M, "problem.x": X, "problem.y": Y, "init.end_to_end": M, "init.weights": [W1, …, WN]} as the
// engine's ConfigMatrices; the package has made every array a C-ordered float64 matrix (linflow._config.as_matrix),
// which converts to Eigen exactly.
ConfigMatrices config_matrices(const py::dict& arrays) {
  ConfigMatrices m;
  for (const auto& [key, value] : arrays) {
    const auto name = py::cast<std::string>(key);
    if (name == "problem.target") {
      m.target = py::cast<Eigen::MatrixXd>(value);
    } else if (name == "problem.x") {
      m.x = py::cast<Eigen::MatrixXd>(value);
    } else if (name == "problem.y") {
      m.y = py::cast<Eigen::MatrixXd>(value);
    } else if (name == "init.end_to_end") {
      m.init_end_to_end = py::cast<Eigen::MatrixXd>(value);
    } else if (name == "init.weights") {
      m.init_weights = py::cast<std::vector<Eigen::MatrixXd>>(value);
    } else {
      throw InputError(name + ": does not take an array");
    }
  }
  return m;
}

RunConfig make_config(const std::string& toml_text, const std::string& base_dir, const std::string& origin,
                      const std::vector<std::string>& overrides, const py::dict& arrays) {
  return ConfigTemplate::parse(toml_text, base_dir, origin).instantiate(overrides, "", config_matrices(arrays));
}

// A configuration given as a dict of sections: converted to JSON here (json_of) and read as a JSON configuration.
RunConfig config_from_dict(const py::dict& sections, const std::string& base_dir, const std::string& origin,
                           const std::vector<std::string>& overrides, const py::dict& arrays) {
  return config_from_json(json_of(sections, ""), base_dir, origin).instantiate(overrides, "", config_matrices(arrays));
}

// A configuration given as a dict of sections, parsed once: linflow.Config keeps it and instantiates it at each call
// with that call's overrides and arrays (what config_from_dict does in one step).
ConfigTemplate template_from_dict(const py::dict& sections, const std::string& base_dir, const std::string& origin) {
  return config_from_json(json_of(sections, ""), base_dir, origin);
}

// load_config (config.hpp) with arrays: paths in the overrides are relative to the current directory, as `--set`'s.
RunConfig load_config_with(const std::string& path, const std::vector<std::string>& overrides, const py::dict& arrays) {
  return ConfigTemplate::load(path).instantiate(overrides, fs::current_path().string(), config_matrices(arrays));
}

// Runs `configs` on `threads` threads (0: one per hardware thread), each as train_run; the first input error (by
// position) is rethrown after every thread has finished.
std::vector<std::shared_ptr<Run>> train_many(const std::vector<RunConfig>& configs, int threads) {
  if (threads < 0) throw InputError("threads: " + std::to_string(threads) + ", expected ≥ 0");
  const size_t n = configs.size();
  size_t workers = threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : static_cast<size_t>(threads);
  workers = std::min(workers, std::max<size_t>(n, 1));
  std::vector<std::shared_ptr<Run>> runs(n);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      try {
        runs[i] = train_run(configs[i], {});
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return runs;
}

py::dict sweep_summary_dict(const SweepSummary& s) {
  py::dict d;
  d["status"] = to_string(s.status);
  d["message"] = s.message;
  d["total"] = s.total;
  d["resumed"] = s.resumed;
  d["executed"] = s.executed;
  d["errors"] = s.errors;
  py::dict counts;
  for (const auto& [word, count] : s.status_counts) counts[py::str(word)] = count;
  d["status_counts"] = counts;
  d["wall_seconds"] = s.wall_seconds;
  d["threads"] = s.threads;
  d["runs_file"] = s.runs_file;
  return d;
}

SweepSummary sweep_into(const SweepConfig& sweep, const std::string& out_dir, int threads, bool resume,
                        const py::object& progress) {
  SweepOptions options;
  options.out_dir = out_dir;
  options.threads = threads;
  options.resume = resume;
  const Callback callback = callback_of(progress);
  const SweepProgressSink sink = sweep_progress_sink(callback);
  return run_engine(callback, [&] { return run_sweep(sweep, options, sink); });
}

}  // namespace
}  // namespace linflow::python

PYBIND11_MODULE(_linflow, m) {
  using namespace linflow;
  using namespace linflow::python;
  m.doc() = "linflow's C++ engine (use the `linflow` package, which wraps this module)";
#ifdef LINFLOW_OPENBLAS
  // As the CLI: one BLAS thread per run (train_many and sweeps spread runs over the cores), unless the user chose.
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) openblas_set_num_threads(1);
#endif
  // linflow::InputError (bad input: one line naming the key or file, what the CLI prints) is a ValueError.
  py::register_exception<InputError>(m, "InputError", PyExc_ValueError);
  main_thread_id = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();

  m.def(
      "version", [] { return std::string(version()); }, "The linflow version string.");

  py::class_<RunConfig>(m, "RunConfig", "A validated run configuration (what a TOML file with overrides describes).")
      .def(
          "to_json",
          [](const RunConfig& c) { return to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); },
          "The configuration as JSON text.");
  m.def("parse_config", &make_config, py::arg("toml_text"), py::arg("base_dir"), py::arg("origin"),
        py::arg("overrides"), py::arg("arrays") = py::dict(),
        "Parses TOML text, applies section.key=value overrides and takes `arrays` ({key: float64 matrix}, "
        "init.weights: a list) in place of the files their keys name (InputError on bad input).");
  m.def("config_from_dict", &config_from_dict, py::arg("sections"), py::arg("base_dir"), py::arg("origin"),
        py::arg("overrides"), py::arg("arrays") = py::dict(),
        "As parse_config, from a dict of sections (values: bool, int, float, str, path, lists, numpy scalars and "
        "arrays) rather than TOML text.");
  py::class_<ConfigTemplate>(m, "ConfigTemplate",
                             "A configuration parsed once, from which run configurations are made by applying "
                             "overrides and arrays (what a linflow.Config made from a dict keeps).")
      .def(
          "instantiate",
          [](const ConfigTemplate& t, const std::vector<std::string>& overrides, const py::dict& arrays) {
            return t.instantiate(overrides, "", config_matrices(arrays));
          },
          py::arg("overrides"), py::arg("arrays") = py::dict(),
          "The RunConfig with section.key=value `overrides` applied and `arrays` taken as parse_config does "
          "(InputError on bad input).");
  m.def("template_from_dict", &template_from_dict, py::arg("sections"), py::arg("base_dir"), py::arg("origin"),
        "Parses a dict of sections as config_from_dict does, without instantiating it: a ConfigTemplate (InputError "
        "on a value that cannot be a configuration value).");
  m.def("load_config", &load_config_with, py::arg("path"), py::arg("overrides"), py::arg("arrays") = py::dict(),
        "Reads a TOML file, applies section.key=value overrides and takes `arrays` as parse_config does (InputError "
        "on bad input).");

  py::class_<Run, std::shared_ptr<Run>>(m, "Run", "One finished run held in memory.")
      .def_property_readonly(
          "summary", [](const Run& r) { return python_of(r.summary); }, "summary.json's content as a dict.")
      .def_property_readonly("columns", [](const Run& r) { return trajectory_header(r.modes, r.sharpness); })
      .def_property_readonly("trajectory", &trajectory_array)
      .def_property_readonly("weights", &weights)
      .def_property_readonly("end_to_end", [](const Run& r) { return r.shape.end_to_end(r.theta); })
      .def("save", &save_run, py::arg("dir"),
           "Writes the run's files as `linflow train --out DIR` does, and arrays given in memory into DIR/inputs/.");

  m.def(
      "train",
      [](const RunConfig& config, const py::object& progress) {
        const Callback callback = callback_of(progress);
        const ProgressSink sink = progress_sink(callback);
        return run_engine(callback, [&] { return train_run(config, sink); });
      },
      py::arg("config"), py::arg("progress") = py::none(), "Trains one configuration; returns a Run.");
  m.def(
      "train_many",
      [](const std::vector<RunConfig>& configs, int threads) {
        return run_engine(nullptr, [&] { return train_many(configs, threads); });
      },
      py::arg("configs"), py::arg("threads") = 0, "Trains many configurations on `threads` threads (0: all cores).");
  m.def(
      "analyze",
      [](const RunConfig& config, bool simulate, const std::string& out_dir, const py::object& progress) {
        const Callback callback = callback_of(progress);
        const ProgressSink sink = progress_sink(callback);
        const AnalysisResult result =
            run_engine(callback, [&] { return analyze_config(config, simulate, out_dir, sink); });
        std::shared_ptr<Run> run;
        if (result.run && result.observation) {
          const auto& ob = *result.observation;
          const int modes = ob.samples.empty() ? 0 : static_cast<int>(ob.samples.front().singular_values.size());
          run = std::make_shared<Run>(Run{config, *result.problem, Shape(config.widths), result.run->json,
                                          result.run->theta, ob.samples, modes});
        }
        return py::make_tuple(python_of(result.json), run);
      },
      py::arg("config"), py::arg("simulate"), py::arg("out_dir"), py::arg("progress") = py::none(),
      "analyze_config: (analysis.json's content as a dict, the simulated Run or None).");
  m.def(
      "sweep",
      [](const std::string& path, const std::string& toml_text, const std::string& base_dir, const std::string& out_dir,
         int threads, bool resume, const py::object& progress, const std::vector<std::string>& overrides) {
        const SweepConfig sweep =
            path.empty() ? parse_sweep(toml_text, base_dir, "sweep", overrides) : load_sweep(path, overrides);
        return sweep_summary_dict(sweep_into(sweep, out_dir, threads, resume, progress));
      },
      py::arg("path"), py::arg("toml_text"), py::arg("base_dir"), py::arg("out_dir"), py::arg("threads"),
      py::arg("resume"), py::arg("progress") = py::none(), py::arg("overrides") = std::vector<std::string>{},
      "Runs a sweep (from a file, or TOML text when path is empty; `overrides` as --set on its base) into out_dir; "
      "returns its summary.");
  m.def(
      "experiments",
      [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& e : experiments()) out.emplace_back(e.name, e.summary);
        return out;
      },
      "The built-in experiments as (name, one-line summary).");
  m.def(
      "experiment",
      [](const std::string& name, const std::string& sweep_file, const std::string& out_dir, int threads, bool resume,
         const py::object& progress, const std::vector<std::string>& overrides) {
        const SweepConfig sweep = load_sweep(sweep_file, overrides);
        const SweepSummary summary = sweep_into(sweep, out_dir, threads, resume, progress);
        py::dict d;
        d["sweep"] = sweep_summary_dict(summary);
        d["description"] = sweep.description;
        if (summary.status == SweepStatus::run_errors) return d;
        const ExperimentReport report = run_engine(nullptr, [&] { return report_experiment(name, sweep, out_dir); });
        d["passed"] = report.passed;
        d["verdict"] = report.verdict;
        d["table"] = report.table;
        d["report_json"] = report.json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return d;
      },
      py::arg("name"), py::arg("sweep_file"), py::arg("out_dir"), py::arg("threads"), py::arg("resume"),
      py::arg("progress") = py::none(), py::arg("overrides") = std::vector<std::string>{},
      "Runs experiment `name` (its sweep file; `overrides` as --set on its base) into out_dir and reports on it.");
}
