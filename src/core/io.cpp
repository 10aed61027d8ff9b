#include "linflow/io.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "linflow/error.hpp"

namespace linflow {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) { throw InputError(path + ": " + why); }

// Error messages quote text taken from the file; a file can hold anything (NUL, escape sequences, a line of
// gigabytes), and the CLI promises one readable line, so the quote is short and every unprintable byte escaped.
constexpr size_t kExcerptChars = 40;

std::string excerpt(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    std::string piece;
    if (c == '\\') {
      piece = "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      piece = std::string(1, ch);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      piece = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    }
    if (out.size() + piece.size() > kExcerptChars) return out + "...";
    out += piece;
  }
  return out;
}

// An ifstream opens a directory without complaint on Linux and then fails on the first read, which would be
// reported as a bad magic number or an empty file; say what is really wrong instead.
std::ifstream open_input(const std::string& path, std::ios::openmode mode, const char* expected) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, std::string("is a directory, expected ") + expected);
  errno = 0;
  std::ifstream in(path, mode);
  if (!in) {
    const int err = errno;
    fail(path, err != 0 ? std::string("cannot open file (") + std::strerror(err) + ")" : "cannot open file");
  }
  return in;
}

// The value of `key` in a .npy header dict such as "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }".
std::string header_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  const auto at = header.find(quoted);
  if (at == std::string::npos) fail(path, "malformed .npy header: no '" + key + "'");
  auto pos = header.find(':', at + quoted.size());
  if (pos == std::string::npos) fail(path, "malformed .npy header near '" + key + "'");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  size_t end = pos;
  if (pos < header.size() && header[pos] == '(') {
    end = header.find(')', pos);
    if (end == std::string::npos) fail(path, "malformed .npy header: unterminated shape");
    return header.substr(pos, end - pos + 1);
  }
  if (pos < header.size() && header[pos] == '\'') {
    end = header.find('\'', pos + 1);
    if (end == std::string::npos) fail(path, "malformed .npy header: unterminated string");
    return header.substr(pos + 1, end - pos - 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(pos, end - pos);
}

// The shape is a Python tuple of non-negative integers: "()", "(3,)", "(3, 4)" or "(3, 4,)". Python allows a
// single trailing comma and nothing else empty, so "(3,,4)" or "(,)" is a corrupt header, not a 2-D shape.
std::vector<long long> parse_shape(const std::string& text, const std::string& path) {
  const auto malformed = [&]() {
    fail(path, "malformed .npy shape '" + excerpt(text) + "' (expected a tuple such as (3, 4))");
  };
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') malformed();
  const std::string_view inner(text.data() + 1, text.size() - 2);
  std::vector<long long> dims;
  if (inner.find_first_not_of(' ') == std::string_view::npos) return dims;
  size_t start = 0;
  while (true) {
    const size_t comma = inner.find(',', start);
    std::string_view item =
        inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    const auto first = item.find_first_not_of(' ');
    if (first == std::string_view::npos) {
      const bool trailing_comma = comma == std::string_view::npos && !dims.empty();
      if (!trailing_comma) malformed();
      break;
    }
    item = item.substr(first, item.find_last_not_of(' ') - first + 1);
    long long v = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || p != item.data() + item.size() || v < 0) malformed();
    dims.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return dims;
}

// Far more elements than any matrix linflow can train on, so an absurd but complete file is refused by name
// instead of ending in bad_alloc (2^31 float64 values are 16 GiB).
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 31;
// Pipes and devices have no size to check up front; their data is read in pieces of this size so that memory
// grows only with the bytes that actually arrive, never with what the header promises.
constexpr size_t kReadChunk = size_t{1} << 20;

}  // namespace

