#pragma once
// The processes that share one sweep: one process, or the ranks of an MPI job (src/sweep/process_group_mpi.cpp, the
// only place linflow sees MPI).

namespace linflow {

/// The processes that share one sweep. Create one per process (in main or the command) before `run_sweep` and
/// keep it alive until after. When linflow was built with MPI (`mpi_built()`) and the process was started by an
/// MPI launcher (mpirun/mpiexec/srun, recognised from their environment variables), it initialises MPI
/// (MPI_THREAD_FUNNELED) and the destructor finalises it; otherwise it is a group of one and touches nothing.
class ProcessGroup {
 public:
  ProcessGroup();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Whether this linflow was built with MPI support.
  static bool mpi_built();

 private:
  int rank_ = 0;
  int size_ = 1;
  bool initialized_ = false;
};

}  // namespace linflow
