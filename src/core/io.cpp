#include "linflow/io.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include <zip.h>

#include "core/files.hpp"
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

// A .npy dtype that linflow converts to double exactly: its element size, its kind ('f', 'i', 'u' or 'b') and its
// name for messages.
struct NpyType {
  size_t size = 0;
  char kind = 0;
  std::string name;
};

NpyType npy_type(const std::string& descr, const std::string& path) {
  const auto unsupported = [&]() {
    fail(path, "unsupported dtype '" + excerpt(descr) +
                   "' (expected little-endian float64 '<f8' or float32 '<f4', an integer such as '<i8' or '|u1', or "
                   "bool '|b1')");
  };
  // NumPy writes '<' (little-endian), '|' (byte order irrelevant, one-byte types) or '=' (native, little here).
  if (descr.size() < 2) unsupported();
  const bool byte_order = descr[0] == '<' || descr[0] == '|' || descr[0] == '=';
  const std::string_view code = std::string_view(descr).substr(byte_order ? 1 : 0);
  static const struct {
    const char* code;
    size_t size;
    char kind;
    const char* name;
  } kTypes[] = {{"f8", 8, 'f', "float64"}, {"f4", 4, 'f', "float32"}, {"i8", 8, 'i', "int64"},
                {"i4", 4, 'i', "int32"},   {"i2", 2, 'i', "int16"},   {"i1", 1, 'i', "int8"},
                {"u8", 8, 'u', "uint64"},  {"u4", 4, 'u', "uint32"},  {"u2", 2, 'u', "uint16"},
                {"u1", 1, 'u', "uint8"},   {"b1", 1, 'b', "bool"},    {"?", 1, 'b', "bool"}};
  for (const auto& t : kTypes) {
    if (code == t.code) return {t.size, t.kind, t.name};
  }
  unsupported();
  return {};
}

// Element i of `raw` as a double; InputError when it has no exact double (a 64-bit integer beyond 2^53 that is not
// a multiple of the spacing there, or a bool byte other than 0 and 1).
double npy_element(const char* raw, size_t i, const NpyType& type, const std::string& path) {
  const char* at = raw + type.size * i;
  const auto load = [at]<class T>(T value) {
    std::memcpy(&value, at, sizeof value);
    return value;
  };
  const auto inexact = [&](const std::string& text) {
    fail(path, "element " + std::to_string(i) + " (" + text + ") of this " + type.name +
                   " array has no exact double; convert it in NumPy (e.g. .astype(float)) if rounding is acceptable");
  };
  switch (type.kind) {
    case 'f':
      return type.size == 8 ? load(double{}) : load(float{});
    case 'b': {
      const auto b = load(std::uint8_t{});
      if (b > 1) fail(path, "element " + std::to_string(i) + " of this bool array is the byte " + std::to_string(b));
      return b;
    }
    case 'i': {
      if (type.size == 1) return load(std::int8_t{});
      if (type.size == 2) return load(std::int16_t{});
      if (type.size == 4) return load(std::int32_t{});
      const std::int64_t v = load(std::int64_t{});
      const auto d = static_cast<double>(v);
      // 2^63 itself is out of int64's range, so the round trip is tested only below it.
      if (d >= 9223372036854775808.0 || static_cast<std::int64_t>(d) != v) inexact(std::to_string(v));
      return d;
    }
    default: {
      if (type.size == 1) return load(std::uint8_t{});
      if (type.size == 2) return load(std::uint16_t{});
      if (type.size == 4) return load(std::uint32_t{});
      const std::uint64_t v = load(std::uint64_t{});
      const auto d = static_cast<double>(v);
      if (d >= 18446744073709551616.0 || static_cast<std::uint64_t>(d) != v) inexact(std::to_string(v));
      return d;
    }
  }
}

