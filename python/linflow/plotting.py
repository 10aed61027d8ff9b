"""linflow.plotting: the one implementation of linflow's figures, used by `linflow plot` (through scripts/plot.py)
and by the Python module (linflow.plot_run, plot_sweep, plot_experiment, which return matplotlib figures).

Figures of a linflow output directory, as PNG and SVG in DIR/figures/ (their paths are printed, one a line).

  train / demo directory (summary.json + trajectory.csv):
    loss.{png,svg}      excess loss L - L* against t, log scale (linear and logarithmic time), eps and t_eps marked;
                        with analysis.json in DIR (demo, analyze --simulate) also the docs/theory.md §6 κ bound
                        (L(0) - L*) e^{-κt} and the late-time rate
    spectrum.{png,svg}  singular values of W and alignments u_i^T W v_i against t, target singular values dashed
  sweep / experiment directory (sweep.json + runs.jsonl):
    sweep_FIELD_vs_AXIS.{png,svg}  a summary field of every run against one axis, one line per setting of the
                                   other axes (FIELD: --field, default t_eps; dotted names reach into stats, as in
                                   stats.rhs_evals; AXIS: --x, default the first numeric range axis)
  experiment directory with an experiment.json of these experiments (instead of the sweep figure, unless --field
  or --x asks for it):
    stable_set_map     the slice coloured by the limit GF reached, with the boundary c_1 = 0 and the sufficient
                       conditions of docs/theory.md §5 (deficiency-margin ball, sublevel set, alignment) as contours
    rate_vs_depth      late-time rate against depth N (docs/theory.md §6 line, observed points) and t_eps against its κ bound
    bound_vs_observed  observed t_eps against the §6 κ bound, log-log, with the line y = x
    beyond_one_neuron  fraction of runs at the global optimum against init.scale, one line per depth, 95 % Wilson bars

Command line (scripts/plot.py, what `linflow plot` runs): plot.py DIR [--field NAME] [--x KEY]. Exit code 2 on bad input, with one line on stderr.
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
    """A run's figures {"loss": Figure, "spectrum": Figure} from its summary (summary.json), its trajectory
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
    return figures


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


def plot_sweep(sweep_dir, out_dir, field, x_key):
    """Draws a sweep directory's figure into out_dir; returns its paths."""
    with open(os.path.join(sweep_dir, "sweep.json")) as f:
        sweep = json.load(f)
    runs = read_runs(os.path.join(sweep_dir, "runs.jsonl"))
    if not runs:
        raise InputError(f"{sweep_dir}/runs.jsonl: no runs")
    name, fig = named_sweep_figure(sweep, runs, field, x_key)
    return save(fig, out_dir, name)


def sweep_figure(sweep, runs, field=None, x_key=None):
    """The sweep figure: summary field `field` (default t_eps) of every run (runs.jsonl lines) against axis
    `x_key` (default the first numeric range axis of sweep, the content of sweep.json)."""
    return named_sweep_figure(sweep, runs, field, x_key)[1]


def named_sweep_figure(sweep, runs, field, x_key):
    """(file name, Figure) of the sweep figure."""
    if not runs:
        raise InputError("no runs")
    axes = sweep.get("axes", [])
    keys = [a["key"] for a in axes]
    if x_key is None:
        ranges = [a["key"] for a in axes if "from" in a]
        x_key = ranges[0] if ranges else (keys[0] if keys else None)
    if x_key is None:
        x_key = "run"
    elif x_key not in keys:
        raise InputError(f"--x {x_key}: not an axis of this sweep (axes: {', '.join(keys) or 'none'})")
    field = field or "t_eps"
    if all(field_value(r, field) is None for r in runs):
        raise InputError(f"--field {field}: no run has this field")

    def x_of(run):
        return run["run"] if x_key == "run" else run["params"].get(x_key)

    xs_raw = [x_of(r) for r in runs]
    x_categorical = not all(is_number(v) for v in xs_raw)
    x_categories = sorted({json.dumps(v) for v in xs_raw}) if x_categorical else []
    ys_raw = [field_value(r, field) for r in runs]
    y_categorical = any(isinstance(v, str) for v in ys_raw)
    y_categories = sorted({v for v in ys_raw if isinstance(v, str)}) if y_categorical else []

    groups = {}
    for run, x, y in zip(runs, xs_raw, ys_raw):
        label = ", ".join(f"{k} = {json.dumps(run['params'].get(k))}" for k in keys if k != x_key)
        if run.get("repeat", 0) and sweep.get("seeds", 1) > 1:
            label += (", " if label else "") + f"repeat {run['repeat']}"
        xv = x_categories.index(json.dumps(x)) if x_categorical else x
        if y_categorical:
            yv = y_categories.index(y) if isinstance(y, str) else None
        else:
            yv = y if is_number(y) else None
        groups.setdefault(label, []).append((xv, yv))

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (label, pts) in enumerate(groups.items()):  # grid order
        pts = sorted(p for p in pts if p[1] is not None)
        if not pts:
            continue
        style = "o" if y_categorical else "o-"
        # Categories would stack every group on the same row: offset each group a little so all stay visible.
        offset = 0.08 * (i - (len(groups) - 1) / 2) if y_categorical else 0.0
        ax.plot([p[0] for p in pts], [p[1] + offset for p in pts], style, color=f"C{i % 10}", markersize=4,
                label=label or None)
    if x_categorical:
        ax.set_xticks(range(len(x_categories)))
        ax.set_xticklabels(x_categories, rotation=20, fontsize=8)
    elif spans_decades(xs_raw):
        ax.set_xscale("log")
    if y_categorical:
        ax.set_yticks(range(len(y_categories)))
        ax.set_yticklabels(y_categories)
    elif spans_decades(ys_raw):
        ax.set_yscale("log")
    units = {"t_eps": "  [time t]", "t_final": "  [time t]", "excess_loss": "  [(target units)²]",
             "loss": "  [(target units)²]", "stats.rhs_evals": "  [gradient evaluations]",
             "stats.steps": "  [steps]"}
    ax.set_xlabel(x_key + ("  [run index]" if x_key == "run" else "  [config value]"))
    ax.set_ylabel(field + units.get(field, ""))
    ax.grid(True, which="both", alpha=0.3)
    if any(groups.keys()):
        ax.legend(fontsize=7)
    missing = sum(1 for y in ys_raw if y is None)
    title = f"{field} vs {x_key}: {len(runs)} runs"
    if missing:
        title += f" ({missing} without {field})"
    ax.set_title(title, fontsize=10)
    name = f"sweep_{field}_vs_{x_key}".replace("/", "_")
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
    parser.add_argument("--field", help="sweep: summary field to plot (default t_eps)")
    parser.add_argument("--x", dest="x_key", help="sweep: axis key for the horizontal axis")
    args = parser.parse_args(argv)
    out_dir = os.path.join(args.dir, "figures")
    try:
        if os.path.isfile(os.path.join(args.dir, "runs.jsonl")) and os.path.isfile(
                os.path.join(args.dir, "sweep.json")):
            paths = None if args.field or args.x_key else plot_experiment(args.dir, out_dir)
            if paths is None:
                paths = plot_sweep(args.dir, out_dir, args.field, args.x_key)
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


