#pragma once
// The steppers behind the drivers (private): Boost.Odeint's Fehlberg 7(8) and Dormand–Prince 5(4) under a
// max-norm error test, Hairer's DOP853 with its dense output, and the DOP853 stage sums (portable and AVX2 + FMA,
// chosen at run time). The concepts LandingStepper and DenseStepper state what each driver needs of them.
#include <Eigen/Dense>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>
#include <cmath>
#include <concepts>

#include "flows/dop853_tableau.hpp"
#include "flows/ode/flow.hpp"

namespace linflow::detail {

/// The vector field as a driver hands it to a stepper (as_system of a Flow), as the concepts below check it.
using SystemArchetype = void (*)(const State&, State&, double);

/// What integrate_landing needs of a stepper (integrators without dense output):
///   kOrder                                  the order of the propagated solution (for the initial step);
///   bool try_step(system, x, t, x_new, h)   one controlled step of size h from (t, x); on success true, t += h,
///                                           x_new set and h the proposed next step; on failure false and h reduced;
///   void do_step(system, x, t, out, h)      one uncontrolled step (for the bisection), leaving try_step's state;
///   long rejected()                         steps rejected so far.
template <class S>
concept LandingStepper = requires(S s, const S& cs, SystemArchetype system, const State& x, double& t, State& out,
                                  double& h, double ts) {
  { S::kOrder } -> std::convertible_to<int>;
  { s.try_step(system, x, t, out, h) } -> std::same_as<bool>;
  s.do_step(system, x, ts, out, ts);
  { cs.rejected() } -> std::convertible_to<long>;
};

/// What integrate_dense needs of a stepper (integrators with dense output):
///   kOrder, try_step, rejected()                     as LandingStepper;
///   void start(system, x, t)                         f(x) at the start;
///   void dense(system, x, t_old, x_new, t, ts, out)  the state at ts inside the step just accepted;
///   void step_to(system, x, t_old, x_new, ts, out)   a fresh step from x at t_old to ts, the dense output intact;
///   void accept()                                    the step is taken: x_new becomes the start of the next;
///   derivative(), derivative_new()                   f at the step's start and at x_new.
template <class S>
concept DenseStepper = requires(S s, const S& cs, SystemArchetype system, const State& x, double& t, State& out,
                                double& h, double ts) {
  { S::kOrder } -> std::convertible_to<int>;
  s.start(system, x, ts);
  { s.try_step(system, x, t, out, h) } -> std::same_as<bool>;
  s.dense(system, x, ts, x, ts, ts, out);
  s.step_to(system, x, ts, x, ts, out);
  s.accept();
  { cs.derivative() } -> std::convertible_to<const State&>;
  { cs.derivative_new() } -> std::convertible_to<const State&>;
  { cs.rejected() } -> std::convertible_to<long>;
};

/// Boost.Odeint's default error test with a_x = 1, a_dxdt = 0 — the classical mixed norm
/// max_i |err_i| / (atol + rtol |x_i|), the same operations in the same order — without the vector temporaries that
/// odeint's vector_space_algebra makes for Eigen vectors (four heap allocations a step; tests/test_allocation.cpp).
class MaxNormErrorChecker {
 public:
  using value_type = double;
  using algebra_type = boost::numeric::odeint::vector_space_algebra;
  using operations_type = boost::numeric::odeint::default_operations;
  MaxNormErrorChecker(double atol, double rtol) : atol_(atol), rtol_(rtol) {}
  template <class Deriv, class Time>
  double error(algebra_type& /*algebra*/, const State& x_old, const Deriv& /*dxdt_old*/, State& x_err,
               Time /*dt*/) const {
    return (x_err.array().abs() / (atol_ + rtol_ * x_old.array().abs())).maxCoeff();
  }
  template <class Deriv, class Time>
  double error(const State& x_old, const Deriv& dxdt_old, State& x_err, Time dt) const {
    algebra_type algebra;
    return error(algebra, x_old, dxdt_old, x_err, dt);
  }

