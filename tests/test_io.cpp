// Matrix files: .npy (both memory orders, float64/float32) and CSV, with every malformed input rejected by name.
#include <gtest/gtest.h>

#include <filesystem>

#include "linflow/error.hpp"
#include "linflow/io.hpp"

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
  expect_input_error(kData + "/int64.npy", "unsupported dtype");
  expect_input_error(kData + "/inf_3x4.npy", "NaN or Inf");
}

TEST(Csv, ReadsNumericMatricesWithComments) { EXPECT_EQ(read_csv(kData + "/target_3x4.csv"), expected_target()); }

TEST(Csv, RejectsNonNumericAndRaggedFiles) {
  expect_input_error(kData + "/nan.csv", "not a finite number");
  expect_input_error(kData + "/ragged.csv", "fields, expected 2");
  expect_input_error(kData + "/small.toml", "unknown file type");
}

}  // namespace
}  // namespace linflow
