#include "flows/ode/vector_ops.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <type_traits>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__AVX2__)
#include <immintrin.h>
#define LINFLOW_VECTOR_AVX2 1
#endif

namespace linflow::detail {
namespace {

using Vec = Eigen::Map<Eigen::ArrayXd>;

Vec a(N_Vector v) { return {NV_DATA_S(v), NV_LENGTH_S(v)}; }

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

#ifdef LINFLOW_VECTOR_AVX2
// The hot operations again with 4-wide vectors and fused multiply-adds, compiled for AVX2 + FMA while the rest of
// the build targets baseline x86-64 (as steppers.hpp's combine_avx2), chosen at run time where the CPU has them. At
// a few hundred entries the vectors stay in L1 and these operations are bound by instructions, which the wider
// vectors halve. Sums run in four interleaved accumulators: rounding differs from the Eigen versions.
#define LINFLOW_AVX2 __attribute__((target("avx2,fma")))

LINFLOW_AVX2 double dot_avx2(const double* x, const double* y, long n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
    a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4), a1);
    a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 8), _mm256_loadu_pd(y + i + 8), a2);
    a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 12), _mm256_loadu_pd(y + i + 12), a3);
  }
  for (; i + 4 <= n; i += 4) a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), a0);
  const __m256d sum = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
  const __m128d half = _mm_add_pd(_mm256_castpd256_pd128(sum), _mm256_extractf128_pd(sum, 1));
  double total = _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
  for (; i < n; ++i) total += x[i] * y[i];
  return total;
}

LINFLOW_AVX2 double wsqr_sum_avx2(const double* x, const double* w, long n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d p0 = _mm256_mul_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(w + i));
    const __m256d p1 = _mm256_mul_pd(_mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(w + i + 4));
    a0 = _mm256_fmadd_pd(p0, p0, a0);
    a1 = _mm256_fmadd_pd(p1, p1, a1);
  }
  const __m256d sum = _mm256_add_pd(a0, a1);
  const __m128d half = _mm_add_pd(_mm256_castpd256_pd128(sum), _mm256_extractf128_pd(sum, 1));
  double total = _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
  for (; i < n; ++i) total += (x[i] * w[i]) * (x[i] * w[i]);
  return total;
}

// z = s x + t y (z may be x or y).
LINFLOW_AVX2 void linear_sum_avx2(double s, const double* x, double t, const double* y, double* z, long n) {
  const __m256d vs = _mm256_set1_pd(s), vt = _mm256_set1_pd(t);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_pd(z + i, _mm256_fmadd_pd(vs, _mm256_loadu_pd(x + i), _mm256_mul_pd(vt, _mm256_loadu_pd(y + i))));
  }
  for (; i < n; ++i) z[i] = s * x[i] + t * y[i];
}

// y += a x.
LINFLOW_AVX2 void axpy_avx2(double a, const double* x, double* y, long n) {
  const __m256d va = _mm256_set1_pd(a);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_pd(y + i, _mm256_fmadd_pd(va, _mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

LINFLOW_AVX2 void scale_avx2(double c, const double* x, double* z, long n) {
  const __m256d vc = _mm256_set1_pd(c);
  long i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(z + i, _mm256_mul_pd(vc, _mm256_loadu_pd(x + i)));
  for (; i < n; ++i) z[i] = c * x[i];
}

// z = x ∘ y.
LINFLOW_AVX2 void prod_avx2(const double* x, const double* y, double* z, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(z + i, _mm256_mul_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i)));
  for (; i < n; ++i) z[i] = x[i] * y[i];
}

// d_j = X_j · y for the G columns X_0 … X_{G−1} (stride apart): one accumulator per column.
template <int G>
LINFLOW_AVX2 void dots_avx2(const double* X, long stride, const double* y, double* d, long n) {
  __m256d acc[G];
  for (int j = 0; j < G; ++j) acc[j] = _mm256_setzero_pd();
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d yi = _mm256_loadu_pd(y + i);
    for (int j = 0; j < G; ++j) acc[j] = _mm256_fmadd_pd(_mm256_loadu_pd(X + j * stride + i), yi, acc[j]);
  }
  for (int j = 0; j < G; ++j) {
    const __m128d half = _mm_add_pd(_mm256_castpd256_pd128(acc[j]), _mm256_extractf128_pd(acc[j], 1));
    double total = _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
    for (long t = i; t < n; ++t) total += X[j * stride + t] * y[t];
    d[j] = total;
  }
}

