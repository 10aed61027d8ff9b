// Matrix files: .npy (both memory orders, float64/float32) and CSV, with every malformed input rejected by name.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/files.hpp"
#include "linflow/error.hpp"
#include "linflow/io.hpp"

// The largest single operator-new request since the last reset: a reader must size its buffers by the bytes
// it has, not by what a header claims, and this is how the tests see it.
namespace {
std::atomic<std::size_t> g_largest_new{0};
}  // namespace

void* operator new(std::size_t size) {
  std::size_t seen = g_largest_new.load(std::memory_order_relaxed);
  while (size > seen && !g_largest_new.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC pairs free with the operator new it sees called at each delete site and warns; here new is malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace linflow {
namespace {

const std::string kData = LINFLOW_TEST_DATA;

Eigen::MatrixXd expected_target() {
  Eigen::MatrixXd Z(3, 4);
  Z << 1.0, 0.5, 0.0, 0.2, 0.0, 2.0, 0.1, 0.0, 0.3, 0.0, 0.0, 1.0;
  return Z;
}

// The files in tests/data were written by NumPy (np.save), so these tests check compatibility with the real thing.
TEST(Npy, ReadsNumpyFilesInBothMemoryOrders) {
  EXPECT_EQ(read_npy(kData + "/target_3x4.npy"), expected_target());
  EXPECT_EQ(read_npy(kData + "/target_3x4_fortran.npy"), expected_target());
  EXPECT_EQ(read_npy(kData + "/target_3x4_f32_c.npy"), expected_target().cast<float>().cast<double>());
}

TEST(Npy, WriteThenReadIsExact) {
  const auto path = (std::filesystem::temp_directory_path() / "linflow_test_roundtrip.npy").string();
  Eigen::MatrixXd M(2, 5);
  M << 1.0 / 3, -2.5e-300, 7, 0, 1e300, -0.0, 3.25, 1e-17, 8, 9;
  write_npy(path, M);
  EXPECT_EQ(read_npy(path), M);
  std::filesystem::remove(path);
}

void expect_input_error(const std::string& path, const std::string& fragment) {
  try {
    read_matrix(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(Npy, RejectsMalformedFilesNamingThem) {
  expect_input_error(kData + "/missing.npy", "cannot open");
  expect_input_error(kData + "/garbage.npy", "not a .npy file");
  expect_input_error(kData + "/truncated.npy", "truncated");
  expect_input_error(kData + "/int64_inexact.npy",
                     "element 1 (9007199254740993) of this int64 array has no exact double");
  expect_input_error(kData + "/inf_3x4.npy", "NaN or Inf");
}

TEST(Npy, IntegerAndBooleanArraysConvertExactly) {
  Eigen::MatrixXd ints(2, 3);
  ints << 0, 1, 2, 3, 4, 5;
  EXPECT_EQ(read_npy(kData + "/int64.npy"), ints);
  EXPECT_EQ(read_npy(kData + "/uint8_2x3.npy"), ints);
  EXPECT_EQ(read_npy(kData + "/int32_2x3.npy"), (ints.array() - 3).matrix());
  Eigen::MatrixXd bools(2, 3);
  bools << 1, 0, 1, 0, 0, 1;
  EXPECT_EQ(read_npy(kData + "/bool_2x3.npy"), bools);
}

// The layout files hold x_4x12.npy and y_3x12.npy with samples as rows, as NumPy and pandas write them
// (tests/data/make_layouts.py); every reader must give back the very same doubles.
TEST(Npz, ReadsStoredAndDeflatedArchivesByKey) {
  const Eigen::MatrixXd X = read_npy(kData + "/x_4x12.npy");
  const Eigen::MatrixXd Y = read_npy(kData + "/y_3x12.npy");
  EXPECT_EQ(read_matrix(kData + "/xy_rows.npz:X"), X.transpose());
  EXPECT_EQ(read_matrix(kData + "/xy_rows.npz:Y"), Y.transpose());
  EXPECT_EQ(read_matrix(kData + "/xy_columns_compressed.npz:X"), X);
  EXPECT_EQ(read_matrix(kData + "/target_3x4.npz"), expected_target());
  EXPECT_EQ(read_npz(kData + "/target_3x4.npz", "arr_0"), expected_target());
}

// fuzz_npz's finding (fuzz/corpus/npz/lying-directory-size): a 360-byte archive whose directory claims 3.7 GB for
// its entry. Refused with one line, allocating nothing of that size (libFuzzer stopped at a 3.7 GB malloc before).
TEST(Npz, AnEntryClaimingMoreThanTheArchiveCanHoldIsRefused) {
  try {
    read_matrix(kData + "/npz_lying_size.npz");
    ADD_FAILURE() << "a corrupt archive was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("npz_lying_size.npz"), std::string::npos) << e.what();
  }
}

TEST(Npz, NamesTheArraysWhenTheKeyIsMissingOrWrong) {
  try {
    read_matrix(kData + "/xy_rows.npz");
    ADD_FAILURE() << "an archive of two arrays was read without a key";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("holds 2 arrays (X, Y): name one as"), std::string::npos) << e.what();
  }
  try {
    read_matrix(kData + "/xy_rows.npz:Z");
    ADD_FAILURE() << "a missing key was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has no array 'Z' (it holds: X, Y)"), std::string::npos) << e.what();
  }
  expect_input_error(kData + "/target_3x4.npy.npz", "cannot open file");
}

TEST(Csv, ReadsNumericMatricesWithComments) { EXPECT_EQ(read_csv(kData + "/target_3x4.csv"), expected_target()); }

TEST(Csv, PandasHeadersIndexAndDelimitersAreDetectedAndNoted) {
  const Eigen::MatrixXd Xt = read_npy(kData + "/x_4x12.npy").transpose();
  const Eigen::MatrixXd Yt = read_npy(kData + "/y_3x12.npy").transpose();
  const auto read_noting = [](const std::string& name, const CsvOptions& options, ReadNotes& notes) {
    notes.clear();
    return read_csv(kData + "/" + name, options, &notes);
  };
  ReadNotes notes;
  EXPECT_EQ(read_noting("x_rows_pandas_index.csv", {}, notes), Xt);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("is not numeric: read as a header"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("first column read as the row index"), std::string::npos) << notes[1];
  EXPECT_EQ(read_noting("y_rows_pandas.csv", {}, notes), Yt);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("first row '0,1,2' read as a header (the column names pandas writes)"), std::string::npos);
  EXPECT_EQ(read_noting("x_rows_tab.csv", {}, notes), Xt);
  EXPECT_EQ(notes,
            ReadNotes{kData + "/x_rows_tab.csv: fields separated by tabs (detected; problem.delimiter sets it)"});
  EXPECT_EQ(read_noting("x_rows_blank.csv", {}, notes), Xt);
  EXPECT_EQ(read_noting("y_rows_semicolon.csv", {}, notes), Yt);
  EXPECT_EQ(notes.size(), 1u);
  // Set by hand: the pandas header read as data is refused by position, and a forced header is skipped.
  EXPECT_THROW(read_csv(kData + "/x_rows_pandas_index.csv", {CsvHeader::absent, CsvDelimiter::auto_detect}),
               InputError);
  EXPECT_EQ(read_csv(kData + "/y_rows_semicolon.csv", {CsvHeader::present, CsvDelimiter::semicolon}),
            Yt.bottomRows(11));
  EXPECT_EQ(read_csv(kData + "/y_rows_pandas.csv", {CsvHeader::auto_detect, CsvDelimiter::comma}), Yt);
}

TEST(Csv, ConfigWordsRoundTrip) {
  for (const auto h : {CsvHeader::auto_detect, CsvHeader::present, CsvHeader::absent}) {
    EXPECT_EQ(csv_header_from_string(to_string(h)), h);
  }
  for (const auto d : {CsvDelimiter::auto_detect, CsvDelimiter::comma, CsvDelimiter::tab, CsvDelimiter::semicolon,
                       CsvDelimiter::whitespace}) {
    EXPECT_EQ(csv_delimiter_from_string(to_string(d)), d);
  }
  EXPECT_EQ(csv_delimiter_from_string("tab"), CsvDelimiter::tab);
  EXPECT_THROW(csv_delimiter_from_string("|"), InputError);
  EXPECT_THROW(csv_header_from_string("yes"), InputError);
}

TEST(Csv, RejectsNonNumericAndRaggedFiles) {
  expect_input_error(kData + "/nan.csv", "not a finite number");
  expect_input_error(kData + "/ragged.csv", "fields, expected 2");
  expect_input_error(kData + "/small.toml", "unknown file type");
}

// Crafted files are written by the tests themselves into a fresh directory per test: a corrupt header is
// easiest to read next to the assertion about it.
class BadFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        std::filesystem::temp_directory_path() / ("linflow_test_io_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) const {
    auto path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  // A version-1 .npy file laid out as NumPy writes it: the header dict padded with spaces so that the data
  // starts at a multiple of 64 bytes.
  static std::string npy(const std::string& dict, const std::string& data) {
    std::string header = dict;
    constexpr std::size_t kPreamble = 10;  // magic (6), version (2), header length (2)
    header.append((64 - (kPreamble + header.size() + 1) % 64) % 64, ' ');
    header.push_back('\n');
    std::string out("\x93NUMPY\x01\x00", 8);
    out.push_back(static_cast<char>(header.size() & 0xff));
    out.push_back(static_cast<char>(header.size() >> 8));
    return out + header + data;
  }
  static std::string npy_shape(const std::string& shape, const std::string& data, const std::string& descr = "<f8") {
    return npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }", data);
  }

  std::filesystem::path dir_;
};

// The message a reader throws for `path`, which must be an InputError that names the file.
std::string input_error(const std::string& path) {
  try {
    read_matrix(path);
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    return what.substr(path.size() + 2);
  } catch (const std::exception& e) {
    ADD_FAILURE() << path << " threw a " << typeid(e).name() << " instead of InputError: " << e.what();
    return {};
  }
  ADD_FAILURE() << path << " was accepted";
  return {};
}

bool printable_one_line(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

TEST_F(BadFiles, NpyShapeWhoseSizeOverflowsIsRefused) {
  // (2^32, 2^32) wrapped to 0 elements in signed arithmetic and passed the size check: a 145-byte crash.
  const auto wrap = write("wrap.npy", npy_shape("(4294967296, 4294967296)", std::string(17, '\0')));
  EXPECT_NE(input_error(wrap).find("absurd .npy shape 4294967296 x 4294967296"), std::string::npos);
  const auto int64_max = write("int64_max.npy", npy_shape("(3, 9223372036854775807)", ""));
  EXPECT_NE(input_error(int64_max).find("absurd .npy shape 3 x 9223372036854775807"), std::string::npos);
  // Elements fit in 64 bits, bytes do not.
  const auto bytes = write("bytes.npy", npy_shape("(2305843009213693952,)", ""));
  EXPECT_NE(input_error(bytes).find("absurd .npy shape 2305843009213693952 (its size"), std::string::npos);
  const auto too_big = write("too_big.npy", npy_shape("(99999999999999999999, 1)", ""));
  EXPECT_NE(input_error(too_big).find("malformed .npy shape"), std::string::npos);
}

TEST_F(BadFiles, NpyHeaderPromisingMoreDataThanTheFileHoldsIsRefusedBeforeAllocating) {
  const auto path = write("promise.npy", npy_shape("(3, 4294967296)", std::string(16, '\0')));
  g_largest_new = 0;
  EXPECT_EQ(input_error(path),
            "truncated data: header promises 3 x 4294967296 float64 (103079215104 bytes), file holds 16");
  EXPECT_LT(g_largest_new.load(), std::size_t{1} << 16);
  // 2^31 float64 values (16 GiB): within the element limit, so only the file size stands between it and the heap.
  const auto f32 = write("f32.npy", npy_shape("(32768, 65536)", std::string(8, '\0'), "<f4"));
  g_largest_new = 0;
  EXPECT_EQ(input_error(f32), "truncated data: header promises 32768 x 65536 float32 (8589934592 bytes), file holds 8");
  EXPECT_LT(g_largest_new.load(), std::size_t{1} << 16);
  const auto one_short = write("one_short.npy", npy_shape("(3,)", std::string(23, '\0')));
  EXPECT_EQ(input_error(one_short), "truncated data: header promises 3 float64 (24 bytes), file holds 23");
}

TEST_F(BadFiles, NpyFromAPipeIsReadOnlyAsFarAsItsDataGoes) {
  // A pipe has no size to check up front, so the reader must grow its buffer with the bytes that arrive.
  const auto path = (dir_ / "pipe.npy").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // 2^31 float64 values: within the element limit, so nothing but the data itself bounds the buffer.
  const std::string bytes = npy_shape("(32768, 65536)", std::string(16, '\0'));
  std::thread writer([&] {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
  g_largest_new = 0;
  const std::string what = input_error(path);
  writer.join();
  EXPECT_EQ(what, "truncated data: header promises 32768 x 65536 float64 (17179869184 bytes), file holds 16");
  EXPECT_LE(g_largest_new.load(), std::size_t{2} << 20);
}

TEST_F(BadFiles, NpyMalformedShapeIsAnInputError) {
  const std::pair<const char*, const char*> cases[] = {
      {"'shape': , }", "malformed .npy shape ''"},
      {"'shape': }", "malformed .npy shape ''"},
      {"'shape': 3}", "malformed .npy shape '3'"},
      {"'shape': (, }", "malformed .npy header: unterminated shape"},
      {"'shape': (3,,,,4,,), }", "malformed .npy shape '(3,,,,4,,)'"},
      {"'shape': (3,,4), }", "malformed .npy shape '(3,,4)'"},
      {"'shape': (,), }", "malformed .npy shape '(,)'"},
      {"'shape': (,3), }", "malformed .npy shape '(,3)'"},
      {"'shape': (3 4), }", "malformed .npy shape '(3 4)'"},
      {"'shape': (-3, 4), }", "malformed .npy shape '(-3, 4)'"},
      {"'shape': (3.0, 4), }", "malformed .npy shape '(3.0, 4)'"},
      {"'shape': (2, 3, 4), }", "expected a 1-D or 2-D array, got 3 dimensions"},
      {"'shape': (), }", "expected a 1-D or 2-D array, got 0 dimensions"},
      {"'shape': (0, 4), }", "array is empty"},
  };
  int i = 0;
  for (const auto& [shape, expected] : cases) {
    const auto path =
        write("shape" + std::to_string(i++) + ".npy",
              npy(std::string("{'descr': '<f8', 'fortran_order': False, ") + shape, std::string(96, '\0')));
    EXPECT_NE(input_error(path).find(expected), std::string::npos) << shape;
  }
}

TEST_F(BadFiles, NpyShapeMayEndInOneComma) {
  const auto column = write("column.npy", npy_shape("(3,)", std::string(24, '\0')));
  EXPECT_EQ(read_npy(column), Eigen::MatrixXd::Zero(3, 1));
  const auto matrix = write("matrix.npy", npy_shape("( 2 , 3 , )", std::string(48, '\0')));
  EXPECT_EQ(read_npy(matrix), Eigen::MatrixXd::Zero(2, 3));
}

TEST_F(BadFiles, NpyHeaderTextIsQuotedSanitized) {
  const auto path = write("descr.npy", npy_shape("(1,)", std::string(8, '\0'), std::string("\x1b[2J\0f8", 7)));
  const std::string what = input_error(path);
  EXPECT_NE(what.find("unsupported dtype '\\x1b[2J\\x00f8'"), std::string::npos) << what;
  EXPECT_TRUE(printable_one_line(what)) << what;
}

TEST_F(BadFiles, DirectoryIsReportedAsADirectory) {
  std::filesystem::create_directory(dir_ / "weights.npy");
  std::filesystem::create_directory(dir_ / "target.csv");
  EXPECT_EQ(input_error((dir_ / "weights.npy").string()), "is a directory, expected a .npy file");
  EXPECT_EQ(input_error((dir_ / "target.csv").string()), "is a directory, expected a .csv file");
  EXPECT_EQ(input_error((dir_ / "absent.npy").string()), "cannot open file (No such file or directory)");
}

TEST_F(BadFiles, CsvErrorQuotesAShortSanitizedExcerpt) {
  const auto nul = write("nul.csv", std::string("1,2\n3,\0"
                                                "4\n",
                                                9));
  EXPECT_EQ(input_error(nul), "line 2: '\\x004' is not a finite number");
  const auto escape = write("escape.csv", "1,\x1b[31mred\\\n");
  EXPECT_EQ(input_error(escape), "line 1: '\\x1b[31mred\\\\' is not a finite number");
  // A field of a megabyte is not echoed whole.
  const auto huge = write("huge.csv", "1," + std::string(1 << 20, 'x') + "\n");
  const std::string what = input_error(huge);
  EXPECT_EQ(what, "line 1: '" + std::string(40, 'x') + "...' is not a finite number");
  const auto ragged = write("ragged.csv", "1,2\n3,4,\t" + std::string(100, '5') + "\n");
  const std::string r = input_error(ragged);
  EXPECT_EQ(r.rfind("line 2: 3 fields, expected 2 ('3,4,\\x09555", 0), 0u) << r;
  EXPECT_LT(r.size(), 100u);
  const auto trailing = write("trailing.csv", "1,2,\n");
  EXPECT_EQ(input_error(trailing), "line 1: trailing comma in '1,2,'");
}

TEST_F(BadFiles, CsvHeaderRulesKeepDataThatLooksLikeAHeader) {
  ReadNotes notes;
  // 0,1 over integer rows is data (one-hot labels); over non-integers it is pandas' header.
  const auto labels = write("labels.csv", "0,1\n1,0\n");
  EXPECT_EQ(read_csv(labels, {}, &notes).rows(), 2);
  EXPECT_TRUE(notes.empty());
  const auto named = write("named.csv", "0,1\n0.5,2\n");
  EXPECT_EQ(read_csv(named, {}, &notes).rows(), 1);
  EXPECT_EQ(notes.size(), 1u);
  // A lone row is data, so its error names the field (no header with nothing below it).
  EXPECT_EQ(input_error(write("lone.csv", "a,b\n")), "line 1: 'a' is not a finite number");
  // Whitespace-separated data read as commas quotes a short excerpt and says how fields were split.
  std::string wide;
  for (int i = 0; i < 1300; ++i) wide += "1.5 ";
  const auto spaces = write("spaces.csv", wide + "\n" + wide + "\n");
  EXPECT_EQ(read_csv(spaces, {}, &notes).cols(), 1300);
  const auto forced = [&] {
    try {
      read_csv(spaces, {CsvHeader::absent, CsvDelimiter::comma});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(forced.find("is not a finite number (split at ','; see problem.delimiter)"), std::string::npos) << forced;
  EXPECT_LT(forced.size(), 200u);
}

TEST_F(BadFiles, NpzThatIsNotAnArchiveIsNamed) {
  EXPECT_EQ(input_error(write("garbage.npz", "not a zip file at all")).rfind("not a .npz archive (", 0), 0u);
  // An array that is not a .npy inside the archive is reported under PATH:KEY.
  EXPECT_EQ(input_error(write("bool.npy", npy_shape("(2,)", std::string("\x01\x02", 2), "|b1"))),
            "element 1 of this bool array is the byte 2");
}

TEST_F(BadFiles, CsvSignIsTakenOnce) {
  const auto plus = write("plus.csv", "+1, -2\n");
  Eigen::MatrixXd expected(1, 2);
  expected << 1, -2;
  EXPECT_EQ(read_csv(plus), expected);
  const auto both = write("both.csv", "+-1, 2\n");
  EXPECT_EQ(input_error(both), "line 1: '+-1' is not a finite number");
  const auto twice = write("twice.csv", "++1, 2\n");
  EXPECT_EQ(input_error(twice), "line 1: '++1' is not a finite number");
}

// The files a failed atomic write leaves: none besides what was there. Failures are provoked without root: a rename
// onto a non-empty directory, and a write past RLIMIT_FSIZE (EFBIG, as on a full disk, with SIGXFSZ ignored).
class FailedWrite : public BadFiles {
 protected:
  std::vector<std::string> temporaries() const {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      if (entry.path().extension() == ".tmp") found.push_back(entry.path().string());
    }
    return found;
  }
};

TEST_F(FailedWrite, ARenameThatFailsLeavesNoTemporary) {
  const auto target = dir_ / "summary.json";
  std::filesystem::create_directories(target / "inside");  // a non-empty directory cannot be renamed over
  EXPECT_THROW(detail::write_file_atomically(target, "{}\n"), InputError);
  EXPECT_THROW(write_npy(target.string(), Eigen::MatrixXd::Ones(2, 2)), InputError);
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();
  EXPECT_TRUE(std::filesystem::is_directory(target / "inside"));
}

TEST_F(FailedWrite, AWriteThatFailsLeavesNoTemporaryAndTheOldFile) {
  const auto target = dir_ / "summary.json";
  detail::write_file_atomically(target, "old\n");
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 16;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  try {
    detail::write_file_atomically(target, std::string(1000, 'x'));
  } catch (const InputError& e) {
    threw = std::string(e.what()).find("write failed") != std::string::npos;
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  EXPECT_TRUE(threw);
  EXPECT_TRUE(temporaries().empty()) << temporaries().front();
  std::ifstream in(target);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "old");
}

}  // namespace
}  // namespace linflow
