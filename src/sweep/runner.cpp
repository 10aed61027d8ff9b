// Running a sweep: the thread pool (and MPI ranks, through sweep/protocol.hpp) that executes the missing runs,
// and the crash-safe runs.jsonl (one write() per line, resume, the final sorted rewrite).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "core/files.hpp"
#include "linflow/error.hpp"
#include "linflow/interrupt.hpp"
#include "linflow/sweep.hpp"
#include "run/json_text.hpp"
#include "sweep/protocol.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;
using detail::ensure_writable_dir;
using detail::read_text;
using detail::write_all;
using detail::write_file_atomically;
using nlohmann::json;
using nlohmann::ordered_json;

std::string status_of(const std::string& line) {
  const json j = json::parse(line, nullptr, false);
  if (j.is_object() && j.contains("status") && j["status"].is_string()) return j["status"].get<std::string>();
  return "unknown";
}

// runs.jsonl while a sweep runs: finished lines in memory by run index, appended to the file one write() each.
class RunsFile {
 public:
  RunsFile(fs::path path, long total) : path_(std::move(path)), lines_(static_cast<size_t>(total)) {}
  RunsFile(const RunsFile&) = delete;
  RunsFile& operator=(const RunsFile&) = delete;
  ~RunsFile() {
    if (fd_ >= 0) ::close(fd_);
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  // One writer per output folder: an exclusive lock on DIR/.linflow.lock, held until this sweep ends (the kernel
  // releases it if the process dies), so a second sweep or `--resume` on the same folder is refused instead of
  // running the same runs and racing on sweep.json.tmp.
  void lock_folder(const fs::path& dir) {
    const fs::path path = dir / ".linflow.lock";
    lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) throw InputError(path.string() + ": cannot open: " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      throw InputError(dir.string() + ": another linflow process is writing to this folder (it holds " + path.string() +
                       "); wait for it, or choose another --out");
    }
  }

  // Takes over the finished runs in the folder, matched to this sweep's runs by key (sweep_plan.hpp, Run names), not
  // by index: an interrupted session's lines, or those of a sweep this one extends, renumbered for this sweep. A kill
  // can leave the last line half written; it is ignored (and gone after rewrite_journal). A finished run that is not
  // a run of this sweep is refused rather than dropped, before anything is written. `has_files(k)` says whether a run's
  // saved files (sweep.save) are in place; a run without them is run again.
  void resume(const SweepConfig& sweep, const std::function<bool(long)>& has_files) {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return;
    const std::string text = read_text(path_, "runs file");
    std::map<std::string, std::pair<long, ordered_json>> finished;  // key -> (line number, line)
    size_t begin = 0;
    long number = 0;
    for (size_t end = text.find('\n'); end != std::string::npos; begin = end + 1, end = text.find('\n', begin)) {
      ++number;
      ordered_json j = ordered_json::parse(text.substr(begin, end - begin), nullptr, false);
      const std::string key = j.is_discarded() ? std::string() : line_key(sweep, json(j));
      if (key.empty()) {
        throw InputError(path_.string() + ":" + std::to_string(number) +
                         R"(: not a run of a sweep (a JSON object with "params" and "repeat" expected))");
      }
      finished.emplace(key, std::make_pair(number, std::move(j)));  // a duplicate cannot differ: runs are deterministic
    }
    for (size_t k = 0; k < lines_.size() && !finished.empty(); ++k) {
      const auto it = finished.find(run_key(sweep, static_cast<long>(k)));
      if (it == finished.end()) continue;
      ordered_json j = std::move(it->second.second);
      finished.erase(it);
      if (!has_files(static_cast<long>(k))) continue;
      j["run"] = k;
      j["point"] = static_cast<long>(k) / sweep.seeds;
      j["repeat"] = static_cast<long>(k) % sweep.seeds;
      std::string line = detail::json_text(j);
      count(line);
      lines_[k] = std::move(line);
      ++resumed_;
    }
    if (!finished.empty()) {
      const auto& [line_number, j] = finished.begin()->second;
      throw InputError(path_.string() + ":" + std::to_string(line_number) + ": run " + j["params"].dump() +
                       ", repeat " + j["repeat"].dump() +
                       " of the sweep in this folder is not a run of the one given (" +
                       std::to_string(finished.size()) +
                       " such runs): --resume continues or extends a sweep (more seeds, points, values), it never "
                       "drops finished runs; choose another --out");
    }
  }