Eigen::MatrixXd read_npy(const std::string& path) {
  std::ifstream in = open_input(path, std::ios::binary, "a .npy file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  std::uint64_t header_end = 8;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail(path, "truncated .npy header");
    header_len = b[0] | (b[1] << 8);
    header_end += 2;
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail(path, "truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    header_end += 4;
  } else {
    fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) fail(path, "implausible .npy header length");
  header_end += header_len;
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) fail(path, "truncated .npy header");

  const std::string descr = header_field(header, "descr", path);
  const std::string order = header_field(header, "fortran_order", path);
  const auto dims = parse_shape(header_field(header, "shape", path), path);
  size_t item = 0;
  const char* dtype = "";
  if (descr == "<f8" || descr == "=f8" || descr == "f8") {
    item = 8;
    dtype = "float64";
  } else if (descr == "<f4" || descr == "=f4" || descr == "f4") {
    item = 4;
    dtype = "float32";
  } else {
    fail(path, "unsupported dtype '" + excerpt(descr) + "' (expected little-endian float64 '<f8' or float32 '<f4')");
  }
  const bool fortran = order.find("True") != std::string::npos;
  if (!fortran && order.find("False") == std::string::npos)
    fail(path, "malformed fortran_order '" + excerpt(order) + "'");
  long long rows = 0, cols = 0;
  if (dims.size() == 1) {
    rows = dims[0];
    cols = 1;
  } else if (dims.size() == 2) {
    rows = dims[0];
    cols = dims[1];
  } else {
    fail(path, "expected a 1-D or 2-D array, got " + std::to_string(dims.size()) + " dimensions");
  }
  if (rows == 0 || cols == 0) fail(path, "array is empty");

  // The shape comes from the file, so every size derived from it is computed with overflow checks: a wrapped
  // product would pass the checks below and index far outside the buffer.
  std::string shape = std::to_string(rows);
  if (dims.size() == 2) shape += " x " + std::to_string(cols);
  std::uint64_t n = 0, bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols), &n) ||
      __builtin_mul_overflow(n, static_cast<std::uint64_t>(item), &bytes)) {
    fail(path, "absurd .npy shape " + shape + " (its size in bytes does not fit in 64 bits)");
  }
  // Compare with the bytes actually on disk before allocating anything, so a 145-byte file cannot demand 16 GB.
  std::error_code ec;
  const bool sized = std::filesystem::is_regular_file(path, ec);
  const std::uintmax_t file_size = sized ? std::filesystem::file_size(path, ec) : 0;
  const bool size_known = sized && !ec;
  const std::uint64_t available = size_known && file_size > header_end ? file_size - header_end : 0;
  const auto truncated = [&](std::uint64_t held) {
    fail(path, "truncated data: header promises " + shape + " " + dtype + " (" + std::to_string(bytes) +
                   " bytes), file holds " + std::to_string(held));
  };
  if (size_known && bytes > available) truncated(available);
  if (n > kMaxElements) {
    fail(path, "array " + shape + " has " + std::to_string(n) + " elements, more than linflow accepts (" +
                   std::to_string(kMaxElements) + ")");
  }

  std::vector<char> raw;
  if (size_known) raw.reserve(bytes);
  while (raw.size() < bytes) {
    const size_t got = raw.size();
    raw.resize(got + std::min<std::uint64_t>(kReadChunk, bytes - got));
    in.read(raw.data() + got, static_cast<std::streamsize>(raw.size() - got));
    if (static_cast<size_t>(in.gcount()) != raw.size() - got) truncated(got + static_cast<std::uint64_t>(in.gcount()));
  }
  static_assert(std::endian::native == std::endian::little, "linflow's .npy reader assumes a little-endian host");
  Eigen::VectorXd flat(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < n; ++i) {
    if (item == 8) {
      double v;
      std::memcpy(&v, raw.data() + 8 * i, 8);
      flat(static_cast<Eigen::Index>(i)) = v;
    } else {
      float v;
      std::memcpy(&v, raw.data() + 4 * i, 4);
      flat(static_cast<Eigen::Index>(i)) = v;
    }
  }
  if (!flat.allFinite()) fail(path, "contains NaN or Inf");
  if (fortran) return Eigen::Map<Eigen::MatrixXd>(flat.data(), rows, cols);
  return Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(flat.data(), rows, cols);
}

void write_npy(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& M) {
  std::ostringstream dict;
  dict << "{'descr': '<f8', 'fortran_order': True, 'shape': (" << M.rows() << ", " << M.cols() << "), }";
  std::string header = dict.str();
  // Pad so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  // Written beside the target and renamed over it once complete and closed: a failed write (a full disk shows at
  // close) leaves the earlier file, never a truncated one under the final name.
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot write file");
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char lenb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(lenb, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  const Eigen::MatrixXd dense = M;  // contiguous column-major copy
  out.write(reinterpret_cast<const char*>(dense.data()), static_cast<std::streamsize>(sizeof(double) * dense.size()));
  out.close();
  std::error_code ec;
  if (!out) {
    std::filesystem::remove(tmp, ec);
    fail(path, "write failed");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    fail(path, "cannot replace: " + why);
  }
}

Eigen::MatrixXd read_csv(const std::string& path) {
  std::ifstream in = open_input(path, std::ios::in, "a .csv file");
  // One flat list of values rather than a vector per row: a file of short lines ("1\n" ...) would otherwise cost
  // dozens of bytes of bookkeeping per byte read.
  std::vector<double> values;
  size_t cols = 0, rows = 0;
  std::string line;
  // 64-bit because a file of a few GB of blank lines has more than 2^31 of them.
  std::uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    size_t fields = 0;
    size_t start = 0;
    while (true) {
      const size_t comma = line.find(',', start);
      const std::string_view field =
          std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (comma == std::string::npos && field.empty() && fields > 0) {
        fail(path, where + "trailing comma in '" + excerpt(line) + "'");
      }
      const auto b = field.find_first_not_of(" \t");
      const auto e = field.find_last_not_of(" \t");
      const std::string_view f = b == std::string_view::npos ? field.substr(0, 0) : field.substr(b, e - b + 1);
      double v = 0;
      const char* begin = f.data();
      // from_chars takes no '+', so one is skipped here; it must not make "+-1" acceptable.
      if (f.size() > 1 && f[0] == '+' && f[1] != '-' && f[1] != '+') ++begin;
      const auto [p, ec] = std::from_chars(begin, f.data() + f.size(), v);
      if (f.empty() || ec != std::errc() || p != f.data() + f.size() || !std::isfinite(v)) {
        fail(path, where + "'" + excerpt(f) + "' is not a finite number");
      }
      values.push_back(v);
      ++fields;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (rows > 0 && fields != cols) {
      fail(path,
           where + std::to_string(fields) + " fields, expected " + std::to_string(cols) + " ('" + excerpt(line) + "')");
    }
    cols = fields;
    ++rows;
  }
  if (rows == 0) fail(path, "no numeric rows");
  return Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      values.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}

Eigen::MatrixXd read_matrix(const std::string& path) {
  auto ends_with = [&](const char* ext) {
    const size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends_with(".npy")) return read_npy(path);
  if (ends_with(".csv")) return read_csv(path);
  throw InputError(path + ": unknown file type (expected .npy or .csv)");
}

}  // namespace linflow
