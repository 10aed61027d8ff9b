#pragma once
// The implicit driver (private): SUNDIALS CVODE's variable-order BDF (orders 1–5) with Newton iterations whose
// Jacobian is the flow's own when it has one (gradient flow: −∇²L, exact, from Hessian-vector products) and
// otherwise CVODE's difference quotients. The linear systems of the Newton iterations are solved densely (LU) for
// small states and matrix-free by GMRES on Jacobian-vector products for large ones (`SolverOptions::linear_solver`).
// What the explicit drivers do around a step is done here from CVODE's own tools: recordings from its interpolant
// (CVodeGetDky, of the method's accuracy), the first crossing of eps by its root finding on excess − eps.
//
// The driver is not a template: CVODE is a C library calling back through function pointers, and a stiff run takes
// few steps, so the flow is reached through a small virtual interface (ImplicitFlow) that any Flow is wrapped in.
#include <Eigen/Dense>
#include <functional>

#include "flows/ode/flow.hpp"

namespace linflow::detail {

/// A flow as the implicit driver sees it.
class ImplicitFlow {
 public:
  using In = Eigen::Ref<const Eigen::VectorXd>;
  using Out = Eigen::Ref<Eigen::VectorXd>;
  virtual ~ImplicitFlow() = default;
  /// On views, so that CVODE's vectors are read and written in place (copies in and out of them were about 6 % of
  /// a 256-parameter plateau run's instructions).
  virtual void rhs(In x, Out dxdt) = 0;
  virtual double excess(const State& x) = 0;
  virtual double grad_norm(const State& x, const State& dxdt) = 0;
  virtual long evals() const = 0;
  /// Whether the three below give the exact Jacobian J = ∂f/∂x (else CVODE forms difference quotients).
  virtual bool has_jacobian() const { return false; }
  /// Linearises at x; jacobian_vector and jacobian then refer to that point.
  virtual void set_jacobian_point(In /*x*/) {}
  virtual void jacobian_vector(In /*v*/, Out /*out*/) {}
  virtual void jacobian(Eigen::Ref<Eigen::MatrixXd> /*J*/) {}
  /// A preconditioner P ≈ I − γJ for the matrix-free Newton systems (optional): set_preconditioner forms it at x
  /// (with new_point; otherwise at its last point) for γ and returns γ λ̂, λ̂ the stiffest curvature it holds (its
  /// regime, which GMRES's choice of using it goes by); precondition solves P z = r.
  virtual bool has_preconditioner() const { return false; }
  virtual double set_preconditioner(In /*x*/, bool /*new_point*/, double /*gamma*/) { return 0; }
  virtual void precondition(In /*r*/, Out /*z*/) {}
  /// Integration frames (optional): coordinates in which the flow is the same flow. enter_frames picks them at x,
  /// maps x into them and makes the flow work in them; from_frames maps a state in them back; leave_frames maps x
  /// back and returns the flow to the original coordinates. Each CVODE run (each restart) integrates in the frames
  /// picked at its start, because CVODE's error weights rtol |x_i| + atol are per coordinate: gradient flow's frames
  /// put each layer's learned modes and its small unlearned part in different entries (LayerwiseFlow, solver.cpp).
  virtual bool enter_frames(State& /*x*/) { return false; }  ///< whether the flow has frames (and entered them)
  virtual void from_frames(State& /*x*/) {}
  virtual void leave_frames(State& /*x*/) {}
};

/// Any Flow as an ImplicitFlow; flows with set_jacobian_point / jacobian_vector / jacobian give their Jacobian.
template <Flow F>
class ImplicitAdapter final : public ImplicitFlow {
 public:
  explicit ImplicitAdapter(F& flow) : flow_(flow) {}
  void rhs(In x, Out dxdt) override {
    if constexpr (requires(In a, Out b) { flow_(a, b, 0.0); }) {
      flow_(x, dxdt, 0.0);
    } else {  // a flow on State only: through copies
      x_ = x;
      dxdt_.resize(x.size());
      flow_(x_, dxdt_, 0.0);
      dxdt = dxdt_;
    }
  }
  double excess(const State& x) override { return flow_.excess(x); }
  double grad_norm(const State& x, const State& dxdt) override { return flow_.grad_norm(x, dxdt); }
  long evals() const override { return flow_.evals(); }
  static constexpr bool kExact = requires(F f, In x, Out out, Eigen::Ref<Eigen::MatrixXd> J) {
    f.set_jacobian_point(x);
    f.jacobian_vector(x, out);
    f.jacobian(J);
  };
  bool has_jacobian() const override { return kExact; }
  void set_jacobian_point(In x) override {
    if constexpr (kExact) flow_.set_jacobian_point(x);
  }
  void jacobian_vector(In v, Out out) override {
    if constexpr (kExact) flow_.jacobian_vector(v, out);
  }
  void jacobian(Eigen::Ref<Eigen::MatrixXd> J) override {
    if constexpr (kExact) flow_.jacobian(J);
  }
  static constexpr bool kPreconditioned = requires(F f, In x, Out out) {
    f.has_preconditioner();
    f.set_preconditioner(x, true, 1.0);
    f.precondition(x, out);
  };
  bool has_preconditioner() const override {
    if constexpr (kPreconditioned) {
      return flow_.has_preconditioner();
    } else {
      return false;
    }
  }
  double set_preconditioner(In x, bool new_point, double gamma) override {
    if constexpr (kPreconditioned) {
      return flow_.set_preconditioner(x, new_point, gamma);
    } else {
      return 0;
    }
  }
  void precondition(In r, Out z) override {
    if constexpr (kPreconditioned) flow_.precondition(r, z);
  }
  bool enter_frames(State& x) override {
    if constexpr (requires(F f, State s) { f.enter_frames(s); }) {
      return flow_.enter_frames(x);
    } else {
      return false;
    }
  }
  void from_frames(State& x) override {
    if constexpr (requires(F f, State s) { f.from_frames(s); }) flow_.from_frames(x);
  }
  void leave_frames(State& x) override {
    if constexpr (requires(F f, State s) { f.leave_frames(s); }) flow_.leave_frames(x);
  }

 private:
  F& flow_;
  State x_, dxdt_;
};

using SampleFn = std::function<void(const State&, double)>;
using ProgressFn = std::function<void(double, double, long)>;

/// Integrates `flow` from x by CVODE's BDF under the same contract as integrate_dense (statuses, recordings at
/// `o.times`, t_eps, stop at eps). On return x is the final state. With `before`, continues a run that an explicit
/// driver ended as stiff at before->t with state x: its counts, t_eps and the recordings up to there carry over.
DriverResult integrate_bdf(ImplicitFlow& flow, State& x, const DriverOptions& o, const SampleFn& on_sample,
                           const ProgressFn& on_progress, const DriverResult* before = nullptr);

template <Flow F, class OnSample, class OnProgress>
DriverResult integrate_bdf(F& flow, State& x, const DriverOptions& o, OnSample&& on_sample, OnProgress&& on_progress,
                           const DriverResult* before = nullptr) {
  ImplicitAdapter<F> adapter(flow);
  return integrate_bdf(adapter, x, o, SampleFn(on_sample), ProgressFn(on_progress), before);
}

}  // namespace linflow::detail
