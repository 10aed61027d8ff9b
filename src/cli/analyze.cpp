#include "cli/analyze.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/common.hpp"
#include "linflow/config.hpp"
#include "linflow/error.hpp"
#include "linflow/run.hpp"

namespace linflow::cli {
// The report names the theory's types (Analysis, Prediction, Bounds, …) throughout.
using namespace linflow::theory;
namespace {

namespace fs = std::filesystem;

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
std::string num(const std::optional<double>& v) { return v ? num(*v) : std::string("-"); }
std::string yes_no(bool b) { return b ? "yes" : "no"; }
std::string cite(const Citation& c) { return c.name.empty() ? "" : c.name + " [" + to_string(c.tag) + "]"; }

// "  label              text\n" with the label padded to a fixed column.
void row(std::ostringstream& os, const std::string& label, const std::string& text) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-20s ", label.c_str());
  os << buf << text << '\n';
}

std::string join_widths(const std::vector<int>& w) {
  std::string out;
  for (size_t i = 0; i < w.size(); ++i) out += (i ? "-" : "") + std::to_string(w[i]);
  return out;
}

// The statement already says why a condition is n/a (and prints the relation that holds otherwise).
std::string condition_text(const Condition& c) {
  if (!c.applies) return c.statement;
  return std::string(c.holds ? "yes   " : "no    ") + c.statement;
}

}  // namespace