 private:
  double atol_, rtol_;
};

/// Boost.Odeint's Runge–Kutta–Fehlberg 7(8) pair under the error control of integrate_dopri5 (max norm of
/// err_i / (atol + rtol |x_i|)): 13 evaluations a step but far fewer steps at tight tolerances.
class Fehlberg78Stepper {
 public:
  static constexpr int kOrder = 8;  // Boost propagates the 8th-order solution (stepper order 8, error order 7)
  Fehlberg78Stepper(double rtol, double atol) : controlled_(MaxNormErrorChecker(atol, rtol)) {}
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    if (controlled_.try_step(system, x, t, x_new, h) == boost::numeric::odeint::success) return true;
    ++rejected_;
    return false;
  }
  template <class System>
  void do_step(System& system, const State& x, double t, State& out, double h) {
    controlled_.stepper().do_step(system, x, t, out, h);
  }
  long rejected() const { return rejected_; }

 private:
  using Stepper = boost::numeric::odeint::runge_kutta_fehlberg78<State, double, State, double,
                                                                 boost::numeric::odeint::vector_space_algebra>;
  boost::numeric::odeint::controlled_runge_kutta<Stepper, MaxNormErrorChecker> controlled_;
  long rejected_ = 0;
};

/// out = base + Σ_t c[terms[t]] k[terms[t]] over the `count` listed terms, base null meaning 0, in one pass: fixed
/// blocks of 16 stay in registers, so each term is read once instead of a read-modify-write of `out` per term.
/// Eigen's vectors, for the instruction set the build targets.
inline void combine_portable(State& out, const State* base, const double* c, const State* k, const int* terms,
                             int count) {
  constexpr Eigen::Index kBlock = 16;
  using Block = Eigen::Matrix<double, kBlock, 1>;
  const Eigen::Index n = out.size();
  Eigen::Index i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    Block acc = base ? Block(base->segment<kBlock>(i)) : Block::Zero();
    for (int t = 0; t < count; ++t) acc += c[terms[t]] * k[terms[t]].segment<kBlock>(i);
    out.segment<kBlock>(i) = acc;
  }
  if (i == n) return;
  auto tail = out.segment(i, n - i);
  if (base) {
    tail = base->segment(i, n - i);
  } else {
    tail.setZero();
  }
  for (int t = 0; t < count; ++t) tail += c[terms[t]] * k[terms[t]].segment(i, n - i);
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__AVX2__)
#define LINFLOW_COMBINE_AVX2 1
/// The same with 4-wide vectors and fused multiply-adds, compiled for AVX2 + FMA while the rest of the build targets
/// baseline x86-64, and chosen at run time where the CPU has them: the stage sums are about a fifth of a small
/// DOP853 run (192 parameters), and this makes such runs 1.04–1.12× faster (docs/performance.md). Rounding differs
/// from combine_portable by the FMAs only.
__attribute__((target("avx2,fma"))) inline void combine_avx2(State& out, const State* base, const double* c,
                                                             const State* k, const int* terms, int count) {
  // NOLINTNEXTLINE(modernize-use-using): GCC attaches these attributes to a typedef, not to an alias declaration.
  typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));  // unaligned, may alias double
  const Eigen::Index n = out.size();
  double* o = out.data();
  const double* b = base ? base->data() : nullptr;
  Eigen::Index i = 0;
  for (; i + 16 <= n; i += 16) {
    v4d a0{}, a1{}, a2{}, a3{};
    if (b) {
      a0 = *reinterpret_cast<const v4d*>(b + i);
      a1 = *reinterpret_cast<const v4d*>(b + i + 4);
      a2 = *reinterpret_cast<const v4d*>(b + i + 8);
      a3 = *reinterpret_cast<const v4d*>(b + i + 12);
    }
    for (int t = 0; t < count; ++t) {
      const double ct = c[terms[t]];
      const double* kt = k[terms[t]].data() + i;
      a0 += ct * *reinterpret_cast<const v4d*>(kt);
      a1 += ct * *reinterpret_cast<const v4d*>(kt + 4);
      a2 += ct * *reinterpret_cast<const v4d*>(kt + 8);
      a3 += ct * *reinterpret_cast<const v4d*>(kt + 12);
    }
    *reinterpret_cast<v4d*>(o + i) = a0;
    *reinterpret_cast<v4d*>(o + i + 4) = a1;
    *reinterpret_cast<v4d*>(o + i + 8) = a2;
    *reinterpret_cast<v4d*>(o + i + 12) = a3;
  }
  for (; i < n; ++i) {
    double a = b ? b[i] : 0.0;
    for (int t = 0; t < count; ++t) a += c[terms[t]] * k[terms[t]].data()[i];
    o[i] = a;
  }
}
#endif

