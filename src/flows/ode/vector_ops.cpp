#include "flows/ode/vector_ops.hpp"

#include <Eigen/Dense>

namespace linflow::detail {
namespace {

using Vec = Eigen::Map<Eigen::ArrayXd>;

Vec a(N_Vector v) { return {N_VGetArrayPointer_Serial(v), NV_LENGTH_S(v)}; }

void linear_sum(realtype s, N_Vector x, realtype t, N_Vector y, N_Vector z) { a(z) = s * a(x) + t * a(y); }
void constant(realtype c, N_Vector z) { a(z).setConstant(c); }
void prod(N_Vector x, N_Vector y, N_Vector z) { a(z) = a(x) * a(y); }
void div(N_Vector x, N_Vector y, N_Vector z) { a(z) = a(x) / a(y); }
void scale(realtype c, N_Vector x, N_Vector z) { a(z) = c * a(x); }
void abs(N_Vector x, N_Vector z) { a(z) = a(x).abs(); }
void inv(N_Vector x, N_Vector z) { a(z) = a(x).inverse(); }
void add_const(N_Vector x, realtype b, N_Vector z) { a(z) = a(x) + b; }
realtype dot(N_Vector x, N_Vector y) { return a(x).matrix().dot(a(y).matrix()); }
realtype max_norm(N_Vector x) { return NV_LENGTH_S(x) ? a(x).abs().maxCoeff() : 0.0; }
realtype wsqr_sum(N_Vector x, N_Vector w) { return (a(x) * a(w)).square().sum(); }
realtype wrms_norm(N_Vector x, N_Vector w) {
  const auto n = NV_LENGTH_S(x);
  return n ? std::sqrt(wsqr_sum(x, w) / static_cast<double>(n)) : 0.0;
}
void compare(realtype c, N_Vector x, N_Vector z) { a(z) = (a(x).abs() >= c).cast<double>(); }

// z = Σ c_i X_i. As SUNDIALS's own: z may be X[0], and no other X[i].
int linear_combination(int nv, realtype* c, N_Vector* X, N_Vector z) {
  if (X[0] == z) {
    if (c[0] != 1.0) a(z) *= c[0];
  } else {
    a(z) = c[0] * a(X[0]);
  }
  int i = 1;
  for (; i + 1 < nv; i += 2) a(z) += c[i] * a(X[i]) + c[i + 1] * a(X[i + 1]);  // two terms per pass
  if (i < nv) a(z) += c[i] * a(X[i]);
  return 0;
}

// Z_i = c_i x + Y_i.
int scale_add_multi(int nv, realtype* c, N_Vector x, N_Vector* Y, N_Vector* Z) {
  for (int i = 0; i < nv; ++i) a(Z[i]) = c[i] * a(x) + a(Y[i]);
  return 0;
}

// d_i = x · Y_i.
int dot_multi(int nv, N_Vector x, N_Vector* Y, realtype* d) {
  for (int i = 0; i < nv; ++i) d[i] = dot(x, Y[i]);
  return 0;
}

int linear_sum_array(int nv, realtype s, N_Vector* X, realtype t, N_Vector* Y, N_Vector* Z) {
  for (int i = 0; i < nv; ++i) linear_sum(s, X[i], t, Y[i], Z[i]);
  return 0;
}

int scale_array(int nv, realtype* c, N_Vector* X, N_Vector* Z) {
  for (int i = 0; i < nv; ++i) scale(c[i], X[i], Z[i]);
  return 0;
}

}  // namespace

void use_eigen_vector_ops(N_Vector v) {
  N_Vector_Ops o = v->ops;
  o->nvlinearsum = linear_sum;
  o->nvconst = constant;
  o->nvprod = prod;
  o->nvdiv = div;
  o->nvscale = scale;
  o->nvabs = abs;
  o->nvinv = inv;
  o->nvaddconst = add_const;
  o->nvdotprod = dot;
  o->nvdotprodlocal = dot;
  o->nvmaxnorm = max_norm;
  o->nvmaxnormlocal = max_norm;
  o->nvwrmsnorm = wrms_norm;
  o->nvwsqrsumlocal = wsqr_sum;
  o->nvcompare = compare;
  o->nvlinearcombination = linear_combination;
  o->nvscaleaddmulti = scale_add_multi;
  o->nvdotprodmulti = dot_multi;
  o->nvlinearsumvectorarray = linear_sum_array;
  o->nvscalevectorarray = scale_array;
}

}  // namespace linflow::detail
