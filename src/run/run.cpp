#include "linflow/run.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include "core/files.hpp"
#include "linflow/error.hpp"
#include "linflow/hessian.hpp"
#include "linflow/init.hpp"
#include "linflow/io.hpp"
#include "run/checkpoint_file.hpp"
#include "run/json_text.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;

nlohmann::json number_or_null(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

// A run writes its trajectory here while it runs; write_run_outputs moves it into place when the run has finished.
constexpr const char* kTrajectoryPending = "trajectory.csv.tmp";

// Removes the pending trajectory unless the run reached write_run_outputs (which moved it): a failed or interrupted
// rerun leaves the folder's earlier run as it was, without a stray file.
class PendingTrajectory {
 public:
  explicit PendingTrajectory(fs::path path) : path_(std::move(path)) {}
  PendingTrajectory(const PendingTrajectory&) = delete;
  PendingTrajectory& operator=(const PendingTrajectory&) = delete;
  ~PendingTrajectory() {
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A run's new files, each written whole beside its final name (detail::write_beside) before anything of the earlier
// run is touched, so that a write that fails (a full disk) leaves the earlier run as it was; `commit` then renames them
// into place in the order they were added, which needs no space. Whatever is not renamed is removed.
class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles() {
    std::error_code ec;
    for (const auto& file : files_) fs::remove(file.staged, ec);
  }
  void write(const fs::path& path, const std::string& bytes) {
    files_.push_back({detail::write_beside(path, bytes), path});
  }
  // A file already written beside its final name (the pending trajectory).
  void adopt(const fs::path& staged, const fs::path& path) { files_.push_back({staged, path}); }
  void commit() {
    for (const auto& file : files_) {
      std::error_code ec;
      fs::rename(file.staged, file.path, ec);
      if (ec) throw InputError(file.path.string() + ": cannot replace: " + ec.message());
    }
  }

 private:
  struct File {
    fs::path staged, path;
  };
  std::vector<File> files_;
};

// Removes W<j>.npy files of `wdir` with j > keep (all of them for keep = 0): an earlier run's layers that this run
// does not replace.
void remove_stale_weights(const fs::path& wdir, int keep) {
  std::error_code ec;
  if (!fs::is_directory(wdir, ec)) return;
  for (const auto& entry : fs::directory_iterator(wdir, ec)) {
    const std::string name = entry.path().filename().string();
    int j = 0;
    if (name.size() > 5 && name.front() == 'W' && name.ends_with(".npy") &&
        std::from_chars(name.data() + 1, name.data() + name.size() - 4, j).ptr == name.data() + name.size() - 4 &&
        j > keep) {
      fs::remove(entry.path(), ec);
    }
  }
}

// Checks, before any work, that a run can write its files into `dir`: the folder itself, and a weights/ that is a
// folder (a file of that name would fail only after the run).
void check_run_folder(const fs::path& dir, const RunConfig& config) {
  detail::ensure_writable_dir(dir);
  std::error_code ec;
  const fs::path weights = dir / "weights";
  if (config.output.save_weights && fs::exists(weights, ec) && !fs::is_directory(weights, ec)) {
    throw InputError(weights.string() +
                     ": exists and is not a directory; the run writes its weights there (or set output.save_weights "
                     "= false)");
  }
}

// Refuses, before anything is allocated, a run whose memory would exceed the machine's: widths, dimensions or sample
// counts that would otherwise end in bad_alloc (an internal error, and in a sweep the end of every other run too).
// The estimate counts the parameter vector about 24 times (θ, the gradient, the integrator's stages and dense output,
// the objective's products), the problem's d × d matrices six times, and every recorded row.
void check_memory(const RunConfig& config) {
  const std::vector<int>& w = config.widths;
  if (w.size() < 2) return;  // Shape reports it
  double parameters = 0;
  for (size_t j = 1; j < w.size(); ++j) parameters += static_cast<double>(w[j]) * w[j - 1];
  const double dx = config.problem.dims.size() == 2 ? config.problem.dims[0] : w.front();
  const double dy = config.problem.dims.size() == 2 ? config.problem.dims[1] : w.back();
  const double rows = 1.0 + config.output.samples_log + config.output.samples_uniform;
  const double bytes = 8.0 * (24.0 * parameters + 6.0 * (dx * dx + dy * dy + dx * dy) +
                              rows * (8.0 + 2.0 * std::max(config.output.modes, 0)));
  const double physical =
      static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && bytes > physical) {
    std::ostringstream os;
    os.precision(3);
    os << "network.widths, problem.dims and output.samples_*: this run needs about " << bytes / (1 << 30) << " GiB ("
       << parameters << " parameters, " << rows << " recorded rows), more than this machine's " << physical / (1 << 30)
       << " GiB";
    throw InputError(os.str());
  }
}

// Whether an interrupted run must leave `dir` alone: it holds a finished run.
bool keeps_finished_run(const fs::path& dir, const Summary& summary) {
  return summary.status == Status::interrupted && holds_finished_run(dir.string());
}

constexpr const char* kCheckpoint = "checkpoint.bin";

// The first key path at which two configurations (to_json) differ, for the message refusing a resume.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& at = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      std::string path = at.empty() ? key : at + "." + key;
      if (!b.contains(key)) return path;
      if (value != b.at(key)) return first_difference(value, b.at(key), path);
    }
    for (const auto& [key, value] : b.items()) {
      if (!a.contains(key)) return at.empty() ? key : at + "." + key;
    }
  }
  return at;
}

