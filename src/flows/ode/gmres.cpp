#include "flows/ode/gmres.hpp"

#include "flows/ode/vector_ops.hpp"

#include <nvector/nvector_serial.h>

#include <Eigen/Dense>
#include <cmath>

namespace linflow::detail {
namespace {

Eigen::Map<Eigen::VectorXd> view(N_Vector v) { return {N_VGetArrayPointer(v), N_VGetLength(v)}; }

struct Gmres {
  Gmres(N_Vector y, int dim)
      : max_dim(dim),
        basis(N_VGetLength(y), dim + 1),
        hessenberg(dim + 1, dim),
        cosines(dim),
        sines(dim),
        rhs(dim + 1),
        inverse_scale(N_VGetLength(y)),
        in(N_VClone(y)),
        out(N_VClone(y)) {}
  ~Gmres() {
    N_VDestroy(in);
    N_VDestroy(out);
  }
  Gmres(const Gmres&) = delete;
  Gmres& operator=(const Gmres&) = delete;

  int max_dim;
  Eigen::MatrixXd basis;       // the Krylov vectors V_0 … V_max_dim, columns
  Eigen::MatrixXd hessenberg;  // column l written by iteration l only (rows 0 … l + 1)
  Eigen::VectorXd cosines, sines, rhs, inverse_scale;
  N_Vector in, out;  // the operator's argument and result (clones of y: CVODE's vector operations)
  SUNATimesFn atimes = nullptr;
  void* atimes_data = nullptr;
  N_Vector s1 = nullptr, s2 = nullptr;  // left and right scaling (CVODE passes its error weights as both)
  bool zero_guess = false;
  int iterations = 0;
  double residual = 0;
  int last_flag = SUNLS_SUCCESS;

