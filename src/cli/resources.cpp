#include "cli/resources.hpp"

#include <cstdlib>
#include <system_error>
#include <vector>

#include "linflow/error.hpp"

namespace linflow::cli {
namespace {

namespace fs = std::filesystem;

fs::path executable_dir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

fs::path find(const char* env, const fs::path& installed, const char* source, bool directory, const std::string& what) {
  std::vector<fs::path> candidates;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') {
    candidates.emplace_back(e);  // an override is used alone: a typo in it must not silently fall back
  } else {
    if (const fs::path exe = executable_dir(); !exe.empty()) {
      candidates.push_back(exe / ".." / "share" / "linflow" / installed);
    }
    candidates.emplace_back(source);
  }
  std::string tried;
  for (const auto& c : candidates) {
    std::error_code ec;
    if (directory ? fs::is_directory(c, ec) : fs::is_regular_file(c, ec)) return c.lexically_normal();
    tried += (tried.empty() ? "" : ", ") + c.lexically_normal().string();
  }
  throw InputError("cannot find " + what + " (tried " + tried + "; set " + env + ")");
}

}  // namespace

fs::path experiments_dir() {
  return find("LINFLOW_EXPERIMENTS", "experiments", LINFLOW_SOURCE_EXPERIMENTS, true, "the experiments directory");
}

fs::path plot_script() {
  return find("LINFLOW_PLOT_SCRIPT", "plot.py", LINFLOW_SOURCE_PLOT_SCRIPT, false, "the plotting script plot.py");
}

std::string python_interpreter() {
  if (const char* e = std::getenv("LINFLOW_PYTHON"); e != nullptr && *e != '\0') return e;
  const std::string configured = LINFLOW_CONFIGURED_PYTHON;
  return configured.empty() ? "python3" : configured;
}

}  // namespace linflow::cli