// The .npy format read from `in`, reported as `path`. `file_size`, when the stream's total size is known (a regular
// file, an archive's entry), is checked against the header's promise before anything is allocated.
Eigen::MatrixXd parse_npy(std::istream& in, const std::string& path, std::optional<std::uint64_t> file_size) {
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
  const NpyType type = npy_type(descr, path);
  const size_t item = type.size;
  const char* dtype = type.name.c_str();
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
  // Compare with the bytes actually there before allocating anything, so a 145-byte file cannot demand 16 GB.
  const bool size_known = file_size.has_value();
  const std::uint64_t available = size_known && *file_size > header_end ? *file_size - header_end : 0;
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
  for (size_t i = 0; i < n; ++i) flat(static_cast<Eigen::Index>(i)) = npy_element(raw.data(), i, type, path);
  if (!flat.allFinite()) fail(path, "contains NaN or Inf");
  if (fortran) return Eigen::Map<Eigen::MatrixXd>(flat.data(), rows, cols);
  return Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(flat.data(), rows, cols);
}

}  // namespace

Eigen::MatrixXd read_npy(const std::string& path) {
  std::ifstream in = open_input(path, std::ios::binary, "a .npy file");
  std::error_code ec;
  std::optional<std::uint64_t> size;
  if (std::filesystem::is_regular_file(path, ec)) {
    const std::uintmax_t bytes = std::filesystem::file_size(path, ec);
    if (!ec) size = bytes;
  }
  return parse_npy(in, path, size);
}

std::string detail::npy_bytes(const Eigen::Ref<const Eigen::MatrixXd>& M) {
  std::ostringstream dict;
  dict << "{'descr': '<f8', 'fortran_order': True, 'shape': (" << M.rows() << ", " << M.cols() << "), }";
  std::string header = dict.str();
  // Pad so that magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const auto len = static_cast<std::uint16_t>(header.size());
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(len & 0xff));
  bytes.push_back(static_cast<char>(len >> 8));
  bytes += header;
  const Eigen::MatrixXd dense = M;  // contiguous column-major copy
  bytes.append(reinterpret_cast<const char*>(dense.data()), sizeof(double) * static_cast<size_t>(dense.size()));
  return bytes;
}

void write_npy(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& M) {
  const std::string bytes = detail::npy_bytes(M);
  // Written beside the target and renamed over it once complete and closed: a failed write (a full disk shows at
  // close) leaves the earlier file, never a truncated one under the final name.
  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, "cannot write file");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
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

