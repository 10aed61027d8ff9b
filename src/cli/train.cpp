#include "cli/train.hpp"

#include <iostream>

#include "cli/common.hpp"
#include "linflow/config.hpp"
#include "linflow/run.hpp"

namespace linflow::cli {

void setup_train(CLI::App& app, TrainOptions& opt, std::function<int()>& action) {
  auto* sub =
      app.add_subcommand("train", "Train one network as a config file says; write summary, trajectory, weights");
  sub->add_option("--config,-c", opt.config,
                  "Run configuration: TOML, '-' for standard input, or an earlier run's summary.json/analysis.json "
                  "(repeats it)")
      ->required();
  sub->add_option("--out,-o", opt.out, "Output directory (created if missing)")->required();
  sub->add_option("--set", opt.overrides,
                  "Override a config key: section.key=value (repeatable; paths relative to the current directory)");
  sub->add_flag("--resume", opt.resume,
                "Continue the interrupted or killed run in --out from its checkpoint (same configuration); the "
                "files it ends with are the uninterrupted run's");
  sub->add_option("--checkpoint-every", opt.checkpoint_seconds,
                  "Seconds of wall time between checkpoints in --out/checkpoint.bin (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--quiet,-q", opt.quiet, "Print nothing but errors");
  sub->callback([&] { action = [&] { return run_train(opt); }; });
}

int run_train(const TrainOptions& opt) {
  const RunConfig config = load_config(opt.config, opt.overrides);
  if (opt.resume && holds_finished_run(opt.out)) {
    if (!opt.quiet) std::cout << opt.out << " holds a finished run (summary.json): nothing to resume\n";
    return 0;
  }
  install_interrupt_handlers();
  ProgressPrinter progress("train", config.solver);
  const RunResult result = run_config(config, opt.out, opt.quiet ? ProgressSink{} : progress.sink(),
                                      ResumeOptions{opt.checkpoint_seconds, opt.resume});
  progress.finish();
  if (result.summary.status == Status::interrupted) {
    std::cerr << interrupted_line(result, opt.out) << "\n";
    return kExitInterrupted;
  }
  if (!opt.quiet) std::cout << describe_run(result) << "output:       " << opt.out << "\n";
  return 0;
}

}  // namespace linflow::cli
