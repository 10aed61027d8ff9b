"""linflow.plotting: the one implementation of linflow's figures, used by `linflow plot` (through scripts/plot.py)
and by the Python module (linflow.plot_run, plot_sweep, plot_experiment, which return matplotlib figures).

Figures of a linflow output directory, as PNG and SVG in DIR/figures/ (their paths are printed, one a line).

  train / demo directory (summary.json + trajectory.csv):
    loss.{png,svg}      excess loss L - L* against t, log scale (linear and logarithmic time), eps and t_eps marked;
                        with analysis.json in DIR (demo, analyze --simulate) also the docs/theory.md §6 κ bound
                        (L(0) - L*) e^{-κt} and the late-time rate
    spectrum.{png,svg}  singular values of W and alignments u_i^T W v_i against t, target singular values dashed
    sharpness.{png,svg} with output.sharpness: λ_max(∇²L) against t (linear and log time), for GD with the line
                        2/η (η = solver.lr), the edge-of-stability picture
  sweep / experiment directory (sweep.json + runs.jsonl):
    sweep_FIELD_vs_AXIS.{png,svg}  a summary field against one axis (or numeric field), one colour per setting of
                                   the other axes, named readably (depth N, σ0, η …); each point the median over
                                   the seeds with the interquartile band, the runs per point in the legend (outside
                                   the data). FIELD: --field, default t_eps, dotted names reach into stats, as in
                                   stats.rhs_evals, several comma-separated give one panel each; AXIS: --x, default
                                   the first numeric range axis; widths of distinct depths plot as depth N.
                                   --xscale/--yscale log|linear|auto (auto: log when the values span two decades)
    trajectories.{png,svg}         with sweep.save = ["trajectory"]: excess loss against t of every run, one
                                   colour per grid point, log-log
  experiment directory with an experiment.json of these experiments (instead of the sweep figure, unless --field
  or --x asks for it):
    escape_time        observed t_eps against σ0 per depth with the docs/theory.md §6 escape integral as curves,
                       and the relative error against the P9 tolerance
    stable_set_map     the slice coloured by the limit GF reached, with the boundary c_1 = 0 and the sufficient
                       conditions of docs/theory.md §5 (deficiency-margin ball, sublevel set, alignment) as contours
    rate_vs_depth      late-time rate against depth N (docs/theory.md §6 line, observed points) and t_eps against its κ bound
    bound_vs_observed  observed t_eps against the §6 κ bound, log-log, with the line y = x
    beyond_one_neuron  fraction of runs at the global optimum against init.scale, one line per depth, 95 % Wilson bars

Command line (scripts/plot.py, what `linflow plot` runs): plot.py DIR [--field NAME] [--x KEY] [--xscale S]
[--yscale S]. Exit code 2 on bad input, with one line on stderr.
Needs matplotlib (Debian: python3-matplotlib); scripts/plot.py draws with the Agg backend, so no display is needed.
The figure functions (run_figures, sweep_figure, experiment_figure) return figures and write nothing.
"""
import argparse
import csv
import json
import math
import os
import sys

import matplotlib.pyplot as plt

TIME_LABEL = "time t  [flow time; GD: k·η]"
LOSS_LABEL = "excess loss L − L*  [(target units)²]"


try:  # inside the linflow package: its InputError (a ValueError); loaded alone by scripts/plot.py: a local one
    from ._linflow import InputError
except ImportError:
    class InputError(ValueError):
        """Bad input: the message is one line."""


def detach(fig):
    """Removes a finished figure from pyplot's list of open figures (so notebooks show it once, when returned)."""
    plt.close(fig)
    return fig


