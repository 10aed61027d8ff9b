#include "linflow/run.hpp"

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "detail/files.hpp"
#include "linflow/error.hpp"
#include "linflow/io.hpp"

namespace linflow {
namespace {

namespace fs = std::filesystem;

nlohmann::json number_or_null(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

}  // namespace

const char* version() { return LINFLOW_VERSION; }

std::string trajectory_header(int modes) {
  std::string h = "t,loss,excess_loss,dist_to_opt,grad_norm,imbalance_drift";
  for (int i = 1; i <= modes; ++i) h += ",sv" + std::to_string(i);
  for (int i = 1; i <= modes; ++i) h += ",align" + std::to_string(i);
  return h;
}

void write_trajectory_row(std::ostream& csv, const Sample& s) {
  csv << s.t << ',' << s.loss << ',' << s.excess_loss << ',' << s.dist_to_opt << ',' << s.grad_norm << ','
      << s.imbalance_drift;
  for (Eigen::Index i = 0; i < s.singular_values.size(); ++i) csv << ',' << s.singular_values(i);
  for (Eigen::Index i = 0; i < s.alignments.size(); ++i) csv << ',' << s.alignments(i);
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
  j["stats"] = {{"steps", s.stats.steps},
                {"rejected_steps", s.stats.rejected_steps},
                {"rhs_evals", s.stats.rhs_evals},
                {"wall_seconds", s.stats.wall_seconds}};
  return j;
}

nlohmann::json summary_json(const RunConfig& config, const Problem& problem, const Shape& shape,
                            const Summary& summary) {
  nlohmann::json j = to_json(summary);
  j["optimal_loss"] = problem.optimum(shape.min_width()).loss;
  j["version"] = version();
  j["config"] = to_json(config);
  return j;
}

void write_run_outputs(const std::string& out_dir, const RunConfig& config, const Shape& shape,
                       const nlohmann::json& summary, const Eigen::VectorXd& theta) {
  const fs::path dir(out_dir);
  if (config.output.save_weights) {
    const fs::path wdir = dir / "weights";
    fs::create_directories(wdir);
    for (int l = 1; l <= shape.depth(); ++l) {
      write_npy((wdir / ("W" + std::to_string(l) + ".npy")).string(), shape.layer(theta, l));
    }
  }
  detail::write_file_atomically(dir / "summary.json", summary.dump(2) + "\n");
}

RunResult run_config(const RunConfig& config, const std::string& out_dir, const ProgressSink& progress) {
  const fs::path dir(out_dir);
  if (!out_dir.empty()) detail::ensure_writable_dir(dir);
  const Problem problem = make_problem(config);
  const Shape shape(config.widths);
  RunResult result;
  result.theta = initialize(shape, config.init);

  RecordOptions record;
  record.times = sample_times(config.solver.t_max, config.output.samples_uniform, config.output.samples_log,
                              config.output.t_min);
  record.modes = std::clamp(config.output.modes, 0, std::min({shape.min_width(), problem.input_dim(), problem.output_dim()}));
  std::ofstream csv;
  const bool write_csv = !out_dir.empty() && config.output.trajectory;
  if (write_csv) {
    csv.open(dir / "trajectory.csv", std::ios::trunc);
    if (!csv) throw InputError((dir / "trajectory.csv").string() + ": cannot write");
    csv << trajectory_header(record.modes) << '\n' << std::setprecision(17);
  }
  SampleSink sink;
  if (write_csv) {
    sink = [&csv](const Sample& s) { write_trajectory_row(csv, s); };
  }
  result.summary = train(problem, shape, result.theta, config.solver, record, sink, progress);
  result.json = summary_json(config, problem, shape, result.summary);
  if (!out_dir.empty()) {
    if (write_csv) {
      csv.close();
      if (!csv) throw InputError((dir / "trajectory.csv").string() + ": write failed");
    }
    write_run_outputs(out_dir, config, shape, result.json, result.theta);
  }
  return result;
}

}  // namespace linflow
