// The MPI side of sweeps (built when LINFLOW_WITH_MPI): process group setup and the run-assignment protocol of
// sweep/protocol.hpp. Only rank 0's main thread and the workers' single thread call MPI, so
// MPI_THREAD_FUNNELED is enough while rank 0's compute threads run.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "linflow/process_group.hpp"
#include "sweep/protocol.hpp"

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

// A worker's message to rank 0: how many runs it wants next, then the lines of the runs it finished since its last
// message, each as (index, length, bytes). All integers int64, native byte order (one machine type per job).
class ResultMessage {
 public:
  explicit ResultMessage(std::int64_t wanted) { put(wanted); }
  void add(std::int64_t index, const std::string& line) {
    put(index);
    put(static_cast<std::int64_t>(line.size()));
    bytes_ += line;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void put(std::int64_t v) { bytes_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  std::string bytes_;
};

std::int64_t get(const std::vector<char>& buffer, size_t& at) {
  if (at + sizeof(std::int64_t) > buffer.size()) throw std::runtime_error("sweep: malformed message from a worker");
  std::int64_t v = 0;
  std::memcpy(&v, buffer.data() + at, sizeof v);
  at += sizeof v;
  return v;
}

// The most runs one assignment carries, and the work a worker asks for at a time: enough that a message per run
// (a round trip through rank 0, whose serving thread polls every 50 µs) does not dominate runs of a millisecond or
// less, little enough that the ranks finish together and a rank that dies loses little.
constexpr std::int64_t kMaxBatch = 64;
constexpr double kBatchSeconds = 0.005;

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
  std::vector<std::int64_t> assign;
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
    buffer.resize(static_cast<size_t>(bytes));
    check(MPI_Recv(buffer.data(), bytes, MPI_CHAR, status.MPI_SOURCE, kResultTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
    size_t at = 0;
    const std::int64_t wanted = std::clamp<std::int64_t>(get(buffer, at), 1, kMaxBatch);
    while (at < buffer.size()) {
      const std::int64_t index = get(buffer, at);
      const std::int64_t length = get(buffer, at);
      if (index < 0 || length < 0 || at + static_cast<size_t>(length) > buffer.size())
        throw std::runtime_error("sweep: malformed message from a worker");
      deliver(static_cast<long>(index), std::string(buffer.data() + at, static_cast<size_t>(length)));
      at += static_cast<size_t>(length);
    }
    assign.clear();
    while (static_cast<std::int64_t>(assign.size()) < wanted) {
      const std::optional<long> next = take();
      if (!next) break;
      assign.push_back(*next);
    }
    // An empty assignment tells the worker to stop.
    check(MPI_Send(assign.data(), static_cast<int>(assign.size()), MPI_INT64_T, status.MPI_SOURCE, kAssignTag,
                   MPI_COMM_WORLD),
          "MPI_Send");
    if (assign.empty()) --active;
  }
}

void work_runs(const ExecuteRun& execute) {
  ResultMessage message(1);
  std::vector<std::int64_t> assigned(static_cast<size_t>(kMaxBatch));
  double busy = 0;
  long done = 0;
  for (;;) {
    check(MPI_Send(message.bytes().data(), static_cast<int>(message.bytes().size()), MPI_CHAR, 0, kResultTag,
                   MPI_COMM_WORLD),
          "MPI_Send");
    MPI_Status status;
    check(MPI_Recv(assigned.data(), static_cast<int>(kMaxBatch), MPI_INT64_T, 0, kAssignTag, MPI_COMM_WORLD, &status),
          "MPI_Recv");
    int count = 0;
    check(MPI_Get_count(&status, MPI_INT64_T, &count), "MPI_Get_count");
    if (count == 0) return;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::pair<std::int64_t, std::string>> lines;
    for (int i = 0; i < count; ++i) {
      const std::int64_t k = assigned[static_cast<size_t>(i)];
      lines.emplace_back(k, execute(static_cast<long>(k)));
    }
    busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done += count;
    const double per_run = busy / static_cast<double>(done);
    const auto wanted =
        per_run > 0 ? static_cast<std::int64_t>(std::clamp(kBatchSeconds / per_run, 1.0, double(kMaxBatch))) : 1;
    message = ResultMessage(wanted);
    for (const auto& [k, line] : lines) message.add(k, line);
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
