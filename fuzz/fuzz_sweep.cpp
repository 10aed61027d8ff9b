// libFuzzer harness: a sweep file from bytes (parse_sweep: the [sweep] table, the axes, an inline [base] run
// configuration, and the up-front validation of the first points), then what `linflow sweep` computes before running
// anything: the run count, the first and last runs' parameters and configurations, and sweep.json's content.
#include <cstddef>
#include <cstdint>
#include <string>

#include "linflow/error.hpp"
#include "linflow/sweep_plan.hpp"
#include "run/json_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const linflow::SweepConfig sweep = linflow::parse_sweep(text, "/nonexistent", "fuzz");
    (void)linflow::detail::json_text(linflow::to_json(sweep), 2);  // as sweep.json
    const long runs = linflow::run_count(sweep);
    if (runs < 1) __builtin_trap();
    for (const long k : {0L, runs - 1}) {
      (void)linflow::detail::json_text(linflow::run_parameters(sweep, k));  // as a line
      try {
        (void)linflow::run_configuration(sweep, k);
      } catch (const linflow::InputError&) {  // a point beyond the validated ones may be invalid: its error line
      }
    }
  } catch (const linflow::InputError&) {
  }
  return 0;
}
