#pragma once
// CVODE's vector arithmetic on Eigen (private).
//
// CVODE does its own work between right-hand sides — the predictor, the Newton updates, error norms, the history
// rescaling, GMRES's Gram–Schmidt — in N_Vector operations. Debian's serial N_Vector is plain C built for baseline
// x86-64 and its fused operations (linear combinations, multiple dot products) are off, so each falls back to a
// pass per term: on a 256-parameter plateau run these operations were 60 % of all instructions (callgrind). The
// operations below replace the serial vector's hot ones with Eigen's vectorised expressions and fused passes; the
// vector's data and every other operation stay SUNDIALS's own. Clones inherit them (CVODE clones its vectors from
// the one it is given).
#include <nvector/nvector_serial.h>

#include <Eigen/Core>

namespace linflow::detail {

/// Routes v's arithmetic (and that of every later clone of v) through Eigen. v must be a serial N_Vector.
void use_eigen_vector_ops(N_Vector v);

/// x · y, y += a x, z = x ∘ y and z = c x on n contiguous doubles, by the kernels of the operations above (GMRES, the
/// Newton systems' preconditioner).
double vector_dot(const double* x, const double* y, Eigen::Index n);
void vector_axpy(double a, const double* x, double* y, Eigen::Index n);
void vector_prod(const double* x, const double* y, double* z, Eigen::Index n);
void vector_scale(double c, const double* x, double* z, Eigen::Index n);
/// d_i = X_i · y for i < k, X_i = X + i · stride (GMRES's Gram–Schmidt against its basis), one pass over y for every
/// four X_i.
void vector_dots(const double* X, Eigen::Index stride, int k, const double* y, double* d, Eigen::Index n);
/// y −= Σ_{i<k} c_i X_i, X_i = X + i · stride, one pass over y for every four X_i.
void vector_subtract_combination(const double* X, Eigen::Index stride, int k, const double* c, double* y,
                                 Eigen::Index n);
/// z −= x ∘ y (the preconditioner's substitutions).
void vector_sub_prod(const double* x, const double* y, double* z, Eigen::Index n);
/// w = 1 / (rtol |y| + atol): CVODE's error weights for scalar tolerances in one pass (CVODE's own makes five: abs,
/// scale, add, min, inverse), rounded as CVODE rounds them.
void vector_error_weights(double rtol, double atol, const double* y, double* w, Eigen::Index n);
/// Whether every x_i is finite, in one vectorised pass (Eigen's allFinite goes entry by entry).
bool vector_all_finite(const double* x, Eigen::Index n);

}  // namespace linflow::detail
