#!/usr/bin/python3
"""Work-precision diagram and tables of the peer benchmark.

    bench/peers_report.py DIR [--figures docs/figures]

Reads DIR/linflow.json (bench_peers) and DIR/peers.json (bench/peers.py); writes FIGURES/work_precision.{png,svg}
and DIR/peers.md, and prints the Markdown to stdout.

The error of a run is ‖θ(T) − θ_ref(T)‖ / ‖θ_ref(T)‖ over all layers. (The end-to-end product's error, also
listed, says little once a run has converged: every method then lands near the same W*, while the layers keep
the trajectory's error along the manifold of minimizers; gradient descent shows it plainly.)

Matched error: a peer's run with relative error e is compared
with linflow's time at the same e, interpolated linearly in log-log between the two neighbouring points of
linflow's work-precision front (its runs that no other linflow run beats in both time and error). A peer error
looser than linflow's loosest run is compared with that run (the ratio is then a lower bound, marked ≥); one
tighter than linflow's tightest non-reference run is not compared (n/a). Errors below 10× the disagreement of the
two references (linflow at its tightest tolerance, scipy DOP853 at 1e-13) are at the reference's accuracy and are
not compared either.
"""
import argparse
import json
import math
import os
import statistics
import sys

METHODS = ["linflow gf", "scipy DOP853", "scipy RK45", "torch GD"]
STYLE = {
    "linflow gf": dict(color="#d62728", marker="o", lw=2.0),
    "linflow gf (dopri5)": dict(color="#d62728", marker="o", lw=2.0),
    "linflow gf (rk78)": dict(color="#ff7f0e", marker="D", lw=2.0),
    "linflow gf (dop853)": dict(color="#8c564b", marker="P", lw=2.0),
    "scipy DOP853": dict(color="#1f77b4", marker="s", lw=1.3),
    "scipy RK45": dict(color="#2ca02c", marker="^", lw=1.3),
    "torch GD": dict(color="#9467bd", marker="v", lw=1.3),
}
TARGET_ERROR = 1e-6
ERR = "err_theta"  # the error measured: ‖θ(T) − θ_ref(T)‖ / ‖θ_ref(T)‖


def front(points):
    """Pareto front (error ascending, time descending) of (error, time) pairs with error > 0."""
    pts = sorted((e, t) for e, t in points if e > 0 and math.isfinite(e))
    kept = []
    for e, t in pts:
        if not kept or t < kept[-1][1]:
            kept.append((e, t))
    return kept


def interpolate(curve, e):
    """(time, flag): time at error e on a front, log-log linear; flag '≥' when e is beyond the loosest point."""
    if not curve:
        return None, "n/a"
    if e < curve[0][0]:
        return None, "n/a"
    if e >= curve[-1][0]:
        return curve[-1][1], "≥"
    for (e0, t0), (e1, t1) in zip(curve, curve[1:]):
        if e0 <= e <= e1:
            if e1 == e0:
                return t0, ""
            w = (math.log(e) - math.log(e0)) / (math.log(e1) - math.log(e0))
            return math.exp(math.log(t0) + w * (math.log(t1) - math.log(t0))), ""
    return None, "n/a"


def gd_time_at(points, e_target):
    """torch GD's time to reach e_target: measured (interpolated) if bracketed, else extrapolated from its two
    smallest step sizes with error ∝ η^p and time ∝ 1/η. Returns (time, how)."""
    pts = sorted(((p[ERR], p["wall"], p["setting"]) for p in points
                  if not p["skipped"] and ERR in p and math.isfinite(p[ERR])), key=lambda x: x[2])
    if not pts:
        return None, "no run"
    t, flag = interpolate(front([(e, w) for e, w, _ in pts]), e_target)
    if t is not None and flag == "":
        return t, "measured"
    if len(pts) < 2:
        return None, "one run"
    (e0, w0, h0), (e1, w1, h1) = pts[0], pts[1]  # smallest η first
    p = math.log(e1 / e0) / math.log(h1 / h0)
    if not p > 0:
        return None, "no convergence"
    eta = h0 * (e_target / e0) ** (1.0 / p)
    return w0 * h0 / eta, f"extrapolated (error ∝ η^{p:.2f}, η ≈ {eta:.2g})"


