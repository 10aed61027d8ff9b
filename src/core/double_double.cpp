#include "core/double_double.hpp"

#include <cassert>

namespace linflow::detail {
namespace {

// Veltkamp's splitter 2^27 + 1: a = high + low with both halves of at most 26 significant bits, so that any product
// of two halves is exact in double.
constexpr double kSplitter = 134217729.0;

// C = A·B column by column: for each term, p = fl(a·b) and its exact error e (Dekker's TwoProduct from the split
// halves of a, precomputed in `split`, and of b), the running sum s += p by TwoSum with its error added to the
// compensation c together with e and the cross terms a·b_lo and a_lo·b (their own error, and a_lo·b_lo, are
// O(u²) of the term). At the end (s, c) is renormalised into (hi, lo) by TwoSum (not FastTwoSum: after a
// cancellation |c| may exceed |s|).
template <bool kALow, bool kBLow>
void multiply_kernel(double* __restrict c_hi, double* __restrict c_lo, const DoubleDoubleOperand& A,
                     const DoubleDoubleOperand& B, double* __restrict split) {
  const Eigen::Index m = A.rows, inner = A.cols, n = B.cols;
  double* __restrict a_high = split;
  double* __restrict a_low = split + m * inner;
  for (Eigen::Index i = 0; i < m * inner; ++i) {
    const double t = kSplitter * A.hi[i];
    a_high[i] = t - (t - A.hi[i]);
    a_low[i] = A.hi[i] - a_high[i];
  }
  for (Eigen::Index l = 0; l < n; ++l) {
    double* __restrict s = c_hi + l * m;
    double* __restrict c = c_lo + l * m;
    for (Eigen::Index i = 0; i < m; ++i) s[i] = c[i] = 0.0;
    for (Eigen::Index k = 0; k < inner; ++k) {
      const double b = B.hi[k + l * inner];
      const double t = kSplitter * b;
      const double b_high = t - (t - b);
      const double b_low = b - b_high;
      const double b_lo = kBLow ? B.lo[k + l * inner] : 0.0;
      const double* __restrict a = A.hi + k * m;
      const double* __restrict a_lo = kALow ? A.lo + k * m : nullptr;
      const double* __restrict ah = a_high + k * m;
      const double* __restrict al = a_low + k * m;
      for (Eigen::Index i = 0; i < m; ++i) {
        const double p = a[i] * b;
        double e = ((ah[i] * b_high - p) + ah[i] * b_low + al[i] * b_high) + al[i] * b_low;
        if constexpr (kBLow) e += a[i] * b_lo;
        if constexpr (kALow) e += a_lo[i] * b;
        const double sum = s[i] + p;
        const double z = sum - s[i];
        c[i] += ((s[i] - (sum - z)) + (p - z)) + e;
        s[i] = sum;
      }
    }
    for (Eigen::Index i = 0; i < m; ++i) {
      const double h = s[i] + c[i];
      const double z = h - s[i];
      c[i] = (s[i] - (h - z)) + (c[i] - z);
      s[i] = h;
    }
  }
}

}  // namespace

void DoubleDoubleProducts::multiply(DoubleDoubleMatrix& C, const DoubleDoubleOperand& A, const DoubleDoubleOperand& B) {
  assert(A.cols == B.rows);
  C.resize(A.rows, B.cols);
  if (split_.size() < static_cast<size_t>(2 * A.rows * A.cols)) split_.resize(static_cast<size_t>(2 * A.rows * A.cols));
  double* hi = C.hi.data();
  double* lo = C.lo.data();
  if (A.lo != nullptr && B.lo != nullptr) {
    multiply_kernel<true, true>(hi, lo, A, B, split_.data());
  } else if (A.lo != nullptr) {
    multiply_kernel<true, false>(hi, lo, A, B, split_.data());
  } else if (B.lo != nullptr) {
    multiply_kernel<false, true>(hi, lo, A, B, split_.data());
  } else {
    multiply_kernel<false, false>(hi, lo, A, B, split_.data());
  }
}

void subtract(DoubleDoubleMatrix& C, const DoubleDoubleOperand& A, const Eigen::MatrixXd& B, double s) {
  assert(A.rows == B.rows() && A.cols == B.cols());
  C.resize(B.rows(), B.cols());
  for (Eigen::Index i = 0; i < B.size(); ++i) {
    const double a = A.hi[i], b = -B(i);  // TwoSum(a, −b), then the low part added and renormalised
    const double sum = a + b;
    const double z = sum - a;
    const double e = ((a - (sum - z)) + (b - z)) + (A.lo != nullptr ? A.lo[i] : 0.0);
    const double h = sum + e;
    const double y = h - sum;
    C.lo(i) = s * ((sum - (h - y)) + (e - y));
    C.hi(i) = s * h;
  }
}

double squared_norm(const DoubleDoubleMatrix& m) {
  double total = 0.0;
  for (Eigen::Index i = 0; i < m.hi.size(); ++i) total += m.hi(i) * (m.hi(i) + 2.0 * m.lo(i));
  return total;
}

}  // namespace linflow::detail