// trajectory.csv as a run writes it: rows formatted once, counted and hashed as they go, so that a checkpoint can
// say which prefix of the file belongs to it.
class TrajectoryWriter {
 public:
  // Starts `path` with the header (fresh), or with the prefix of `from` a checkpoint recorded (checked by its hash;
  // `from` may be `path` itself: the prefix is read first).
  TrajectoryWriter(const fs::path& path, int modes, bool sharpness) : path_(path) {
    csv_.open(path_, std::ios::trunc | std::ios::binary);
    if (!csv_) throw InputError(path_.string() + ": cannot write");
    write(trajectory_header(modes, sharpness) + "\n");
  }
  TrajectoryWriter(const fs::path& path, const fs::path& from, const detail::CheckpointFile& checkpoint)
      : path_(path), bytes_(checkpoint.trajectory_bytes), hash_(checkpoint.trajectory_hash) {
    std::error_code ec;
    const auto size = fs::file_size(from, ec);
    std::string prefix;
    if (!ec && size >= bytes_) {
      std::ifstream in(from, std::ios::binary);
      prefix.resize(static_cast<size_t>(bytes_));
      in.read(prefix.data(), static_cast<std::streamsize>(bytes_));
      if (!in) prefix.clear();
    }
    if (detail::fnv1a(prefix) != hash_ || prefix.size() != bytes_) {
      throw InputError(from.string() + ": does not hold the trajectory the checkpoint was taken with (" +
                       std::to_string(bytes_) + " bytes); run without --resume to start the run again");
    }
    csv_.open(path_, std::ios::trunc | std::ios::binary);
    csv_ << prefix;
    if (!csv_) throw InputError(path_.string() + ": cannot write");
  }
  void write(const Sample& s) {
    row_.str("");
    write_trajectory_row(row_, s);
    write(row_.str());
  }
  // Everything written is in the file (for a checkpoint that refers to it).
  void flush() {
    csv_.flush();
    if (!csv_) throw InputError(path_.string() + ": write failed");
  }
  void close() {
    csv_.close();
    if (!csv_) throw InputError(path_.string() + ": write failed");
  }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t hash() const { return hash_; }