def fmt_t(t):
    if t is None:
        return "—"
    if t >= 100:
        return f"{t:.0f} s"
    if t >= 1:
        return f"{t:.3g} s"
    if t >= 1e-3:
        return f"{t * 1e3:.3g} ms"
    return f"{t * 1e6:.3g} µs"


def fmt_ratio(r, flag=""):
    if r is None:
        return "n/a"
    return f"{flag}{r:.3g}×" if r < 100 else f"{flag}{r:.0f}×"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", help="one or more folders, each with linflow.json and peers.json")
    ap.add_argument("--figures", default="docs/figures")
    ap.add_argument("--out", default=None, help="Markdown file (default: DIRS[0]/../peers.md)")
    args = ap.parse_args()
    lf, peers, problems, pp, loads = None, None, [], {}, []
    for d in args.dirs:
        with open(os.path.join(d, "linflow.json")) as f:
            lf_d = json.load(f)
        with open(os.path.join(d, "peers.json")) as f:
            peers_d = json.load(f)
        lf, peers = lf or lf_d, peers or peers_d
        pp.update({p["name"]: dict(p, reps=peers_d["reps"], budget=peers_d["budget"]) for p in peers_d["problems"]})
        problems += [p for p in lf_d["problems"] if p["name"] in pp]
        loads += [peers_d["load_start"][0], peers_d["load_end"][0]]

    lines = []
    add = lines.append
    m = peers["machine"]
    budgets = ", ".join(f"{p['name']}: {pp[p['name']]['budget']:g} s" for p in problems
                        if pp[p["name"]]["budget"] != peers["budget"])
    add(f"Machine: {m['cpu']}, {m['cores']} cores; 1-minute load average between {min(loads):.2f} and "
        f"{max(loads):.2f} at the starts and ends of the peers' runs. Versions: linflow (Eigen {lf['eigen']}, Boost {lf['boost']}), "
        f"Python {peers['python']}, NumPy {peers['numpy']}, SciPy {peers['scipy']}, PyTorch {peers['torch']}, BLAS "
        f"`{m['blas']}`. One thread everywhere (linflow: Eigen without OpenMP; NumPy/SciPy: OpenBLAS with "
        f"OPENBLAS_NUM_THREADS=1; PyTorch: torch.set_num_threads(1)). Medians of {peers['reps']} runs; per-point budget "
        f"{peers['budget']:g} s{' (' + budgets + ')' if budgets else ''}: a Python setting predicted to take longer in all is "
        f"run once if one run fits the budget (its runs column says 1), else skipped and listed as skipped.\n")

    # Headline: time to relative error 1e-6 of the end-to-end product at T.
    add(f"**Time to a relative error of {TARGET_ERROR:g}** in θ(T), all layers (each method's own "
        "work-precision front, log-log interpolation; torch GD extrapolated where marked *):\n")
    add("| problem | params | T | linflow gf | scipy DOP853 | scipy RK45 | torch GD | DOP853 / linflow | "
        "RK45 / linflow | GD / linflow |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for p in problems:
        name = p["name"]
        lcurve = front([(q[ERR], q["wall"]) for q in p["points"] if not q.get("skipped")])
        t_lf, _ = interpolate(lcurve, TARGET_ERROR)
        row = {"linflow gf": t_lf}
        flags = {}
        for meth in ("scipy DOP853", "scipy RK45"):
            pts = [q for q in pp[name]["points"] if q["method"] == meth and not q["skipped"] and ERR in q]
            t, fl = interpolate(front([(q[ERR], q["wall"]) for q in pts]), TARGET_ERROR)
            row[meth] = t if fl == "" else None
        gd = [q for q in pp[name]["points"] if q["method"] == "torch GD"]
        row["torch GD"], how = gd_time_at(gd, TARGET_ERROR)
        flags["torch GD"] = "" if how == "measured" else "*"
        summary[name] = row
        ratio = lambda k: fmt_ratio(row[k] / t_lf) if row[k] and t_lf else "n/a"
        add(f"| {name} | {p['parameters']} | {p['T']:g} | {fmt_t(t_lf)} | {fmt_t(row['scipy DOP853'])} | "
            f"{fmt_t(row['scipy RK45'])} | {fmt_t(row['torch GD'])}{flags['torch GD'] if row['torch GD'] else ''} | "
            f"{ratio('scipy DOP853')} | {ratio('scipy RK45')} | "
            f"{ratio('torch GD')}{flags['torch GD'] if row['torch GD'] and t_lf else ''} |")
    add("")

    # Ratio ranges at matched error, per problem and peer.
    add("**Ratio peer time / linflow time at the peer's own error** (every measured peer run, linflow interpolated "
        "on its front): min – median – max over the runs compared (count):\n")
    add("| problem | reference agreement | scipy DOP853 | scipy RK45 | torch GD |")
    add("|---|---|---|---|---|")
    ranges = {}
    detail = []
    for p in problems:
        name = p["name"]
        cc = pp[name]["crosscheck"]
        floor = 10 * max(cc[ERR], 1e-300)
        lcurve = front([(q[ERR], q["wall"]) for q in p["points"] if not q.get("skipped") and q[ERR] > floor])
        cells = []
        for meth in METHODS[1:]:
            rs = []
            for q in pp[name]["points"]:
                if q["method"] != meth:
                    continue
                if q["skipped"]:
                    detail.append((name, meth, q, None, "skipped"))
                    continue
                e = q.get(ERR)
                if e is None or not math.isfinite(e):
                    detail.append((name, meth, q, None, q.get("status", "failed")))
                    continue
                if e <= floor:
                    detail.append((name, meth, q, None, "at reference accuracy"))
                    continue
                t, fl = interpolate(lcurve, e)
                if t is None:
                    detail.append((name, meth, q, None, "tighter than linflow's runs"))
                    continue
                r = q["wall"] / t
                rs.append((r, fl))
                detail.append((name, meth, q, (t, r, fl), ""))
            ranges[(name, meth)] = rs
            if rs:
                vals = sorted(r for r, _ in rs)
                lb = "≥" if any(fl for _, fl in rs) else ""
                cells.append(f"{fmt_ratio(vals[0])} – {fmt_ratio(statistics.median(vals))} – {fmt_ratio(vals[-1])} "
                             f"({len(vals)}){' ' + lb if lb else ''}")
            else:
                cells.append("n/a")
        add(f"| {name} | {cc['err_theta']:.1e} (θ), {cc['err_W']:.1e} (W) | " + " | ".join(cells) + " |")
    add("")
    add("(≥: some runs were looser than linflow's loosest tolerance, so their ratio is a lower bound.)\n")

    # Targets.
    def target_line(label, probs, meth, need):
        rs = [r for n in probs for r, _ in ranges.get((n, meth), [])]
        if not rs:
            return f"- {label}: not measured"
        lo = min(rs)
        hi = max(rs)
        ok = sum(r >= need for r in rs)
        verdict = "**met**" if lo >= need else ("**missed**" if ok == 0 else "**partly met**")
        return (f"- {label} (≥ {need:g}×): {verdict}: ratios {lo:.3g}× to {hi:.3g}× over {len(rs)} matched runs, "
                f"{ok} of them ≥ {need:g}×")

    names = [p["name"] for p in problems]
    by_size = {s: [n for n in names if n.startswith(s + "-")] for s in ("small", "medium", "large")}
    add("**Targets** (issue 5 §1), judged on every matched DOP853 run:\n")
    add(target_line("small vs scipy DOP853", by_size["small"], "scipy DOP853", 30))
    add(target_line("medium vs scipy DOP853", by_size["medium"], "scipy DOP853", 2))
    add(target_line("large vs scipy DOP853, never slower", by_size["large"], "scipy DOP853", 1))
    gd = [(n, summary[n]["torch GD"] / summary[n]["linflow gf"]) for n in names
          if summary[n]["torch GD"] and summary[n]["linflow gf"]]
    if gd:
        lo = min(r for _, r in gd)
        add(f"- torch GD reaching {TARGET_ERROR:g} (≥ 1000×): {'**met**' if lo >= 1000 else '**missed**'}: "
            f"{lo:.3g}× to {max(r for _, r in gd):.3g}× over {len(gd)} problems (GD times mostly extrapolated)")
    add("")

    # Full table.
    add("<details><summary>Every run (median wall time, relative errors at T, linflow at the same error)</summary>\n")
    add("| problem | method | rtol or η | runs | wall | evaluations | err W | err θ | linflow at that error | ratio |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for p in problems:
        for q in p["points"]:
            if q.get("skipped"):
                add(f"| {p['name']} | linflow gf ({q.get('integrator', 'dopri5')}) | {q['rtol']:.0e} | skipped | predicted {fmt_t(q['predicted_wall'])} "
                    f"per run | | | | | |")
                continue
            add(f"| {p['name']} | linflow gf ({q.get('integrator', 'dopri5')}) | {q['rtol']:.0e} | {q['reps']} | {fmt_t(q['wall'])} | {q['rhs_evals']} | "
                f"{q['err_W']:.2e} | {q['err_theta']:.2e} | | |")
        for name, meth, q, match, note in [d for d in detail if d[0] == p["name"]]:
            if q["skipped"]:
                add(f"| {name} | {meth} | {q['setting']:.0e} | skipped | predicted {fmt_t(q['predicted_wall'])} per run "
                    f"| | | | | |")
                continue
            ev = q.get("nfev", "")
            e = q.get("err_W")
            et = q.get("err_theta")
            es = f"{e:.2e}" if e is not None else q.get("status", "")
            ets = f"{et:.2e}" if et is not None else ""
            if match:
                t, r, fl = match
                tail = f"{fmt_t(t)} | {fmt_ratio(r, fl)}"
            else:
                tail = f"{note} | "
            add(f"| {name} | {meth} | {q['setting']:.0e} | {q['reps']} | {fmt_t(q['wall'])} | {ev} | {es} | {ets} | "
                f"{tail} |")
    add("\n</details>\n")
    text = "\n".join(lines)
    with open(args.out or os.path.join(os.path.dirname(os.path.abspath(args.dirs[0])), "peers.md"), "w") as f:
        f.write(text)
    print(text)
    plot(problems, pp, args.figures)


def plot(problems, pp, folder):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = ["small", "medium", "large"]
    variants = ["balanced", "gaussian", "w1-balanced", "w1-gaussian"]
    fig, axes = plt.subplots(len(sizes), len(variants), figsize=(4.2 * len(variants), 3.5 * len(sizes)),
                             squeeze=False)
    byname = {p["name"]: p for p in problems}
    for i, s in enumerate(sizes):
        for j, v in enumerate(variants):
            ax = axes[i][j]
            name = f"{s}-{v}"
            p = byname.get(name)
            if p is None:
                ax.set_visible(False)
                continue
            series = {f"linflow gf ({integ})": [(q[ERR], q["wall"]) for q in p["points"]
                                                if not q.get("skipped") and q.get("integrator", "dopri5") == integ]
                      for integ in ("dopri5", "rk78", "dop853")}
            for meth in METHODS[1:]:
                series[meth] = [(q[ERR], q["wall"]) for q in pp[name]["points"]
                                if q["method"] == meth and not q["skipped"] and q.get(ERR) is not None
                                and math.isfinite(q[ERR])]
            for meth, pts in series.items():
                pts = sorted(pts)
                if pts:
                    ax.loglog([e for e, _ in pts], [t for _, t in pts], label=meth, markersize=4, **STYLE[meth])
            cc = pp[name]["crosscheck"][ERR]
            ax.axvspan(1e-17, max(10 * cc, 1e-16), color="0.9", zorder=0)
            ax.axvline(TARGET_ERROR, color="0.6", ls=":", lw=1)
            ax.set_xlim(1e-15, 2.0)
            ax.set_title(f"{name} ({p['parameters']} params, T = {p['T']:g})", fontsize=9)
            ax.grid(True, which="major", alpha=0.3)
            if i == len(sizes) - 1:
                ax.set_xlabel("relative error of θ(T)")
            if j == 0:
                ax.set_ylabel("wall time (s)")
    handles, labels = next((ax.get_legend_handles_labels() for row in axes for ax in row
                            if ax.get_visible() and ax.get_legend_handles_labels()[0]), ([], []))
    fig.suptitle("Gradient flow of deep linear networks: wall time vs relative error of θ(T), one thread "
                 "(grey: below the reference's accuracy; dotted: 1e-6)", y=0.995, fontsize=10)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.975), ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.945))
    os.makedirs(folder, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(folder, f"work_precision.{ext}"), dpi=110)
    print(f"\nFigure: {os.path.join(folder, 'work_precision.png')} (and .svg)", file=sys.stderr)


if __name__ == "__main__":
    main()
