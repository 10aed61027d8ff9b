#pragma once
// Planned matrix products C = op(A) op(B) for the loss and gradient evaluation (private).
//
// An Objective evaluates the same few products, of shapes fixed when it is built, millions of times. A Product is
// planned once for its shapes and transpositions and then always takes the same route (all operands column-major
// with unit stride, β = 0). The routes and their limits are measured on the project machine (docs/performance.md):
// - libxsmm's just-in-time kernels (built with LINFLOW_LIBXSMM) for A·B, A·Bᵀ and Aᵀ·B up to m·n·k = 12³ (libxsmm
//   has no Aᵀ·B kernel: A is transposed first, by a jitted kernel too, 6 ns at d = 8). In isolation its kernels
//   beat OpenBLAS's dgemm up to d = 128 (BM_Product: 18 against 47 ns at d = 8, 73 against 89 µs at d = 128), but
//   inside the evaluation only at d = 8; at d = 16 and 32 they made it 1.2× slower (cause not found; not
//   alignment). Aᵀ·Bᵀ = (B·A)ᵀ through libxsmm (B·A, then a transpose by libxsmm or by Eigen, or Aᵀ first) made
//   DOP853 runs on 8-8-8-8 networks 10 % faster but Dormand–Prince 5(4) runs 2× slower (cause not found either), so
//   Aᵀ·Bᵀ stays with OpenBLAS, which runs it as fast as A·B.
// - OpenBLAS's dgemm (LINFLOW_OPENBLAS) otherwise. Its Aᵀ·B is its slow case (78 ns against 47 for A·B at d = 8,
//   12.6 against 9.6 µs at d = 64): A is transposed first where that costs less, up to m·k = 64² with libxsmm's
//   transpose kernel (0.8 µs at d = 64), 24² with Eigen's.
// - Eigen, for the products Eigen inlines (m + n + k < 20), vector-shaped ones, and builds without either library.
// A kernel libxsmm cannot generate (no JIT on the CPU, a shape out of its range) falls back to the next route.
#include <Eigen/Dense>

namespace linflow::detail {

enum class Op { none, transpose };

class Product {
 public:
  enum class Route { eigen, blas, transpose_then_blas, xsmm, transpose_then_xsmm };

  /// C is m × n and op(A) · op(B) has inner dimension k. jit = false plans without libxsmm (for the benchmark that
  /// compares the routes).
  Product(Eigen::Index m, Eigen::Index n, Eigen::Index k, Op op_a, Op op_b, bool jit = true);

  /// C = op(A) op(B); C, A, B dense column-major of the planned shapes, C not aliasing A or B.
  template <class C, class A, class B>
  void operator()(C&& c, const A& a, const B& b) {
    eigen_assert(c.rows() == m_ && c.cols() == n_);
    eigen_assert((op_a_ == Op::none ? a.rows() : a.cols()) == m_ && (op_a_ == Op::none ? a.cols() : a.rows()) == k_);
    eigen_assert((op_b_ == Op::none ? b.rows() : b.cols()) == k_ && (op_b_ == Op::none ? b.cols() : b.rows()) == n_);
    eigen_assert(c.outerStride() == c.rows() && a.outerStride() == a.rows() && b.outerStride() == b.rows());
    run(c.data(), a.data(), b.data());
  }

  Route route() const { return route_; }

 private:
  // libxsmm's kernel types (libxsmm_dmmfunction, libxsmm_xtransfunction), spelled out to keep its header private.
  using GemmKernel = void (*)(const double* a, const double* b, double* c, ...);
  using TransposeKernel = void (*)(const void* in, const unsigned* ldi, void* out, const unsigned* ldo);

  void run(double* c, const double* a, const double* b);

  Eigen::Index m_, n_, k_;
  Op op_a_, op_b_;
  Route route_ = Route::eigen;
  GemmKernel kernel_ = nullptr;
  TransposeKernel transpose_ = nullptr;
  Eigen::MatrixXd scratch_;  // the transposed operand or result of the two-step routes
};

}  // namespace linflow::detail