  // Replaces the journal by the lines taken over by `resume`, in run order (a partial last line is gone with it).
  void rewrite_journal() {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return;
    std::string kept;
    for (const auto& line : lines_) {
      if (!line.empty()) kept += line + "\n";
    }
    write_file_atomically(path_, kept);
  }

  void open_for_append() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InputError(path_.string() + ": cannot open for writing: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw InputError(path_.string() + ": cannot read its size: " + std::strerror(errno));
    size_ = st.st_size;
  }

  // One write() per line in append mode: a kill leaves whole lines plus at most one partial last line. A write that
  // fails part way (a full disk takes what fits) is cut back to the last whole line.
  void append(long k, std::string line) {
    line += '\n';
    try {
      write_all(fd_, line, path_);
    } catch (const InputError&) {
      if (::ftruncate(fd_, size_) != 0) {
        // Nothing more to do: --resume ignores a partial last line.
      }
      throw;
    }
    size_ += static_cast<off_t>(line.size());
    line.pop_back();
    count(line);
    lines_[static_cast<size_t>(k)] = std::move(line);
  }

  std::vector<long> missing() const {
    std::vector<long> todo;
    for (size_t k = 0; k < lines_.size(); ++k) {
      if (lines_[k].empty()) todo.push_back(static_cast<long>(k));
    }
    return todo;
  }

  // The sorted file replaces the journal in one rename, so there is always a complete runs.jsonl on disk.
  void finish() {
    if (::close(fd_) != 0) throw InputError(path_.string() + ": write failed: " + std::strerror(errno));
    fd_ = -1;
    std::string text;
    for (const auto& line : lines_) text += line + "\n";
    write_file_atomically(path_, text);
  }

  long resumed() const { return resumed_; }
  const std::map<std::string, long>& counts() const { return counts_; }

 private:
  void count(const std::string& line) { ++counts_[status_of(line)]; }

  fs::path path_;
  std::vector<std::string> lines_;
  std::map<std::string, long> counts_;
  long resumed_ = 0;
  int fd_ = -1;
  off_t size_ = 0;  // of the journal: its whole lines
  int lock_fd_ = -1;
};

// Makes out_dir ready: sweep.json written (or checked on resume), runs.jsonl loaded and open for appending.
void prepare(const SweepConfig& sweep, const SweepOptions& options, RunsFile& runs) {
  const fs::path dir(options.out_dir);
  ensure_writable_dir(dir);
  runs.lock_folder(dir);
  const fs::path description = dir / "sweep.json";
  const fs::path runs_path = dir / "runs.jsonl";
  const std::string text = detail::json_text(to_json(sweep), 2);
  std::error_code ec;
  const bool has_runs = fs::exists(runs_path, ec) && fs::file_size(runs_path, ec) > 0;
  if (!options.resume && has_runs) {
    throw InputError(runs_path.string() + " exists: pass --resume to continue that sweep, or choose another --out");
  }
  if (options.resume && has_runs) {
    if (!fs::exists(description, ec)) {
      throw InputError(runs_path.string() + " has no sweep.json next to it: cannot tell which sweep it belongs to");
    }
    const json old = json::parse(read_text(description, "sweep description"), nullptr, false);
    // A parse failure is a "discarded" value, which compares unequal to nothing: test it first, or a corrupt
    // sweep.json would pass as the same sweep and two sweeps' runs would mix in one runs.jsonl.
    if (old.is_discarded() || !old.is_object()) {
      throw InputError(description.string() + ": not valid JSON (damaged?): cannot tell which sweep " +
                       runs_path.string() + " belongs to; restore it or choose another --out");
    }
    // What makes the same parameters give the same line. The axes, seeds, points and sample count may differ: the
    // runs are matched by key (RunsFile::resume).
    const json now = json::parse(text);
    for (const char* field : {"format", "version", "analyze", "base"}) {
      if (!old.contains(field) || old[field] != now[field]) {
        throw InputError(description.string() + " describes a sweep with another " +
                         (std::string(field) == "base" ? std::string("base configuration") : std::string(field)) +
                         " than the one given (its runs would not be this sweep's runs): resume it with the same "
                         "base, --set and linflow version, or choose another --out");
      }
    }
  }
  if (options.resume) {
    const bool save = sweep.save_trajectory || sweep.save_weights;
    runs.resume(sweep, [&](long k) {
      if (!save) return true;
      const fs::path run_dir = dir / "runs" / run_id(sweep, k);
      std::error_code e;
      return fs::exists(run_dir / "summary.json", e) &&
             (!sweep.save_trajectory || fs::exists(run_dir / "trajectory.csv", e)) &&
             (!sweep.save_weights || fs::exists(run_dir / "weights" / "W1.npy", e));
    });
  }
  // sweep.json first: if a kill falls between the two, the journal's lines are still matched by key next time.
  write_file_atomically(description, text);
  if (options.resume) runs.rewrite_journal();
  runs.open_for_append();
}

