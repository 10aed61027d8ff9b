// The MPI side of sweeps (built when LINFLOW_WITH_MPI): process group setup and the run-assignment protocol of
// detail/distributed.hpp. Only rank 0's main thread and the workers' single thread call MPI, so
// MPI_THREAD_FUNNELED is enough while rank 0's compute threads run.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "detail/distributed.hpp"
#include "linflow/sweep.hpp"

namespace linflow {
namespace {

constexpr int kResultTag = 17;
constexpr int kAssignTag = 18;

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, static_cast<size_t>(length)));
}

// MPI_Init outside a launcher would start a singleton MPI job (slow, and it can fail in containers), so linflow
// only initialises MPI when a launcher's environment says it started this process.
bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::string encode(std::int64_t index, const std::string& line) {
  std::string payload(sizeof index, '\0');
  std::memcpy(payload.data(), &index, sizeof index);
  return payload + line;
}

}  // namespace

ProcessGroup::ProcessGroup() {
  if (!started_by_mpi_launcher()) return;
  int already = 0;
  check(MPI_Initialized(&already), "MPI_Initialized");
  if (!already) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialized_ = true;
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();  // the destructor of a half-built object does not run
      throw std::runtime_error("the MPI library does not provide MPI_THREAD_FUNNELED, which linflow sweeps need");
    }
  }
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

ProcessGroup::~ProcessGroup() {
  if (initialized_) MPI_Finalize();
}

bool ProcessGroup::mpi_built() { return true; }

namespace detail {

void serve_runs(const TakeRun& take, const DeliverRun& deliver) {
  int size = 1;
  check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  int active = size - 1;
  std::vector<char> buffer;
  while (active > 0) {
    int ready = 0;
    MPI_Status status;
    check(MPI_Iprobe(MPI_ANY_SOURCE, kResultTag, MPI_COMM_WORLD, &ready, &status), "MPI_Iprobe");
    if (!ready) {
      // A blocking receive would spin a core that rank 0's own compute threads need.
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    int bytes = 0;
    check(MPI_Get_count(&status, MPI_CHAR, &bytes), "MPI_Get_count");
    if (bytes < static_cast<int>(sizeof(std::int64_t)))
      throw std::runtime_error("sweep: malformed message from a worker");
    buffer.resize(static_cast<size_t>(bytes));
    check(MPI_Recv(buffer.data(), bytes, MPI_CHAR, status.MPI_SOURCE, kResultTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
    std::int64_t index = -1;
    std::memcpy(&index, buffer.data(), sizeof index);
    if (index >= 0) deliver(static_cast<long>(index), std::string(buffer.begin() + sizeof index, buffer.end()));
    const std::optional<long> next = take();
    const std::int64_t assign = next ? *next : -1;
    check(MPI_Send(&assign, 1, MPI_INT64_T, status.MPI_SOURCE, kAssignTag, MPI_COMM_WORLD), "MPI_Send");
    if (!next) --active;
  }
}

void work_runs(const ExecuteRun& execute) {
  std::string payload = encode(-1, "");
  for (;;) {
    check(MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_CHAR, 0, kResultTag, MPI_COMM_WORLD),
          "MPI_Send");
    std::int64_t next = -1;
    check(MPI_Recv(&next, 1, MPI_INT64_T, 0, kAssignTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    if (next < 0) return;
    payload = encode(next, execute(static_cast<long>(next)));
  }
}

std::string broadcast_from_root(const std::string& message) {
  std::int64_t length = static_cast<std::int64_t>(message.size());
  check(MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string text = message;
  text.resize(static_cast<size_t>(length));
  if (length > 0) check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return text;
}

}  // namespace detail
}  // namespace linflow
