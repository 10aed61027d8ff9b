// request_interrupt() (linflow/interrupt.hpp) against every method of train(): a run asked to stop ends at its next
// step with Status::interrupted, the state it reached and its samples up to there; clear_interrupt() lets the next
// run go to its end. The CLI's signal handling is tested end to end (tests/cli: cli.interrupt_*).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "linflow/init.hpp"
#include "linflow/interrupt.hpp"
#include "linflow/solver.hpp"

namespace linflow {
namespace {

// The demo's problem and start: depth 4 with a width-one layer, balanced rank-one, so every method applies.
struct Demo {
  Problem problem = test::synthetic(6, 5, {3.0, 2.0, 1.0}, 7);
  Shape shape{std::vector<int>{6, 4, 1, 4, 5}};
  Eigen::VectorXd theta0;
  Demo() {
    InitOptions init;
    init.kind = InitKind::balanced_rank1;
    init.sigma0 = 0.05;
    init.seed = 11;
    theta0 = initialize(shape, init);
  }
};

// Every method of train(), and each integrator of gf: they share no loop.
std::vector<SolverOptions> every_method() {
  std::vector<SolverOptions> all;
  for (const Integrator integrator : {Integrator::dop853, Integrator::dopri5, Integrator::rk78,
                                      Integrator::gauss_legendre, Integrator::bdf, Integrator::automatic}) {
    SolverOptions o;
    o.integrator = integrator;
    all.push_back(o);
  }
  for (const Method method : {Method::gd, Method::end_to_end, Method::rank1, Method::exact}) {
    SolverOptions o;
    o.method = method;
    all.push_back(o);
  }
  for (SolverOptions& o : all) {  // a long run, so that only the interruption can end it early
    o.t_max = 100;
    o.stop_at_eps = false;
  }
  return all;
}

std::string name(const SolverOptions& o) {
  return std::string(to_string(o.method)) + (o.method == Method::gf ? std::string("/") + to_string(o.integrator) : "");
}

// Clears the flag however a test ends, so that no other test of this executable inherits it.
struct ClearedInterrupt {
  ClearedInterrupt() { clear_interrupt(); }
  ~ClearedInterrupt() { clear_interrupt(); }
  ClearedInterrupt(const ClearedInterrupt&) = delete;
  ClearedInterrupt& operator=(const ClearedInterrupt&) = delete;
};

TEST(Interrupt, RequestIsSeenUntilCleared) {
  const ClearedInterrupt cleared;
  EXPECT_FALSE(interrupt_requested());
  request_interrupt();
  EXPECT_TRUE(interrupt_requested());
  request_interrupt();  // idempotent
  EXPECT_TRUE(interrupt_requested());
  clear_interrupt();
  EXPECT_FALSE(interrupt_requested());
}

TEST(Interrupt, EveryMethodStopsWithinOneStepOfARequestMadeBeforeItStarts) {
  const ClearedInterrupt cleared;
  const Demo demo;
  for (const SolverOptions& o : every_method()) {
    SCOPED_TRACE(name(o));
    request_interrupt();
    Eigen::VectorXd theta = demo.theta0;
    RecordOptions record;
    record.times = sample_times(o.t_max, 50, 0, 0);
    std::vector<Sample> samples;
    const Summary s = train(demo.problem, demo.shape, theta, o, record, [&](const Sample& x) { samples.push_back(x); });
    EXPECT_EQ(s.status, Status::interrupted);
    EXPECT_LE(s.stats.steps, 1);
    EXPECT_LT(s.t_final, o.t_max);
    EXPECT_NE(s.message.find("interrupted at t = "), std::string::npos) << s.message;
    EXPECT_TRUE(theta.allFinite());
    // The final state is the last sample, as for every run.
    ASSERT_FALSE(samples.empty());
    EXPECT_EQ(samples.back().t, s.t_final);
    EXPECT_EQ(samples.back().excess_loss, s.excess_loss);
    EXPECT_TRUE(interrupt_requested());  // a run reads the request, it does not consume it
  }
}

TEST(Interrupt, ClearingTheRequestLetsTheNextRunGoToItsEnd) {
  const ClearedInterrupt cleared;
  const Demo demo;
  request_interrupt();
  clear_interrupt();
  for (SolverOptions o : every_method()) {
    SCOPED_TRACE(name(o));
    o.t_max = 5;
    Eigen::VectorXd theta = demo.theta0;
    const Summary s = train(demo.problem, demo.shape, theta, o);
    EXPECT_EQ(s.status, Status::t_max) << s.message;
    EXPECT_NEAR(s.t_final, o.t_max, 4 * test::kEps * o.t_max);  // GD's t = k·lr rounds
  }
}

// A request that arrives mid-run (here from the progress callback, as a signal would between two steps) stops the
// run at the state it reached: the same state, bit for bit, as a run whose step budget ends there.
TEST(Interrupt, ARunInterruptedMidwayEndsAtTheStateItReached) {
  const ClearedInterrupt cleared;
  const Demo demo;
  for (SolverOptions o : every_method()) {
    if (o.method == Method::exact) continue;  // no progress callback: covered by the test above
    SCOPED_TRACE(name(o));
    clear_interrupt();
    Eigen::VectorXd theta = demo.theta0;
    long requested_at = -1;
    const Summary s = train(demo.problem, demo.shape, theta, o, {}, {}, [&](const Progress& p) {
      if (p.steps >= 3 && requested_at < 0) {
        requested_at = p.steps;
        request_interrupt();
      }
    });
    ASSERT_EQ(s.status, Status::interrupted) << s.message;
    ASSERT_GE(requested_at, 0);
    EXPECT_GT(s.t_final, 0);
    // GD reports iteration k before it takes step k + 1 and stops before the next update.
    const long reached = o.method == Method::gd ? requested_at + 1 : requested_at;
    EXPECT_EQ(s.stats.steps, reached);

    clear_interrupt();
    SolverOptions budget = o;
    if (o.method == Method::gd) {
      budget.steps = reached;
    } else {
      budget.max_steps = reached;
    }
    Eigen::VectorXd expected = demo.theta0;
    const Summary b = train(demo.problem, demo.shape, expected, budget);
    EXPECT_NE(b.status, Status::interrupted) << b.message;  // max_steps, or converged for GD past t_eps
    EXPECT_EQ(b.t_final, s.t_final);
    EXPECT_EQ(theta, expected);
  }
}

}  // namespace
}  // namespace linflow
