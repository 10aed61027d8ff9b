#!/usr/bin/python3
"""Many small runs from Python: linflow's module in a loop, in one batch call, and scipy in the same loop.

    PYTHONPATH=build/python bench/python_loop.py [--runs 1000] [--scipy-runs 50] [--threads 0] [--json FILE]

Two problems, 500 runs each by default (seeds 0..): widths 8-8-1-8 and 8-8-8-8, a synthetic 8×8 target with
singular values 3, 2.5, 2, 1.5, 1, 0.8, 0.6, 0.5 (full rank: a zero singular value would decay only algebraically in
the 8-8-8-8 network, far beyond t_max; random orthogonal vectors per seed), a gaussian start (entries N(0, 0.3²/8)), gradient
flow to excess loss eps = 1e-10 (t_eps), rtol 1e-11, atol 1e-13 (linflow's defaults). Targets and starts are drawn
with numpy before anything is timed, both as .npy files and as arrays, so every side starts from the same θ(0).

Measured (wall time, perf_counter, one process):
  arrays loop    `linflow.train(config)` per run with the target and the start as numpy arrays (problem.target,
                 init.weights: handed to the engine in memory), the way a notebook calls it: µs per call, and the
                 engine's own time (summary stats.wall_seconds), so that the per-call overhead over the engine is the
                 difference, split (on up to 200 runs, through the package's internals) into configuration (dict to
                 the C++ parser, validation, arrays), C++ set-up and summary (target factored, start copied,
                 summary.json built; what `linflow train` does too), the result's conversion to Python objects, and
                 the rest (the wrapper);
  files loop     the same reading the .npy files (problem.target, init.kind = "files"), as the CLI would;
  batch          `linflow.train_many(configs, threads=K)` over all runs (K = 0: one thread per core) against the
                 arrays loop over the same runs, and on one thread;
  sweep          `linflow.sweep` of as many 8-8-1-8 runs (a synthetic target, one run per init.seed) on K threads
                 against the Python loop of `linflow.train` over the same configurations;
  scipy loop     `solve_ivp(method="DOP853", rtol, atol)` with bench/peers.py's right-hand side (prefix and suffix
                 products into preallocated buffers) and a terminal event at excess loss = eps, on the first
                 --scipy-runs runs of each problem (it is slow: the per-call time is what is compared).
Accuracy is matched by construction (same tolerances, same stopping rule) and checked: the relative difference
of t_eps between scipy and linflow is reported (median and max). Not a test: nothing here fails on a time.
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import GradientFlow  # noqa: E402  (bench/peers.py: the careful numpy right-hand side)

import linflow  # noqa: E402
from linflow._config import run_config  # noqa: E402

PROBLEMS = {"8-8-1-8": [8, 8, 1, 8], "8-8-8-8": [8, 8, 8, 8]}
SINGULAR_VALUES = [3.0, 2.5, 2.0, 1.5, 1.0, 0.8, 0.6, 0.5]
EPS, RTOL, ATOL = 1e-10, 1e-11, 1e-13


def draw(widths, seed):
    rng = np.random.default_rng(seed)
    d_x, d_y = widths[0], widths[-1]
    u, _ = np.linalg.qr(rng.standard_normal((d_y, d_y)))
    v, _ = np.linalg.qr(rng.standard_normal((d_x, d_x)))
    s = np.zeros(min(d_x, d_y))
    s[:len(SINGULAR_VALUES)] = SINGULAR_VALUES
    Z = u[:, :len(s)] @ np.diag(s) @ v[:, :len(s)].T
    Ws = [rng.standard_normal((widths[j + 1], widths[j])) * 0.3 / math.sqrt(8) for j in range(len(widths) - 1)]
    return Z, Ws


def optimal_loss(widths):
    k = min(widths)
    return 0.5 * sum(s * s for s in SINGULAR_VALUES[k:])


def prepare(runs_per_problem, work):
    """[(problem name, widths, config dict, Z, Ws)] with Z and Ws written under `work`."""
    cases = []
    for name, widths in PROBLEMS.items():
        for seed in range(runs_per_problem):
            Z, Ws = draw(widths, seed)
            d = os.path.join(work, f"{name}-{seed}")
            os.makedirs(d)
            np.save(os.path.join(d, "Z.npy"), Z)
            for j, W in enumerate(Ws, start=1):
                np.save(os.path.join(d, f"W{j}.npy"), W)
            config = {"problem": {"target": os.path.join(d, "Z.npy")}, "network": {"widths": widths},
                      "init": {"kind": "files", "dir": d},
                      "solver": {"eps": EPS, "rtol": RTOL, "atol": ATOL, "t_max": 1e4},
                      "output": {"trajectory": False, "save_weights": False}}
            cases.append((name, widths, config, Z, Ws))
    return cases


def arrays_config(case):
    """The configuration of `case` with the target and the start as numpy arrays (handed to the engine in memory)."""
    config = {k: dict(v) for k, v in case[2].items()}
    config["problem"] = {"target": case[3]}
    config["init"] = {"weights": case[4]}
    return config


def scipy_run(widths, Z, Ws):
    from scipy.integrate import solve_ivp
    f = GradientFlow(Z, [W.shape for W in Ws])
    target = optimal_loss(widths) + EPS

    def excess(t, y):
        layers = f.layers(y)
        W = layers[0]
        for Wj in layers[1:]:
            W = Wj @ W
        return 0.5 * float(np.sum((Z - W) ** 2)) - target

    excess.terminal = True
    excess.direction = -1
    sol = solve_ivp(f, (0.0, 1e4), f.flatten(Ws), method="DOP853", rtol=RTOL, atol=ATOL, events=excess)
    return sol.t_events[0][0] if len(sol.t_events[0]) else None, f.nfev


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="runs in all (half per problem)")
    ap.add_argument("--scipy-runs", type=int, default=50, help="scipy runs per problem")
    ap.add_argument("--threads", type=int, default=0, help="threads of the batch call (0: one per core)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    per = args.runs // len(PROBLEMS)
    out = {"runs": per * len(PROBLEMS), "cpus": os.cpu_count(), "linflow": linflow.__version__}
    with tempfile.TemporaryDirectory(prefix="linflow-bench-") as work:
        cases = prepare(per, work)
        configs = [linflow.Config(c[2]) for c in cases]
        linflow.train(configs[0])  # libxsmm and OpenBLAS start-up, once per process, not timed

        in_memory = [linflow.Config(arrays_config(c)) for c in cases]
        linflow.train(in_memory[0])
        per_call = []  # (call, engine) seconds of every in-memory call

        for name in PROBLEMS:
            idx = [i for i, c in enumerate(cases) if c[0] == name]
            res = {}
            t_eps = {}
            for label, cfgs in (("files", configs), ("arrays", in_memory)):
                calls, engine = [], []
                for i in idx:
                    t0 = time.perf_counter()
                    r = linflow.train(cfgs[i])
                    calls.append(time.perf_counter() - t0)
                    engine.append(r.summary["stats"]["wall_seconds"])
                    assert r.status == "converged", r.summary["message"]
                    if label == "files":
                        t_eps[i] = r.t_eps
                    else:
                        assert r.t_eps == t_eps[i], "arrays in memory must give the files' run"
                if label == "arrays":
                    per_call.extend(zip(calls, engine))
                mean_call, mean_engine = statistics.mean(calls), statistics.mean(engine)
                res[label] = {"us_per_call": 1e6 * mean_call, "median_us": 1e6 * statistics.median(calls),
                              "engine_us": 1e6 * mean_engine, "overhead_us": 1e6 * (mean_call - mean_engine),
                              "overhead_fraction": (mean_call - mean_engine) / mean_call}
            # Where the overhead of the in-memory call goes, on the same runs through the package's internals:
            # configuration (dict to the C++ parser, validation, arrays), the C++ call less the engine's own time
            # (set-up: target factored, start copied; summary.json built; GIL and signal handling), the conversion of
            # the result to Python objects, and the rest (the wrapper: progress check, argument handling).
            parts = {"config": [], "setup_and_summary": [], "result": [], "call": []}
            for i in idx[:min(len(idx), 200)]:
                t0 = time.perf_counter()
                rc = run_config(in_memory[i])
                t1 = time.perf_counter()
                run = linflow._linflow.train(rc)
                t2 = time.perf_counter()
                r = linflow.Result(run)
                t3 = time.perf_counter()
                parts["config"].append(t1 - t0)
                parts["setup_and_summary"].append(t2 - t1 - r.summary["stats"]["wall_seconds"])
                parts["result"].append(t3 - t2)
                t0 = time.perf_counter()
                linflow.train(in_memory[i])
                parts["call"].append(time.perf_counter() - t0 - r.summary["stats"]["wall_seconds"])
            mean_parts = {k: 1e6 * statistics.mean(v) for k, v in parts.items()}
            mean_parts["rest"] = mean_parts.pop("call") - sum(mean_parts.values())
            sp_calls, rel = [], []
            for i in idx[:args.scipy_runs]:
                t0 = time.perf_counter()
                te, _ = scipy_run(cases[i][1], cases[i][3], cases[i][4])
                sp_calls.append(time.perf_counter() - t0)
                rel.append(abs(te - t_eps[i]) / t_eps[i] if te is not None else float("inf"))
            res.update({
                "overhead_parts_us": mean_parts,
                "scipy_runs": len(sp_calls),
                "scipy_us_per_call": 1e6 * statistics.mean(sp_calls),
                "scipy_over_module": 1e6 * statistics.mean(sp_calls) / res["arrays"]["us_per_call"],
                "t_eps_rel_diff_median": statistics.median(rel),
                "t_eps_rel_diff_max": max(rel),
                "t_eps_median": statistics.median(t_eps.values()),
            })
            out[name] = res
            f, a = res["files"], res["arrays"]
            print(f"{name}: arrays in memory {a['us_per_call']:.0f} µs/call (median {a['median_us']:.0f}), engine "
                  f"{a['engine_us']:.0f} µs, overhead {a['overhead_us']:.0f} µs ({100 * a['overhead_fraction']:.1f} %: "
                  + ", ".join(f"{k} {v:.0f}" for k, v in mean_parts.items())
                  + f"); files {f['us_per_call']:.0f} µs/call, overhead {f['overhead_us']:.0f} µs "
                  f"({100 * f['overhead_fraction']:.1f} %); scipy DOP853 {res['scipy_us_per_call']:.0f} µs/call "
                  f"({len(sp_calls)} runs) = {res['scipy_over_module']:.1f}× the module; t_eps rel. diff median "
                  f"{res['t_eps_rel_diff_median']:.1e}, max {res['t_eps_rel_diff_max']:.1e}", flush=True)

        # The criterion: the overhead over the engine for runs of at least 1 ms (the engine's own time), as a
        # fraction of the call, over the calls of both problems in that range and in [1, 1.5) ms.
        for lo, hi in ((1e-3, float("inf")), (1e-3, 1.5e-3)):
            sel = [(c, e) for c, e in per_call if lo <= e < hi]
            if not sel:
                continue
            over = [c - e for c, e in sel]
            key = f"runs_{lo * 1e3:g}ms_to_{hi * 1e3:g}ms"
            out[key] = {"calls": len(sel), "overhead_us_mean": 1e6 * statistics.mean(over),
                        "overhead_us_median": 1e6 * statistics.median(over),
                        "overhead_fraction": sum(over) / sum(c for c, _ in sel),
                        "engine_us_mean": 1e6 * statistics.mean(e for _, e in sel)}
            r = out[key]
            print(f"runs with engine time in [{lo * 1e3:g}, {hi * 1e3:g}) ms: {r['calls']} calls, engine "
                  f"{r['engine_us_mean']:.0f} µs, overhead {r['overhead_us_mean']:.0f} µs per call (median "
                  f"{r['overhead_us_median']:.0f}) = {100 * r['overhead_fraction']:.1f} % of the call", flush=True)

        # Many runs in one call against the same runs in a Python loop: train_many on K threads (the GIL released),
        # and a sweep (its base a synthetic 8-8-1-8 problem, one run per init.seed) against the loop of train calls.
        t0 = time.perf_counter()
        for c in in_memory:
            linflow.train(c)
        loop = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        linflow.train_many(in_memory, threads=args.threads)
        batch = time.perf_counter() - t0
        # CPU time over wall time: about the number of cores the batch had (2 on an idle 2-core machine; near 1 when
        # other processes hold the other core, and then no speed-up is possible).
        batch_cores = (time.process_time() - c0) / batch
        t0 = time.perf_counter()
        linflow.train_many(in_memory, threads=1)
        batch1 = time.perf_counter() - t0
        out["batch"] = {"threads": args.threads, "seconds": batch, "us_per_run": 1e6 * batch / len(in_memory),
                        "loop_seconds": loop, "one_thread_seconds": batch1, "speedup_over_loop": loop / batch,
                        "speedup_over_one_thread": batch1 / batch, "cpu_over_wall": batch_cores}
        print(f"train_many: {len(in_memory)} runs in {batch:.3f} s on threads={args.threads} "
              f"({1e6 * batch / len(in_memory):.0f} µs/run); the Python loop of train calls: {loop:.3f} s; "
              f"threads=1: {batch1:.3f} s; speed-up {loop / batch:.2f}× over the loop, {batch1 / batch:.2f}× over "
              f"one thread (CPU time / wall time {batch_cores:.2f})", flush=True)
        base = {"problem": {"singular_values": SINGULAR_VALUES, "seed": 1}, "network": {"widths": PROBLEMS["8-8-1-8"]},
                "init": {"kind": "gaussian", "scale": 0.3 / math.sqrt(8)},
                "solver": {"eps": EPS, "rtol": RTOL, "atol": ATOL, "t_max": 1e4},
                "output": {"trajectory": False, "save_weights": False}}
        seeds = list(range(len(in_memory)))
        # Once, not timed: the sweep's first call imports pandas (its runs table), some 0.4 s.
        linflow.sweep({"sweep": {"seeds": 1}, "base": base, "axis": [{"key": "init.seed", "values": [0, 1]}]})
        t0 = time.perf_counter()
        for seed in seeds:
            linflow.train(base, init__seed=seed)
        sweep_loop = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        swept = linflow.sweep({"sweep": {"seeds": 1}, "base": base, "axis": [{"key": "init.seed", "values": seeds}]},
                              threads=args.threads)
        sweep_seconds = time.perf_counter() - t0
        sweep_cores = (time.process_time() - c0) / sweep_seconds
        assert swept.summary["errors"] == 0, swept.summary["message"]
        out["sweep"] = {"threads": args.threads, "runs": len(seeds), "seconds": sweep_seconds,
                        "loop_seconds": sweep_loop, "speedup_over_loop": sweep_loop / sweep_seconds,
                        "cpu_over_wall": sweep_cores}
        print(f"sweep: {len(seeds)} runs (8-8-1-8, one per init.seed) in {sweep_seconds:.3f} s on "
              f"threads={args.threads}; the Python loop of train calls: {sweep_loop:.3f} s; speed-up "
              f"{sweep_loop / sweep_seconds:.2f}× (CPU time / wall time {sweep_cores:.2f})", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
