#pragma once
// GMRES for CVODE's Newton systems (private).
//
// SUNDIALS's SPGMR spends a large part of a small run on bookkeeping rather than arithmetic: at every solve it
// zeroes its whole (l_max + 1) × l_max Hessenberg matrix (2550 entries at l_max = 50, where a plateau run's solves
// take about six iterations), copies each Krylov vector through a scratch vector around the operator, divides by
// the scaling vector once per iteration, and reaches each basis vector through a virtual N_Vector operation. On a
// 256-parameter plateau run that bookkeeping was about a third of all instructions (callgrind: SPGMR's own code
// 13 %, its copies and scalings 12 %). This solver is the same algorithm — GMRES without restarts on the scaled
// system S₁ A S₂⁻¹ (S₂ x) = S₁ b, classical Gram–Schmidt with SUNDIALS's reorthogonalisation test, SUNDIALS's
// Givens rotations and stopping rule ‖S₁ (b − A x)‖₂ ≤ δ, the same return flags — on an Eigen basis matrix,
// touching only the part of the Hessenberg matrix an iteration uses.
#include <sundials/sundials_context.h>
#include <sundials/sundials_linearsolver.h>
#include <sundials/sundials_nvector.h>

namespace linflow::detail {

/// A matrix-free iterative SUNLinearSolver (CVODE's CVodeSetLinearSolver with a null matrix) on at most `max_dim`
/// Krylov vectors, without restarts: SUNLinSol_SPGMR(y, SUN_PREC_NONE, max_dim) with classical Gram–Schmidt, up to
/// rounding. y (a serial N_Vector) is the template of its work vectors, which are its clones. Given a preconditioner
/// (CVodeSetPreconditioner), it applies it on the right where it measures that it pays (gmres.cpp), keeping the
/// preconditioned basis vectors (no preconditioner solve for the update) and holding those solves to
/// kPreconditionedTolerance of CVODE's tolerance.
SUNLinearSolver gmres_solver(N_Vector y, int max_dim, SUNContext ctx);

/// The preconditioner's regime from its last setup: γ times the stiffest curvature it holds.
void gmres_set_regime(SUNLinearSolver s, double stiffness);

}  // namespace linflow::detail
