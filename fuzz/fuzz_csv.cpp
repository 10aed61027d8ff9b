// libFuzzer harness: the CSV reader (read_csv through read_matrix) on arbitrary bytes. A valid file must give a
// finite matrix; anything else must be an InputError.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "linflow/error.hpp"
#include "linflow/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = linflow::fuzz::write_input("input.csv", data, size);
  try {
    const Eigen::MatrixXd m = linflow::read_matrix(path);
    if (!m.allFinite()) __builtin_trap();  // the reader promises finite values
  } catch (const linflow::InputError&) {
  }
  return 0;
}
