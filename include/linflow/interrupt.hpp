#pragma once
// A process-wide request to stop: what SIGINT / SIGTERM mean to linflow. The command-line tool's signal handler calls
// request_interrupt(); every method of train() reads the flag once per step (gradient-flow steps, gradient-descent
// iterations, the exact method's panels) and ends its run with Status::interrupted, the state it reached and a
// message saying where (t, excess loss). A sweep stops handing out runs: runs that finished are kept, runs that were
// interrupted are not recorded as finished, so `--resume` runs them again.
//
// The flag is a lock-free std::atomic<bool>: request_interrupt() is async-signal-safe (it may be called from a signal
// handler) and reading it costs a relaxed load. It stays set until clear_interrupt(): a library user who handles the
// interruption and wants to run again clears it first.

namespace linflow {

/// Asks every run in progress (and every run started afterwards) to stop at its next step. Async-signal-safe.
void request_interrupt() noexcept;
/// Whether an interruption has been requested and not cleared since.
bool interrupt_requested() noexcept;
/// Forgets the request: later runs go to their end again.
void clear_interrupt() noexcept;

}  // namespace linflow