// y −= Σ_j c_j X_j over the G columns X_0 … X_{G−1} (stride apart).
template <int G>
LINFLOW_AVX2 void subtract_combination_avx2(const double* X, long stride, const double* c, double* y, long n) {
  __m256d cs[G];
  for (int j = 0; j < G; ++j) cs[j] = _mm256_set1_pd(c[j]);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    __m256d yi = _mm256_loadu_pd(y + i);
    for (int j = 0; j < G; ++j) yi = _mm256_fnmadd_pd(cs[j], _mm256_loadu_pd(X + j * stride + i), yi);
    _mm256_storeu_pd(y + i, yi);
  }
  for (; i < n; ++i) {
    for (int j = 0; j < G; ++j) y[i] -= c[j] * X[j * stride + i];
  }
}

// group(std::integral_constant<int, G>{}, j) over the k columns j … j + G − 1: four at a time, then the rest.
template <class Group>
void by_fours(int k, Group&& group) {
  int j = 0;
  for (; j + 4 <= k; j += 4) group(std::integral_constant<int, 4>{}, j);
  if (k - j == 3) group(std::integral_constant<int, 3>{}, j);
  if (k - j == 2) group(std::integral_constant<int, 2>{}, j);
  if (k - j == 1) group(std::integral_constant<int, 1>{}, j);
}

void dots_v(const double* X, long stride, int k, const double* y, double* d, long n) {
  by_fours(k, [&](auto G, int j) { dots_avx2<decltype(G)::value>(X + j * stride, stride, y, d + j, n); });
}

void subtract_combination_v(const double* X, long stride, int k, const double* c, double* y, long n) {
  by_fours(k,
           [&](auto G, int j) { subtract_combination_avx2<decltype(G)::value>(X + j * stride, stride, c + j, y, n); });
}

// z −= x ∘ y.
LINFLOW_AVX2 void sub_prod_avx2(const double* x, const double* y, double* z, long n) {
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    _mm256_storeu_pd(z + i, _mm256_fnmadd_pd(_mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i), _mm256_loadu_pd(z + i)));
  }
  for (; i < n; ++i) z[i] -= x[i] * y[i];
}

// w = 1 / (rtol |y| + atol), multiplied and added apart to round as CVODE's passes (GCC would otherwise contract the
// product and the sum into a fused multiply-add).
LINFLOW_AVX2 __attribute__((optimize("fp-contract=off"))) void error_weights_avx2(double rtol, double atol,
                                                                                  const double* y, double* w, long n) {
  const __m256d vr = _mm256_set1_pd(rtol), va = _mm256_set1_pd(atol), one = _mm256_set1_pd(1.0);
  const __m256d sign = _mm256_set1_pd(-0.0);
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d magnitude = _mm256_andnot_pd(sign, _mm256_loadu_pd(y + i));
    _mm256_storeu_pd(w + i, _mm256_div_pd(one, _mm256_add_pd(_mm256_mul_pd(vr, magnitude), va)));
  }
  for (; i < n; ++i) w[i] = 1.0 / (rtol * std::abs(y[i]) + atol);
}

double* data(N_Vector v) { return NV_DATA_S(v); }

void linear_sum_v(realtype s, N_Vector x, realtype t, N_Vector y, N_Vector z) {
  linear_sum_avx2(s, data(x), t, data(y), data(z), NV_LENGTH_S(z));
}
void prod_v(N_Vector x, N_Vector y, N_Vector z) { prod_avx2(data(x), data(y), data(z), NV_LENGTH_S(z)); }
void scale_v(realtype c, N_Vector x, N_Vector z) { scale_avx2(c, data(x), data(z), NV_LENGTH_S(z)); }
realtype dot_v(N_Vector x, N_Vector y) { return dot_avx2(data(x), data(y), NV_LENGTH_S(x)); }
realtype wsqr_sum_v(N_Vector x, N_Vector w) { return wsqr_sum_avx2(data(x), data(w), NV_LENGTH_S(x)); }
realtype wrms_norm_v(N_Vector x, N_Vector w) {
  const auto n = NV_LENGTH_S(x);
  return n ? std::sqrt(wsqr_sum_v(x, w) / static_cast<double>(n)) : 0.0;
}
int linear_combination_v(int nv, realtype* c, N_Vector* X, N_Vector z) {
  const long n = NV_LENGTH_S(z);
  if (X[0] != z) {
    scale_avx2(c[0], data(X[0]), data(z), n);
  } else if (c[0] != 1.0) {
    scale_avx2(c[0], data(z), data(z), n);
  }
  for (int i = 1; i < nv; ++i) axpy_avx2(c[i], data(X[i]), data(z), n);
  return 0;
}
int scale_add_multi_v(int nv, realtype* c, N_Vector x, N_Vector* Y, N_Vector* Z) {
  for (int i = 0; i < nv; ++i) linear_sum_avx2(c[i], data(x), 1.0, data(Y[i]), data(Z[i]), NV_LENGTH_S(x));
  return 0;
}
int dot_multi_v(int nv, N_Vector x, N_Vector* Y, realtype* d) {
  for (int i = 0; i < nv; ++i) d[i] = dot_v(x, Y[i]);
  return 0;
}
int linear_sum_array_v(int nv, realtype s, N_Vector* X, realtype t, N_Vector* Y, N_Vector* Z) {
  for (int i = 0; i < nv; ++i) linear_sum_v(s, X[i], t, Y[i], Z[i]);
  return 0;
}

