#pragma once
// C = α op(A) op(B) for the column-major, unit-stride matrices of the loss and gradient evaluation (private).
//
// With OpenBLAS (LINFLOW_OPENBLAS) a product goes straight to dgemm with β = 0. Eigen's own route to the same
// dgemm first zeroes C and then adds (β = 1), and dispatches on the expression: at d = 8 that is 58 ns against
// 41 ns for the bare call, at d = 16 209 against 175 ns (docs/performance.md). Tiny and vector-shaped products
// (m + n + k < 20, the threshold below which Eigen inlines a product, or m = 1, n = 1) stay with Eigen.
#include <Eigen/Dense>

namespace linflow::detail {

enum class Op { none, transpose };

constexpr Op flip(Op op) { return op == Op::none ? Op::transpose : Op::none; }

template <class C, class A, class B>
void gemm(C&& c, Op op_a, const A& a, Op op_b, const B& b, double alpha = 1.0) {
  const Eigen::Index m = c.rows(), n = c.cols(), k = op_a == Op::none ? a.cols() : a.rows();
  eigen_assert((op_a == Op::none ? a.rows() : a.cols()) == m && (op_b == Op::none ? b.cols() : b.rows()) == n);
#ifdef LINFLOW_OPENBLAS
  if (m > 1 && n > 1 && m + n + k >= 20) {
    eigen_assert(a.outerStride() == a.rows() && b.outerStride() == b.rows() && c.outerStride() == c.rows());
    const char ta = op_a == Op::none ? 'N' : 'T', tb = op_b == Op::none ? 'N' : 'T';
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int lda = static_cast<int>(a.rows()), ldb = static_cast<int>(b.rows()), ldc = static_cast<int>(m);
    const double beta = 0.0;
    dgemm_(&ta, &tb, &mi, &ni, &ki, &alpha, a.data(), &lda, b.data(), &ldb, &beta, c.data(), &ldc);
    return;
  }
#endif
  if (op_a == Op::none && op_b == Op::none) {
    c.noalias() = alpha * a * b;
  } else if (op_a == Op::none) {
    c.noalias() = alpha * a * b.transpose();
  } else if (op_b == Op::none) {
    c.noalias() = alpha * a.transpose() * b;
  } else {
    c.noalias() = alpha * a.transpose() * b.transpose();
  }
}

}  // namespace linflow::detail
