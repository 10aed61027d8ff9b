#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace linflow::cli {

struct DemoOptions {
  std::string out = "linflow-demo";
  bool print_config = false;
};

void setup_demo(CLI::App& app, DemoOptions& opt, std::function<int()>& action);
int run_demo(const DemoOptions& opt);

/// The built-in default experiment as TOML (also what `linflow demo --print-config` shows).
const char* demo_config_toml();

}  // namespace linflow::cli