Eigen::MatrixXd read_npz(const std::string& path, const std::string& key) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, expected a .npz file");
  int error = 0;
  const std::unique_ptr<zip_t, int (*)(zip_t*)> archive(zip_open(path.c_str(), ZIP_RDONLY, &error), zip_close);
  if (!archive) {
    zip_error_t why;
    zip_error_init_with_code(&why, error);
    const std::string text = zip_error_strerror(&why);
    zip_error_fini(&why);
    fail(path, error == ZIP_ER_NOENT || error == ZIP_ER_OPEN ? "cannot open file (" + text + ")"
                                                             : "not a .npz archive (" + text + ")");
  }
  std::vector<std::string> names;
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
    std::string_view n = name ? name : "";
    if (n.ends_with(".npy")) n.remove_suffix(4);
    names.emplace_back(n);
  }
  std::string listed;
  for (size_t i = 0; i < names.size() && i < 8; ++i) listed += (i ? ", " : "") + excerpt(names[i]);
  if (names.size() > 8) listed += ", ...";
  zip_int64_t index = -1;
  if (key.empty()) {
    if (names.size() != 1) {
      fail(path, "holds " + std::to_string(names.size()) + " arrays (" + listed + "): name one as " + path + ":KEY");
    }
    index = 0;
  } else {
    const auto it = std::find(names.begin(), names.end(), key);
    if (it == names.end()) fail(path, "has no array '" + excerpt(key) + "' (it holds: " + listed + ")");
    index = it - names.begin();
  }
  const std::string where = key.empty() ? path : path + ":" + key;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) ||
      !(st.valid & ZIP_STAT_COMP_SIZE)) {
    fail(where, "cannot read the archive's directory entry");
  }
  // Deflate expands at most 1032:1, so an entry claiming more than that of its compressed size — or a compressed size
  // beyond the archive's own — is corrupt (fuzz_npz found a 360-byte archive whose directory claimed 3.7 GB).
  // Refusing it here, and growing the buffer only as bytes arrive below, keeps memory proportional to the file
  // whatever the directory says (the .npy header is checked against the bytes read next).
  constexpr std::uint64_t kMaxDeflateRatio = 1032;
  const std::uint64_t archive_size = std::filesystem::file_size(path, ec);
  if (ec || st.comp_size > archive_size || st.size > kMaxDeflateRatio * st.comp_size + 1024 ||
      st.size > kMaxElements * 8 + (1u << 21)) {
    fail(where, "implausible entry size " + std::to_string(st.size) + " for " + std::to_string(st.comp_size) +
                    " compressed bytes");
  }
  const std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(
      zip_fopen_index(archive.get(), static_cast<zip_uint64_t>(index), 0), zip_fclose);
  if (!file) fail(where, std::string("cannot read entry (") + zip_strerror(archive.get()) + ")");
  std::string bytes;
  std::array<char, 1 << 16> chunk{};
  while (bytes.size() < st.size) {
    const zip_int64_t r =
        zip_fread(file.get(), chunk.data(), std::min<zip_uint64_t>(chunk.size(), st.size - bytes.size()));
    if (r < 0) fail(where, std::string("corrupt entry (") + zip_file_strerror(file.get()) + ")");
    if (r == 0) break;
    bytes.append(chunk.data(), static_cast<size_t>(r));
  }
  const auto got = bytes.size();
  std::istringstream in(std::move(bytes));
  return parse_npy(in, where, got);
}

std::string to_string(CsvHeader header) {
  switch (header) {
    case CsvHeader::present:
      return "true";
    case CsvHeader::absent:
      return "false";
    default:
      return "auto";
  }
}

CsvHeader csv_header_from_string(const std::string& word) {
  if (word == "auto") return CsvHeader::auto_detect;
  if (word == "true") return CsvHeader::present;
  if (word == "false") return CsvHeader::absent;
  throw InputError("problem.header: '" + excerpt(word) + "' is not one of \"auto\", true, false");
}

std::string to_string(CsvDelimiter delimiter) {
  switch (delimiter) {
    case CsvDelimiter::comma:
      return ",";
    case CsvDelimiter::tab:
      return "\t";
    case CsvDelimiter::semicolon:
      return ";";
    case CsvDelimiter::whitespace:
      return "whitespace";
    default:
      return "auto";
  }
}

CsvDelimiter csv_delimiter_from_string(const std::string& word) {
  if (word == "auto") return CsvDelimiter::auto_detect;
  if (word == ",") return CsvDelimiter::comma;
  if (word == "\t" || word == "tab") return CsvDelimiter::tab;
  if (word == ";") return CsvDelimiter::semicolon;
  if (word == " " || word == "whitespace") return CsvDelimiter::whitespace;
  throw InputError("problem.delimiter: '" + excerpt(word) +
                   R"(' is not one of "auto", ",", ";", "\t" (or "tab"), "whitespace")");
}

