#!/usr/bin/python3
"""The plateau suite: gradient flow from small initialisations, work against precision (issue 16 §2).

    bench/plateau.py run [DIR] [--quick] [--integrators dop853,auto,auto/p100] [--baseline auto] [--reps R]
                     [--budget S] [--ref-budget S] [--rtols 1e-6,...] [--problems name,...] [--linflow PATH]
                     [--json FILE]
                     [--linflow-set KEY=VALUE ...]
    bench/plateau.py selftest [--perturb X]   the exact Hessian against finite differences of the gradient (exit 1
                                              if not; --perturb 1e-4 spoils one block to show that it fails)
    bench/plateau.py list [--quick]  the problems and their sizes

Problems. L(θ) = ½‖Z − W_N ⋯ W_1‖_F², dθ/dt = −∇L(θ), depth N = 3…6, every width d (d_x = d_y = d, hidden layers
d), d = 8…64. Target Z = U diag(5, 3, 1, 0.5) Vᵀ with U, V the first four columns of Haar-random orthogonal
matrices (`TARGET_SEED`, one per width). Starts of scale σ0 = 1e-2 … 1e-5 (1e-6 on the scaling problems), drawn
with a seed fixed per (N, d, kind) — the same directions at every σ0, so the σ0 column of the scaling table changes
only the scale:
- `gaussian`: i.i.d. N(0, σ0²) entries in every layer;
- `balanced`: W_j = U_j diag(σ0 √d · (s_i / s_1)^{1/N}) U_{j−1}ᵀ, where U_N diag(s) U_0ᵀ is the SVD of one d × d
  Gaussian matrix and U_1 … U_{N−1} are Haar-random orthogonal (Arora et al.'s construction, as linflow's
  `init.kind = "balanced"`, whose `scale` is a Frobenius norm instead): every layer has spectral norm σ0 √d (a
  Gaussian layer of entry std σ0 has ≈ 2 σ0 √d) and W_{j+1}ᵀ W_{j+1} = W_j W_jᵀ to round-off.
The run stops at t_eps, the first time the excess loss L − L* reaches eps = 1e-10, L* = ½ Σ_{i>k} s_i², k = the
smallest width (0 here: every network can reach rank 4). Each problem's folder DIR/<name>/ holds Z.npy,
init/W1.npy … WN.npy, linflow.toml (target and initial weights from those files, `grad_tol = 0` — a start of scale
1e-5 at N = 4 has ‖∇L‖ ≈ 1e-14, which linflow's default 1e-13 would call a critical point — no recordings) and
problem.json.

Methods (all one thread, same θ(0), same stopping rule):
- scipy's LSODA, BDF and Radau on the flattened θ, the right-hand side of bench/peers.py (`GradientFlow`: prefix and
  suffix products into preallocated buffers), and `jac = −H(θ)`, the exact dense Hessian (`hessian` below, checked
  by `selftest`) when θ has at most `EXACT_JAC_LIMIT` = 2000 parameters; above, scipy's own finite-difference
  Jacobian; above `SCIPY_LIMIT` = 5000 parameters they are not run (a dense n × n Newton matrix). The loop is
  solve_ivp's own — `OdeSolver.step()` and, on a sign change of the terminal event g(θ) = (L − L*)(θ) − eps, the root
  of g on the step's dense output by brentq (xtol = rtol = 4 ε, as solve_ivp's event location) — written out here
  so that steps can be counted; the time budget is checked at every evaluation of the right-hand side.
- linflow's CLI: `linflow train -q -c DIR/<name>/linflow.toml --set solver.integrator="NAME"` for every NAME of
  `--integrators` (default dop853,auto,auto/p100; `bdf` is issue 16's stiff integrator, `auto` the default — a name
  linflow refuses is recorded as an error row, not a crash; `NAME/pK`, e.g. `auto/p100`, runs NAME with
  `solver.plateau_rtol` = rtol / K, the plateaus held K times tighter than the ladder's rtol), timed by summary.json's
  `stats.wall_seconds` (the solve inside the process; the process's wall time is recorded beside it). Final state:
  DIR/.../weights/Wj.npy, used only when the run stopped at its t_eps (`t_final` = `t_eps`; otherwise the row carries
  a warning and no error). Jacobian count: the first of `JAC_KEYS` that summary.json's `stats` has (all its keys are
  kept in the JSON). `--linflow-set KEY=VALUE` adds
  `--set`s to every linflow run (e.g. options a new integrator needs).
- Tolerances: rtol on the ladder (default 1e-6 … 1e-12), atol = rtol · σ0 (the entries that decide when the next
  mode escapes stay of size σ0 for most of the run), for every method.

Accuracy. The reference t_eps and θ(t_eps) of a problem come from the tightest run available: scipy Radau at rtol
`REF_RTOL` = 1e-12 (`--ref-rtol`) with the exact Jacobian; if it does not fit `--ref-budget` (or θ has more than
`SCIPY_LIMIT` parameters), linflow dop853 at that rtol (skipped when its probes predict more than the budget, t_eps
estimated by a first implicit linflow integrator at 1e-8), then the other linflow integrators (recorded as
`reference.source`, the runs not used as `reference.tried`). Where linflow dop853 at the reference rtol is predicted
to fit the reference budget it is run as a cross-check of a scipy reference and the disagreement (t_eps relative,
θ relative) is reported. A point is *matched* when |t_eps − t_ref| ≤ `T_EPS_TOL` · t_ref (1e-6) and
‖θ − θ_ref‖ ≤ `THETA_TOL` · ‖θ_ref‖ (1e-5; θ at each run's own t_eps — near t_eps θ moves by ≈ ‖∇L‖ ≈ 1e-4 per unit
time, so this does not re-measure the time error); the reported point of a method is its fastest matched one.

Timing and budgets: median over R repetitions (`--reps`) after one untimed warm-up when a run takes under a second,
as bench/peers.py. Before a point, its time is predicted — from the previous (looser) tolerance of the ladder by the
method's order, and for linflow's explicit integrators instead from probe runs (`probe_explicit`: a pilot of 1000
steps, then K and 2K steps, K ≤ `PROBE_STEPS` = 20000, the three within a fifth of the budget; the steps per unit time
at the end of the second probe, in the stability-bound plateau, carried to t_ref) — and a point predicted
over `--budget` seconds is skipped and recorded with its prediction; a point whose repetitions would not fit is run
once. A run that still exceeds the budget is stopped (scipy: at its next evaluation; linflow: process timeout) and
recorded as `exceeded`, with the time it reached.

Output: Markdown on stdout (per problem: the reference and cross-check, best matched point per method with the ratios
to `--baseline`, the full work-precision rows; then the scaling table: steps and evaluations at matched accuracy
against σ0, with the fitted exponent p of steps ∝ σ0^p), JSON in DIR/plateau.json (or `--json`), a work-precision
figure (wall time against t_eps error per problem) in DIR/work_precision.{png,svg} (or `--figure STEM`; matplotlib).
Progress on stderr.
`--quick`: three small problems (N = 3 at σ0 = 1e-2 and 1e-3, N = 4 balanced at 1e-2), rtols 1e-6, 1e-8, 1e-10,
3 repetitions, 5 s per point: one to two minutes. Called by bench/run (LINFLOW_PLATEAU=0 skips it).
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads its BLAS

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy
from scipy.integrate import LSODA, BDF, Radau
from scipy.optimize import brentq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (GradientFlow: the careful right-hand side; machine())

EPS = 1e-10
TARGET_SV = [5.0, 3.0, 1.0, 0.5]
TARGET_SEED = 16
EXACT_JAC_LIMIT = 2000
SCIPY_LIMIT = 5000
REF_RTOL = 1e-12
T_EPS_TOL = 1e-6
THETA_TOL = 1e-5
PILOT_STEPS = 1000
PROBE_STEPS = 20000
# summary.json stats keys that may count Jacobian (Hessian) evaluations of an implicit integrator; the first present
# is reported (every stats key is kept in the JSON as `linflow_stats`).
EXPLICIT = ("dop853", "dopri5", "rk78")  # linflow integrators whose cost is predicted from probe runs
JAC_KEYS = ("jac_evals", "jacobian_evals", "hessian_evals", "njev", "jacobians")
SCIPY_METHODS = {"LSODA": LSODA, "BDF": BDF, "Radau": Radau}
# Orders used to extrapolate a run's cost to a tighter tolerance (steps ∝ rtol^(−1/order)).
ORDER = {"LSODA": 5, "BDF": 5, "Radau": 5, "dop853": 8, "dopri5": 5, "rk78": 8}
FULL_RTOLS = [1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12]
QUICK_RTOLS = [1e-6, 1e-8]


# ----------------------------------------------------------------------------------------------------------------
# Loss, gradient, exact Hessian


def end_to_end(layers):
    return peers.end_to_end(layers)


def optimal_loss(Z, k):
    s = np.linalg.svd(Z, compute_uv=False)
    return 0.5 * float(np.sum(s[k:] ** 2))


def loss(layers, Z):
    return 0.5 * float(np.sum((end_to_end(layers) - Z) ** 2))


def hessian(layers, Z, second_order=True):
    """The exact dense Hessian of L = ½‖Z − W_N ⋯ W_1‖_F² in θ = (vec W_1, …, vec W_N), row-major vec.

    With A_j = W_N ⋯ W_{j+1}, B_j = W_{j−1} ⋯ W_1, G = W − Z: ∇_j L = A_jᵀ G B_jᵀ. Its derivative along V_k:
    - Gauss–Newton part (through G): A_jᵀ A_k V_k B_k B_jᵀ, block (A_jᵀ A_k) ⊗ (B_j B_kᵀ), since
      vec(P X Q) = (P ⊗ Qᵀ) vec X for row-major vec;
    - k > j (through A_j = A_k V_k M with M = W_{k−1} ⋯ W_{j+1}): Mᵀ V_kᵀ R, R = A_kᵀ G B_jᵀ,
      entry [(a, b), (q, p)] = M[p, a] R[q, b];
    - k < j (through B_j = S V_k B_k with S = W_{j−1} ⋯ W_{k+1}): R' V_kᵀ Sᵀ, R' = A_jᵀ G B_kᵀ,
      entry [(a, b), (q, p)] = R'[a, p] S[b, q].
    `second_order=False` drops the G terms (the Gauss–Newton matrix; the self-test's negative control).
    """
    N = len(layers)
    W = [None] + list(layers)  # 1-based
    d = [layers[0].shape[1]] + [Wj.shape[0] for Wj in layers]
    B = [None] * (N + 1)
    B[1] = np.eye(d[0])
    for j in range(2, N + 1):
        B[j] = W[j - 1] @ B[j - 1]
    A = [None] * (N + 2)
    A[N] = np.eye(d[N])
    for j in range(N - 1, 0, -1):
        A[j] = A[j + 1] @ W[j + 1]
    G = A[1] @ W[1] - Z

    def between(lo, hi):
        """W_{hi−1} ⋯ W_{lo+1} (d_{hi−1} × d_lo) for lo < hi."""
        M = np.eye(d[lo])
        for i in range(lo + 1, hi):
            M = W[i] @ M
        return M

    sizes = [d[j] * d[j - 1] for j in range(1, N + 1)]
    off = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    H = np.empty((off[-1], off[-1]))
    for j in range(1, N + 1):
        for k in range(1, N + 1):
            blk = np.kron(A[j].T @ A[k], B[j] @ B[k].T)
            if second_order and k != j:
                if k > j:
                    M, R = between(j, k), A[k].T @ G @ B[j].T
                    extra = np.einsum("pa,qb->abqp", M, R)
                else:
                    S, R = between(k, j), A[j].T @ G @ B[k].T
                    extra = np.einsum("ap,bq->abqp", R, S)
                blk = blk + extra.reshape(sizes[j - 1], sizes[k - 1])
            H[off[j - 1]:off[j], off[k - 1]:off[k]] = blk
    return H


class OverBudget(Exception):
    """A run stopped at its time budget."""


class Flow(peers.GradientFlow):
    """peers.GradientFlow (f = −∇L, counted in `nfev`) plus the Jacobian −H (counted in `njev`) and the excess loss."""

    def __init__(self, Z, shapes, l_star=0.0, deadline=None):
        super().__init__(Z, shapes)
        self.l_star = l_star
        self.njev = 0
        self.deadline = deadline  # time.perf_counter() value after which an evaluation raises OverBudget

    def __call__(self, t, y):
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise OverBudget(f"stopped at t = {t:.4g} after {self.nfev} evaluations")
        return super().__call__(t, y)

    def jac(self, t, y):
        self.njev += 1
        H = hessian(self.layers(y), self.Z)
        np.negative(H, out=H)
        return H

    def excess(self, y):
        return loss(self.layers(y), self.Z) - self.l_star


# ----------------------------------------------------------------------------------------------------------------
# Problems


def haar(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def target(width):
    rng = np.random.default_rng([TARGET_SEED, width])
    k = len(TARGET_SV)
    U, V = haar(rng, width)[:, :k], haar(rng, width)[:, :k]
    return U @ np.diag(TARGET_SV) @ V.T


def initial_layers(N, width, kind, sigma0):
    rng = np.random.default_rng([TARGET_SEED, N, width, 0 if kind == "gaussian" else 1])
    if kind == "gaussian":
        return [sigma0 * rng.standard_normal((width, width)) for _ in range(N)]
    if kind == "balanced":
        U, s, Vt = np.linalg.svd(rng.standard_normal((width, width)))
        root = sigma0 * math.sqrt(width) * (s / s[0]) ** (1.0 / N)
        frames = [Vt.T] + [haar(rng, width) for _ in range(N - 1)] + [U]
        return [frames[j] @ np.diag(root) @ frames[j - 1].T for j in range(1, N + 1)]
    raise ValueError(f"unknown start kind {kind!r}")


def problem_name(N, width, kind, sigma0):
    return f"N{N}-w{width}-{kind}-{sigma0:.0e}"


def problem_list(quick):
    """(N, width, kind, sigma0) tuples: the suite of issue 16 §2, or the quick subset."""
    if quick:
        return [(3, 8, "balanced", 1e-2), (3, 8, "balanced", 1e-3), (4, 8, "gaussian", 1e-2)]
    sigmas = [1e-2, 1e-3, 1e-4, 1e-5]
    out = []
    for N in (3, 4, 5, 6):
        for kind in ("gaussian", "balanced"):
            out += [(N, 8, kind, s) for s in sigmas]
    for kind in ("gaussian", "balanced"):
        out.append((4, 8, kind, 1e-6))  # the scaling fit's fifth point
    # Wider networks, N = 4: exact Jacobian for scipy at d = 16 (1024 parameters), finite differences at d = 32
    # (4096), no scipy at d = 64 (16384).
    out += [(4, w, "gaussian", s) for w in (16, 32, 64) for s in (1e-2, 1e-3, 1e-5)]
    return out


def write_problem(root, N, width, kind, sigma0):
    name = problem_name(N, width, kind, sigma0)
    path = os.path.join(root, name)
    os.makedirs(os.path.join(path, "init"), exist_ok=True)
    Z = target(width)
    init = initial_layers(N, width, kind, sigma0)
    np.save(os.path.join(path, "Z.npy"), Z)
    for j, Wj in enumerate(init, 1):
        np.save(os.path.join(path, "init", f"W{j}.npy"), Wj)  # linflow's weights_file_name(j)
    widths = [width] * (N + 1)
    with open(os.path.join(path, "linflow.toml"), "w") as f:
        f.write(f"""# bench/plateau.py problem {name}: gradient flow from a start of scale {sigma0:g} to excess loss {EPS:g}.
[problem]
target = "Z.npy"

[network]
widths = {widths}

[init]
kind = "files"
dir = "init"

[solver]
method = "gf"
eps = {EPS:g}
t_max = 1e30
max_steps = 2000000000
grad_tol = 0.0

[output]
samples_log = 0
trajectory = false
save_weights = true
""")
    meta = {"name": name, "N": N, "width": width, "kind": kind, "sigma0": sigma0, "widths": widths,
            "parameters": N * width * width, "eps": EPS, "target_singular_values": TARGET_SV,
            "optimal_loss": optimal_loss(Z, width)}
    with open(os.path.join(path, "problem.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta, Z, init


# ----------------------------------------------------------------------------------------------------------------
# Runs


def run_scipy(method, Z, init, l_star, rtol, atol, deadline=None, exact_jac=True):
    """solve_ivp's loop for `method` until the excess loss reaches EPS. Returns (layers at t_eps or None, info)."""
    f = Flow(Z, [W.shape for W in init], l_star, deadline)
    y0 = f.flatten(init)
    kwargs = {"jac": f.jac} if exact_jac else {}
    solver = SCIPY_METHODS[method](f, 0.0, y0, 1e30, rtol=rtol, atol=atol, **kwargs)
    steps = 0
    info = {"status": "ok"}
    t_eps, y_eps = None, None
    while True:
        msg = solver.step()
        if solver.status == "failed":
            info = {"status": "failed", "message": msg}
            break
        steps += 1
        if f.excess(solver.y) <= EPS:
            sol = solver.dense_output()
            t_eps = brentq(lambda t: f.excess(sol(t)) - EPS, solver.t_old, solver.t, xtol=4 * np.finfo(float).eps,
                           rtol=4 * np.finfo(float).eps)
            y_eps = sol(t_eps)
            break
        if solver.status == "finished":
            info = {"status": "failed", "message": "reached t = 1e30 above eps"}
            break
        if deadline is not None and time.perf_counter() > deadline:
            raise OverBudget(f"stopped at t = {solver.t:.4g} after {steps} steps")
    njev = getattr(solver, "njev", 0) if not exact_jac else f.njev
    info.update({"t_eps": t_eps, "steps": steps, "nfev": f.nfev, "njev": int(njev or 0),
                 "nlu": int(getattr(solver, "nlu", 0) or 0)})
    return (f.layers(y_eps) if y_eps is not None else None), info


def run_linflow(exe, path, integrator, rtol, atol, timeout=None, max_steps=None, extra=()):
    """One `linflow train` of the problem in `path`. Returns (layers at t_eps or None, info)."""
    out = os.path.join(path, "runs", integrator.replace("/", "_"))
    name, _, factor = integrator.partition("/p")
    sets = [f'solver.integrator="{name}"', f"solver.rtol={rtol!r}", f"solver.atol={atol!r}"]
    if factor:  # NAME/pK: the plateaus held to rtol / K (solver.plateau_rtol)
        sets.append(f"solver.plateau_rtol={rtol / float(factor)!r}")
    if max_steps is not None:
        sets.append(f"solver.max_steps={int(max_steps)}")
    cmd = [exe, "train", "-q", "-c", os.path.join(path, "linflow.toml"), "-o", out]
    for s in sets + list(extra):
        cmd += ["--set", s]
    w0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OverBudget(f"process stopped after {timeout:.3g} s")
    wall = time.perf_counter() - w0
    if proc.returncode != 0:
        msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return None, {"status": "error", "message": msg[-1] if msg else f"exit {proc.returncode}",
                      "process_wall": wall}
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    st = s["stats"]
    info = {"status": "ok" if s["status"] == "converged" else s["status"], "linflow_status": s["status"],
            "message": s["message"], "t_eps": s["t_eps"], "t_final": s["t_final"], "steps": st["steps"],
            "rejected_steps": st.get("rejected_steps"), "nfev": st["rhs_evals"],
            "njev": next((st[k] for k in JAC_KEYS if k in st), 0), "wall_inner": st["wall_seconds"],
            "process_wall": wall, "linflow_stats": st}
    if s["status"] != "converged":
        return None, info
    if s["t_eps"] is None or abs(s["t_final"] - s["t_eps"]) > T_EPS_TOL * abs(s["t_eps"]):
        # The weights are the final state: compared with θ_ref(t_eps) only if the run stopped at its t_eps.
        info["warning"] = f"final weights at t = {s['t_final']!r}, not at t_eps = {s['t_eps']!r}"
        return None, info
    N = len(s["config"]["network"]["widths"]) - 1
    layers = [np.load(os.path.join(out, "weights", f"W{j}.npy")) for j in range(1, N + 1)]
    return layers, info


def theta_error(layers, ref):
    return peers.errors(layers, ref)  # (end-to-end relative, θ relative)


def measure(fn, reps):
    """(layers, info, median wall, walls, warm-up?) — `fn` returns (layers, info, wall); the first run is an untimed
    warm-up when it takes under a second (as peers.measure)."""
    layers, info, wall = fn()
    if info["status"] != "ok":
        return layers, info, wall, [wall], False
    walls = [wall] if wall >= 1.0 else []
    while len(walls) < reps:
        _, _, w = fn()
        walls.append(w)
    return layers, info, statistics.median(walls), walls, wall < 1.0


def predict_from_ladder(history, rtol, order):
    """Cost at `rtol` from the last measured (looser) point, as peers.predict_tolerance."""
    if not history:
        return None
    r1, t1 = history[-1]
    growth = (r1 / rtol) ** (1.0 / order)
    if len(history) >= 2:
        r0, t0 = history[-2]
        if t0 > 0 and r0 != r1:
            growth = max(growth, (t1 / t0) ** (math.log(r1 / rtol) / math.log(r0 / r1)))
    return t1 * growth


class Suite:
    def __init__(self, args):
        self.args = args
        self.exe = args.linflow
        self.extra = args.linflow_set or []

    # -- one method's run as (layers, info, wall) ------------------------------------------------------------
    def scipy_fn(self, method, Z, init, meta, rtol, budget):
        n = meta["parameters"]

        def fn():
            deadline = time.perf_counter() + budget if budget else None
            w0 = time.perf_counter()
            layers, info = run_scipy(method, Z, init, meta["optimal_loss"], rtol, rtol * meta["sigma0"], deadline,
                                     exact_jac=n <= EXACT_JAC_LIMIT)
            return layers, info, time.perf_counter() - w0

        return fn

    def linflow_fn(self, path, integrator, meta, rtol, budget):
        def fn():
            layers, info = run_linflow(self.exe, path, integrator, rtol, rtol * meta["sigma0"],
                                       timeout=budget + 5.0 if budget else None, extra=self.extra)
            return layers, info, info.get("wall_inner", info.get("process_wall"))

        return fn

    def probe_explicit(self, path, meta, rtol, t_ref, budget, integrator="dop853"):
        """Predicted seconds (and steps) of an explicit linflow run to t_ref: a pilot of `PILOT_STEPS` steps gives the
        time per step; two probes of K and 2K steps (K ≤ PROBE_STEPS, the three runs within a fifth of `budget`) give
        the steps per unit time at the end of the second one, taken as constant up to t_ref (the stability bound of
        the plateau). Returns (None, info) when the integrator is refused."""
        def go(k):
            return run_linflow(self.exe, path, integrator, rtol, rtol * meta["sigma0"], max_steps=k,
                               extra=self.extra)[1]

        pilot = go(PILOT_STEPS)
        if pilot["status"] == "error":
            return None, pilot
        if pilot.get("linflow_status") == "converged":
            return pilot["wall_inner"], pilot
        per_step = pilot["wall_inner"] / max(pilot["steps"], 1)
        k = int(min(PROBE_STEPS, max(PILOT_STEPS, 0.2 * budget / (3 * max(per_step, 1e-9)))))
        probes = []
        for steps in (k, 2 * k):
            info = go(steps)
            if info.get("linflow_status") == "converged":
                return info["wall_inner"], info
            probes.append(info)
        a, b = probes
        dt = b["t_final"] - a["t_final"]
        if t_ref is None:  # no reference time yet: a lower bound, to the time the probes reached
            return b["wall_inner"], b
        if dt <= 0:
            return math.inf, b
        steps = b["steps"] + (b["steps"] - a["steps"]) / dt * max(t_ref - b["t_final"], 0.0)
        return b["wall_inner"] / b["steps"] * steps, dict(b, predicted_steps=steps, probe_steps=k)

    # -- the ladder of one method ---------------------------------------------------------------------------
    def ladder(self, label, make_fn, rtols, ref, order, probe=None):
        a = self.args
        points, history = [], []
        for rtol in rtols:
            guess = predict_from_ladder(history, rtol, order)
            pinfo = None
            if probe is not None:
                p, pinfo = probe(rtol)
                if pinfo is not None and pinfo.get("status") == "error":
                    points.append({"method": label, "rtol": rtol, "status": "error", "message": pinfo["message"]})
                    print(f"  {label} rtol {rtol:g}: error: {pinfo['message']}", file=sys.stderr)
                    break
                if p is not None:
                    guess = p  # the probes measure this tolerance; a looser point's time can mislead (noise floor)
            reps = a.reps
            if guess is not None and guess * (reps + (guess < 1.0)) > a.budget:
                if guess > a.budget:
                    points.append({"method": label, "rtol": rtol, "status": "skipped", "predicted_wall": guess,
                                   "predicted_steps": (pinfo or {}).get("predicted_steps")})
                    print(f"  {label} rtol {rtol:g}: skipped (predicted {guess:.3g} s, budget {a.budget:g} s)",
                          file=sys.stderr)
                    continue
                reps = 1
            try:
                layers, info, wall, walls, warm = measure(make_fn(rtol, a.budget), reps)
            except OverBudget as e:
                points.append({"method": label, "rtol": rtol, "status": "exceeded", "message": str(e),
                               "budget": a.budget})
                print(f"  {label} rtol {rtol:g}: over budget ({e})", file=sys.stderr)
                history.append((rtol, a.budget))
                continue
            pt = {"method": label, "rtol": rtol, "wall": wall, "walls": walls, "reps": len(walls), "warmup": warm,
                  **{k: v for k, v in info.items() if k != "wall_inner"}}
            if info["status"] == "error":
                for k in ("wall", "walls", "reps", "warmup", "process_wall"):
                    pt.pop(k, None)
                points.append(pt)
                print(f"  {label} rtol {rtol:g}: error: {info['message']}", file=sys.stderr)
                break
            if layers is not None and ref is not None:
                pt["t_eps_rel_err"] = abs(info["t_eps"] - ref["t_eps"]) / ref["t_eps"]
                pt["err_W"], pt["err_theta"] = theta_error(layers, ref["layers"])
                pt["matched"] = bool(pt["t_eps_rel_err"] <= T_EPS_TOL and pt["err_theta"] <= THETA_TOL)
            history.append((rtol, wall))
            points.append(pt)
            print(f"  {label} rtol {rtol:g}: {wall:.4g} s, {info.get('steps')} steps, {info.get('nfev')} evals, "
                  f"t_eps err {pt.get('t_eps_rel_err', float('nan')):.2g}, θ err {pt.get('err_theta', float('nan')):.2g}"
                  f"{'' if info['status'] == 'ok' else ' (' + info['status'] + ')'}", file=sys.stderr)
        return points

    # -- reference ------------------------------------------------------------------------------------------
    def reference(self, path, meta, Z, init):
        a = self.args
        n = meta["parameters"]
        ref_rtol = a.ref_rtol
        budget = a.ref_budget
        tried = []
        if n <= SCIPY_LIMIT:
            try:
                w0 = time.perf_counter()
                layers, info = run_scipy("Radau", Z, init, meta["optimal_loss"], ref_rtol, ref_rtol * meta["sigma0"],
                                         time.perf_counter() + budget, exact_jac=n <= EXACT_JAC_LIMIT)
                wall = time.perf_counter() - w0
                if layers is not None:
                    return {"source": f"scipy Radau rtol {ref_rtol:g}" + (" exact jac" if n <= EXACT_JAC_LIMIT else
                                                                          " FD jac"),
                            "t_eps": info["t_eps"], "layers": layers, "wall": wall, "info": info}
                tried.append(f"scipy Radau: {info.get('message')}")
            except OverBudget as e:
                tried.append(f"scipy Radau: over the reference budget ({e})")
        # An estimate of t_eps for the explicit integrator's cost prediction: an implicit linflow run at 1e-8.
        t_est = None
        for integ in [i for i in a.integrators if i not in EXPLICIT]:
            try:
                _, info = run_linflow(self.exe, path, integ, 1e-8, 1e-8 * meta["sigma0"], timeout=budget,
                                      extra=self.extra)
            except OverBudget:
                continue
            if info.get("linflow_status") == "converged":
                t_est = info["t_eps"]
                break
        for integ in ["dop853"] + [i for i in a.integrators if i != "dop853"]:
            if integ in EXPLICIT:
                p, pinfo = self.probe_explicit(path, meta, ref_rtol, t_est, budget, integ)
                if p is not None and p > budget:
                    tried.append(f"linflow {integ}: predicted {p:.3g} s, over the reference budget")
                    continue
            try:
                layers, info = run_linflow(self.exe, path, integ, ref_rtol, ref_rtol * meta["sigma0"],
                                           timeout=budget, extra=self.extra)
            except OverBudget as e:
                tried.append(f"linflow {integ}: over the reference budget ({e})")
                continue
            if layers is not None:
                return {"source": f"linflow {integ} rtol {ref_rtol:g}", "t_eps": info["t_eps"], "layers": layers,
                        "wall": info["wall_inner"], "info": info, "tried": tried}
            tried.append(f"linflow {integ}: {info.get('message')}")
        return {"source": None, "tried": tried}

    def crosscheck(self, path, meta, ref):
        """linflow dop853 at ref_rtol against a scipy reference, where predicted to fit the reference budget."""
        if ref["source"] is None or not ref["source"].startswith("scipy"):
            return None
        ref_rtol = self.args.ref_rtol
        p, pinfo = self.probe_explicit(path, meta, ref_rtol, ref["t_eps"], self.args.ref_budget)
        if p is None or p > self.args.ref_budget:
            return {"skipped": True, "predicted_wall": p,
                    "message": pinfo.get("message") if pinfo and pinfo.get("status") == "error" else None}
        try:
            layers, info = run_linflow(self.exe, path, "dop853", ref_rtol, ref_rtol * meta["sigma0"],
                                       timeout=self.args.ref_budget, extra=self.extra)
        except OverBudget as e:
            return {"skipped": True, "message": str(e)}
        if layers is None:
            return {"skipped": True, "message": info.get("message")}
        err_W, err_theta = theta_error(layers, ref["layers"])
        return {"skipped": False, "method": f"linflow dop853 rtol {ref_rtol:g}", "t_eps": info["t_eps"],
                "t_eps_rel_diff": abs(info["t_eps"] - ref["t_eps"]) / ref["t_eps"], "err_W": err_W,
                "err_theta": err_theta, "wall": info["wall_inner"], "steps": info["steps"], "nfev": info["nfev"]}

    # -- one problem ----------------------------------------------------------------------------------------
    def problem(self, root, spec):
        a = self.args
        meta, Z, init = write_problem(root, *spec)
        path = os.path.join(root, meta["name"])
        n = meta["parameters"]
        print(f"{meta['name']}: {n} parameters", file=sys.stderr)
        ref = self.reference(path, meta, Z, init)
        out = {**meta, "reference": {k: v for k, v in ref.items() if k != "layers"}, "points": []}
        if ref["source"] is None:
            print(f"  no reference: {'; '.join(ref['tried'])}", file=sys.stderr)
            return out
        print(f"  reference {ref['source']}: t_eps = {ref['t_eps']:.10g} ({ref['wall']:.3g} s)", file=sys.stderr)
        out["crosscheck"] = self.crosscheck(path, meta, ref)
        if out["crosscheck"] and not out["crosscheck"]["skipped"]:
            c = out["crosscheck"]
            print(f"  cross-check {c['method']}: t_eps differs by {c['t_eps_rel_diff']:.2g} (relative), θ by "
                  f"{c['err_theta']:.2g}", file=sys.stderr)
        rtols = a.rtol_list
        if n <= SCIPY_LIMIT:
            for m in a.scipy_methods:
                out["points"] += self.ladder(f"scipy {m}", lambda r, b, m=m: self.scipy_fn(m, Z, init, meta, r, b),
                                             rtols, ref, ORDER[m])
        else:
            out["points"] += [{"method": f"scipy {m}", "status": "not run",
                               "message": f"{n} parameters > {SCIPY_LIMIT}: dense n × n Newton matrices"}
                              for m in a.scipy_methods]
        for integ in a.integrators:
            probe = None
            if integ in EXPLICIT:
                probe = lambda r, i=integ: self.probe_explicit(path, meta, r, ref["t_eps"], a.budget, i)  # noqa: E731
            out["points"] += self.ladder(f"linflow {integ}",
                                         lambda r, b, i=integ: self.linflow_fn(path, i, meta, r, b),
                                         rtols, ref, ORDER.get(integ, 5), probe=probe)
        shutil.rmtree(os.path.join(path, "runs"), ignore_errors=True)
        return out


# ----------------------------------------------------------------------------------------------------------------
# Report


def best_points(points):
    """method → its fastest matched point."""
    best = {}
    for p in points:
        if p.get("matched") and (p["method"] not in best or p["wall"] < best[p["method"]]["wall"]):
            best[p["method"]] = p
    return best


def fmt(x, spec=".3g"):
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def fit_exponent(xs, ys):
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def report(data, baseline):
    lines = []
    P = lines.append
    P(f"Plateau suite (bench/plateau.py): eps = {EPS:g}, matched = t_eps within {T_EPS_TOL:g} relative of the "
      f"reference and θ(t_eps) within {THETA_TOL:g} relative; atol = rtol · σ0; wall = median of "
      f"{data['reps']} (s, one thread); budget {data['budget']:g} s per point.\n")
    base = f"linflow {baseline}"
    for pr in data["problems"]:
        ref = pr["reference"]
        P(f"### {pr['name']} (N = {pr['N']}, width {pr['width']}, {pr['kind']} start σ0 = {pr['sigma0']:g}, "
          f"{pr['parameters']} parameters)\n")
        if ref.get("source") is None:
            P(f"No reference: {'; '.join(ref.get('tried', []))}\n")
            continue
        c = pr.get("crosscheck")
        cc = "no cross-check"
        if c and not c["skipped"]:
            cc = (f"cross-check {c['method']}: t_eps {c['t_eps']:.10g}, differs by {c['t_eps_rel_diff']:.2g} "
                  f"(relative), θ by {c['err_theta']:.2g}, end-to-end W by {c['err_W']:.2g}")
        elif c:
            cc = ("cross-check linflow dop853 skipped" + (f" (predicted {c['predicted_wall']:.3g} s)"
                                                         if c.get("predicted_wall") else "")
                  + (f": {c['message']}" if c.get("message") else ""))
        tried = f" (not used: {'; '.join(ref['tried'])})" if ref.get("tried") else ""
        P(f"Reference {ref['source']}{tried}: t_eps = {ref['t_eps']:.10g} ({ref['wall']:.3g} s); {cc}.\n")
        best = best_points(pr["points"])
        methods = list(dict.fromkeys(p["method"] for p in pr["points"]))
        b = best.get(base)
        P(f"| method | rtol | t_eps rel. err | θ err | steps | evaluations | Jacobians | wall (s) | / {base} |")
        P("|---|---|---|---|---|---|---|---|---|")
        for m in methods:
            p = best.get(m)
            if p is None:
                why = sorted({q["status"] for q in pr["points"] if q["method"] == m and q.get("status") != "ok"})
                if any(q.get("status") == "ok" for q in pr["points"] if q["method"] == m):
                    why = ["no run matched"] + why
                P(f"| {m} | — | — | — | — | — | — | — ({', '.join(why) or 'none'}) | — |")
                continue
            ratio = f"{p['wall'] / b['wall']:.3g}" if b else "—"
            P(f"| {m} | {p['rtol']:g} | {fmt(p['t_eps_rel_err'], '.1e')} | {fmt(p['err_theta'], '.1e')} | "
              f"{p['steps']} | {p['nfev']} | {p.get('njev', 0)} | {p['wall']:.4g} | {ratio} |")
        scipy_best = [p for m, p in best.items() if m.startswith("scipy")]
        sb = min(scipy_best, key=lambda p: p["wall"]) if scipy_best else None
        d = best.get("linflow dop853")
        P("")
        others = [m for m in methods if m.startswith("linflow ") and m not in (base, "linflow dop853")]
        ratios = [f"best scipy ({sb['method'] if sb else '—'}) / {m}: "
                  f"{fmt(sb['wall'] / best[m]['wall']) if sb and best.get(m) else '—'}" for m in [base] + others]
        dop = fmt(d["wall"] / b["wall"]) if d and b else "—"
        P(f"Ratios: {'; '.join(ratios)}; linflow dop853 / {base}: {dop}.\n")
        P("<details><summary>work-precision rows</summary>\n")
        P("| method | rtol | status | t_eps rel. err | θ err | W err | steps | evaluations | Jacobians | LU | "
          "wall (s) | reps |")
        P("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for p in pr["points"]:
            st = p.get("status", "ok")
            if st == "skipped":
                st = f"skipped (predicted {p['predicted_wall']:.3g} s" + (
                    f", {p['predicted_steps']:.3g} steps)" if p.get("predicted_steps") else ")")
            elif st in ("exceeded", "error", "not run", "failed"):
                st = f"{st}: {p.get('message', '')}"
            elif st == "ok":
                st = "matched" if p.get("matched") else "ok"
            if p.get("warning"):
                st += f" ({p['warning']})"
            P(f"| {p['method']} | {fmt(p.get('rtol'), 'g')} | {st} | {fmt(p.get('t_eps_rel_err'), '.1e')} | "
              f"{fmt(p.get('err_theta'), '.1e')} | {fmt(p.get('err_W'), '.1e')} | {fmt(p.get('steps'), 'd')} | "
              f"{fmt(p.get('nfev'), 'd')} | {fmt(p.get('njev'), 'd')} | {fmt(p.get('nlu'), 'd')} | "
              f"{fmt(p.get('wall'), '.4g')} | {fmt(p.get('reps'), 'd')} |")
        P("\n</details>\n")
    # Scaling in σ0.
    families = {}
    for pr in data["problems"]:
        families.setdefault((pr["N"], pr["width"], pr["kind"]), []).append(pr)
    rows = []
    for (N, w, kind), prs in sorted(families.items()):
        if len(prs) < 2:
            continue
        prs.sort(key=lambda p: -p["sigma0"])
        sig = [p["sigma0"] for p in prs]
        methods = list(dict.fromkeys(q["method"] for p in prs for q in p["points"]))
        for m in methods:
            cells, pts = [], []
            for p in prs:
                q = best_points(p["points"]).get(m)
                cells.append(f"{q['steps']} / {q['nfev']}" if q else "—")
                if q:
                    pts.append((p["sigma0"], q["steps"], q["nfev"]))
            fit = "—"
            if len(pts) >= 2:
                fit = (f"{fit_exponent([s for s, _, _ in pts], [st for _, st, _ in pts]):.2f} / "
                       f"{fit_exponent([s for s, _, _ in pts], [e for _, _, e in pts]):.2f}")
            rows.append((f"N{N}-w{w}-{kind}", m, sig, cells, fit))
    if rows:
        P("### Scaling with the start's scale σ0: steps / evaluations at matched accuracy\n")
        P("Fitted p: steps ∝ σ0^p / evaluations ∝ σ0^p (least squares in log-log over the matched points).\n")
        for fam in dict.fromkeys(r[0] for r in rows):
            fr = [r for r in rows if r[0] == fam]
            sig = fr[0][2]
            P(f"{fam}:\n")
            P("| method | " + " | ".join(f"σ0 = {s:g}" for s in sig) + " | p (steps / evaluations) |")
            P("|---|" + "---|" * len(sig) + "---|")
            for _, m, _, cells, fit in fr:
                P(f"| {m} | " + " | ".join(cells) + f" | {fit} |")
            P("")
    return "\n".join(lines)


def plot(data, stem):
    """Work-precision figure: per problem, wall time against t_eps relative error, one line per method (the runs
    that finished; matched ones filled). Writes STEM.png and STEM.svg (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs = [p for p in data["problems"] if any(q.get("t_eps_rel_err") is not None for q in p["points"])]
    if not probs:
        return []
    cols = min(3, len(probs))
    rows = (len(probs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, pr in zip(axes.flat, probs):
        for m in dict.fromkeys(q["method"] for q in pr["points"]):
            pts = sorted((max(q["t_eps_rel_err"], 1e-16), q["wall"], q.get("matched", False)) for q in pr["points"]
                         if q["method"] == m and q.get("t_eps_rel_err") is not None)
            if not pts:
                continue
            line, = ax.loglog([e for e, _, _ in pts], [w for _, w, _ in pts], "-", lw=1.2, label=m)
            for e, w, ok in pts:
                ax.loglog([e], [w], "o", color=line.get_color(), mfc=line.get_color() if ok else "white", ms=5)
        ax.axvline(T_EPS_TOL, color="0.6", lw=0.8, ls="--")
        ax.set_title(pr["name"], fontsize=9)
        ax.set_xlabel("t_eps relative error", fontsize=8)
        ax.set_ylabel("wall (s)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(probs):]:
        ax.axis("off")
    fig.suptitle(f"plateau suite: eps = {EPS:g}; filled = matched (t_eps within {T_EPS_TOL:g}, θ within "
                 f"{THETA_TOL:g})", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    out = [stem + ".png", stem + ".svg"]
    for f in out:
        fig.savefig(f, dpi=110)
    plt.close(fig)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Self-test


def selftest(perturb=0.0):
    """The Hessian against central differences of the gradient (relative Frobenius error ≤ 1e-6), its symmetry,
    the gradient against differences of the loss, and a negative control: the Gauss–Newton part alone must fail.
    `perturb` > 0 scales the Hessian's (1, 2) block by 1 + perturb (a demonstration that the test fails)."""
    ok = True
    rng = np.random.default_rng(7)

    def grad(layers, Z):
        f = peers.GradientFlow(Z, [W.shape for W in layers])
        return -f(0.0, f.flatten(layers))

    cases = [([3, 4], 1.0), ([2, 3, 4], 0.8), ([3, 2, 4, 3], 0.7), ([4, 4, 4, 4, 4], 0.6), ([3, 5, 1, 4, 2, 3], 0.7),
             ([8, 8, 8, 8], 0.5), ([4, 4, 4, 4, 4], 0.05)]  # the last: near the origin, as on a plateau
    for widths, scale in cases:
        N = len(widths) - 1
        layers = [scale * rng.standard_normal((widths[j + 1], widths[j])) for j in range(N)]
        Z = 2.0 * rng.standard_normal((widths[-1], widths[0]))
        f = peers.GradientFlow(Z, [W.shape for W in layers])
        theta = f.flatten(layers)
        n = theta.size
        H = hessian(layers, Z)
        if perturb and N > 1:
            n1 = layers[0].size
            H[:n1, n1:n1 + layers[1].size] *= 1.0 + perturb
        # Central differences of the gradient, column by column.
        h = 1e-5 * scale
        Hfd = np.empty((n, n))
        for i in range(n):
            e = np.zeros(n)
            e[i] = h
            Hfd[:, i] = (grad(f.layers(theta + e), Z) - grad(f.layers(theta - e), Z)) / (2 * h)
        err = np.linalg.norm(H - Hfd) / np.linalg.norm(Hfd)
        asym = np.linalg.norm(H - H.T) / np.linalg.norm(H)
        gn = hessian(layers, Z, second_order=False)
        err_gn = np.linalg.norm(gn - Hfd) / np.linalg.norm(Hfd)
        # The gradient against central differences of the loss, each taken without cancellation:
        # L(θ+) − L(θ−) = ½ ⟨W+ − W−, W+ + W− − 2Z⟩.
        g = grad(layers, Z)

        def dloss(i):
            Wp, Wm = end_to_end(f.layers(theta + h * np.eye(n)[i])), end_to_end(f.layers(theta - h * np.eye(n)[i]))
            return 0.5 * float(np.sum((Wp - Wm) * (Wp + Wm - 2 * Z))) / (2 * h)

        gfd = np.array([dloss(i) for i in range(n)])
        err_g = np.linalg.norm(g - gfd) / np.linalg.norm(gfd)
        passed = err <= 1e-6 and asym <= 1e-12 and err_g <= 1e-6 and (N == 1 or err_gn >= 1e-3)
        ok &= passed
        print(f"widths {widths}: n = {n}: Hessian vs differences {err:.2e}, asymmetry {asym:.1e}, gradient vs "
              f"differences {err_g:.1e}; Gauss–Newton alone {err_gn:.2e} (must be ≥ 1e-3) — "
              f"{'ok' if passed else 'FAIL'}")
    # Flow.jac is −H at the point it is given; the excess loss uses L*.
    Z = target(8)
    init = initial_layers(3, 8, "balanced", 1e-2)
    fl = Flow(Z, [W.shape for W in init], optimal_loss(Z, 8))
    y = fl.flatten(init)
    jac_ok = np.array_equal(fl.jac(0.0, y), -hessian(init, Z))
    D = [init[j + 1].T @ init[j + 1] - init[j] @ init[j].T for j in range(2)]
    bal = max(np.linalg.norm(x) for x in D) / np.linalg.norm(init[0]) ** 2
    lstar = optimal_loss(np.diag([5.0, 3.0, 1.0, 0.5]), 2)
    aux = jac_ok and bal < 1e-12 and abs(lstar - 0.5 * (1.0 + 0.25)) < 1e-15
    ok &= aux
    print(f"Flow.jac = −H: {jac_ok}; balanced start's imbalance {bal:.1e} (relative); L* of rank ≤ 2 for "
          f"(5, 3, 1, 0.5) = {lstar:g} (0.625) — {'ok' if aux else 'FAIL'}")
    print("selftest:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("selftest", help="the exact Hessian against finite differences")
    sp.add_argument("--perturb", type=float, default=0.0,
                    help="scale one off-diagonal Hessian block by 1 + PERTURB first (the test must then fail)")
    lp = sub.add_parser("list", help="the problems")
    lp.add_argument("--quick", action="store_true")
    rp = sub.add_parser("run", help="the suite")
    rp.add_argument("dir", nargs="?", default="out/bench_plateau")
    rp.add_argument("--quick", action="store_true", help="three small problems, rtols 1e-6, 1e-8, reference at 1e-10, "
                                                        "one repetition")
    rp.add_argument("--integrators", default="dop853,auto,auto/p100",
                    help="linflow solver.integrator names, NAME/pK for solver.plateau_rtol = rtol / K "
                         "(default dop853,auto,auto/p100)")
    rp.add_argument("--baseline", default="auto", help="linflow integrator the ratios are taken to (default auto)")
    rp.add_argument("--scipy", default="LSODA,BDF,Radau", help="scipy methods (default LSODA,BDF,Radau; empty: none)")
    rp.add_argument("--reps", type=int, default=None, help="repetitions per point (default 5; quick 3)")
    rp.add_argument("--budget", type=float, default=None, help="seconds per point (default 30; quick 5)")
    rp.add_argument("--ref-budget", type=float, default=None, help="seconds for the reference (default 600; quick 30)")
    rp.add_argument("--ref-rtol", type=float, default=None, help="rtol of the reference runs (default 1e-12; quick "
                                                                 "1e-10)")
    rp.add_argument("--rtols", default="", help="comma-separated rtol ladder (default 1e-6 … 1e-12; quick 1e-6,1e-8)")
    rp.add_argument("--problems", default="", help="comma-separated names (see `list`), default all")
    rp.add_argument("--linflow", default="build/linflow", help="the linflow executable (default build/linflow)")
    rp.add_argument("--linflow-set", action="append", metavar="KEY=VALUE",
                    help="extra --set for every linflow run (repeatable)")
    rp.add_argument("--json", default=None, help="JSON output (default DIR/plateau.json)")
    rp.add_argument("--figure", default=None, help="work-precision figure STEM.{png,svg} (default DIR/work_precision; "
                                                   "'none': no figure)")
    args = ap.parse_args()

    if args.cmd == "selftest":
        sys.exit(selftest(args.perturb))
    if args.cmd == "list":
        for spec in problem_list(args.quick):
            print(problem_name(*spec), spec[0] * spec[1] ** 2, "parameters")
        return

    args.reps = args.reps or (1 if args.quick else 5)
    args.ref_rtol = args.ref_rtol or (1e-10 if args.quick else REF_RTOL)
    args.budget = args.budget or (5.0 if args.quick else 30.0)
    args.ref_budget = args.ref_budget or (30.0 if args.quick else 600.0)
    args.rtol_list = [float(r) for r in args.rtols.split(",")] if args.rtols else (QUICK_RTOLS if args.quick else
                                                                                    FULL_RTOLS)
    args.integrators = [i for i in args.integrators.split(",") if i]
    args.scipy_methods = [m for m in args.scipy.split(",") if m]
    for m in args.scipy_methods:
        if m not in SCIPY_METHODS:
            sys.exit(f"plateau: unknown scipy method {m!r} (LSODA, BDF, Radau)")
    if not os.access(args.linflow, os.X_OK):
        sys.exit(f"plateau: {args.linflow} is not an executable (build it: cmake --build build --target linflow_cli)")
    specs = problem_list(args.quick)
    if args.problems:
        wanted = args.problems.split(",")
        all_specs = {problem_name(*s): s for s in problem_list(False) + problem_list(True)}
        unknown = [w for w in wanted if w not in all_specs]
        if unknown:
            sys.exit(f"plateau: unknown problems {unknown} (see `bench/plateau.py list`)")
        specs = [all_specs[w] for w in wanted]
    os.makedirs(args.dir, exist_ok=True)
    start = time.perf_counter()
    suite = Suite(args)
    data = {"machine": peers.machine(), "load_start": os.getloadavg(), "numpy": np.__version__,
            "scipy": scipy.__version__, "python": sys.version.split()[0], "linflow": os.path.abspath(args.linflow),
            "threads": {"numpy/scipy (OpenBLAS)": os.environ["OPENBLAS_NUM_THREADS"]}, "eps": EPS,
            "reps": args.reps, "budget": args.budget, "ref_budget": args.ref_budget, "rtols": args.rtol_list,
            "integrators": args.integrators, "baseline": args.baseline, "scipy_methods": args.scipy_methods,
            "criteria": {"t_eps_rel": T_EPS_TOL, "theta_rel": THETA_TOL, "atol": "rtol * sigma0",
                         "exact_jac_limit": EXACT_JAC_LIMIT, "scipy_limit": SCIPY_LIMIT, "ref_rtol": args.ref_rtol},
            "problems": []}
    json_path = args.json or os.path.join(args.dir, "plateau.json")
    for spec in specs:
        data["problems"].append(suite.problem(args.dir, spec))
        with open(json_path, "w") as f:  # after every problem: a long run interrupted keeps what it measured
            json.dump(data, f, indent=1)
    data["load_end"] = os.getloadavg()
    data["seconds"] = time.perf_counter() - start
    with open(json_path, "w") as f:
        json.dump(data, f, indent=1)
    print(report(data, args.baseline))
    if args.figure != "none":
        try:
            files = plot(data, args.figure or os.path.join(args.dir, "work_precision"))
            if files:
                print(f"plateau: figure {', '.join(files)}", file=sys.stderr)
        except ImportError as e:
            print(f"plateau: no figure ({e})", file=sys.stderr)
    print(f"plateau: {data['seconds']:.0f} s in all; JSON in {json_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
