#pragma once
// Errors linflow reports by exception: misuse and bad input only. Numerical failure (divergence, step-size
// underflow, budget exhausted) is never an exception; it is a `Status` in the summary of a run.
#include <stdexcept>
#include <string>

namespace linflow {

/// Bad input: a configuration key, a file, a shape or a value that cannot be used. The message is one line
/// that names the offending key or file and what was expected. The CLI prints it and exits with code 2.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace linflow