def save(fig, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(path, dpi=150 if ext == "png" else None, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def read_trajectory(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise InputError(f"{path}: no samples")
    header = rows[0]
    columns = {name: [] for name in header}
    for row in rows[1:]:
        for name, value in zip(header, row):
            columns[name].append(float(value))
    for required in ("t", "excess_loss"):
        if required not in columns:
            raise InputError(f"{path}: no column '{required}'")
    return columns


def numbered(columns, prefix):
    names = [c for c in columns if c.startswith(prefix) and c[len(prefix):].isdigit()]
    return sorted(names, key=lambda c: int(c[len(prefix):]))


def read_run(run_dir):
    """(summary, trajectory columns, analysis or None) of a run directory."""
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    cols = read_trajectory(os.path.join(run_dir, "trajectory.csv"))
    analysis = None
    if os.path.exists(os.path.join(run_dir, "analysis.json")):
        with open(os.path.join(run_dir, "analysis.json")) as f:
            analysis = json.load(f)
    return summary, cols, analysis


def plot_run(run_dir, out_dir):
    """Draws a run directory's figures into out_dir; returns their paths."""
    paths = []
    for name, fig in run_figures(*read_run(run_dir)).items():
        paths += save(fig, out_dir, name)
    return paths


def run_figures(summary, cols, analysis=None):
    """A run's figures {"loss": Figure, "spectrum": Figure[, "sharpness": Figure]} from its summary (summary.json), its trajectory
    columns ({name: values}, trajectory.csv) and, when there is one, its analysis (analysis.json: its bounds are
    drawn)."""
    if not cols or len(cols.get("t", [])) == 0:
        raise InputError("no trajectory (output.trajectory = false?)")
    for required in ("t", "excess_loss"):
        if required not in cols:
            raise InputError(f"trajectory: no column '{required}'")
    figures = {}
    config = summary.get("config", {})
    eps = config.get("solver", {}).get("eps")
    t_eps = summary.get("t_eps")
    method = config.get("solver", {}).get("method", "gf")
    title = (f"{method.upper()}, widths {config.get('network', {}).get('widths', '?')}: "
             f"{summary.get('status', '?')}")

    t = cols["t"]
    excess = cols["excess_loss"]
    positive = [(ti, e) for ti, e in zip(t, excess) if e > 0]
    # The theory's bounds, when the run has them (linflow demo, linflow analyze --simulate).
    bounds = (analysis or {}).get("bounds", {})
    e0 = (analysis or {}).get("start", {}).get("excess_loss")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, log_time in zip(axes, (False, True)):
        pts = [(ti, e) for ti, e in positive if ti > 0] if log_time else positive
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="C0", label="excess loss")
        ax.set_yscale("log")
        if log_time:
            ax.set_xscale("log")
        if eps:
            ax.axhline(eps, color="0.4", linestyle=":", label=f"eps = {eps:.3g}")
        kappa = bounds.get("kappa")
        if kappa and e0 and positive:
            # Spec §6 [proved]: L(t) − L* ≤ (L(0) − L*) e^{−κ t} while f0 > s_2.
            tb = [ti for ti, _ in pts]
            ax.plot(tb, [e0 * math.exp(-kappa * ti) for ti in tb], color="C2", linestyle="--",
                    label=f"bound (L(0)−L*) e^(−κt), κ = {kappa:.3g} (docs/theory.md §6)")
        rate = bounds.get("asymptotic_rate")
        if rate and len(pts) > 2 and not log_time:
            # The late-time rate (docs/theory.md §6) as a slope, anchored at the last recorded point.
            t1, e1 = pts[-1]
            tl = [ti for ti, _ in pts if ti >= 0.5 * t1]
            ax.plot(tl, [e1 * math.exp(-rate * (ti - t1)) for ti in tl], color="C1", linestyle="-.",
                    label=f"late-time rate {rate:.3g} (docs/theory.md §6)")
        if t_eps is not None and (t_eps > 0 or not log_time):
            ax.axvline(t_eps, color="C3", linestyle="--", label=f"t_eps = {t_eps:.4g}")
        ax.set_xlabel(TIME_LABEL + (" (log scale)" if log_time else ""))
        ax.set_ylabel(LOSS_LABEL)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    figures["loss"] = detach(fig)

    svs = numbered(cols, "sv")
    aligns = numbered(cols, "align")
    if svs or aligns:
        target = config.get("problem", {})
        synthetic = not target.get("target") and not target.get("x")
        s = target.get("singular_values", []) if synthetic else []
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        positive_t = [ti > 0 for ti in t]
        for ax, names, ylabel, what in (
            (axes[0], svs, "singular value σ_i(W)  [units of the target]", "σ"),
            (axes[1], aligns, "alignment u_iᵀ W v_i  [units of the target]", "a"),
        ):
            for i, name in enumerate(names):
                xs = [ti for ti, keep in zip(t, positive_t) if keep]
                ys = [y for y, keep in zip(cols[name], positive_t) if keep]
                ax.plot(xs, ys, color=f"C{i}", label=f"{what}_{i + 1}")
                if i < len(s):
                    ax.axhline(s[i], color=f"C{i}", linestyle="--", linewidth=0.8,
                               label=f"s_{i + 1} = {s[i]:.3g}")
            ax.set_xscale("log")
            ax.set_xlabel(TIME_LABEL + " (log scale)")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            if names:
                ax.legend(fontsize=8)
        fig.suptitle(title + " — spectrum of the end-to-end matrix W")
        figures["spectrum"] = detach(fig)

    if "sharpness" in cols:
        figures["sharpness"] = sharpness_figure(cols, method, config.get("solver", {}).get("lr"), title)
    return figures


def sharpness_figure(cols, method, lr, title):
    """The sharpness λ_max(∇²L) against t (output.sharpness), linear and log time; for GD the line 2/η, the
    stability limit of a quadratic (the edge-of-stability picture, docs/theory.md §9)."""
    t = cols["t"]
    sharp = cols["sharpness"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, log_time in zip(axes, (False, True)):
        pts = [(ti, y) for ti, y in zip(t, sharp) if math.isfinite(y) and (ti > 0 or not log_time)]
        # GD's iterates may alternate (a period-two orbit above the step limit): points, so each branch shows.
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="C0", marker=".", markersize=3,
                linestyle="none" if method == "gd" else "-", label="sharpness λ_max(∇²L)")
        if method == "gd" and lr:
            ax.axhline(2.0 / lr, color="C3", linestyle="--", label=f"2/η = {2.0 / lr:.4g}")
        if log_time:
            ax.set_xscale("log")
        ax.set_xlabel(TIME_LABEL + (" (log scale)" if log_time else ""))
        ax.set_ylabel("top Hessian eigenvalue λ_max(∇²L(θ))")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title + " — sharpness")
    return detach(fig)


def field_value(run, field):
    value = run
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def spans_decades(values):
    values = [v for v in values if is_number(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > 100


def read_runs(path):
    """The complete lines of a runs.jsonl file as dicts (a partial last line is ignored)."""
    runs = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                runs.append(json.loads(line))
    return runs


def plot_sweep(sweep_dir, out_dir, field, x_key, xscale="auto", yscale="auto"):
    """Draws a sweep directory's figure into out_dir; returns its paths."""
    with open(os.path.join(sweep_dir, "sweep.json")) as f:
        sweep = json.load(f)
    runs = read_runs(os.path.join(sweep_dir, "runs.jsonl"))
    if not runs:
        raise InputError(f"{sweep_dir}/runs.jsonl: no runs")
    name, fig = named_sweep_figure(sweep, runs, field, x_key, xscale, yscale)
    paths = save(fig, out_dir, name)
    if "trajectory" in sweep.get("save", []):
        paths += save(trajectories_figure(sweep, runs, sweep_dir), out_dir, "trajectories")
    return paths


def trajectories_figure(sweep, runs, sweep_dir):
    """Excess loss against t of every run whose trajectory the sweep saved (sweep.save = ["trajectory"]: in
    DIR/runs/<id>/trajectory.csv), one colour per point of the grid (its repeats share it), log-log."""
    keys = [a["key"] for a in sweep.get("axes", [])]
    by_depth = depths_are_distinct(runs)
    points = {}
    for run in runs:
        path = os.path.join(sweep_dir, "runs", run.get("id", ""), "trajectory.csv")
        if run.get("id") and os.path.isfile(path):
            label = ", ".join(value_text(k, run["params"].get(k), by_depth) for k in keys) or "all runs"
            points.setdefault(label, []).append(read_trajectory(path))
    if not points:
        raise InputError(f"{sweep_dir}/runs: no saved trajectory (sweep.save = [\"trajectory\"])")
    palette = plt.get_cmap("tab10" if len(points) <= 10 else "viridis")
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (label, trajectories) in enumerate(points.items()):
        colour = palette(i if len(points) <= 10 else i / max(1, len(points) - 1))
        for j, cols in enumerate(trajectories):
            pts = [(t, e) for t, e in zip(cols["t"], cols["excess_loss"]) if t > 0 and e > 0]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, linewidth=1, alpha=0.8,
                    label=f"{label} ({len(trajectories)} runs)" if j == 0 else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL + " (log scale)")
    ax.set_ylabel(LOSS_LABEL)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    count = sum(len(t) for t in points.values())
    ax.set_title(f"saved trajectories: {count} runs, one colour per point", fontsize=10)
    return detach(fig)


def sweep_figure(sweep, runs, field=None, x_key=None, xscale="auto", yscale="auto"):
    """The sweep figure: summary field `field` (default t_eps; several, comma-separated, give one panel each) of the
    runs (runs.jsonl lines) against `x_key` (an axis of sweep, the content of sweep.json, or a numeric summary field;
    default the first numeric range axis), one series per setting of the other axes: the median over the seeds with
    the interquartile band. xscale, yscale: "log", "linear" or "auto" (log when the values span two decades)."""
    return named_sweep_figure(sweep, runs, field, x_key, xscale, yscale)[1]


# Readable names of configuration keys in legends and axis labels: (symbol, what it is, unit).
KEY_NAMES = {
    "init.sigma0": ("σ0", "initial scale", "units of the target"),
    "init.scale": ("init scale", "initial scale", "‖W(0)‖_F or entry std"),
    "init.kind": ("init", "initialization", None),
    "init.seed": ("init seed", "seed", None),
    "init.delta": ("δ", "perturbation", None),
    "solver.lr": ("η", "step size", "time per step"),
    "solver.method": ("method", "method", None),
    "solver.integrator": ("integrator", "integrator", None),
    "solver.t_max": ("t_max", "horizon", "time t"),
    "solver.eps": ("eps", "target excess loss", "(target units)²"),
    "solver.rtol": ("rtol", "relative tolerance", None),
    "problem.seed": ("target seed", "seed", None),
    "network.widths": ("N", "depth", "layers"),
}
FIELD_UNITS = {"t_eps": "time t", "t_final": "time t", "excess_loss": "(target units)²", "loss": "(target units)²",
               "initial_excess_loss": "(target units)²", "stats.rhs_evals": "gradient evaluations",
               "stats.steps": "steps", "stats.rejected_steps": "steps"}
SCALES = ("auto", "log", "linear")


def key_symbol(key):
    return KEY_NAMES.get(key, (key,))[0]


def key_label(key):
    """An axis label for a configuration key: 'σ0: initial scale  [units of the target]  (init.sigma0)'."""
    if key not in KEY_NAMES:
        return key
    symbol, what, unit = KEY_NAMES[key]
    return f"{what} {symbol}" + (f"  [{unit}]" if unit else "") + f"  ({key})"


def value_text(key, value, widths_by_depth=True):
    """A value as a legend shows it: widths as depth N (with the widths when depths repeat), numbers with %g."""
    if key == "network.widths" and isinstance(value, list):
        text = f"N = {len(value) - 1}"
        return text if widths_by_depth else f"{text} ({'-'.join(str(w) for w in value)})"
    if is_number(value):
        return f"{key_symbol(key)} = {value:g}"
    if isinstance(value, list):
        return f"{key_symbol(key)} = [{', '.join(f'{v:g}' if is_number(v) else str(v) for v in value)}]"
    return f"{key_symbol(key)} = {value}"


def depths_are_distinct(runs, key="network.widths"):
    """Whether the widths in the runs differ in depth (then a depth names them)."""
    widths = {json.dumps(r["params"][key]) for r in runs if isinstance(r.get("params", {}).get(key), list)}
    return len({len(json.loads(w)) for w in widths}) == len(widths)


def check_scale(name, scale):
    if scale not in SCALES:
        raise InputError(f"--{name} {scale}: expected one of {', '.join(SCALES)}")


def quartiles(values):
    """(25th percentile, median, 75th percentile) by linear interpolation between order statistics."""
    v = sorted(values)

    def q(p):
        pos = p * (len(v) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (v[hi] - v[lo]) * (pos - lo)

    return q(0.25), q(0.5), q(0.75)


def named_sweep_figure(sweep, runs, field, x_key, xscale="auto", yscale="auto"):
    """(file name, Figure) of the sweep figure."""
    if not runs:
        raise InputError("no runs")
    check_scale("xscale", xscale)
    check_scale("yscale", yscale)
    axes = sweep.get("axes", [])
    keys = [a["key"] for a in axes]
    if x_key is None:
        ranges = [a["key"] for a in axes if "from" in a]
        x_key = ranges[0] if ranges else (keys[0] if keys else None)
    if x_key is None:
        x_key = "run"
    elif x_key not in keys and not any(is_number(field_value(r, x_key)) for r in runs):
        raise InputError(f"--x {x_key}: neither an axis of this sweep (axes: {', '.join(keys) or 'none'}) "
                         "nor a numeric field of its runs")
    on_axis = x_key in keys
    fields = [f.strip() for f in (field or "t_eps").split(",") if f.strip()]
    for f in fields:
        if all(field_value(r, f) is None for r in runs):
            raise InputError(f"--field {f}: no run has this field")
    by_depth = depths_are_distinct(runs)
    # Zipped axes move together: a group names a series by its first axis, and the group of x names none.
    groups = []
    for a in axes:
        if a.get("zip") and groups:
            groups[-1].append(a["key"])
        else:
            groups.append([a["key"]])
    series_keys = [g[0] for g in groups if x_key not in g]

    def x_of(run):
        if x_key == "run":
            return run["run"]
        value = run["params"].get(x_key) if on_axis else field_value(run, x_key)
        if x_key == "network.widths" and isinstance(value, list) and by_depth:
            return len(value) - 1  # depth N
        return value

    xs_raw = [x_of(r) for r in runs]
    x_categorical = not all(is_number(v) for v in xs_raw)
    x_categories = []
    for v in xs_raw:  # in grid order
        if x_categorical and json.dumps(v) not in x_categories:
            x_categories.append(json.dumps(v))

    series = {}  # label -> {x: [runs]}, in grid order
    for run, x in zip(runs, xs_raw):
        label = ", ".join(value_text(k, run["params"].get(k), by_depth) for k in series_keys)
        xv = x_categories.index(json.dumps(x)) if x_categorical else x
        series.setdefault(label, {}).setdefault(xv, []).append(run)
    repeats = max(len(v) for s in series.values() for v in s.values())
    palette = plt.get_cmap("tab10" if len(series) <= 10 else "viridis")

    fig, panels = plt.subplots(len(fields), 1, figsize=(9, 3.2 + 2.4 * len(fields)), squeeze=False, sharex=True)
    for panel, f in zip(panels[:, 0], fields):
        ys_raw = [field_value(r, f) for r in runs]
        y_categorical = any(isinstance(v, str) for v in ys_raw)
        y_categories = sorted({v for v in ys_raw if isinstance(v, str)}) if y_categorical else []
        for i, (label, points) in enumerate(series.items()):
            colour = palette(i if len(series) <= 10 else i / max(1, len(series) - 1))
            if y_categorical:  # statuses: every run a point, each series offset a little so all stay visible
                offset = 0.08 * (i - (len(series) - 1) / 2)
                pts = [(x, y_categories.index(field_value(r, f)) + offset) for x, rs in points.items() for r in rs
                       if isinstance(field_value(r, f), str)]
                panel.plot([p[0] for p in pts], [p[1] for p in pts], "o", color=colour, markersize=4,
                           label=f"{label or 'all runs'}")
                continue
            xs, lo, med, hi, counts = [], [], [], [], []
            for x in sorted(points):
                ys = [field_value(r, f) for r in points[x]]
                ys = [y for y in ys if is_number(y)]
                if not ys:
                    continue
                q1, q2, q3 = quartiles(ys)
                xs.append(x)
                lo.append(q1)
                med.append(q2)
                hi.append(q3)
                counts.append(len(ys))
            if not xs:
                continue
            n = f"n = {min(counts)}" if min(counts) == max(counts) else f"n = {min(counts)}–{max(counts)}"
            panel.plot(xs, med, "o-", color=colour, markersize=4, label=f"{label or 'all runs'} ({n})")
            if max(counts) > 1:
                panel.fill_between(xs, lo, hi, color=colour, alpha=0.2, linewidth=0)
        if y_categorical:
            panel.set_yticks(range(len(y_categories)))
            panel.set_yticklabels(y_categories)
            panel.set_ylim(-0.5, len(y_categories) - 0.5)
        elif yscale == "log" or (yscale == "auto" and spans_decades(ys_raw)):
            panel.set_yscale("log")
        unit = FIELD_UNITS.get(f)
        panel.set_ylabel(f + (f"  [{unit}]" if unit else ""))
        panel.grid(True, which="both", alpha=0.3)
        missing = sum(1 for y in ys_raw if y is None)
        title = f"{f} vs {x_key}: {len(runs)} runs"
        if repeats > 1 and not y_categorical:
            title += f"; median over {repeats} seeds, band: 25th–75th percentile"
        if missing:
            title += f" ({missing} without {f})"
        panel.set_title(title, fontsize=10)
        if any(series.keys()) or repeats > 1:
            panel.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    bottom = panels[-1, 0]
    if x_categorical:
        bottom.set_xticks(range(len(x_categories)))
        bottom.set_xticklabels(x_categories, rotation=20, fontsize=8)
    elif xscale == "log" or (xscale == "auto" and spans_decades(xs_raw)):
        bottom.set_xscale("log")
    if x_key == "run":
        bottom.set_xlabel("run  [run index]")
    elif x_key == "network.widths" and by_depth:
        from matplotlib.ticker import MaxNLocator
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_xlabel("depth N  [layers]  (network.widths)")
    elif on_axis:
        bottom.set_xlabel(key_label(x_key))
    else:
        unit = FIELD_UNITS.get(x_key)
        bottom.set_xlabel(x_key + (f"  [{unit}]" if unit else ""))
    name = f"sweep_{'+'.join(fields)}_vs_{x_key}".replace("/", "_")
    return name, detach(fig)


# ---- figures of the built-in experiments (experiment.json, written by `linflow experiment`) ----------------------

LIMIT_STYLE = {  # observed limit -> (colour, legend text)
    "global_min": ("#2c7fb8", "global min s_1 u_1 v_1ᵀ"),
    "saddle 2": ("#fdae61", "saddle s_2 u_2 v_2ᵀ"),
    "saddle 3": ("#d7191c", "saddle s_3 u_3 v_3ᵀ"),
    "origin": ("black", "origin W = 0"),
    "unknown": ("#bbbbbb", "no critical point reached"),
}


def plot_stable_set_map(exp):
    import matplotlib.tri as mtri
    pts = exp["points"]
    a = [p["a"] for p in pts]
    b = [p["b"] for p in pts]
    fig, ax = plt.subplots(figsize=(12, 7))
    limits = sorted({p["observed"] for p in pts}, key=lambda l: list(LIMIT_STYLE).index(l) if l in LIMIT_STYLE else 99)
    for limit in limits:
        colour, text = LIMIT_STYLE.get(limit, ("#984ea3", limit))
        sel = [p for p in pts if p["observed"] == limit]
        ax.scatter([p["a"] for p in sel], [p["b"] for p in sel], s=34 if limit == "global_min" else 60, marker="s",
                   color=colour, label=f"GF reached {text} ({len(sel)})", zorder=2)
    wrong = [p for p in pts if not p["match"]]
    if wrong:
        ax.scatter([p["a"] for p in wrong], [p["b"] for p in wrong], s=90, marker="x", color="red", zorder=4,
                   label=f"observed ≠ predicted ({len(wrong)})")
    tri = mtri.Triangulation(a, b)
    handles = []
    from matplotlib.lines import Line2D

    def contour(values, colour, style, text):
        vals = [v if v is not None else float("nan") for v in values]
        finite = [v for v in vals if v == v]
        if finite and min(finite) < 0 < max(finite):
            ax.tricontour(tri, vals, levels=[0.0], colors=[colour], linestyles=[style], linewidths=2, zorder=3)
            handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=2, label=text))
        else:
            inside = finite and min(finite) > 0
            handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=2,
                                  label=text + (": the whole slice" if inside else ": empty on this slice")))

    contour([p["c1"] for p in pts], "red", "-", "c_1 = 0: boundary of the stable set (docs/theory.md §5)")
    contour([p["margins"]["alignment"] for p in pts], "green", "--", "alignment f0 = s_2 (docs/theory.md §5 cond. 3)")
    contour([p["margins"]["sublevel"] for p in pts], "purple", "-.",
            "sublevel set L(0) − L* < ½(s_1² − s_2²) (docs/theory.md §5 cond. 2)")
    contour([p["margins"]["deficiency_margin"] for p in pts], "saddlebrown", ":",
            "deficiency-margin ball (Arora et al. 2018a; docs/theory.md §5 cond. 1)")
    ax.set_xlabel(exp.get("axes", {}).get("a", "a [degrees]"))
    ax.set_ylabel(exp.get("axes", {}).get("b", "b [degrees]"))
    ax.set_xticks(range(0, 181, 30))
    ax.set_yticks(range(0, 361, 30))
    frac = exp.get("fractions", {})
    ax.set_title("Limit of gradient flow over the slice W(0) = σ0 u0 v0ᵀ\n"
                 f"stable set {100 * frac.get('stable_set', 0):.3g}% · alignment {100 * frac.get('alignment', 0):.3g}% · "
                 f"sublevel {100 * frac.get('sublevel', 0):.3g}% · deficiency ball "
                 f"{100 * frac.get('deficiency_margin', 0):.3g}% of the slice", fontsize=10)
    first = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="observed limit")
    ax.add_artist(first)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=8, title="theory (contours)")
    return detach(fig)


