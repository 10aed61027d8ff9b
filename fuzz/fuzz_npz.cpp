// libFuzzer harness: the .npz reader (read_npz through read_matrix: libzip, then the .npy parser on the archive's only
// array) on arbitrary bytes. A valid archive must give a finite matrix; anything else must be an InputError.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "linflow/error.hpp"
#include "linflow/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = linflow::fuzz::write_input("input.npz", data, size);
  try {
    const Eigen::MatrixXd m = linflow::read_matrix(path);
    if (!m.allFinite()) __builtin_trap();  // the reader promises finite values
  } catch (const linflow::InputError&) {
  }
  return 0;
}
