#pragma once
// The part of a sweep that talks between processes. Two implementations, one linked in: process_group_mpi.cpp (MPI,
// when LINFLOW_WITH_MPI) and process_group_serial.cpp (a group of one). The rest of the sweep never includes <mpi.h>.
//
// Protocol (dynamic assignment in batches): a worker rank sends rank 0 a result message — how many runs it wants
// next (about 5 ms of work at its measured pace, 1 to 64) and the lines of the runs it finished since its last
// message, none in its first — and receives the next indices to run, or none to stop. Rank 0 answers from the same
// queue its own threads take from, so every index is run exactly once.
#include <functional>
#include <optional>
#include <string>

namespace linflow::detail {

/// Next run index to execute, or nullopt when none is left. Thread-safe.
using TakeRun = std::function<std::optional<long>()>;
/// Hand a finished run's line to the writer. Thread-safe.
using DeliverRun = std::function<void(long, std::string)>;
/// Execute a run and return its line.
using ExecuteRun = std::function<std::string(long)>;

/// Rank 0 of a group of size > 1, on the thread that initialised MPI: serve indices from `take` to the other ranks
/// and pass the lines they return to `deliver`, until `take` is exhausted and every worker has been told to stop.
void serve_runs(const TakeRun& take, const DeliverRun& deliver);

/// Ranks > 0: ask rank 0 for runs, execute them, send their lines back, until told to stop.
void work_runs(const ExecuteRun& execute);

/// Collective over the group: every rank returns rank 0's `message`.
std::string broadcast_from_root(const std::string& message);

}  // namespace linflow::detail
