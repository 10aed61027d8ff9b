#pragma once
// Planned matrix products C = op(A) op(B) for the loss and gradient evaluation (private).
//
// An Objective evaluates the same few products, of shapes fixed when it is built, millions of times. A Product is
// planned once for its shapes and transpositions and then always takes the same route (all operands column-major
// with unit stride, β = 0). The routes and their limits are measured on the project machine (docs/performance.md):
// - libxsmm's just-in-time kernels (built with LINFLOW_LIBXSMM, on CPUs with AVX) up to m·n·k = 128³. libxsmm
//   generates A·B and A·Bᵀ; Aᵀ·B is a transpose of A (a jitted kernel too, 6 ns at d = 8) and A·B, Aᵀ·Bᵀ = (B·A)ᵀ
//   is B·A and a transpose of the result. Each jitted call ends with vzeroupper (src/core/products.cpp): without it
//   the code compiled for baseline x86-64 that runs next slowed down so much that the kernels lost inside the
//   evaluation from d = 16 on although they win in isolation. With it, BM_Objective/N = 3 against OpenBLAS alone:
//   0.39 → 0.21 µs at d = 8, 1.33 → 1.14 µs at d = 16, 550 → 467 µs at d = 128, a tie at d = 64.
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
  enum class Route { eigen, blas, transpose_then_blas, xsmm, transpose_then_xsmm, xsmm_then_transpose };

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

/// The kernels' one-time set-up in this process (libxsmm's code registry: about 4 ms, once), which the first planned
/// Product would otherwise do. train() calls it before its clock starts, so that a run's wall_seconds does not depend
/// on whether it is the first run of its process. Cheap after the first call.
void prepare_kernels();

}  // namespace linflow::detail
