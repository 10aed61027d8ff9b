#include "cli/common.hpp"

#include <unistd.h>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace linflow::cli {

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

}  // namespace linflow::cli