  int solve(N_Vector x_vector, N_Vector b_vector, double delta);
  // V_{l+1} −= Σ_{i≤l} h_i V_i with h_i = V_i · V_{l+1}, as SUNClassicalGS (reorthogonalised when the norm falls
  // by a factor 1000); returns the new norm and leaves h in column l of the Hessenberg matrix.
  double orthogonalise(int l);
};

Gmres& of(SUNLinearSolver s) { return *static_cast<Gmres*>(s->content); }

double Gmres::orthogonalise(int l) {
  const Eigen::Index n = basis.rows();
  double* w = basis.col(l + 1).data();
  auto v = [&](int i) { return basis.col(i).data(); };
  auto h = hessenberg.col(l);
  for (int i = 0; i <= l; ++i) h(i) = vector_dot(v(i), w, n);
  const double norm_before = std::sqrt(vector_dot(w, w, n));
  for (int i = 0; i <= l; ++i) vector_axpy(-h(i), v(i), w, n);
  double norm = std::sqrt(vector_dot(w, w, n));
  if (1000.0 * norm < norm_before) {
    for (int i = 0; i <= l; ++i) {
      const double correction = vector_dot(v(i), w, n);
      h(i) += correction;
      vector_axpy(-correction, v(i), w, n);
    }
    norm = std::sqrt(vector_dot(w, w, n));
  }
  return norm;
}

int Gmres::solve(N_Vector x_vector, N_Vector b_vector, double delta) {
  auto x = view(x_vector);
  const auto b = view(b_vector);
  const bool zero = zero_guess;
  zero_guess = false;
  iterations = 0;
  const Eigen::Index n = basis.rows();
  if (s2) inverse_scale = view(s2).cwiseInverse();

  // r₀ = S₁ (b − A x₀).
  auto v0 = basis.col(0);
  if (zero) {
    v0 = b;
  } else {
    view(in) = x;
    if (const int status = atimes(atimes_data, in, out); status != 0) {
      return last_flag = status < 0 ? SUNLS_ATIMES_FAIL_UNREC : SUNLS_ATIMES_FAIL_REC;
    }
    v0 = b - view(out);
  }
  if (s1) vector_prod(v0.data(), N_VGetArrayPointer(s1), v0.data(), n);
  const double beta = std::sqrt(vector_dot(v0.data(), v0.data(), v0.size()));
  residual = beta;
  if (beta <= delta) {
    if (zero) x.setZero();
    return last_flag = SUNLS_SUCCESS;
  }
  vector_scale(1.0 / beta, v0.data(), v0.data(), n);

  double rotation_product = 1.0;
  int dim = 0;
  bool converged = false;
  for (int l = 0; l < max_dim; ++l) {
    ++iterations;
    dim = l + 1;
    // V_{l+1} = S₁ A S₂⁻¹ V_l.
    if (s2) {
      vector_prod(basis.col(l).data(), inverse_scale.data(), N_VGetArrayPointer(in), n);
    } else {
      view(in) = basis.col(l);
    }
    if (const int status = atimes(atimes_data, in, out); status != 0) {
      return last_flag = status < 0 ? SUNLS_ATIMES_FAIL_UNREC : SUNLS_ATIMES_FAIL_REC;
    }
    if (s1) {
      vector_prod(N_VGetArrayPointer(out), N_VGetArrayPointer(s1), basis.col(l + 1).data(), n);
    } else {
      basis.col(l + 1) = view(out);
    }
    const double norm = orthogonalise(l);
    hessenberg(l + 1, l) = norm;

    // Column l of the QR factorisation: the earlier rotations, then the one that zeroes H(l + 1, l) (SUNQRfact).
    auto h = hessenberg.col(l);
    for (int j = 0; j < l; ++j) {
      const double a = h(j), c = cosines(j), s = sines(j);
      h(j) = c * a - s * h(j + 1);
      h(j + 1) = s * a + c * h(j + 1);
    }
    const double a = h(l), bb = h(l + 1);
    double c = 1.0, s = 0.0;
    if (bb != 0.0) {
      if (std::abs(bb) >= std::abs(a)) {
        const double t = a / bb;
        s = -1.0 / std::sqrt(1.0 + t * t);
        c = -s * t;
      } else {
        const double t = bb / a;
        c = 1.0 / std::sqrt(1.0 + t * t);
        s = -c * t;
      }
    }
    cosines(l) = c;
    sines(l) = s;
    h(l) = c * a - s * bb;
    if (h(l) == 0.0) return last_flag = SUNLS_QRFACT_FAIL;

    rotation_product *= s;
    residual = std::abs(rotation_product * beta);
    if (residual <= delta) {
      converged = true;
      break;
    }
    vector_scale(1.0 / norm, basis.col(l + 1).data(), basis.col(l + 1).data(), n);
  }

  // y = R⁻¹ Qᵀ (β e₁) (SUNQRsol), x = x₀ + S₂⁻¹ V y.
  rhs.head(dim + 1).setZero();
  rhs(0) = beta;
  for (int k = 0; k < dim; ++k) {
    const double r0 = rhs(k), r1 = rhs(k + 1);
    rhs(k) = cosines(k) * r0 - sines(k) * r1;
    rhs(k + 1) = sines(k) * r0 + cosines(k) * r1;
  }
  for (int k = dim - 1; k >= 0; --k) {
    if (hessenberg(k, k) == 0.0) return last_flag = SUNLS_QRSOL_FAIL;
    rhs(k) /= hessenberg(k, k);
    for (int i = 0; i < k; ++i) rhs(i) -= rhs(k) * hessenberg(i, k);
  }
  if (!converged && residual >= beta) return last_flag = SUNLS_CONV_FAIL;
  auto correction = view(in);
  correction = rhs(0) * basis.col(0);
  for (int k = 1; k < dim; ++k) vector_axpy(rhs(k), basis.col(k).data(), correction.data(), correction.size());
  if (s2) vector_prod(correction.data(), inverse_scale.data(), correction.data(), n);
  if (zero) {
    x = correction;
  } else {
    x += correction;
  }
  return last_flag = converged ? SUNLS_SUCCESS : SUNLS_RES_REDUCED;
}

}  // namespace

SUNLinearSolver gmres_solver(N_Vector y, int max_dim, SUNContext ctx) {
  SUNLinearSolver s = SUNLinSolNewEmpty(ctx);
  s->content = new Gmres(y, max_dim);
  s->ops->gettype = [](SUNLinearSolver) { return SUNLINEARSOLVER_ITERATIVE; };
  s->ops->getid = [](SUNLinearSolver) { return SUNLINEARSOLVER_CUSTOM; };
  s->ops->setatimes = [](SUNLinearSolver self, void* data, SUNATimesFn atimes) {
    of(self).atimes = atimes;
    of(self).atimes_data = data;
    return SUNLS_SUCCESS;
  };
  s->ops->setscalingvectors = [](SUNLinearSolver self, N_Vector s1, N_Vector s2) {
    of(self).s1 = s1;
    of(self).s2 = s2;
    return SUNLS_SUCCESS;
  };
  s->ops->setzeroguess = [](SUNLinearSolver self, booleantype on) {
    of(self).zero_guess = on != 0;
    return SUNLS_SUCCESS;
  };
  s->ops->solve = [](SUNLinearSolver self, SUNMatrix /*A*/, N_Vector x, N_Vector b, realtype delta) {
    return of(self).solve(x, b, delta);
  };
  s->ops->numiters = [](SUNLinearSolver self) { return of(self).iterations; };
  s->ops->resnorm = [](SUNLinearSolver self) { return of(self).residual; };
  s->ops->lastflag = [](SUNLinearSolver self) { return static_cast<sunindextype>(of(self).last_flag); };
  s->ops->free = [](SUNLinearSolver self) {
    delete static_cast<Gmres*>(self->content);
    self->content = nullptr;
    SUNLinSolFreeEmpty(self);
    return 0;
  };
  return s;
}

}  // namespace linflow::detail