std::string describe_analysis(const Analysis& a, const Observation* ob) {
  std::ostringstream os;
  const Hypotheses& h = a.hypotheses;
  os << "hypotheses\n";
  row(os, "network", "depth " + std::to_string(h.depth) + ", widths " + join_widths(h.widths));
  row(os, "whitened data", yes_no(h.whitened));
  row(os, "width-one layer", yes_no(h.width_one) + " (min width " + std::to_string(h.min_width) + ")");
  row(os, "balanced",
      yes_no(h.balanced) + " (max_j ‖D_j‖_F = " + num(h.imbalance) + ", tolerance " + num(h.imbalance_tolerance) + ")");
  std::string sv;
  for (Eigen::Index i = 0; i < h.singular_values.size(); ++i) sv += (i ? ", " : "") + num(h.singular_values(i));
  row(os, "singular values", sv + " (gap s_1 − s_2 = " + num(h.spectral_gap) + ")");
  row(os, "start",
      "σ0 = " + num(a.start.sigma0) + ", f0 = " + num(a.start.f0) + ", L(0) − L* = " + num(a.start.excess_loss) +
          ", L* = " + num(a.start.optimal_loss));

  const Prediction& p = a.prediction;
  os << "prediction (" << to_string(a.status) << ", for " << to_string(a.method) << ")\n";
  std::string limit = to_string(p.limit);
  if (p.limit == Limit::saddle && p.saddle_index) {
    limit += " s_" + std::to_string(p.saddle_index) + " u_" + std::to_string(p.saddle_index) + " v_" +
             std::to_string(p.saddle_index) + "ᵀ";
  } else if (p.limit == Limit::saddle) {
    std::string list;
    for (int m : p.modes) list += (list.empty() ? "" : ", ") + std::to_string(m);
    limit += " Σ_a s_a u_a v_aᵀ over modes " + list;
  }
  row(os, "limit", limit);
  row(os, "because", p.reason);
  if (!p.result.name.empty()) row(os, "result", cite(p.result));
  if (p.c.size()) {
    std::string c;
    for (Eigen::Index i = 0; i < p.c.size(); ++i) c += (i ? ", " : "") + num(p.c(i));
    row(os, "c_i", c + " (zero below " + num(p.c_zero_tolerance) + "; a joint sign flip of u0, v0 flips all)");
  }

  os << "sufficient conditions for the global minimum (strongest first)\n";
  row(os, "deficiency margin", condition_text(a.conditions.deficiency_margin));
  row(os, "sublevel", condition_text(a.conditions.sublevel));
  row(os, "alignment", condition_text(a.conditions.alignment));
  row(os, "stable set", condition_text(a.conditions.stable_set));

  if (a.decoupled) {
    const DecoupledModes& d = *a.decoupled;
    os << "decoupled modes (" << (d.exact ? "aligned" : "nearly aligned, approximately decoupled") << ", misalignment "
       << num(d.misalignment) << "; " << cite(d.result) << ")\n";
    for (const Stage& stage : d.stages) {
      row(os, "mode " + std::to_string(stage.mode),
          "s = " + num(stage.s) + ", σ(0) = " + num(stage.sigma0) + ": σ reaches s/2 at t = " + num(stage.half_time) +
              " (plateau " + num(stage.plateau) + ")");
    }
    if (d.t_eps) row(os, "t_eps", num(*d.t_eps) + " (excess loss ≤ eps " + num(a.bounds.eps) + ")");
    if (d.late_rate) row(os, "late-time rate", num(*d.late_rate) + " (2N s_m^{2−2/N}, the slowest mode)");
  }

  const Bounds& b = a.bounds;
  os << "bounds (eps = " << num(b.eps) << ")\n";
  for (const RateBound& rb : b.rates) {
    row(os, rb.name + " rate", num(rb.rate) + " → t_eps ≤ " + num(rb.t_eps_bound) + "   " + cite(rb.result));
  }
  if (b.asymptotic_rate) row(os, "asymptotic rate", num(*b.asymptotic_rate) + "   " + cite(b.asymptotic_result));
  if (b.escape) {
    row(os, "escape time",
        "σ0 → " + num(b.escape->sigma_target) + " in [" + num(b.escape->lower) + ", " + num(b.escape->upper) + "]   " +
            cite(b.escape->result));
  }
  if (b.lingering_estimate) row(os, "near-saddle time", "≈ " + num(*b.lingering_estimate) + " [heuristic]");
  if (b.origin_transit) {
    row(os, "origin transit",
        "σ falls to " + num(b.origin_transit->sigma_min) + " at t = " + num(b.origin_transit->t_min) +
            " and grows back to " + num(b.origin_transit->sigma_target) + " at t = " + num(b.origin_transit->time) +
            "   " + cite(b.origin_transit->result));
  }
  if (b.roundoff_escape_estimate) {
    row(os, "round-off escape", "≈ " + num(*b.roundoff_escape_estimate) + " [heuristic]");
  }
  const GdBounds& g = b.gd;
  if (g.local_stability_lr) row(os, "GD local step limit", "lr < " + num(*g.local_stability_lr) + " [checked]");
  if (g.lr_max) {
    row(os, "GD Theorem 1",
        std::string(g.applies ? "applies" : "does not apply") + ": δ_max = " + num(g.delta_max) +
            ", lr_max = " + num(g.lr_max) + (g.iterations_bound ? ", iterations ≤ " + num(g.iterations_bound) : "") +
            "   " + cite(g.result));
  }
  if (a.method == Method::gd && g.asymptotic_rate) row(os, "GD late-time rate", num(*g.asymptotic_rate) + " [checked]");

  if (!a.not_applicable.empty()) {
    os << "not applicable\n";
    for (const auto& s : a.not_applicable) os << "  - " << s << '\n';
  }
  os << "still applies\n";
  for (const auto& s : a.still_applies) os << "  - " << s << '\n';

  if (ob) {
    const Summary& sm = ob->summary;
    os << "observed (" << to_string(a.method) << ": " << sm.message << ")\n";
    char line[200];
    std::snprintf(line, sizeof line, "  %-16s %-4s %14s %14s %10s\n", "quantity", "", "predicted", "observed", "ratio");
    os << line;
    auto limit_name = [](Limit limit, int index, const std::vector<int>& modes) {
      std::string text = to_string(limit);
      if (limit == Limit::saddle && index) return text + " " + std::to_string(index);
      if (limit == Limit::saddle && modes.size() > 1) {
        std::string list;
        for (int m : modes) list += (list.empty() ? "" : ",") + std::to_string(m);
        text += " {" + list + "}";
      }
      return text;
    };
    const std::string seen = limit_name(ob->limit, ob->saddle_index, ob->modes);
    const std::string expected = limit_name(p.limit, p.saddle_index, p.modes);
    std::snprintf(line, sizeof line, "  %-16s %-4s %14s %14s %10s   distance %s (tolerance %s)\n", "limit",
                  "==", expected.c_str(), seen.c_str(), "", num(ob->distance).c_str(),
                  num(ob->distance_tolerance).c_str());
    os << line;
    for (const Comparison& c : ob->comparisons) {
      std::string predicted = num(c.predicted);
      if (c.predicted_lower) predicted = "[" + num(c.predicted_lower) + ", " + predicted + "]";
      std::snprintf(line, sizeof line, "  %-16s %-4s %14s %14s %10s", c.quantity.c_str(), c.relation.c_str(),
                    predicted.c_str(), num(c.observed).c_str(), num(c.ratio).c_str());
      os << line << "   " << (c.contradiction ? "CONTRADICTED" : "") << (c.note.empty() ? "" : "  " + c.note) << '\n';
    }
    for (const auto& n : ob->notes) os << "  note: " << n << '\n';
    for (const auto& c : ob->contradictions) os << "CONTRADICTION: " << c << '\n';
    if (ob->contradictions.empty()) os << "no contradictions: every prediction checked here holds\n";
  }
  return os.str();
}

