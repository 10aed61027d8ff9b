// libFuzzer harness: a run configuration from bytes, as `linflow train -c FILE --set …` reads it. The input is the
// TOML text, then optionally a NUL byte and `--set` overrides, one per line. parse_config applies the overrides and
// validates every value; its result is checked again (is_valid) and serialised (to_json) as summary.json would be.
// No file named by the config is read: the problem is not built (paths may name anything on this machine).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "linflow/config.hpp"
#include "linflow/error.hpp"
#include "linflow/json.hpp"
#include "run/json_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string text = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    std::size_t begin = nul + 1;
    while (begin <= input.size()) {
      const std::size_t end = std::min(input.find('\n', begin), input.size());
      overrides.push_back(input.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  try {
    const linflow::RunConfig config = linflow::parse_config(text, "/nonexistent", overrides, "fuzz");
    std::string why;
    if (!config.solver.is_valid(&why)) __builtin_trap();            // parse_config let an invalid solver through
    (void)linflow::detail::json_text(linflow::to_json(config), 2);  // as summary.json
  } catch (const linflow::InputError&) {
  }
  return 0;
}