def plot_rate_vs_depth(exp):
    runs = exp["runs"]
    s1, s2 = exp["s1"], exp["s2"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    ax = axes[0]
    depths = sorted({r["depth"] for r in runs})
    fine = [depths[0] + i * (depths[-1] - depths[0]) / 200 for i in range(201)]
    ax.plot(fine, [2 * (s1 - s2) * s1 ** (1 - 2 / n) for n in fine], color="0.3",
            label="2(s_1 − s_2) s_1^{1−2/N} (docs/theory.md §6, asymptotic rate)")
    sigmas = sorted({r["sigma0"] for r in runs})
    for i, sg in enumerate(sigmas):
        sel = [r for r in runs if r["sigma0"] == sg and r["observed_rate"] is not None]
        offset = 0.06 * (i - (len(sigmas) - 1) / 2)
        ax.plot([r["depth"] + offset for r in sel], [r["observed_rate"] for r in sel], "o", color=f"C{i}",
                label=f"observed, σ0 = {sg:g}")
    ax.set_xlabel("depth N  [layers]")
    ax.set_ylabel("late-time rate −d ln(L − L*)/dt  [1/time]")
    ax.set_title(f"late-time rate: max relative deviation {exp.get('max_relative_deviation', float('nan')):.2g}",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    for i, sg in enumerate(sigmas):
        sel = [r for r in runs if r["sigma0"] == sg and r["t_eps"] is not None]
        ax.plot([r["depth"] for r in sel], [r["t_eps"] for r in sel], "o-", color=f"C{i}",
                label=f"observed t_eps, σ0 = {sg:g}")
        bnd = [r for r in sel if r["t_eps_bound"] is not None]
        ax.plot([r["depth"] for r in bnd], [r["t_eps_bound"] for r in bnd], "v:", color=f"C{i}",
                label=f"κ bound (docs/theory.md §6), σ0 = {sg:g}")
    ax.set_yscale("log")
    ax.set_xlabel("depth N  [layers]")
    ax.set_ylabel("time to excess loss eps  [time t]")
    ax.set_title("t_eps and its non-local κ bound ln((L(0) − L*)/eps)/κ", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return detach(fig)


def plot_bound_vs_observed(exp):
    runs = [r for r in exp["runs"] if r["applies"] and r["t_eps"] is not None]
    if not runs:
        raise InputError("bound-vs-observed: no run with f0 > s_2 reached eps; nothing to plot")
    fig, ax = plt.subplots(figsize=(7, 6))
    depths = sorted({r["depth"] for r in runs})
    for i, n in enumerate(depths):
        sel = [r for r in runs if r["depth"] == n]
        ax.scatter([r["t_eps_bound"] for r in sel], [r["t_eps"] for r in sel], s=18, color=f"C{i}", label=f"N = {n}")
    bad = [r for r in runs if r["violated"]]
    if bad:
        ax.scatter([r["t_eps_bound"] for r in bad], [r["t_eps"] for r in bad], s=80, marker="x", color="red",
                   label=f"bound violated ({len(bad)})")
    lo = min(min(r["t_eps"] for r in runs), min(r["t_eps_bound"] for r in runs))
    hi = max(max(r["t_eps"] for r in runs), max(r["t_eps_bound"] for r in runs))
    ax.plot([lo, hi], [lo, hi], color="black", label="y = x: t_eps = ln((L(0) − L*)/eps)/κ (docs/theory.md §6)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("κ bound on t_eps (docs/theory.md §6, [proved])  [time t]")
    ax.set_ylabel("observed t_eps  [time t]")
    ratio = exp.get("ratio", {})
    ax.set_title(f"{len(runs)} random starts with f0 > s_2: observed/bound min {ratio.get('min', float('nan')):.3g}, "
                 f"median {ratio.get('median', float('nan')):.3g}, max {ratio.get('max', float('nan')):.3g}",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return detach(fig)


def plot_beyond_one_neuron(exp):
    groups = exp["groups"]
    kinds = sorted({g["kind"] for g in groups})
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        depths = sorted({g["depth"] for g in groups if g["kind"] == kind})
        for i, n in enumerate(depths):
            sel = sorted((g for g in groups if g["kind"] == kind and g["depth"] == n), key=lambda g: g["scale"])
            xs = [g["scale"] * (1 + 0.04 * (i - (len(depths) - 1) / 2)) for g in sel]
            ys = [g["fraction"] for g in sel]
            lo = [max(0.0, g["fraction"] - g["wilson_95"][0]) for g in sel]  # ≥ 0 despite round-off at 0 and 1
            hi = [max(0.0, g["wilson_95"][1] - g["fraction"]) for g in sel]
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", capsize=3, color=f"C{i}",
                        label=f"N = {n}, widths {sel[0]['widths']}")
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("init.scale  [" + ("‖W(0)‖_F" if kind == "balanced" else "entry standard deviation") + "]")
        ax.set_ylabel("fraction of runs at the global optimum")
        ax.set_title(f"{kind} starts", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    lo, hi = exp.get("wilson_95", [float("nan")] * 2)
    fig.suptitle(f"No width-one layer (open problem; Bah et al. 2019 guarantee only some rank): GF reached the global "
                 f"optimum in {exp.get('global_min')}/{exp.get('runs')} runs, 95% Wilson [{lo:.3g}, {hi:.3g}]; "
                 "bars: 95% Wilson intervals per point", fontsize=10)
    return detach(fig)


def escape_integral(depth, s1, a, b, points=4001):
    """The docs/theory.md §6 escape integral ∫_a^b dx / (N x^{2−2/N} (s_1 − x)) for 0 < a < b < s_1: the time the
    magnitude σ of an aligned balanced start takes from a to b. Simpson's rule in ln x below s_1/2 and in
    −ln(s_1 − x) above it, where both integrands are smooth."""
    def simpson(f, lo, hi):
        if hi <= lo:
            return 0.0
        h = (hi - lo) / (points - 1)
        total = f(lo) + f(hi)
        for i in range(1, points - 1):
            total += (4 if i % 2 else 2) * f(lo + i * h)
        return total * h / 3

    n = float(depth)
    mid = s1 / 2
    low = simpson(lambda u: math.exp((2 / n - 1) * u) / (n * (s1 - math.exp(u))),
                  math.log(a), math.log(min(b, mid)))
    high = simpson(lambda w: 1 / (n * (s1 - math.exp(-w)) ** (2 - 2 / n)),
                   -math.log(s1 - max(a, mid)), -math.log(s1 - b)) if b > mid else 0.0
    return low + high


def plot_escape_time(exp):
    runs = exp["runs"]
    s1 = exp.get("s1")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    ax = axes[0]
    depths = sorted({r["depth"] for r in runs})
    for i, n in enumerate(depths):
        sel = sorted((r for r in runs if r["depth"] == n), key=lambda r: r["sigma0"])
        if s1 and all("sigma1" in r for r in sel):
            lo, hi = math.log(sel[0]["sigma0"]), math.log(sel[-1]["sigma0"])
            grid = [math.exp(lo + (hi - lo) * j / 60) for j in range(61)]
            ax.plot(grid, [escape_integral(n, s1, g, sel[0]["sigma1"], 801) for g in grid], color=f"C{i}",
                    linewidth=1.2, label=f"N = {n}: §6 escape integral" if i == 0 else f"N = {n}: theory")
        obs = [r for r in sel if r["observed"] is not None]
        ax.plot([r["sigma0"] for r in obs], [r["observed"] for r in obs], "o", color=f"C{i}", markersize=6,
                markerfacecolor="none", label=f"N = {n}: observed t_eps ({len(obs)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("initial scale σ0  [units of the target]  (init.sigma0)")
    ax.set_ylabel("escape time t_eps  [time t]")
    ax.set_title("time to escape from W(0) = σ0 u_1 v_1ᵀ: lines ∫ dx / (N x^{2−2/N}(s_1 − x)) (docs/theory.md §6), "
                 "circles GF", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax = axes[1]
    for i, n in enumerate(depths):
        sel = sorted((r for r in runs if r["depth"] == n and r["relative_error"] is not None),
                     key=lambda r: r["sigma0"])
        ax.plot([r["sigma0"] for r in sel], [max(r["relative_error"], 1e-17) for r in sel], "o-", color=f"C{i}",
                markersize=4, label=f"N = {n}")
    tol = exp.get("tolerance")
    if tol:
        ax.axhline(tol, color="red", linestyle="--", label=f"P9 tolerance {tol:g} (docs/theory.md §8)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("initial scale σ0  [units of the target]  (init.sigma0)")
    ax.set_ylabel("|observed − predicted| / predicted")
    ax.set_title(f"relative error, max {exp.get('max_relative_error') or float('nan'):.2g}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.suptitle(exp.get("verdict", "escape-time").split(";")[0], fontsize=9)  # the growth rates follow in the table
    fig.tight_layout()
    return detach(fig)


def plot_stage_wise(exp):
    runs = exp["runs"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    depths = sorted({r["depth"] for r in runs})
    ax = axes[0]
    pairs = [(st["predicted"], st["observed"]) for r in runs for st in r["stages"]
             if st["predicted"] is not None and st["observed"] is not None]
    for i, n in enumerate(depths):
        sel = [st for r in runs if r["depth"] == n for st in r["stages"]
               if st["predicted"] is not None and st["observed"] is not None]
        ax.scatter([st["predicted"] for st in sel], [st["observed"] for st in sel], s=22, color=f"C{i}",
                   label=f"N = {n}")
    if pairs:
        lo = min(min(p) for p in pairs)
        hi = max(max(p) for p in pairs)
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted stage time t_a (docs/theory.md §10)  [time t]")
    ax.set_ylabel("observed: u_aᵀ W v_a crosses s_a/2  [time t]")
    ax.set_title(f"every stage of every run: max relative deviation {exp.get('max_relative_deviation') or float('nan'):.2g}",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    modes = sorted({st["mode"] for r in runs for st in r["stages"]})
    markers = ["o", "s", "^", "v", "D"]
    for i, n in enumerate(depths):
        for j, a in enumerate(modes):
            sel = sorted(((r["scale"], st) for r in runs if r["depth"] == n for st in r["stages"] if st["mode"] == a),
                         key=lambda x: x[0])
            ax.plot([x for x, _ in sel], [st["predicted"] for _, st in sel], "-", color=f"C{i}", linewidth=1)
            ax.plot([x for x, _ in sel], [st["observed"] for _, st in sel], markers[j % len(markers)], color=f"C{i}",
                    label=f"N = {n}" if j == 0 else None)
    from matplotlib.lines import Line2D
    handles, labels = ax.get_legend_handles_labels()
    for j, a in enumerate(modes):
        handles.append(Line2D([], [], color="0.3", marker=markers[j % len(markers)], linestyle="", label=f"mode {a}"))
    handles.append(Line2D([], [], color="0.3", linestyle="-", label="predicted (lines)"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("σ_a(0) of every mode (init.scale)")
    ax.set_ylabel("stage time t_a  [time t]")
    ax.set_title("stages: logarithmic in 1/σ0 for N = 2, like σ0^{−(1−2/N)} for N ≥ 3", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(handles=handles, fontsize=7, ncol=2)
    fig.suptitle("Stage-wise learning of full-width spectral starts (Saxe et al. 2014; docs/theory.md §10): "
                 f"{'PASS' if exp.get('passed') else 'FAIL'} over {len(runs)} runs, tolerance {exp.get('tolerance'):g}",
                 fontsize=10)
    return detach(fig)


EXPERIMENT_FIGURES = {
    "escape-time": plot_escape_time,
    "stable-set-map": plot_stable_set_map,
    "rate-vs-depth": plot_rate_vs_depth,
    "bound-vs-observed": plot_bound_vs_observed,
    "beyond-one-neuron": plot_beyond_one_neuron,
    "stage-wise": plot_stage_wise,
}
EXPERIMENT_FILE_NAMES = {name: fn.__name__[len("plot_"):] for name, fn in EXPERIMENT_FIGURES.items()}


def experiment_figure(exp):
    """The experiment's own figure from its report (experiment.json), or None when it has none."""
    figure = EXPERIMENT_FIGURES.get(exp.get("experiment"))
    return figure(exp) if figure else None


def plot_experiment(sweep_dir, out_dir):
    """Draws the experiment's own figure into out_dir when experiment.json names one of EXPERIMENT_FIGURES and
    returns the paths, else None."""
    path = os.path.join(sweep_dir, "experiment.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        exp = json.load(f)
    fig = experiment_figure(exp)
    return save(fig, out_dir, EXPERIMENT_FILE_NAMES[exp["experiment"]]) if fig is not None else None


def main(argv):
    """`linflow plot DIR [--field F] [--x K]` (scripts/plot.py): draws DIR's figures into DIR/figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="output directory of linflow train, demo, sweep or experiment")
    parser.add_argument("--field", help="sweep: summary field(s) to plot, comma-separated (default t_eps)")
    parser.add_argument("--x", dest="x_key", help="sweep: axis key (or numeric field) for the horizontal axis")
    parser.add_argument("--xscale", default="auto", help="sweep: auto, log or linear")
    parser.add_argument("--yscale", default="auto", help="sweep: auto, log or linear")
    args = parser.parse_args(argv)
    out_dir = os.path.join(args.dir, "figures")
    try:
        if os.path.isfile(os.path.join(args.dir, "runs.jsonl")) and os.path.isfile(
                os.path.join(args.dir, "sweep.json")):
            paths = None if args.field or args.x_key else plot_experiment(args.dir, out_dir)
            if paths is None:
                paths = plot_sweep(args.dir, out_dir, args.field, args.x_key, args.xscale, args.yscale)
        elif os.path.isfile(os.path.join(args.dir, "trajectory.csv")) and os.path.isfile(
                os.path.join(args.dir, "summary.json")):
            paths = plot_run(args.dir, out_dir)
        else:
            raise InputError(f"{args.dir}: neither a run (summary.json + trajectory.csv) nor a sweep "
                             "(sweep.json + runs.jsonl)")
    except (InputError, OSError, ValueError, KeyError) as e:
        print(f"plot.py: error: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


