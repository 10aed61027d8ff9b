#include "cli/common.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "linflow/interrupt.hpp"

namespace linflow::cli {
namespace {

void on_interrupt_signal(int /*signal*/) { request_interrupt(); }

}  // namespace

ProgressPrinter::ProgressPrinter(std::string label, double delay_seconds)
    : label_(std::move(label)),
      delay_(delay_seconds),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressSink ProgressPrinter::sink() {
  return [this](const Progress& p) { show(p); };
}

void ProgressPrinter::show(const Progress& p) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (elapsed < delay_ || since < (tty_ ? 0.2 : 5.0)) return;
  last_ = now;
  char line[256];
  std::snprintf(line, sizeof line, "%s: t = %.4g / %.4g (%.0f%%), excess loss %.3e, %ld steps, %.1f s", label_.c_str(),
                p.t, p.t_max, 100.0 * p.t / p.t_max, p.excess_loss, p.steps, elapsed);
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

std::string describe_run(const RunResult& r) {
  const auto& s = r.summary;
  std::ostringstream os;
  os.precision(4);
  os << "status:       " << to_string(s.status) << "\n"
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
  }
  return os.str();
}

}  // namespace linflow::cli