std::string summary_message(const SweepSummary& s) {
  std::ostringstream os;
  os.precision(3);
  os << s.total << " runs:";
  bool first = true;
  for (const auto& [status, n] : s.status_counts) {
    os << (first ? " " : ", ") << n << " " << status;
    first = false;
  }
  os << " (" << s.executed << " run now, " << s.resumed << " resumed) in " << s.wall_seconds << " s";
  if (s.executed > 0 && s.wall_seconds > 0) os << ", " << static_cast<double>(s.executed) / s.wall_seconds << " runs/s";
  os << " on " << s.processes << (s.processes == 1 ? " process" : " processes") << " (" << s.threads
     << (s.threads == 1 ? " thread" : " threads") << (s.processes > 1 ? " on rank 0)" : ")");
  return os.str();
}

}  // namespace

const char* to_string(SweepStatus status) {
  switch (status) {
    case SweepStatus::complete:
      return "complete";
    case SweepStatus::run_errors:
      return "run_errors";
    case SweepStatus::worker_done:
      return "worker_done";
    case SweepStatus::interrupted:
      return "interrupted";
  }
  return "?";
}

bool SweepOptions::is_valid(std::string* why) const {
  auto bad = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (out_dir.empty()) return bad("sweep: an output directory is required");
  if (threads < 0 || threads > 4096) return bad("sweep: threads must be in 0..4096, got " + std::to_string(threads));
  return true;
}

