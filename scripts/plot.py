#!/usr/bin/env python3
"""Figures of a linflow output directory, as PNG and SVG in DIR/figures/ (their paths are printed, one a line).

  train / demo directory (summary.json + trajectory.csv):
    loss.{png,svg}      excess loss L - L* against t, log scale (linear and logarithmic time), eps and t_eps marked
    spectrum.{png,svg}  singular values of W and alignments u_i^T W v_i against t, target singular values dashed
  sweep / experiment directory (sweep.json + runs.jsonl):
    sweep_FIELD_vs_AXIS.{png,svg}  a summary field of every run against one axis, one line per setting of the
                                   other axes (FIELD: --field, default t_eps; dotted names reach into stats, as in
                                   stats.rhs_evals; AXIS: --x, default the first numeric range axis)

Usage: plot.py DIR [--field NAME] [--x KEY]. Exit code 2 on bad input, with one line on stderr.
Needs matplotlib (Debian: python3-matplotlib); draws with the Agg backend, so no display is needed.
"""
import argparse
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

TIME_LABEL = "time t  [flow time; GD: k·η]"
LOSS_LABEL = "excess loss L − L*  [(target units)²]"


class InputError(Exception):
    pass


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


def plot_run(run_dir, out_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    cols = read_trajectory(os.path.join(run_dir, "trajectory.csv"))
    config = summary.get("config", {})
    eps = config.get("solver", {}).get("eps")
    t_eps = summary.get("t_eps")
    method = config.get("solver", {}).get("method", "gf")
    title = (f"{method.upper()}, widths {config.get('network', {}).get('widths', '?')}: "
             f"{summary.get('status', '?')}")
    paths = []

    t = cols["t"]
    excess = cols["excess_loss"]
    positive = [(ti, e) for ti, e in zip(t, excess) if e > 0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, log_time in zip(axes, (False, True)):
        pts = [(ti, e) for ti, e in positive if ti > 0] if log_time else positive
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color="C0", label="excess loss")
        ax.set_yscale("log")
        if log_time:
            ax.set_xscale("log")
        if eps:
            ax.axhline(eps, color="0.4", linestyle=":", label=f"eps = {eps:.3g}")
        if t_eps is not None and (t_eps > 0 or not log_time):
            ax.axvline(t_eps, color="C3", linestyle="--", label=f"t_eps = {t_eps:.4g}")
        ax.set_xlabel(TIME_LABEL + (" (log scale)" if log_time else ""))
        ax.set_ylabel(LOSS_LABEL)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    paths += save(fig, out_dir, "loss")

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
        paths += save(fig, out_dir, "spectrum")
    return paths


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


def plot_sweep(sweep_dir, out_dir, field, x_key):
    with open(os.path.join(sweep_dir, "sweep.json")) as f:
        sweep = json.load(f)
    runs = []
    with open(os.path.join(sweep_dir, "runs.jsonl")) as f:
        for line in f:
            if line.endswith("\n"):
                runs.append(json.loads(line))
    if not runs:
        raise InputError(f"{sweep_dir}/runs.jsonl: no runs")
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
    return save(fig, out_dir, name)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="output directory of linflow train, demo, sweep or experiment")
    parser.add_argument("--field", help="sweep: summary field to plot (default t_eps)")
    parser.add_argument("--x", dest="x_key", help="sweep: axis key for the horizontal axis")
    args = parser.parse_args(argv)
    out_dir = os.path.join(args.dir, "figures")
    try:
        if os.path.isfile(os.path.join(args.dir, "runs.jsonl")) and os.path.isfile(
                os.path.join(args.dir, "sweep.json")):
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