/// out = base + Σ_{j<m} c_j k_j (base may be null: then 0), skipping zero coefficients, in one pass over the vectors
/// — the stage sums of an explicit Runge–Kutta pair, which at small sizes cost as much as the products. `out` must
/// not alias the inputs.
inline void combine(State& out, const State* base, const double* c, const State* k, int m) {
  std::array<int, 16> terms{};
  int count = 0;
  for (int j = 0; j < m; ++j) {
    if (c[j] != 0) terms[static_cast<size_t>(count++)] = j;
  }
#ifdef LINFLOW_COMBINE_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) {
    combine_avx2(out, base, c, k, terms.data(), count);
    return;
  }
#endif
  combine_portable(out, base, c, k, terms.data(), count);
}

/// Boost.Odeint's Dormand–Prince 5(4) pair, its step-size control and its 4th-order dense output
/// (`controlled_runge_kutta<runge_kutta_dopri5>`, `runge_kutta_dopri5::calc_state`) behind the stepper interface of
/// integrate_dense. FSAL: the pair's last evaluation is at x_new.
class Dopri5Stepper {
 public:
  static constexpr int kOrder = 5;
  Dopri5Stepper(double rtol, double atol, Eigen::Index n)
      : controlled_(MaxNormErrorChecker(atol, rtol)), dxdt_(n), dxdt_new_(n), fresh_dxdt_(n) {}
  template <class System>
  void start(System& system, const State& x, double t) {
    system(x, dxdt_, t);
  }
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    if (controlled_.try_step(system, x, dxdt_, t, x_new, dxdt_new_, h) == boost::numeric::odeint::success) return true;
    ++rejected_;
    return false;
  }
  template <class System>
  void dense(System& /*system*/, const State& x, double t_old, const State& x_new, double t, double ts, State& out) {
    controlled_.stepper().calc_state(ts, out, x, dxdt_, t_old, x_new, dxdt_new_, t);
  }
  /// A fresh step from the accepted step's start (x at t_old) to ts (a second stepper: the dense output keeps its
  /// stages).
  template <class System>
  void step_to(System& system, const State& x, double t_old, const State& /*x_new*/, double ts, State& out) {
    fresh_.do_step(system, x, dxdt_, t_old, out, fresh_dxdt_, ts - t_old);
  }
  void accept() { dxdt_.swap(dxdt_new_); }
  const State& derivative() const { return dxdt_; }
  const State& derivative_new() const { return dxdt_new_; }
  long rejected() const { return rejected_; }

 private:
  using Stepper = boost::numeric::odeint::runge_kutta_dopri5<State, double, State, double,
                                                             boost::numeric::odeint::vector_space_algebra>;
  boost::numeric::odeint::controlled_runge_kutta<Stepper, MaxNormErrorChecker> controlled_;
  Stepper fresh_;
  State dxdt_, dxdt_new_, fresh_dxdt_;
  long rejected_ = 0;
};