 private:
  void write(const std::string& text) {
    csv_ << text;
    bytes_ += text.size();
    hash_ = detail::fnv1a(text, hash_);
  }
  fs::path path_;
  std::ofstream csv_;
  std::ostringstream row_ = [] {
    std::ostringstream os;
    os << std::setprecision(17);
    return os;
  }();
  std::uint64_t bytes_ = 0, hash_ = detail::kFnvOffset;
};

// The checkpoint a resumed run starts from, checked against the configuration (to_json) it is resumed with.
detail::CheckpointFile resumable_checkpoint(const fs::path& dir, const nlohmann::json& now) {
  detail::CheckpointFile file = detail::read_checkpoint_file(dir / kCheckpoint);
  if (file.version != version()) {
    throw InputError((dir / kCheckpoint).string() + ": taken by linflow " + file.version + ", this is " + version() +
                     "; run without --resume to start the run again");
  }
  if (file.config != now) {
    throw InputError((dir / kCheckpoint).string() + ": taken by a run of another configuration (" +
                     first_difference(file.config, now) +
                     " differs); resume with the configuration it was taken with, or run without --resume");
  }
  return file;
}

void write_trajectory(const fs::path& path, const std::vector<Sample>& samples) {
  const int modes = samples.empty() ? 0 : static_cast<int>(samples.front().singular_values.size());
  const bool sharpness = !samples.empty() && samples.front().sharpness.has_value();
  TrajectoryWriter csv(path, modes, sharpness);
  for (const Sample& s : samples) csv.write(s);
  csv.close();
}

// write_run_outputs with more files of the run in `staged` (analyze's analysis.json), put in place with the others.
void put_run_outputs(const fs::path& dir, const RunConfig& config, const Problem& problem, const Shape& shape,
                     const nlohmann::json& summary, const Eigen::VectorXd& theta, StagedFiles& staged) {
  const fs::path wdir = dir / "weights";
  if (config.output.save_weights) {
    std::error_code ec;
    fs::create_directories(wdir, ec);
    if (ec) throw InputError(wdir.string() + ": cannot create: " + ec.message());
    for (int l = 1; l <= shape.depth(); ++l) {
      staged.write(wdir / weights_file_name(l), detail::npy_bytes(shape.layer(theta, l)));
    }
  }
  staged.write(dir / "target.npy", detail::npy_bytes(problem.q()));
  if (!problem.whitened()) staged.write(dir / "sigma.npy", detail::npy_bytes(problem.sigma()));
  if (config.output.trajectory) staged.adopt(dir / kTrajectoryPending, dir / "trajectory.csv");
  staged.write(dir / "summary.json", detail::json_text(summary, 2));
  // Every new file is whole on disk; only now is the earlier run replaced, by renames. First the marker of a complete
  // run goes: until the new summary.json takes its place, the folder holds no complete run rather than a mix of two.
  std::error_code ec;
  fs::remove(dir / "summary.json", ec);
  remove_stale_weights(wdir, config.output.save_weights ? shape.depth() : 0);
  if (problem.whitened()) fs::remove(dir / "sigma.npy", ec);
  if (!config.output.trajectory) fs::remove(dir / "trajectory.csv", ec);
  staged.commit();
}

}  // namespace

const char* version() { return LINFLOW_VERSION; }

std::string trajectory_header(int modes, bool sharpness) {
  std::string h = "t,loss,excess_loss,dist_to_opt,grad_norm,imbalance_drift";
  for (int i = 1; i <= modes; ++i) h += ",sv" + std::to_string(i);
  for (int i = 1; i <= modes; ++i) h += ",align" + std::to_string(i);
  if (sharpness) h += ",sharpness";
  return h;
}

void write_trajectory_row(std::ostream& csv, const Sample& s) {
  csv << s.t << ',' << s.loss << ',' << s.excess_loss << ',' << s.dist_to_opt << ',' << s.grad_norm << ','
      << s.imbalance_drift;
  for (Eigen::Index i = 0; i < s.singular_values.size(); ++i) csv << ',' << s.singular_values(i);
  for (Eigen::Index i = 0; i < s.alignments.size(); ++i) csv << ',' << s.alignments(i);
  if (s.sharpness) csv << ',' << *s.sharpness;
  csv << '\n';
}

