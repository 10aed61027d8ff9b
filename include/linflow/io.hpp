#pragma once
// Matrix files: NumPy .npy (float64, float32, integer or boolean; either memory order; 1-D or 2-D), NumPy .npz
// archives (np.savez, np.savez_compressed) and numeric CSV (a header row, a pandas index column and the delimiter
// detected). Every reader throws InputError naming the file and what was wrong; nothing is silently coerced: every
// value is converted to double exactly or the file is refused, and what a reader decided on its own (a header row
// skipped, an index column dropped, a delimiter chosen) is reported as a note.
#include <Eigen/Dense>
#include <string>
#include <vector>

namespace linflow {

/// Reads a 2-D array (a 1-D array of length n is read as an n × 1 column). Accepts little-endian float64 '<f8',
/// float32 '<f4', signed and unsigned integers of 1, 2, 4 and 8 bytes ('<i8', '|u1', …) and booleans '|b1', in C or
/// Fortran order. An integer that double cannot hold exactly (|v| > 2^53 and not a multiple of the spacing there) is
/// refused by position. Rejects other dtypes, malformed shapes, non-finite values, and data shorter than the header
/// promises; the promise is checked against the file's size before anything is allocated, so memory stays
/// proportional to the file, whatever its header says.
Eigen::MatrixXd read_npy(const std::string& path);
/// Writes a float64 2-D array (Fortran order, which NumPy reads as the same matrix). Throws InputError when the
/// file cannot be written.
void write_npy(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& M);

/// Reads the array `key` (the name given to np.savez, without ".npy") of a .npz archive, stored or deflated, as
/// read_npy reads a .npy file. An empty `key` takes the archive's only array and is refused, with the names, when it
/// holds several. Memory stays proportional to the file: an entry that claims more than deflate can expand is
/// refused before anything is allocated.
Eigen::MatrixXd read_npz(const std::string& path, const std::string& key = "");

/// The first row of a CSV file: `auto_detect` (default) takes it for a header when a field is not a number, or when
/// its fields are the integers 0, 1, …, n−1 as pandas writes unnamed columns (for n ≤ 2 only when the data below
/// are not all integers, since a data row 0,1 is common); `present` always skips it; `absent` reads it as data.
enum class CsvHeader { auto_detect, present, absent };
/// The field separator: `auto_detect` (default) looks at the first row: ';' when it holds one, else ',', else a
/// tab, else runs of blanks (`whitespace`, which also reads a one-column file).
enum class CsvDelimiter { auto_detect, comma, tab, semicolon, whitespace };

/// Config words: "auto", true/"true", false/"false" for the header; "auto", ",", "\t" or "tab", ";", "whitespace" or
/// " " for the delimiter. InputError otherwise.
std::string to_string(CsvHeader header);
CsvHeader csv_header_from_string(const std::string& word);
std::string to_string(CsvDelimiter delimiter);
CsvDelimiter csv_delimiter_from_string(const std::string& word);

struct CsvOptions {
  CsvHeader header = CsvHeader::auto_detect;
  CsvDelimiter delimiter = CsvDelimiter::auto_detect;
};

/// What a reader decided on its own, one sentence each, naming the file and the setting that changes it (e.g.
/// "x.csv: first row '0,1,2,...' read as a header (pandas' column names); problem.header = false reads it as data").
using ReadNotes = std::vector<std::string>;

/// Reads a numeric CSV matrix: one row per line, optional '#' comment lines and blank lines, a header row and a
/// pandas index column (a header whose first cell is empty: that first column is dropped) as `options` say. Every
/// data row must have the same number of fields and every field must parse completely as a finite number. Error
/// messages quote at most a short excerpt of a line. Notes are appended to `notes` when given.
Eigen::MatrixXd read_csv(const std::string& path, const CsvOptions& options = {}, ReadNotes* notes = nullptr);

/// Dispatches on the name: PATH.npy, PATH.csv, PATH.npz (its only array) or PATH.npz:KEY (the array KEY); any other
/// extension is an InputError. `options` and `notes` apply to CSV files.
Eigen::MatrixXd read_matrix(const std::string& path, const CsvOptions& options = {}, ReadNotes* notes = nullptr);

}  // namespace linflow
