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
#include "linflow/interrupt.hpp"
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

template <class Work>
auto run_engine(const Callback& callback, Work&& work) {
  const py::module_ threading = py::module_::import("threading");
  const bool main_thread = threading.attr("current_thread")().is(threading.attr("main_thread")());
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
  const RunSetup setup = set_up(config);
  const RecordOptions record = record_options(setup);
  auto run = std::make_shared<Run>(
      Run{config, setup.problem, setup.shape, {}, setup.theta0, {}, record.modes, record.sharpness});
  SampleSink sink;
  if (config.output.trajectory) sink = [&run](const Sample& s) { run->samples.push_back(s); };
  const Summary summary = train(setup.problem, setup.shape, run->theta, config.solver, record, sink, progress);
  run->summary = summary_json(config, setup.problem, setup.shape, summary, setup.notes);
  return run;
}

// Writes `run` into `dir` as `linflow train --out dir` does: the trajectory to trajectory.csv.tmp, then
// write_run_outputs puts the weights, the trajectory and summary.json in place in the same order.
void save_run(const Run& run, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw InputError(dir + ": cannot create output directory");
  if (run.config.output.trajectory) {
    const fs::path pending = fs::path(dir) / "trajectory.csv.tmp";
    std::ofstream csv(pending, std::ios::trunc);
    if (!csv) throw InputError(pending.string() + ": cannot write");
    csv << trajectory_header(run.modes, run.sharpness) << '\n' << std::setprecision(17);
    for (const Sample& s : run.samples) write_trajectory_row(csv, s);
    csv.close();
    if (!csv) throw InputError(pending.string() + ": write failed");
  }
  write_run_outputs(dir, run.config, run.problem, run.shape, run.summary, run.theta);
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

RunConfig make_config(const std::string& toml_text, const std::string& base_dir, const std::string& origin,
                      const std::vector<std::string>& overrides) {
  return ConfigTemplate::parse(toml_text, base_dir, origin).instantiate(overrides);
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

  m.def(
      "version", [] { return std::string(version()); }, "The linflow version string.");

  py::class_<RunConfig>(m, "RunConfig", "A validated run configuration (what a TOML file with overrides describes).")
      .def(
          "to_json",
          [](const RunConfig& c) { return to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); },
          "The configuration as JSON text.");
  m.def("parse_config", &make_config, py::arg("toml_text"), py::arg("base_dir"), py::arg("origin"),
        py::arg("overrides"), "Parses TOML text and applies section.key=value overrides (InputError on bad input).");
  m.def("load_config", &load_config, py::arg("path"), py::arg("overrides"),
        "Reads a TOML file and applies section.key=value overrides (InputError on bad input).");

  py::class_<Run, std::shared_ptr<Run>>(m, "Run", "One finished run held in memory.")
      .def_property_readonly(
          "summary_json",
          [](const Run& r) { return r.summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); })
      .def_property_readonly("columns", [](const Run& r) { return trajectory_header(r.modes, r.sharpness); })
      .def_property_readonly("trajectory", &trajectory_array)
      .def_property_readonly("weights", &weights)
      .def_property_readonly("end_to_end", [](const Run& r) { return r.shape.end_to_end(r.theta); })
      .def("save", &save_run, py::arg("dir"), "Writes the run's files as `linflow train --out DIR` does.");

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
        return py::make_tuple(result.json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), run);
      },
      py::arg("config"), py::arg("simulate"), py::arg("out_dir"), py::arg("progress") = py::none(),
      "analyze_config: (analysis.json text, the simulated Run or None).");
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
