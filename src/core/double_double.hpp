#pragma once
// Matrix products in double-double arithmetic (about 106 significant bits), for the gradient on a plateau
// (solver.gradient_precision = "extended"; docs/performance.md, "Rounding on the plateau").
//
// A double-double number is an unevaluated sum hi + lo of two doubles with |lo| ≤ ulp(hi)/2 (Dekker 1971). Each
// product term a·b is split exactly into a rounded product and its error (Dekker's TwoProduct on Veltkamp halves:
// no FMA needed, so the baseline x86-64 build and every other IEEE target get the same bits), the rounded products
// are summed with Knuth's TwoSum, and every error term is gathered in a second double: the compensated dot product
// of Ogita, Rump and Oishi (2005), extended to operands that are themselves double-double. The result of an inner
// product of length k is within about k·u²·Σ|a_i b_i| + u²·|result| of the exact value (u = 2^−53): the cancellation
// that leaves double's gradient all rounding at σ0 = 1e-6 costs 16 fewer digits here.
//
// The kernels vectorise over a column's rows (SSE2 on baseline x86-64). Their source is compiled with
// -ffp-contract=off: a product fused into the following sum would no longer be the rounded product whose error
// TwoProduct computes, and the bits would change with the target.
#include <Eigen/Core>
#include <vector>

namespace linflow::detail {

/// A column-major double-double matrix: the value is hi + lo entry by entry.
struct DoubleDoubleMatrix {
  Eigen::MatrixXd hi, lo;

  void resize(Eigen::Index rows, Eigen::Index cols) {
    hi.resize(rows, cols);
    lo.resize(rows, cols);
  }
  Eigen::Index rows() const { return hi.rows(); }
  Eigen::Index cols() const { return hi.cols(); }
};

/// A read-only operand of a product: a contiguous column-major matrix, double-double when `lo` is set, a double
/// matrix (lo = 0, the cheaper kernel) otherwise.
struct DoubleDoubleOperand {
  const double* hi;
  const double* lo;  // null: a double matrix
  Eigen::Index rows, cols;
};

inline DoubleDoubleOperand operand(const DoubleDoubleMatrix& m) {
  return {m.hi.data(), m.lo.data(), m.rows(), m.cols()};
}
template <class Derived>
DoubleDoubleOperand operand(const Eigen::PlainObjectBase<Derived>& m) {
  return {m.data(), nullptr, m.rows(), m.cols()};
}
inline DoubleDoubleOperand operand(const Eigen::Map<const Eigen::MatrixXd>& m) {
  return {m.data(), nullptr, m.rows(), m.cols()};
}

/// Products C = A·B in double-double, with a scratch buffer for the split operand (grown once, then reused).
class DoubleDoubleProducts {
 public:
  /// C (resized to A.rows × B.cols) = A·B. A.cols must equal B.rows. C must not be A or B.
  void multiply(DoubleDoubleMatrix& C, const DoubleDoubleOperand& A, const DoubleDoubleOperand& B);

 private:
  std::vector<double> split_;  // Veltkamp halves of A's hi part
};

/// C (resized to B's shape) = s·(A − B) for a double-double or double A, a double B of A's shape and s = ±1, rounded
/// to double-double.
void subtract(DoubleDoubleMatrix& C, const DoubleDoubleOperand& A, const Eigen::MatrixXd& B, double s);

/// Σ (hi + lo)² over the entries, in double: the squared norm of an accurate residual.
double squared_norm(const DoubleDoubleMatrix& m);

}  // namespace linflow::detail