nlohmann::json to_json(const Summary& s) {
  nlohmann::json j;
  j["status"] = to_string(s.status);
  j["message"] = s.message;
  j["t_final"] = s.t_final;
  j["loss"] = number_or_null(s.loss);
  j["excess_loss"] = number_or_null(s.excess_loss);
  j["t_eps"] = s.t_eps ? nlohmann::json(*s.t_eps) : nlohmann::json(nullptr);
  j["initial_loss"] = number_or_null(s.initial_loss);
  j["initial_excess_loss"] = number_or_null(s.initial_excess_loss);
  j["initial_imbalance"] = number_or_null(s.initial_imbalance);
  nlohmann::json& stats = j["stats"];  // member by member: no initializer list's copies (see to_json(RunConfig))
  stats["steps"] = s.stats.steps;
  stats["rejected_steps"] = s.stats.rejected_steps;
  stats["rhs_evals"] = s.stats.rhs_evals;
  stats["jacobians"] = s.stats.jacobians;
  stats["jacobian_vector_products"] = s.stats.jacobian_vector_products;
  stats["wall_seconds"] = s.stats.wall_seconds;
  if (s.stats.implicit_from) stats["implicit_from"] = *s.stats.implicit_from;
  if (s.stats.sharpness_products > 0) stats["sharpness_products"] = s.stats.sharpness_products;
  return j;
}

nlohmann::json summary_json(const RunConfig& config, const Problem& problem, const Shape& shape, const Summary& summary,
                            const ReadNotes& notes) {
  nlohmann::json j = to_json(summary);
  j["optimal_loss"] = problem.optimum(shape.min_width()).loss;
  j["whitened"] = problem.whitened();
  j["data_constant"] = problem.data_constant();
  j["notes"] = notes;
  j["version"] = version();
  j["config"] = to_json(config);
  return j;
}

// With output.sharpness: "sharpness", λ_max(∇²L) at the run's final θ (the last trajectory row's value, there even
// when no trajectory is recorded, so that a sweep's lines carry it), null where it cannot be computed.
void add_final_sharpness(nlohmann::json& j, const RunConfig& config, const Problem& problem, const Shape& shape,
                         const Eigen::VectorXd& theta) {
  if (!config.output.sharpness) return;
  Hessian h(problem, shape);
  h.set_point(theta);
  j["sharpness"] = number_or_null(hessian_max_eigenvalue(h, kSharpnessDenseLimit));
}

void write_problem_files(const std::string& out_dir, const Problem& problem) {
  const fs::path dir(out_dir);
  write_npy((dir / "target.npy").string(), problem.q());
  std::error_code ec;
  if (problem.whitened()) {
    fs::remove(dir / "sigma.npy", ec);
  } else {
    write_npy((dir / "sigma.npy").string(), problem.sigma());
  }
}

void write_run_outputs(const std::string& out_dir, const RunConfig& config, const Problem& problem, const Shape& shape,
                       const nlohmann::json& summary, const Eigen::VectorXd& theta) {
  StagedFiles staged;
  put_run_outputs(out_dir, config, problem, shape, summary, theta, staged);
}

RunSetup set_up(const RunConfig& config) {
  check_memory(config);
  ReadNotes notes;
  Problem problem = make_problem(config, &notes);
  Shape shape(config.widths);
  Eigen::VectorXd theta0 = initialize(problem, shape, config.init);
  return RunSetup{config, std::move(problem), std::move(shape), std::move(theta0), std::move(notes)};
}

