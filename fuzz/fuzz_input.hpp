#pragma once
// What the harnesses share: the bytes of one input as a file (the matrix readers take paths), and the contract every
// harness checks — bad input is an InputError, anything else escaping (another exception, a crash, a sanitizer
// report, an allocation beyond libFuzzer's -malloc_limit_mb) is a finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace linflow::fuzz {

/// A file of this process in the temporary directory, rewritten with each input: `name` gives the extension, which
/// is what read_matrix dispatches on.
inline std::string write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("linflow_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace linflow::fuzz