namespace {

CsvDelimiter detect_delimiter(std::string_view line) {
  if (line.find(';') != std::string_view::npos) return CsvDelimiter::semicolon;
  if (line.find(',') != std::string_view::npos) return CsvDelimiter::comma;
  if (line.find('\t') != std::string_view::npos) return CsvDelimiter::tab;
  return CsvDelimiter::whitespace;
}

// The fields of `line`, trimmed of blanks. With one separator character an empty field is kept (and refused later);
// with `whitespace` fields are the runs of non-blank characters.
void split_fields(std::string_view line, CsvDelimiter delimiter, std::vector<std::string_view>& fields) {
  fields.clear();
  const auto trim = [](std::string_view f) {
    const auto b = f.find_first_not_of(" \t");
    return b == std::string_view::npos ? f.substr(0, 0) : f.substr(b, f.find_last_not_of(" \t") - b + 1);
  };
  if (delimiter == CsvDelimiter::whitespace) {
    size_t pos = 0;
    while ((pos = line.find_first_not_of(" \t", pos)) != std::string_view::npos) {
      const size_t end = std::min(line.find_first_of(" \t", pos), line.size());
      fields.push_back(line.substr(pos, end - pos));
      pos = end;
    }
    return;
  }
  const char sep = delimiter == CsvDelimiter::tab ? '\t' : delimiter == CsvDelimiter::semicolon ? ';' : ',';
  size_t start = 0;
  while (true) {
    const size_t at = line.find(sep, start);
    fields.push_back(trim(line.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start)));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
}

// A field as a number: the whole field must parse (a '+' is skipped once; from_chars takes none, and "+-1" must
// stay refused). NaN and Inf parse, so that they are refused as non-finite data rather than taken for a header.
std::optional<double> parse_number(std::string_view f) {
  if (f.empty()) return std::nullopt;
  const char* begin = f.data();
  if (f.size() > 1 && f[0] == '+' && f[1] != '-' && f[1] != '+') ++begin;
  double v = 0;
  const auto [p, ec] = std::from_chars(begin, f.data() + f.size(), v);
  if (ec != std::errc() || p != f.data() + f.size()) return std::nullopt;
  return v;
}

bool plain_integer(std::string_view f) {
  if (!f.empty() && f[0] == '-') f.remove_prefix(1);
  return !f.empty() && f.find_first_not_of("0123456789") == std::string_view::npos;
}

// "0", "1", …, "n−1" exactly as pandas writes the names of unnamed columns.
bool pandas_range(const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i] != std::to_string(i)) return false;
  }
  return true;
}

std::string join_excerpt(const std::vector<std::string>& fields) {
  std::string text;
  for (size_t i = 0; i < fields.size() && text.size() < kExcerptChars; ++i) text += (i ? "," : "") + fields[i];
  return excerpt(text);
}

}  // namespace

