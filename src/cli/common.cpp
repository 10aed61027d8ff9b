#include "cli/common.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "linflow/interrupt.hpp"

namespace linflow::cli {
namespace {

void on_interrupt_signal(int /*signal*/) { request_interrupt(); }

}  // namespace

ProgressPrinter::ProgressPrinter(std::string label, const SolverOptions& solver, double delay_seconds)
    : label_(std::move(label)),
      solver_(solver),
      delay_(delay_seconds),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_),
      pass_start_(start_) {}

ProgressSink ProgressPrinter::sink() {
  return [this](const Progress& p) { show(p); };
}

void ProgressPrinter::show(const Progress& p) {
  const auto now = std::chrono::steady_clock::now();
  if (initial_excess_ < 0 || p.t < last_t_) {
    initial_excess_ = p.excess_loss;
    pass_start_ = now;
  }
  last_t_ = p.t;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_).count();
  // The first line comes at `delay` whatever the output; later ones at the interval.
  if (elapsed < delay_ || (lines_ > 0 && since < (tty_ ? 0.2 : 5.0))) return;
  last_ = now;
  ++lines_;
  const double fraction = progress_fraction(p, initial_excess_, solver_);
  const double pass = std::chrono::duration<double>(now - pass_start_).count();
  char eta[64] = "ETA unknown";
  if (fraction >= 0.01) std::snprintf(eta, sizeof eta, "ETA %.0f s", pass * (1 - fraction) / fraction);
  char line[256];
  std::snprintf(line, sizeof line,
                "%s: t = %.4g / %.4g, excess loss %.3e (eps %.0e), %ld steps, %.1f s, %.0f%% done, %s", label_.c_str(),
                p.t, p.t_max, p.excess_loss, solver_.eps, p.steps, elapsed, 100.0 * fraction, eta);
  if (tty_) {
    std::cerr << '\r' << line << "\033[K" << std::flush;
  } else {
    std::cerr << line << '\n';
  }
  shown_ = true;
}

void ProgressPrinter::finish() {
  if (shown_ && tty_) std::cerr << '\n';
  shown_ = false;
}

std::string describe_notes(const ReadNotes& notes) {
  std::string out;
  for (const auto& n : notes) out += "note:         " + n + "\n";
  return out;
}

std::string describe_run(const RunResult& r) {
  const auto& s = r.summary;
  std::ostringstream os;
  os.precision(4);
  os << describe_notes(r.notes) << "status:       " << to_string(s.status) << "\n"
     << "message:      " << s.message << "\n"
     << "excess loss:  " << s.initial_excess_loss << " -> " << s.excess_loss << " (loss " << s.loss << ")\n"
     << "t_eps:        " << (s.t_eps ? std::to_string(*s.t_eps) : std::string("not reached")) << "\n"
     << "steps:        " << s.stats.steps << " accepted, " << s.stats.rejected_steps << " rejected, "
     << s.stats.rhs_evals << " gradient evaluations, " << s.stats.wall_seconds << " s\n";
  return os.str();
}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second signal is the default one: the user can always force-quit
  for (const int sig : {SIGINT, SIGTERM}) ::sigaction(sig, &action, nullptr);
}

std::string interrupted_line(const RunResult& r, const std::string& out) {
  const Summary& s = r.summary;
  std::ostringstream os;
  os.precision(4);
  os << "linflow: interrupted at t = " << s.t_final << " with excess loss " << s.excess_loss << " after "
     << s.stats.steps << " steps; ";
  if (r.kept_finished_run) {
    os << out << " holds a finished run, kept as it was: this run's files were not written";
  } else {
    os << "its files up to there are in " << out << " (summary.json status \"interrupted\")";
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::path(out) / "checkpoint.bin", ec)) {
      os << "; `linflow train ... --resume` continues it";
    }
  }
  return os.str();
}

}  // namespace linflow::cli
