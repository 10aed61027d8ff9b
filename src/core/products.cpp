#include "core/products.hpp"

#ifdef LINFLOW_LIBXSMM
#include <libxsmm.h>
#endif

namespace linflow::detail {

namespace {

using Eigen::Index;
using MatMap = Eigen::Map<Eigen::MatrixXd>;
using ConstMap = Eigen::Map<const Eigen::MatrixXd>;

// Volume limit of the libxsmm routes (header comment; docs/performance.md, BM_Objective).
constexpr double kXsmmLimit = 128.0 * 128.0 * 128.0;
// OpenBLAS's Aᵀ·B: transposing A first (with Eigen; with libxsmm's transpose kernel) is cheaper than its slow case.
constexpr Index kTransposeFirstLimit = Index{24} * 24;
constexpr Index kJitTransposeFirstLimit = Index{64} * 64;

#ifdef LINFLOW_LIBXSMM
// The jitted routes run only on CPUs with AVX: after every jitted kernel the upper halves of the vector registers
// are cleared (vzeroupper, below), an AVX instruction.
bool jit_usable() {
  static const bool avx = __builtin_cpu_supports("avx");
  return avx;
}

// C (m × n) = A (m × k) · op(B), β = 0, all leading dimensions tight; null when libxsmm cannot generate it.
void* xsmm_kernel(Index m, Index n, Index k, Op op_b) {
  const libxsmm_blasint mi = static_cast<libxsmm_blasint>(m), ni = static_cast<libxsmm_blasint>(n),
                        ki = static_cast<libxsmm_blasint>(k);
  const libxsmm_blasint ldb = op_b == Op::none ? ki : ni;
  const double alpha = 1.0, beta = 0.0;
  const int flags = op_b == Op::none ? LIBXSMM_GEMM_FLAG_NONE : LIBXSMM_GEMM_FLAG_TRANS_B;
  return reinterpret_cast<void*>(libxsmm_dmmdispatch(mi, ni, ki, &mi, &ldb, &mi, &alpha, &beta, &flags, nullptr));
}

// Out (cols × rows) = In (rows × cols)ᵀ, leading dimensions given at the call; null when unavailable.
void* xsmm_transpose(Index rows, Index cols) {
  libxsmm_descriptor_blob blob;
  const libxsmm_trans_descriptor* desc = libxsmm_trans_descriptor_init(
      &blob, sizeof(double), static_cast<unsigned>(rows), static_cast<unsigned>(cols), static_cast<unsigned>(cols));
  return desc == nullptr ? nullptr : reinterpret_cast<void*>(libxsmm_dispatch_trans(desc));
}
#endif

}  // namespace

Product::Product(Index m, Index n, Index k, Op op_a, Op op_b, bool jit)
    : m_(m), n_(n), k_(k), op_a_(op_a), op_b_(op_b) {
  const double volume = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
#ifdef LINFLOW_LIBXSMM
  if (jit && volume <= kXsmmLimit && jit_usable()) {
    if (op_a == Op::none) {
      kernel_ = reinterpret_cast<GemmKernel>(xsmm_kernel(m, n, k, op_b));
      if (kernel_ != nullptr) route_ = Route::xsmm;
    } else if (op_b == Op::transpose) {  // (B · A) (n × m) into scratch, then transposed into C
      kernel_ = reinterpret_cast<GemmKernel>(xsmm_kernel(n, m, k, Op::none));
      transpose_ = reinterpret_cast<TransposeKernel>(xsmm_transpose(n, m));
      if (kernel_ != nullptr && transpose_ != nullptr) route_ = Route::xsmm_then_transpose;
      scratch_.resize(n, m);
    } else {  // Aᵀ (k × m) transposed into scratch, then scratch · B
      kernel_ = reinterpret_cast<GemmKernel>(xsmm_kernel(m, n, k, Op::none));
      transpose_ = reinterpret_cast<TransposeKernel>(xsmm_transpose(k, m));
      if (kernel_ != nullptr && transpose_ != nullptr) route_ = Route::transpose_then_xsmm;
      scratch_.resize(m, k);
    }
    if (route_ != Route::eigen) return;
    kernel_ = nullptr;
    transpose_ = nullptr;
    scratch_.resize(0, 0);
  }
#endif
#ifdef LINFLOW_OPENBLAS
  if (m > 1 && n > 1 && m + n + k >= 20) {
    route_ = Route::blas;
    if (op_a == Op::transpose && op_b == Op::none) {  // OpenBLAS's slow case: transpose A first where that is cheaper
#ifdef LINFLOW_LIBXSMM
      if (jit && m * k <= kJitTransposeFirstLimit && jit_usable()) {
        transpose_ = reinterpret_cast<TransposeKernel>(xsmm_transpose(k, m));
      }
#endif
      if (transpose_ != nullptr || m * k <= kTransposeFirstLimit) {
        route_ = Route::transpose_then_blas;
        scratch_.resize(m, k);
      }
    }
    return;
  }
#endif
  (void)volume;
  (void)jit;
  route_ = Route::eigen;
}

namespace {
// Clears the upper halves of the vector registers after a jitted kernel: libxsmm's AVX-512 code returns with them
// dirty, and then every SSE instruction of the code compiled for baseline x86-64 (Eigen's, Boost.Odeint's) pays a
// false dependency on them — on the project machine (AMD Zen 4) this made Dormand–Prince 5(4) runs on 8-8-1-8
// networks 2.1× slower (docs/performance.md).
inline void zero_upper() {
#ifdef LINFLOW_LIBXSMM  // the jitted routes exist only then, on x86-64 with AVX (jit_usable)
  asm volatile("vzeroupper" ::
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                     "xmm12", "xmm13", "xmm14", "xmm15", "memory");
#endif
}
}  // namespace

void Product::run(double* c, const double* a, const double* b) {
  const Index a_rows = op_a_ == Op::none ? m_ : k_, a_cols = op_a_ == Op::none ? k_ : m_;
  const Index b_rows = op_b_ == Op::none ? k_ : n_, b_cols = op_b_ == Op::none ? n_ : k_;
  switch (route_) {
    case Route::xsmm:
      kernel_(a, b, c);
      zero_upper();
      return;
    case Route::transpose_then_xsmm: {
      const unsigned ldi = static_cast<unsigned>(k_), ldo = static_cast<unsigned>(m_);
      transpose_(a, &ldi, scratch_.data(), &ldo);
      kernel_(scratch_.data(), b, c);
      zero_upper();
      return;
    }
    case Route::xsmm_then_transpose: {
      const unsigned ldi = static_cast<unsigned>(n_), ldo = static_cast<unsigned>(m_);
      kernel_(b, a, scratch_.data());
      transpose_(scratch_.data(), &ldi, c, &ldo);
      zero_upper();
      return;
    }
    case Route::transpose_then_blas:
      if (transpose_ != nullptr) {
        const unsigned ldi = static_cast<unsigned>(k_), ldo = static_cast<unsigned>(m_);
        transpose_(a, &ldi, scratch_.data(), &ldo);
        zero_upper();
      } else {
        scratch_.noalias() = ConstMap(a, a_rows, a_cols).transpose();
      }
      a = scratch_.data();
      [[fallthrough]];
    case Route::blas:
#ifdef LINFLOW_OPENBLAS
    {
      const bool ta = op_a_ == Op::transpose && route_ == Route::blas;
      const char ta_c = ta ? 'T' : 'N', tb_c = op_b_ == Op::none ? 'N' : 'T';
      const int mi = static_cast<int>(m_), ni = static_cast<int>(n_), ki = static_cast<int>(k_);
      const int lda = ta ? ki : mi, ldb = static_cast<int>(b_rows), ldc = mi;
      const double alpha = 1.0, beta = 0.0;
      dgemm_(&ta_c, &tb_c, &mi, &ni, &ki, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
      return;
    }
#else
      [[fallthrough]];
#endif
    case Route::eigen:
      break;
  }
  MatMap C(c, m_, n_);
  const ConstMap A(a, a_rows, a_cols), B(b, b_rows, b_cols);
  if (op_a_ == Op::none && op_b_ == Op::none) {
    C.noalias() = A * B;
  } else if (op_a_ == Op::none) {
    C.noalias() = A * B.transpose();
  } else if (op_b_ == Op::none) {
    C.noalias() = A.transpose() * B;
  } else {
    C.noalias() = A.transpose() * B.transpose();
  }
}

void prepare_kernels() {
#ifdef LINFLOW_LIBXSMM
  if (jit_usable()) libxsmm_init();
#endif
}

}  // namespace linflow::detail
