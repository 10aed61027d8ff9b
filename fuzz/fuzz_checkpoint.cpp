// libFuzzer harness: the reader of DIR/checkpoint.bin (read_checkpoint_file, what `train --resume` reads after a
// kill or a crash) on arbitrary bytes. Whatever it accepts must be a checkpoint a run could be checked against;
// anything else must be an InputError.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "linflow/error.hpp"
#include "run/checkpoint_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = linflow::fuzz::write_input("checkpoint.bin", data, size);
  try {
    const linflow::detail::CheckpointFile f = linflow::detail::read_checkpoint_file(path);
    if (f.checkpoint.state.size() == 0 && size < 30) __builtin_trap();  // too short to hold a checkpoint
  } catch (const linflow::InputError&) {
  }
  return 0;
}