bool has_avx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
}
#endif

}  // namespace

double vector_dot(const double* x, const double* y, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return dot_avx2(x, y, n);
#endif
  return Eigen::Map<const Eigen::VectorXd>(x, n).dot(Eigen::Map<const Eigen::VectorXd>(y, n));
}

void vector_axpy(double a, const double* x, double* y, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return axpy_avx2(a, x, y, n);
#endif
  Eigen::Map<Eigen::VectorXd>(y, n) += a * Eigen::Map<const Eigen::VectorXd>(x, n);
}

void vector_prod(const double* x, const double* y, double* z, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return prod_avx2(x, y, z, n);
#endif
  Eigen::Map<Eigen::ArrayXd>(z, n) = Eigen::Map<const Eigen::ArrayXd>(x, n) * Eigen::Map<const Eigen::ArrayXd>(y, n);
}

void vector_scale(double c, const double* x, double* z, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return scale_avx2(c, x, z, n);
#endif
  Eigen::Map<Eigen::ArrayXd>(z, n) = c * Eigen::Map<const Eigen::ArrayXd>(x, n);
}

void vector_dots(const double* X, Eigen::Index stride, int k, const double* y, double* d, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return dots_v(X, stride, k, y, d, n);
#endif
  const Eigen::Map<const Eigen::VectorXd> v(y, n);
  for (int j = 0; j < k; ++j) d[j] = Eigen::Map<const Eigen::VectorXd>(X + j * stride, n).dot(v);
}

void vector_subtract_combination(const double* X, Eigen::Index stride, int k, const double* c, double* y,
                                 Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return subtract_combination_v(X, stride, k, c, y, n);
#endif
  Eigen::Map<Eigen::VectorXd> v(y, n);
  for (int j = 0; j < k; ++j) v -= c[j] * Eigen::Map<const Eigen::VectorXd>(X + j * stride, n);
}

void vector_sub_prod(const double* x, const double* y, double* z, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return sub_prod_avx2(x, y, z, n);
#endif
  Eigen::Map<Eigen::ArrayXd>(z, n) -= Eigen::Map<const Eigen::ArrayXd>(x, n) * Eigen::Map<const Eigen::ArrayXd>(y, n);
}

void vector_error_weights(double rtol, double atol, const double* y, double* w, Eigen::Index n) {
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) return error_weights_avx2(rtol, atol, y, w, n);
#endif
  Eigen::Map<Eigen::ArrayXd>(w, n) = (rtol * Eigen::Map<const Eigen::ArrayXd>(y, n).abs() + atol).inverse();
}

bool vector_all_finite(const double* x, Eigen::Index n) {
  // x − x is 0 for a finite x and NaN otherwise; the sum is NaN exactly when one is.
  const Eigen::Map<const Eigen::ArrayXd> v(x, n);
  return !std::isnan((v - v).sum());
}

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
#ifdef LINFLOW_VECTOR_AVX2
  if (has_avx2()) {
    o->nvlinearsum = linear_sum_v;
    o->nvprod = prod_v;
    o->nvscale = scale_v;
    o->nvdotprod = dot_v;
    o->nvdotprodlocal = dot_v;
    o->nvwrmsnorm = wrms_norm_v;
    o->nvwsqrsumlocal = wsqr_sum_v;
    o->nvlinearcombination = linear_combination_v;
    o->nvscaleaddmulti = scale_add_multi_v;
    o->nvdotprodmulti = dot_multi_v;
    o->nvlinearsumvectorarray = linear_sum_array_v;
  }
#endif
}

}  // namespace linflow::detail