/// Hairer's DOP853: the Dormand–Prince 8(5,3) pair with its error estimate (the 5th-order estimate damped by the
/// 3rd-order one) and step-size control, as Hairer's code and SciPy's `solve_ivp(method="DOP853")` do them — RMS
/// norm of err_i / (atol + rtol max(|x_i|, |x_new,i|)), exponent −1/8, safety 0.9, factors in [0.2, 10] — and its
/// 7th-order dense output (CONTD8: three more evaluations, only on a step where the driver asks for a point inside
/// it). 12 evaluations a step, the last one at x_new reused as the first of the next (FSAL), so the driver reads the
/// excess loss at x_new from the flow's last evaluation.
class Dop853Stepper {
 public:
  static constexpr int kOrder = 8;
  Dop853Stepper(double rtol, double atol, Eigen::Index n)
      : rtol_(rtol), atol_(atol), y_(n), err5_(n), err3_(n), scale_(n) {
    for (auto& k : k_) k.resize(n);
  }
  template <class System>
  void start(System& system, const State& x, double t) {
    system(x, k_[0], t);
  }
  /// One controlled step of size h from (t, x) (k_0 = f(x) given); on success t += h, x_new set, h the proposed next
  /// step and the step's stages kept for `dense` until `accept`; on failure h reduced.
  template <class System>
  bool try_step(System& system, const State& x, double& t, State& x_new, double& h) {
    stages(system, x, t, h, x_new);
    system(x_new, k_[dop853::kStages], t + h);
    constexpr int kTerms = dop853::kStages + 1;
    combine(err5_, nullptr, dop853::E5.data(), k_.data(), kTerms);
    combine(err3_, nullptr, dop853::E3.data(), k_.data(), kTerms);
    scale_ = atol_ + rtol_ * x.array().abs().max(x_new.array().abs());
    const double e5 = (err5_.array() / scale_.array()).matrix().squaredNorm();
    const double e3 = (err3_.array() / scale_.array()).matrix().squaredNorm();
    const double norm =
        e5 == 0 && e3 == 0 ? 0.0 : std::abs(h) * e5 / std::sqrt((e5 + 0.01 * e3) * static_cast<double>(x.size()));
    if (norm < 1) {
      double factor = norm == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(norm, -1.0 / 8));
      if (rejected_in_a_row_) factor = std::min(1.0, factor);
      rejected_in_a_row_ = false;
      h_taken_ = h;
      dense_ready_ = false;
      t += h;
      h *= factor;
      return true;
    }
    ++rejected_;
    rejected_in_a_row_ = true;
    h *= std::max(0.2, 0.9 * std::pow(norm, -1.0 / 8));
    return false;
  }
  /// The state at ts in the step just accepted, [t_old, t] from x to x_new, by the 7th-order interpolant
  /// x + θ(F0 + (1−θ)(F1 + θ(F2 + (1−θ)(F3 + θ(F4 + (1−θ)(F5 + θ F6)))))), θ = (ts − t_old)/(t − t_old).
  template <class System>
  void dense(System& system, const State& x, double t_old, const State& x_new, double t, double ts, State& out) {
    if (!dense_ready_) prepare_dense(system, x, t_old, x_new);
    const double th = (ts - t_old) / (t - t_old), th1 = 1 - th;
    const Eigen::Index n = x.size();
    for (Eigen::Index i = 0; i < n; ++i) {
      double v = th * f_[6](i);
      v = th1 * (f_[5](i) + v);
      v = th * (f_[4](i) + v);
      v = th1 * (f_[3](i) + v);
      v = th * (f_[2](i) + v);
      v = th1 * (f_[1](i) + v);
      out(i) = x(i) + th * (f_[0](i) + v);
    }
  }
  /// A fresh step from the accepted step's start (x at t_old, k_0 = f(x)) to ts. Reuses the stage storage: the
  /// dense output is prepared first, and f(x_new) is kept.
  template <class System>
  void step_to(System& system, const State& x, double t_old, const State& x_new, double ts, State& out) {
    if (!dense_ready_) prepare_dense(system, x, t_old, x_new);
    stages(system, x, t_old, ts - t_old, out);
  }
  /// The step is taken: its end becomes the start of the next (FSAL).
  void accept() { k_[0].swap(k_[dop853::kStages]); }
  const State& derivative() const { return k_[0]; }
  const State& derivative_new() const { return k_[dop853::kStages]; }
  long rejected() const { return rejected_; }
  /// h |λ| of the step just accepted, ending at x_new (Hairer's stiffness quotient, DOP853's test): stage 12 and the
  /// solution both sit at t + h, so the ratio of the differences of f and of x between them estimates |λ| of the
  /// dominant Jacobian direction; about 6.1 or more where the step is held by the method's stability rather than its
  /// accuracy. Valid right after try_step accepted the step, before `dense` or `step_to` reuse the stage storage;
  /// two passes over the state, paid only by the drivers that ask.
  double stiffness(const State& x_new) const {
    const double dx = (x_new - y_).squaredNorm();
    return dx > 0 ? std::abs(h_taken_) * std::sqrt((k_[dop853::kStages] - k_[dop853::kStages - 1]).squaredNorm() / dx)
                  : 0.0;
  }

 private:
  // Stages 2..12 from k_[0] = f(x), and the 8th-order solution.
  template <class System>
  void stages(System& system, const State& x, double t, double h, State& x_new) {
    std::array<double, dop853::kStages> c{};
    for (int s = 1; s < dop853::kStages; ++s) {
      for (int j = 0; j < s; ++j) c[static_cast<size_t>(j)] = h * dop853::A[s][j];
      combine(y_, &x, c.data(), k_.data(), s);
      system(y_, k_[s], t + dop853::C[s] * h);
    }
    for (int j = 0; j < dop853::kStages; ++j) c[static_cast<size_t>(j)] = h * dop853::B[j];
    combine(x_new, &x, c.data(), k_.data(), dop853::kStages);
  }
  // The three extra stages k_13..k_15 and the interpolant's rows F0..F6 of the step just accepted (SciPy's
  // DOP853._dense_output_impl). The rows are allocated on first use: a run that never asks for dense output
  // (no recording, no stop at eps) carries none.
  template <class System>
  void prepare_dense(System& system, const State& x, double t_old, const State& x_new) {
    const double h = h_taken_;
    constexpr int kAll = dop853::kStages + 1 + dop853::kExtraStages;
    std::array<double, kAll> c{};
    for (int r = 0; r < dop853::kExtraStages; ++r) {
      const int s = dop853::kStages + 1 + r;
      for (int j = 0; j < s; ++j) c[static_cast<size_t>(j)] = h * dop853::A_EXTRA[r][j];
      combine(y_, &x, c.data(), k_.data(), s);
      system(y_, k_[s], t_old + dop853::C_EXTRA[r] * h);
    }
    for (auto& f : f_) f.resize(x.size());
    f_[0] = x_new - x;
    f_[1] = h * k_[0] - f_[0];
    f_[2] = 2 * f_[0] - h * (k_[dop853::kStages] + k_[0]);
    for (int r = 0; r < 4; ++r) {
      for (int j = 0; j < kAll; ++j) c[static_cast<size_t>(j)] = h * dop853::D[r][j];
      combine(f_[3 + r], nullptr, c.data(), k_.data(), kAll);
    }
    dense_ready_ = true;
  }

  double rtol_, atol_;
  std::array<State, dop853::kStages + 1 + dop853::kExtraStages> k_;  // k_12 = f(x_new) until accept()
  std::array<State, 7> f_;                                           // interpolant rows, allocated on first use
  State y_, err5_, err3_, scale_;
  double h_taken_ = 0;
  bool rejected_in_a_row_ = false, dense_ready_ = false;
  long rejected_ = 0;
};

static_assert(LandingStepper<Fehlberg78Stepper>);
static_assert(DenseStepper<Dopri5Stepper>);
static_assert(DenseStepper<Dop853Stepper>);

}  // namespace linflow::detail
