// Planned matrix products (src/core/products.hpp): every route agrees with Eigen's product on rectangular and
// vector-shaped operands, and small products take the just-in-time kernels when linflow is built with libxsmm.
#include <gtest/gtest.h>

#include <random>
#include <tuple>

#include "core/products.hpp"

namespace linflow::detail {
namespace {

// A product of inner dimension k rounds each entry k times: k ε ‖A‖ ‖B‖ bounds the difference of two orders.
constexpr double kRoundingPerTerm = 4 * 2.220446049250313e-16;

Eigen::MatrixXd random(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> n01;
  Eigen::MatrixXd M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M(i) = n01(rng);
  return M;
}

using Shape3 = std::tuple<int, int, int>;

class ProductTest : public ::testing::TestWithParam<std::tuple<Shape3, Op, Op, bool>> {};

TEST_P(ProductTest, AgreesWithEigen) {
  const auto [shape, op_a, op_b, jit] = GetParam();
  const auto [m, n, k] = shape;
  std::mt19937_64 rng(static_cast<unsigned>(m * 10007 + n * 101 + k));
  const Eigen::MatrixXd A = op_a == Op::none ? random(m, k, rng) : random(k, m, rng);
  const Eigen::MatrixXd B = op_b == Op::none ? random(k, n, rng) : random(n, k, rng);
  const Eigen::MatrixXd opA = op_a == Op::none ? A : Eigen::MatrixXd(A.transpose());
  const Eigen::MatrixXd opB = op_b == Op::none ? B : Eigen::MatrixXd(B.transpose());
  const Eigen::MatrixXd expected = opA * opB;

  Product product(m, n, k, op_a, op_b, jit);
  Eigen::MatrixXd C = Eigen::MatrixXd::Constant(m, n, 1e300);  // β = 0: nothing of C may survive
  for (int rep = 0; rep < 2; ++rep) {                          // the two-step routes reuse their scratch
    product(C, A, B);
    const double tol = kRoundingPerTerm * k * (opA.cwiseAbs() * opB.cwiseAbs()).maxCoeff();
    ASSERT_LE((C - expected).cwiseAbs().maxCoeff(), tol) << "route " << static_cast<int>(product.route());
  }
}

INSTANTIATE_TEST_SUITE_P(ShapesAndTranspositions, ProductTest,
                         ::testing::Combine(::testing::Values(Shape3{8, 8, 8}, Shape3{5, 7, 3}, Shape3{8, 1, 8},
                                                              Shape3{1, 8, 8}, Shape3{8, 8, 1}, Shape3{24, 17, 30},
                                                              Shape3{40, 33, 20}, Shape3{64, 64, 64},
                                                              Shape3{70, 90, 130}, Shape3{64, 600, 64}),
                                            ::testing::Values(Op::none, Op::transpose),
                                            ::testing::Values(Op::none, Op::transpose), ::testing::Bool()));

#ifdef LINFLOW_LIBXSMM
TEST(Product, SmallProductsTakeTheJitKernels) {
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "the jitted routes need AVX";
  EXPECT_EQ(Product(8, 8, 8, Op::none, Op::none).route(), Product::Route::xsmm);
  EXPECT_EQ(Product(8, 8, 8, Op::none, Op::transpose).route(), Product::Route::xsmm);
  EXPECT_EQ(Product(8, 8, 8, Op::transpose, Op::none).route(), Product::Route::transpose_then_xsmm);
  EXPECT_EQ(Product(8, 8, 8, Op::transpose, Op::transpose).route(), Product::Route::xsmm_then_transpose);
  EXPECT_EQ(Product(64, 64, 64, Op::none, Op::none).route(), Product::Route::xsmm);
  EXPECT_NE(Product(8, 8, 8, Op::none, Op::none, false).route(), Product::Route::xsmm);
  // Above m·n·k = 128³ the library routes take over (src/core/products.hpp).
  EXPECT_NE(Product(256, 256, 256, Op::none, Op::none).route(), Product::Route::xsmm);
#ifdef LINFLOW_OPENBLAS
  EXPECT_EQ(Product(64, 600, 64, Op::transpose, Op::none).route(), Product::Route::transpose_then_blas);
#endif
}
#endif

#ifdef LINFLOW_OPENBLAS
extern "C" void openblas_set_num_threads(int threads);
extern "C" int blas_thread_shutdown_() __attribute__((weak));

// The CLI stops OpenBLAS's worker threads after setting it to one thread (src/cli/main.cpp): products large
// enough for OpenBLAS's threaded path still work, single-threaded, and agree with Eigen's own product.
TEST(Product, OpenBlasWithoutItsWorkerThreads) {
  openblas_set_num_threads(1);
  if (blas_thread_shutdown_ != nullptr) {
    EXPECT_EQ(blas_thread_shutdown_(), 0);
  }
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd a = random(400, 300, rng), b = random(300, 500, rng);
  const Eigen::MatrixXd c = a * b;  // EIGEN_USE_BLAS: OpenBLAS's dgemm
  const Eigen::MatrixXd reference = a.lazyProduct(b);
  EXPECT_LE((c - reference).cwiseAbs().maxCoeff(), kRoundingPerTerm * 300 * (a.cwiseAbs() * b.cwiseAbs()).maxCoeff());
}
#endif

}  // namespace
}  // namespace linflow::detail
