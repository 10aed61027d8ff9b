#include "cli/demo.hpp"

#include <iostream>

#include "cli/common.hpp"
#include "linflow/config.hpp"
#include "linflow/run.hpp"

namespace linflow::cli {

const char* demo_config_toml() {
  return R"(# linflow demo: a depth-4 linear network with a one-neuron layer (widths 6-4-1-4-5),
# balanced rank-one start, exact gradient flow to excess loss 1e-12.
[problem]
singular_values = [3.0, 2.0, 1.0]   # synthetic 5x6 target with these singular values
seed = 7

[network]
widths = [6, 4, 1, 4, 5]

[init]
kind = "balanced_rank1"   # random unit u0, v0
sigma0 = 0.05
seed = 11

[solver]
method = "gf"
eps = 1e-12
t_max = 1000.0

[output]
samples_log = 200
)";
}

void setup_demo(CLI::App& app, DemoOptions& opt, std::function<int()>& action) {
  auto* sub = app.add_subcommand("demo", "Run the built-in default experiment (what `make run` does)");
  sub->add_option("--out,-o", opt.out, "Output directory")->capture_default_str();
  sub->add_flag("--print-config", opt.print_config, "Print the demo's configuration and exit");
  sub->callback([&] {
    action = [&] {
      if (opt.print_config) {
        std::cout << demo_config_toml();
        return 0;
      }
      return run_demo(opt);
    };
  });
}

int run_demo(const DemoOptions& opt) {
  const RunConfig config = parse_config(demo_config_toml(), ".", {}, "demo config");
  std::cout << "linflow " << version() << " demo: depth-4 network 6-4-1-4-5 (one-neuron layer), synthetic target "
            << "with singular values 3, 2, 1, balanced rank-one start (sigma0 = 0.05), gradient flow to excess "
            << "loss 1e-12\n";
  install_interrupt_handlers();
  ProgressPrinter progress("demo", config.solver);
  const RunResult result = run_config(config, opt.out, progress.sink());
  progress.finish();
  if (result.summary.status == Status::interrupted) {
    std::cerr << interrupted_line(result, opt.out) << "\n";
    return kExitInterrupted;
  }
  // The theory's predictions for the same start (no second simulation), so that `linflow plot` draws the bounds
  // beside the run.
  analyze_config(config, /*simulate=*/false, opt.out);
  std::cout << describe_run(result) << "output:       " << opt.out
            << " (summary.json, trajectory.csv, weights/, target.npy, analysis.json)\n";
  return 0;
}

}  // namespace linflow::cli
