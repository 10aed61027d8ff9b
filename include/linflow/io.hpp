#pragma once
// Matrix files: NumPy .npy (float64 or float32, either memory order, 1-D or 2-D) and numeric CSV.
// Every reader throws InputError naming the file and what was wrong; nothing is silently coerced.
#include <Eigen/Dense>
#include <string>

namespace linflow {

/// Reads a 2-D array (a 1-D array of length n is read as an n × 1 column). Accepts little-endian '<f8' and
/// '<f4', C or Fortran order. Rejects other dtypes, malformed shapes, non-finite values, and data shorter than the
/// header promises; the promise is checked against the file's size before anything is allocated, so memory stays
/// proportional to the file, whatever its header says.
Eigen::MatrixXd read_npy(const std::string& path);
/// Writes a float64 2-D array (Fortran order, which NumPy reads as the same matrix). Throws InputError when the
/// file cannot be written.
void write_npy(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& M);

/// Reads a numeric CSV matrix: one row per line, comma-separated, optional '#' comment lines, no header.
/// Every row must have the same number of fields and every field must parse completely as a finite number.
Eigen::MatrixXd read_csv(const std::string& path);

/// Dispatches on the extension: .npy or .csv (InputError otherwise).
Eigen::MatrixXd read_matrix(const std::string& path);

}  // namespace linflow
