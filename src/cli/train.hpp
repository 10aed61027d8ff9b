#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace linflow::cli {

struct TrainOptions {
  std::string config;
  std::string out;
  std::vector<std::string> overrides;
  bool quiet = false;
  bool resume = false;
  double checkpoint_seconds = 5;
};

void setup_train(CLI::App& app, TrainOptions& opt, std::function<int()>& action);
int run_train(const TrainOptions& opt);

}  // namespace linflow::cli