RecordOptions record_options(const RunSetup& setup) {
  const OutputOptions& output = setup.config.output;
  RecordOptions record;
  record.times = sample_times(setup.config.solver.t_max, output.samples_uniform, output.samples_log, output.t_min);
  record.modes = std::clamp(output.modes, 0,
                            std::min({setup.shape.min_width(), setup.problem.input_dim(), setup.problem.output_dim()}));
  record.sharpness = output.sharpness;
  return record;
}

theory::ObserveOptions observe_options(const OutputOptions& output) {
  theory::ObserveOptions oo;
  oo.samples_log = output.samples_log;
  oo.samples_uniform = std::max(output.samples_uniform, oo.samples_uniform);
  oo.t_min = output.t_min;
  oo.sharpness = output.sharpness;
  return oo;
}

bool holds_finished_run(const std::string& out_dir) {
  const fs::path summary = fs::path(out_dir) / "summary.json";
  std::error_code ec;
  if (!fs::exists(summary, ec)) return false;
  const nlohmann::json old = nlohmann::json::parse(std::ifstream(summary), nullptr, /*allow_exceptions=*/false);
  return !(old.is_object() && old.value("status", "") == to_string(Status::interrupted));
}

RunResult run_config(const RunConfig& config, const std::string& out_dir, const ProgressSink& progress,
                     const ResumeOptions& resume) {
  const fs::path dir(out_dir);
  if (!out_dir.empty()) check_run_folder(dir, config);
  const RunSetup setup = set_up(config);
  RunResult result;
  result.theta = setup.theta0;
  result.notes = setup.notes;
  const RecordOptions record = record_options(setup);
  const fs::path checkpoint_path = out_dir.empty() ? fs::path() : dir / kCheckpoint;
  std::error_code ec;
  const nlohmann::json config_json = to_json(config);  // what a checkpoint is taken with and checked against
  std::optional<detail::CheckpointFile> from;
  if (!out_dir.empty() && resume.resume) {
    if (fs::exists(checkpoint_path, ec)) {
      from = resumable_checkpoint(dir, config_json);
      std::ostringstream note;
      note.precision(6);
      note << "resumed from " << checkpoint_path.string() << " at t = " << from->checkpoint.t << " (step "
           << from->checkpoint.steps << ")";
      result.notes.push_back(note.str());
    } else {
      result.notes.push_back("no checkpoint in " + out_dir + ": the run starts at t = 0");
    }
  } else if (!out_dir.empty() && fs::exists(checkpoint_path, ec)) {
    fs::remove(checkpoint_path, ec);
    result.notes.push_back("the checkpoint of an unfinished run in " + out_dir +
                           " was removed: this run starts at t = 0 (--resume continues such a run)");
  }

  const bool write_csv = !out_dir.empty() && config.output.trajectory;
  const PendingTrajectory pending(write_csv ? dir / kTrajectoryPending : fs::path());
  std::optional<TrajectoryWriter> csv;
  if (write_csv && from) {
    // A killed run left its trajectory pending; an interrupted one wrote it out as trajectory.csv.
    const fs::path source = fs::exists(pending.path(), ec) ? pending.path() : dir / "trajectory.csv";
    csv.emplace(pending.path(), source, *from);
  } else if (write_csv) {
    csv.emplace(pending.path(), record.modes, record.sharpness);
  }
  SampleSink sink;
  if (csv) sink = [&csv](const Sample& s) { csv->write(s); };

  CheckpointOptions checkpoints;
  if (from) checkpoints.resume = &from->checkpoint;
  if (!out_dir.empty() && resume.checkpoint_seconds > 0 && config.solver.method != Method::exact) {
    checkpoints.every_seconds = resume.checkpoint_seconds;
    checkpoints.save = [&](const Checkpoint& c) {
      detail::CheckpointFile file{c, config_json, version(), 0, detail::kFnvOffset};
      if (csv) {
        csv->flush();
        file.trajectory_bytes = csv->bytes();
        file.trajectory_hash = csv->hash();
      }
      try {
        detail::write_checkpoint_file(checkpoint_path, file);
      } catch (const InputError& e) {  // the run goes on without: its own files are what matters
        result.notes.push_back(std::string("a checkpoint could not be written (") + e.what() +
                               "); the run went on without checkpoints");
        checkpoints.save = nullptr;
      }
    };
  }
  result.summary = train(setup.problem, setup.shape, result.theta, config.solver, record, sink, progress, checkpoints);
  result.json = summary_json(config, setup.problem, setup.shape, result.summary, result.notes);
  add_final_sharpness(result.json, config, setup.problem, setup.shape, result.theta);
  result.kept_finished_run = !out_dir.empty() && keeps_finished_run(dir, result.summary);
  if (!out_dir.empty() && !result.kept_finished_run) {
    if (csv) csv->close();
    write_run_outputs(out_dir, config, setup.problem, setup.shape, result.json, result.theta);
  }
  // A finished run needs no checkpoint; one whose files were not written (a finished run kept) cannot be resumed.
  if (!out_dir.empty() && (result.summary.status != Status::interrupted || result.kept_finished_run)) {
    fs::remove(checkpoint_path, ec);
    fs::remove(checkpoint_path.string() + ".tmp", ec);  // of a checkpoint whose writing a kill cut short
  }
  return result;
}