SweepSummary run_sweep(const SweepConfig& sweep, const SweepOptions& options, const SweepProgressSink& progress) {
  std::string why;
  if (!sweep.is_valid(&why) || !options.is_valid(&why)) throw InputError(why);
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  SweepSummary summary;
  summary.total = run_count(sweep);
  summary.processes = options.processes ? options.processes->size() : 1;
  const int rank = options.processes ? options.processes->rank() : 0;
  summary.threads =
      options.threads > 0 ? options.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  summary.runs_file = (fs::path(options.out_dir) / "runs.jsonl").string();

  if (rank != 0) {
    const std::string error = detail::broadcast_from_root("");
    if (!error.empty()) throw InputError(error);
    long executed = 0;
    detail::work_runs([&](long k) {
      ++executed;
      return run_line(sweep, k, options.out_dir);
    });
    summary.status = SweepStatus::worker_done;
    summary.executed = executed;
    summary.threads = 1;
    summary.wall_seconds = seconds();
    summary.message = "rank " + std::to_string(rank) + " ran " + std::to_string(executed) + " runs; rank 0 wrote " +
                      summary.runs_file;
    return summary;
  }

  RunsFile runs(summary.runs_file, summary.total);
  std::exception_ptr setup_failure;
  std::string setup_error;
  try {
    prepare(sweep, options, runs);
  } catch (const std::exception& e) {
    setup_failure = std::current_exception();
    setup_error = e.what();
  }
  // Workers wait for this; they must hear about a failure too, or they would wait forever.
  if (summary.processes > 1) detail::broadcast_from_root(setup_failure ? setup_error : std::string());
  if (setup_failure) std::rethrow_exception(setup_failure);

  const std::vector<long> todo = runs.missing();
  summary.resumed = runs.resumed();
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr failure;
  long executed = 0;
  // The pace of finished runs (this process's, timed around each run) makes the ETA: unlike the elapsed time per
  // finished run, it leaves out the set-up and does not count runs still in flight on other threads as not begun.
  double run_seconds = 0;
  long timed_runs = 0;
  const long workers = std::min<long>(summary.threads, static_cast<long>(todo.size())) + summary.processes - 1;
  auto fail = [&](std::exception_ptr e) {  // caller holds `mutex`
    if (!failure) failure = e;
    stop = true;
  };
  const detail::TakeRun take = [&]() -> std::optional<long> {
    if (stop || interrupt_requested()) return std::nullopt;
    const size_t i = next.fetch_add(1);
    if (i >= todo.size()) return std::nullopt;
    return todo[i];
  };
  const detail::DeliverRun deliver = [&](long k, std::string line) {
    const std::lock_guard<std::mutex> lock(mutex);
    if (failure) return;
    // An interrupted run is not finished: left out of runs.jsonl, it is run again by --resume. It also stops the
    // hand-out here when only an MPI worker was signalled.
    if (status_of(line) == to_string(Status::interrupted)) {
      stop = true;
      return;
    }
    try {
      runs.append(k, std::move(line));
      ++executed;
      if (progress) {
        SweepProgress p;
        p.done = summary.resumed + executed;
        p.total = summary.total;
        p.resumed = summary.resumed;
        p.elapsed = seconds();
        const long left = p.total - p.done;
        p.eta = timed_runs > 0 ? run_seconds / static_cast<double>(timed_runs) * static_cast<double>(left) /
                                     static_cast<double>(std::max<long>(1, std::min(workers, left)))
                               : p.elapsed / static_cast<double>(executed) * static_cast<double>(left);
        progress(p);
      }
    } catch (...) {
      fail(std::current_exception());
    }
  };
  auto work = [&] {
    try {
      while (const auto k = take()) {
        const auto begun = std::chrono::steady_clock::now();
        std::string line = run_line(sweep, *k, options.out_dir);
        {
          const std::lock_guard<std::mutex> lock(mutex);
          run_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count();
          ++timed_runs;
        }
        deliver(*k, std::move(line));
      }
    } catch (...) {
      const std::lock_guard<std::mutex> lock(mutex);
      fail(std::current_exception());
    }
  };
  {
    std::vector<std::jthread> pool;
    const auto local = static_cast<int>(std::min<long>(summary.threads, static_cast<long>(todo.size())));
    pool.reserve(static_cast<size_t>(local));
    for (int t = 0; t < local; ++t) pool.emplace_back(work);
    if (summary.processes > 1) detail::serve_runs(take, deliver);
  }
  if (failure) std::rethrow_exception(failure);
  summary.executed = executed;
  summary.missing = static_cast<long>(runs.missing().size());
  if (summary.missing > 0) {  // interrupted: the journal stays as it is, for --resume
    summary.status = SweepStatus::interrupted;
    summary.status_counts.assign(runs.counts().begin(), runs.counts().end());
    summary.wall_seconds = seconds();
    std::ostringstream os;
    os << "interrupted: " << summary.total - summary.missing << " of " << summary.total << " runs in "
       << summary.runs_file << " (" << executed << " run now), " << summary.missing << " missing";
    summary.message = os.str();
    return summary;
  }
  runs.finish();

  summary.status_counts.assign(runs.counts().begin(), runs.counts().end());
  const auto errors = runs.counts().find("error");
  summary.errors = errors == runs.counts().end() ? 0 : errors->second;
  summary.status = summary.errors > 0 ? SweepStatus::run_errors : SweepStatus::complete;
  summary.wall_seconds = seconds();
  summary.message = summary_message(summary);
  return summary;
}

std::vector<json> read_runs(const std::string& path) {
  const std::string text = read_text(path, "runs file");
  std::vector<json> runs;
  size_t begin = 0;
  long number = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; begin = end + 1, end = text.find('\n', begin)) {
    ++number;
    json j = json::parse(text.substr(begin, end - begin), nullptr, false);
    if (!j.is_object() || !j.contains("run") || !j["run"].is_number_integer()) {
      throw InputError(path + ":" + std::to_string(number) + ": not a sweep run (a JSON object with \"run\" expected)");
    }
    runs.push_back(std::move(j));
  }
  return runs;
}
}  // namespace linflow
