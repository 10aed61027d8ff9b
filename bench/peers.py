#!/usr/bin/python3
"""The peers of the linflow peer benchmark: what researchers use today to follow gradient flow.

    bench/peers.py DIR [--reps R] [--budget SECONDS] [--quick] [--problems name,...] [--rtols a,b,...]

DIR is what `bench_peers DIR` wrote: for every problem DIR/<name>/{problem.json, Z.npy, init/W*.npy, ref/W*.npy}.
Every peer integrates the same ODE from the same θ(0): dθ/dt = −∇L(θ), L = ½‖Z − W_N ⋯ W_1‖_F² (whitened,
no data constant; linflow's `Problem::from_target`), up to the same horizon T, and its state at T is compared with
linflow's reference θ_ref(T):

- scipy `solve_ivp`, methods DOP853 and RK45, rtol = atol, on the flattened weights. The right-hand side is what a
  careful researcher writes: prefixes W_{j:1} forward, suffixes W_{N:j+1}ᵀ(Z − W) backward, 3N − 2 matrix
  products per evaluation written with `out=` into preallocated buffers and into the returned vector (a fresh one
  each call, as solve_ivp keeps references to it).
- PyTorch gradient descent with autograd (the usual "gradient flow" of papers): W_j ← W_j − η ∇_{W_j} L for T/η
  steps, float64.

Before anything is timed, scipy DOP853 at rtol = atol = 1e-13 must agree with linflow's reference to 1e-10
(relative, end-to-end product and θ); otherwise the benchmark stops with a message (exit code 3).

Timing: median wall (and CPU) time over R repetitions, after one untimed warm-up run when a run takes under a
second. Points whose predicted time (R runs) exceeds the budget are run once if one run fits the budget, and
otherwise skipped and recorded as skipped, with the prediction. Threads: one (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = 1, torch.set_num_threads(1)). Writes
DIR/peers.json.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and torch load their BLAS

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp

CROSSCHECK_RTOL = 1e-13
CROSSCHECK_LIMIT = 1e-10


def load_problem(path):
    with open(os.path.join(path, "problem.json")) as f:
        meta = json.load(f)
    n = len(meta["widths"]) - 1
    Z = np.load(os.path.join(path, "Z.npy"))
    init = [np.load(os.path.join(path, "init", f"W{j}.npy")) for j in range(1, n + 1)]
    ref = [np.load(os.path.join(path, "ref", f"W{j}.npy")) for j in range(1, n + 1)]
    return meta, Z, init, ref


def end_to_end(layers):
    W = layers[0]
    for Wj in layers[1:]:
        W = Wj @ W
    return W


def errors(layers, ref):
    """Relative errors at T of the end-to-end product and of θ (‖Δθ‖² = Σ_j ‖ΔW_j‖_F²)."""
    W, Wr = end_to_end(layers), end_to_end(ref)
    err_W = np.linalg.norm(W - Wr) / np.linalg.norm(Wr)
    num = math.sqrt(sum(np.linalg.norm(a - b) ** 2 for a, b in zip(layers, ref)))
    den = math.sqrt(sum(np.linalg.norm(b) ** 2 for b in ref))
    return float(err_W), float(num / den)


class GradientFlow:
    """dθ/dt = −∇L(θ) on the flattened layers (each row-major), 3N − 2 products per call, no recomputation."""

    def __init__(self, Z, shapes):
        self.Z = Z
        self.shapes = shapes
        self.sizes = [r * c for r, c in shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int).tolist()
        d0 = shapes[0][1]
        self.prefix = [np.empty((r, d0)) for r, _ in shapes]  # prefix[j] = W_{j+1:1}
        self.suffix = [np.empty((r, d0)) for r, _ in shapes]  # suffix[j] = W_{N:j+2}ᵀ (Z − W)
        self.residual = np.empty_like(Z)
        self.nfev = 0

    def layers(self, y):
        o = self.offsets
        return [y[o[j]:o[j + 1]].reshape(s) for j, s in enumerate(self.shapes)]

    def flatten(self, layers):
        return np.concatenate([W.ravel() for W in layers])

    def __call__(self, t, y):
        self.nfev += 1
        Ws = self.layers(y)
        n = len(Ws)
        prev = Ws[0]
        for j in range(1, n):
            np.matmul(Ws[j], prev, out=self.prefix[j])
            prev = self.prefix[j]
        # −∇L_1(W) = Z − W; every layer's −gradient is linear in it, so no sign flip is needed afterwards.
        np.subtract(self.Z, prev, out=self.residual)
        dy = np.empty_like(y)
        out = self.layers(dy)
        S = self.residual
        for j in range(n - 1, 0, -1):
            below = Ws[0] if j == 1 else self.prefix[j - 1]
            np.matmul(S, below.T, out=out[j])
            if j == 1:
                np.matmul(Ws[1].T, S, out=out[0])
            else:
                np.matmul(Ws[j].T, S, out=self.suffix[j - 1])
                S = self.suffix[j - 1]
        if n == 1:
            out[0][...] = S
        return dy


def run_scipy(method, Z, init, T, rtol):
    f = GradientFlow(Z, [W.shape for W in init])
    sol = solve_ivp(f, (0.0, T), f.flatten(init), method=method, rtol=rtol, atol=rtol, t_eval=[T])
    if sol.status != 0:
        return None, {"status": "failed", "message": sol.message, "nfev": f.nfev}
    return f.layers(sol.y[:, -1]), {"status": "ok", "nfev": f.nfev, "steps": None}


def run_torch_gd(Z, init, T, eta):
    import torch

    steps = int(round(T / eta))
    Zt = torch.from_numpy(Z)
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in init]
    for _ in range(steps):
        P = Ws[0]
        for W in Ws[1:]:
            P = W @ P
        loss = 0.5 * (Zt - P).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for W in Ws:
                W.add_(W.grad, alpha=-eta)
                W.grad = None
    layers = [W.detach().numpy().copy() for W in Ws]
    ok = all(np.isfinite(W).all() for W in layers)
    return (layers if ok else None), {"status": "ok" if ok else "diverged", "nfev": steps, "steps": steps}


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def measure(fn, reps):
    """(result, info, median wall, median cpu, walls); one untimed warm-up run when a run takes under 1 s."""
    (layers, info), wall, cpu = timed(fn)
    walls, cpus = ([wall], [cpu]) if wall >= 1.0 else ([], [])
    while len(walls) < reps:
        _, w, c = timed(fn)
        walls.append(w)
        cpus.append(c)
    return layers, info, statistics.median(walls), statistics.median(cpus), walls, wall < 1.0


def sweep(name, settings, run, ref, reps, budget, predict):
    """Runs `run(setting)` for settings from cheap to expensive: `reps` times, or once where the repetitions are
    predicted to exceed the budget but one run fits it (a measured point instead of an extrapolated one: gradient
    descent's time to 1e-6 is extrapolated from its two smallest step sizes), else skipped."""
    points, history = [], []
    for s in settings:
        guess = predict(history, s)
        n = reps
        if guess is not None and guess * (reps + (guess < 1.0)) > budget:
            if guess > budget:
                points.append({"method": name, "setting": s, "skipped": True, "predicted_wall": guess})
                print(f"  {name} {s:g}: skipped (predicted {guess:.3g} s per run, budget {budget:g} s)",
                      file=sys.stderr)
                continue
            n = 1
        layers, info, wall, cpu, walls, warm = measure(lambda: run(s), n)
        pt = {"method": name, "setting": s, "skipped": False, "wall": wall, "cpu": cpu, "walls": walls,
              "reps": len(walls), "warmup": warm, **info}
        if layers is not None:
            pt["err_W"], pt["err_theta"] = errors(layers, ref)
        history.append((s, wall))
        points.append(pt)
        print(f"  {name} {s:g}: {wall:.4g} s, err_W {pt.get('err_W', float('nan')):.3g}", file=sys.stderr)
    return points


def predict_tolerance(order):
    """Cost of the next tolerance from the last measured one: steps ∝ rtol^(−1/order), or the observed growth."""

    def predict(history, rtol):
        if not history:
            return None
        r1, t1 = history[-1]
        growth = (r1 / rtol) ** (1.0 / order)
        if len(history) >= 2:
            r0, t0 = history[-2]
            growth = max(growth, (t1 / t0) ** (math.log(r1 / rtol) / math.log(r0 / r1)))
        return t1 * growth

    return predict


def predict_steps(history, eta):
    if not history:
        return None
    e1, t1 = history[-1]
    return t1 * e1 / eta  # time ∝ T / η


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return {"cpu": model, "cores": os.cpu_count(), "blas": blas}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per point (all repetitions)")
    ap.add_argument("--quick", action="store_true", help="fewer settings")
    ap.add_argument("--problems", default="")
    ap.add_argument("--rtols", default="", help="comma-separated tolerances (default 1e-3 … 1e-12)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    with open(os.path.join(args.dir, "linflow.json")) as f:
        names = [p["name"] for p in json.load(f)["problems"]]
    if args.problems:
        names = [n for n in names if n in args.problems.split(",")]

    if args.quick:
        rtols = [1e-4, 1e-6, 1e-8, 1e-10]
        etas = [2e-2, 1e-2]
    else:
        rtols = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12]
        etas = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
    if args.rtols:
        rtols = [float(r) for r in args.rtols.split(",")]

    out = {"machine": machine(), "load_start": os.getloadavg(), "numpy": np.__version__, "scipy": scipy.__version__,
           "torch": torch.__version__, "python": sys.version.split()[0], "threads": {
               "numpy/scipy (OpenBLAS)": os.environ["OPENBLAS_NUM_THREADS"], "torch": torch.get_num_threads()},
           "reps": args.reps, "budget": args.budget, "problems": []}
    for name in names:
        meta, Z, init, ref = load_problem(os.path.join(args.dir, name))
        T = meta["T"]
        print(f"{name}: T = {T}, {meta['parameters']} parameters", file=sys.stderr)
        # The cross-check: two independent integrators at their tightest tolerances must agree.
        (layers, info), wall, _ = timed(lambda: run_scipy("DOP853", Z, init, T, CROSSCHECK_RTOL))
        if layers is None:
            sys.exit(f"peers: {name}: scipy DOP853 at rtol {CROSSCHECK_RTOL:g} failed: {info.get('message')}")
        err_W, err_theta = errors(layers, ref)
        print(f"  cross-check DOP853 rtol {CROSSCHECK_RTOL:g}: err_W {err_W:.3g}, err_theta {err_theta:.3g} "
              f"({wall:.3g} s)", file=sys.stderr)
        if not (err_W <= CROSSCHECK_LIMIT and err_theta <= CROSSCHECK_LIMIT):
            print(f"peers: {name}: linflow's reference and scipy DOP853 at rtol = atol = {CROSSCHECK_RTOL:g} disagree: "
                  f"‖ΔW‖/‖W‖ = {err_W:.3g}, ‖Δθ‖/‖θ‖ = {err_theta:.3g} > {CROSSCHECK_LIMIT:g}; benchmark stopped",
                  file=sys.stderr)
            sys.exit(3)
        problem = {"name": name, "T": T, "crosscheck": {"rtol": CROSSCHECK_RTOL, "err_W": err_W,
                                                        "err_theta": err_theta, "wall": wall,
                                                        "nfev": info["nfev"]}, "points": []}
        for method, order in (("DOP853", 8), ("RK45", 5)):
            problem["points"] += sweep(f"scipy {method}", rtols, lambda r, m=method: run_scipy(m, Z, init, T, r)[:2],
                                       ref, args.reps, args.budget, predict_tolerance(order))
        problem["points"] += sweep("torch GD", [e for e in etas if round(T / e) >= 1],
                                   lambda e: run_torch_gd(Z, init, T, e), ref, args.reps, args.budget, predict_steps)
        out["problems"].append(problem)
    out["load_end"] = os.getloadavg()
    with open(os.path.join(args.dir, "peers.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