AnalysisResult analyze_config(const RunConfig& config, bool simulate, const std::string& out_dir,
                              const ProgressSink& progress) {
  const fs::path dir(out_dir);
  if (!out_dir.empty()) {
    if (simulate) {
      check_run_folder(dir, config);
    } else {
      detail::ensure_writable_dir(dir);
    }
  }
  const RunSetup setup = set_up(config);
  AnalysisResult result;
  result.analysis = theory::analyze(setup.problem, setup.shape, setup.theta0, config.solver);
  result.json = to_json(result.analysis);
  result.notes = setup.notes;
  result.problem = setup.problem;
  if (config.output.hessian) {
    result.hessian_start = theory::classify_point(setup.problem, setup.shape, setup.theta0);
    result.json["hessian"]["start"] = to_json(*result.hessian_start);
  }
  if (simulate) {
    result.observation = theory::observe(setup.problem, setup.shape, setup.theta0, config.solver, result.analysis,
                                         observe_options(config.output), progress);
    const theory::Observation& ob = *result.observation;
    // observe's simulation is the run: train() of `config` follows the same steps (recording never changes them).
    result.run = RunResult{ob.summary, ob.theta,
                           summary_json(config, setup.problem, setup.shape, ob.summary, setup.notes), setup.notes};
    add_final_sharpness(result.run->json, config, setup.problem, setup.shape, ob.theta);
    result.json["observed"] = to_json(ob);
    if (config.output.hessian && ob.summary.status != Status::interrupted) {
      result.hessian_end = theory::classify_point(setup.problem, setup.shape, ob.theta);
      result.json["hessian"]["end"] = to_json(*result.hessian_end);
    }
    result.run->kept_finished_run = !out_dir.empty() && keeps_finished_run(dir, ob.summary);
    if (result.run->kept_finished_run) return result;
  }
  result.json["notes"] = setup.notes;
  result.json["version"] = version();
  result.json["config"] = to_json(config);
  if (out_dir.empty()) return result;
  // analysis.json is one of the run's files: written whole with the others before an earlier run is touched, so that
  // a write that fails never leaves the earlier run's analysis.json beside this run's summary.json, or the reverse.
  StagedFiles staged;
  staged.write(dir / "analysis.json", detail::json_text(result.json, 2));
  if (simulate) {
    const PendingTrajectory pending(config.output.trajectory ? dir / kTrajectoryPending : fs::path());
    if (config.output.trajectory) write_trajectory(pending.path(), result.observation->samples);
    put_run_outputs(dir, config, setup.problem, setup.shape, result.run->json, result.observation->theta, staged);
  } else {
    write_problem_files(out_dir, setup.problem);
    staged.commit();
  }
  return result;
}

}  // namespace linflow
