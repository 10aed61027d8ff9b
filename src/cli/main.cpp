// linflow command-line tool: a thin client of the library. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "cli/analyze.hpp"
#include "cli/demo.hpp"
#include "cli/experiment.hpp"
#include "cli/plot.hpp"
#include "cli/sweep.hpp"
#include "cli/train.hpp"
#include "linflow/error.hpp"
#include "linflow/run.hpp"

#ifdef LINFLOW_OPENBLAS
extern "C" void openblas_set_num_threads(int threads);
extern "C" int blas_thread_shutdown_() __attribute__((weak));  // OpenBLAS's threaded builds (absent: null)
#endif

int main(int argc, char** argv) {
#ifdef LINFLOW_OPENBLAS
  // One core per run: sweeps spread runs over the cores (threads, MPI ranks), and a BLAS that also spawned threads
  // would oversubscribe them. OPENBLAS_NUM_THREADS, when set, is the user's choice and is left alone.
  // Setting one thread does not stop the worker threads OpenBLAS started when it was loaded, and each spins on
  // sched_yield for about 0.1 s (its thread timeout) before sleeping: a whole stiff run on the plateau problems
  // (0.06–0.3 s), during which it took a core — 1.3× the wall time of such a run on this 2-core machine while another
  // process ran (docs/performance.md). They are stopped here; a single-threaded OpenBLAS never needs them.
  if (std::getenv("OPENBLAS_NUM_THREADS") == nullptr) {
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_ != nullptr) blas_thread_shutdown_();
  }
#endif
  CLI::App app{"linflow: training dynamics of deep linear networks (exact gradient flow, gradient descent, theory)"};
  app.set_version_flag("--version", std::string("linflow ") + linflow::version());
  app.require_subcommand(1);
  std::function<int()> action;
  linflow::cli::TrainOptions train;
  linflow::cli::DemoOptions demo;
  linflow::cli::SweepCommandOptions sweep;
  linflow::cli::ExperimentOptions experiment;
  linflow::cli::PlotOptions plot;
  linflow::cli::AnalyzeOptions analyze;
  linflow::cli::setup_train(app, train, action);
  linflow::cli::setup_demo(app, demo, action);
  linflow::cli::setup_sweep(app, sweep, action);
  linflow::cli::setup_experiment(app, experiment, action);
  linflow::cli::setup_plot(app, plot, action);
  linflow::cli::setup_analyze(app, analyze, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "linflow: error: " << e.what() << " (see linflow --help)\n";
    return 2;
  }
  try {
    return action ? action() : 2;
  } catch (const linflow::InputError& e) {
    std::cerr << "linflow: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "linflow: internal error: " << e.what() << "\n";
    return 1;
  }
}
