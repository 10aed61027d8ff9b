#!/usr/bin/env python3
"""check_problem_files.py DIR: the problem a run wrote into DIR is the problem it solved.

With Q = target.npy, Σ = sigma.npy (data only; the identity otherwise), c = summary.json's data_constant and W the
product of weights/W*.npy, the loss ½‖Q − W Σ^{1/2}‖_F² + c recomputed here in NumPy must be summary.json's final
loss, and optimal_loss must be the Eckart–Young value ½ Σ_{i>k} s_i(Q)² + c with k the network's narrowest width.
"""
import json
import sys
from pathlib import Path

import numpy as np

# Both sides sum O(d²) rounded products of numbers of order ‖Q‖: a few hundred ulps of the loss's scale.
RELATIVE_TOLERANCE = 1e-11


def main(run: Path) -> int:
    summary = json.loads((run / "summary.json").read_text())
    Q = np.load(run / "target.npy")
    sigma_file = run / "sigma.npy"
    if summary["whitened"] == sigma_file.exists():
        print(f"whitened = {summary['whitened']} but sigma.npy {'exists' if sigma_file.exists() else 'is missing'}")
        return 1
    sigma = np.load(sigma_file) if sigma_file.exists() else np.eye(Q.shape[1])
    evals, evecs = np.linalg.eigh(sigma)
    sigma_sqrt = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    widths = summary["config"]["network"]["widths"]
    W = np.eye(widths[0])
    for j in range(1, len(widths)):
        W = np.load(run / "weights" / f"W{j}.npy") @ W
    c = summary["data_constant"]
    loss = 0.5 * np.linalg.norm(Q - W @ sigma_sqrt) ** 2 + c
    s = np.linalg.svd(Q, compute_uv=False)
    optimum = 0.5 * np.sum(s[min(widths):] ** 2) + c
    scale = max(1.0, 0.5 * np.linalg.norm(Q) ** 2 + c)
    for name, mine, theirs in (("loss", loss, summary["loss"]), ("optimal_loss", optimum, summary["optimal_loss"])):
        if abs(mine - theirs) > RELATIVE_TOLERANCE * scale:
            print(f"{name}: {mine!r} from the files, {theirs!r} in summary.json")
            return 1
    print(f"ok: loss {loss:.17g}, optimal_loss {optimum:.17g}, shape {Q.shape}, whitened {summary['whitened']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