Eigen::MatrixXd read_csv(const std::string& path, const CsvOptions& options, ReadNotes* notes) {
  std::ifstream in = open_input(path, std::ios::in, "a .csv file");
  const auto note = [&](const std::string& text) {
    if (notes) notes->push_back(path + ": " + text);
  };
  // One flat list of values rather than a vector per row: a file of short lines ("1\n" ...) would otherwise cost
  // dozens of bytes of bookkeeping per byte read. The first row is held apart as text until the whole file has been
  // seen, because whether it is a header can depend on the rows below it.
  std::vector<double> values;
  std::vector<std::string> first;
  std::uint64_t first_line = 0;
  bool later_non_integer = false;
  CsvDelimiter delimiter = options.delimiter;
  size_t cols = 0, rows = 0;
  std::string line;
  std::vector<std::string_view> fields;
  // 64-bit because a file of a few GB of blank lines has more than 2^31 of them.
  std::uint64_t line_no = 0;
  const auto separator_hint = [&](std::string_view f) -> std::string {
    if (f.find_first_of(" \t;,") == std::string_view::npos) return "";
    return " (split at '" + excerpt(to_string(delimiter)) +
           (options.delimiter == CsvDelimiter::auto_detect ? "', detected" : "'") + "; see problem.delimiter)";
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos || line[begin] == '#') continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (first_line == 0 && delimiter == CsvDelimiter::auto_detect) {
      delimiter = detect_delimiter(line);
      if (delimiter == CsvDelimiter::tab) note("fields separated by tabs (detected; problem.delimiter sets it)");
      if (delimiter == CsvDelimiter::semicolon) note("fields separated by ';' (detected; problem.delimiter sets it)");
      if (delimiter == CsvDelimiter::whitespace && line.find_first_of(" \t", begin) != std::string::npos) {
        note("fields separated by blanks (detected; problem.delimiter sets it)");
      }
    }
    split_fields(line, delimiter, fields);
    if (delimiter != CsvDelimiter::whitespace && fields.size() > 1 && fields.back().empty()) {
      const char* name = delimiter == CsvDelimiter::tab         ? "tab"
                         : delimiter == CsvDelimiter::semicolon ? "semicolon"
                                                                : "comma";
      fail(path, where + "trailing " + name + " in '" + excerpt(line) + "'");
    }
    if (first_line == 0) {
      first_line = line_no;
      first.assign(fields.begin(), fields.end());
      cols = first.size();
      continue;
    }
    if (fields.size() != cols) {
      fail(path, where + std::to_string(fields.size()) + " fields, expected " + std::to_string(cols) + " ('" +
                     excerpt(line) + "')");
    }
    for (const std::string_view f : fields) {
      const auto v = parse_number(f);
      if (!v || !std::isfinite(*v))
        fail(path, where + "'" + excerpt(f) + "' is not a finite number" + separator_hint(f));
      if (!later_non_integer && !plain_integer(f)) later_non_integer = true;
      values.push_back(*v);
    }
    ++rows;
  }
  if (first_line == 0) fail(path, "no numeric rows");

  bool header = options.header == CsvHeader::present;
  // A lone row is data: a header needs rows below it, and its error then names the field that is not a number.
  if (options.header == CsvHeader::auto_detect && rows > 0) {
    const auto text = std::find_if(first.begin(), first.end(), [](const std::string& f) { return !parse_number(f); });
    if (text != first.end()) {
      header = true;
      note("first row '" + join_excerpt(first) +
           "' is not numeric: read as a header (problem.header = false refuses it)");
    } else if (pandas_range(first) && (first.size() >= 3 || later_non_integer)) {
      header = true;
      note("first row '" + join_excerpt(first) +
           "' read as a header (the column names pandas writes); problem.header = false reads it as data");
    }
  }
  const std::string where_first = "line " + std::to_string(first_line) + ": ";
  if (!header) {
    std::vector<double> row;
    for (const std::string& f : first) {
      const auto v = parse_number(f);
      if (!v || !std::isfinite(*v)) {
        fail(path, where_first + "'" + excerpt(f) + "' is not a finite number" + separator_hint(f) +
                       (options.header == CsvHeader::absent ? " (problem.header = false)" : ""));
      }
      row.push_back(*v);
    }
    values.insert(values.begin(), row.begin(), row.end());
    ++rows;
  }
  if (rows == 0) fail(path, "no numeric rows (only a header '" + join_excerpt(first) + "')");
  Eigen::MatrixXd m = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      values.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  // pandas' to_csv writes the row index as a first column whose header cell is empty.
  if (header && first.front().empty()) {
    if (cols < 2) fail(path, where_first + "the header's only cell is empty");
    note("first column read as the row index and dropped (its header cell is empty, as pandas writes an index)");
    return m.rightCols(m.cols() - 1);
  }
  return m;
}

Eigen::MatrixXd read_matrix(const std::string& path, const CsvOptions& options, ReadNotes* notes) {
  if (path.ends_with(".npy")) return read_npy(path);
  if (path.ends_with(".csv")) return read_csv(path, options, notes);
  if (path.ends_with(".npz")) return read_npz(path);
  const auto at = path.rfind(".npz:");
  if (at != std::string::npos) return read_npz(path.substr(0, at + 4), path.substr(at + 5));
  throw InputError(path + ": unknown file type (expected .npy, .npz, .npz:KEY or .csv)");
}

}  // namespace linflow
