// A process group of one: what linflow uses when it is built without MPI.
#include "linflow/process_group.hpp"
#include "sweep/protocol.hpp"

namespace linflow {

ProcessGroup::ProcessGroup() = default;
ProcessGroup::~ProcessGroup() = default;
bool ProcessGroup::mpi_built() { return false; }

namespace detail {

// Unreachable with a group of one; kept total so that a caller's mistake does nothing instead of hanging.
void serve_runs(const TakeRun&, const DeliverRun&) {}
void work_runs(const ExecuteRun&) {}
std::string broadcast_from_root(const std::string& message) { return message; }

}  // namespace detail
}  // namespace linflow