// One line on a point's kind (docs/theory.md §9), or nothing when it was not asked for.
std::string describe_point(const char* label, const std::optional<theory::PointKind>& point) {
  if (!point) return {};
  std::ostringstream os;
  os.precision(3);
  os << label << " " << point->kind << " (‖∇L‖ = " << point->grad_norm << ", λ_min = " << point->spectrum.min_eigenvalue
     << ", λ_max = " << point->spectrum.max_eigenvalue;
  if (point->spectrum.negative >= 0) {
    os << "; " << point->spectrum.negative << " negative, " << point->spectrum.zero << " zero within "
       << point->zero_tolerance << " (the rescaling symmetry accounts for " << point->symmetry_zeros << "), "
       << point->spectrum.positive << " positive";
  } else {
    os << ", " << point->spectrum.method << ": " << point->spectrum.hessian_vector_products
       << " Hessian-vector products, " << point->spectrum.lanczos_restarts << " restarts";
  }
  os << "; docs/theory.md §9)\n";
  return os.str();
}

void setup_analyze(CLI::App& app, AnalyzeOptions& opt, std::function<int()>& action) {
  auto* sub = app.add_subcommand("analyze", "What the theory predicts for a configuration; with --simulate, check it");
  sub->add_option("--config,-c", opt.config,
                  "Run configuration (as for train: TOML, '-', or a summary.json/analysis.json)")
      ->required();
  sub->add_option("--out,-o", opt.out, "Output directory for analysis.json (created if missing)")->required();
  sub->add_option("--set", opt.overrides,
                  "Override a config key: section.key=value (repeatable; paths relative to the current directory)");
  sub->add_flag("--simulate", opt.simulate, "Run the configured solver and compare each prediction with the run");
  sub->add_flag("--hessian", opt.hessian,
                "Classify the start (and the end, with --simulate) by its Hessian: minimum, strict or non-strict "
                "saddle, not critical (output.hessian)");
  sub->add_flag("--strict", opt.strict, "Exit with code 3 when the simulation contradicts a prediction");
  sub->add_flag("--quiet,-q", opt.quiet, "Print nothing but errors and contradictions");
  sub->callback([&] { action = [&] { return run_analyze(opt); }; });
}

int run_analyze(const AnalyzeOptions& opt) {
  RunConfig config = load_config(opt.config, opt.overrides);
  if (opt.hessian) config.output.hessian = true;
  if (opt.simulate) install_interrupt_handlers();
  ProgressPrinter progress("analyze", config.solver);
  const AnalysisResult result =
      analyze_config(config, opt.simulate, opt.out, opt.quiet ? ProgressSink{} : progress.sink());
  progress.finish();
  if (result.run && result.run->summary.status == Status::interrupted) {
    std::cerr << interrupted_line(*result.run, opt.out) << (result.run->kept_finished_run ? "" : ", no comparisons")
              << "\n";
    return kExitInterrupted;
  }
  const Observation* observation = result.observation ? &*result.observation : nullptr;
  const bool contradicted = observation && !observation->contradictions.empty();
  if (!opt.quiet) {
    std::cout << "linflow " << version() << " analyze: " << result.analysis.message << "\n"
              << describe_notes(result.notes) << describe_analysis(result.analysis, observation)
              << describe_point("Hessian at the start:", result.hessian_start)
              << describe_point("Hessian at the end:  ", result.hessian_end)
              << "output:                " << (fs::path(opt.out) / "analysis.json").string() << "\n";
  } else if (contradicted) {
    for (const auto& c : observation->contradictions) std::cout << "CONTRADICTION: " << c << '\n';
  }
  return opt.strict && contradicted ? 3 : 0;
}

}  // namespace linflow::cli
