#!/usr/bin/python3
"""How much of a plateau's gradient is double rounding (docs/performance.md, "Rounding on the plateau").

    bench/plateau_rounding.py RUN_DIR

RUN_DIR is a `linflow train` output with `output.save_weights = true` (weights/W1.npy … and target.npy; whitened
problems). Prints per layer the largest entry of ∇L computed in double (prefix/suffix products, as linflow and
bench/peers.py do) and the largest difference from the same computation in numpy's long double, and their ratio.
"""
import glob
import os
import sys

import numpy as np


def gradients(layers, Z, dtype):
    Ws = [w.astype(dtype) for w in layers]
    N = len(Ws)
    below = [np.eye(Ws[0].shape[1], dtype=dtype)]
    for w in Ws:
        below.append(w @ below[-1])
    R = below[-1] - Z.astype(dtype)
    above = [np.eye(Ws[-1].shape[0], dtype=dtype)]
    for w in reversed(Ws):
        above.append(above[-1] @ w)
    return [above[N - 1 - j].T @ R @ below[j].T for j in range(N)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    files = sorted(glob.glob(os.path.join(d, "weights", "W*.npy")), key=lambda f: int(os.path.basename(f)[1:-4]))
    if not files or not os.path.exists(os.path.join(d, "target.npy")):
        sys.exit(f"{d}: needs weights/W*.npy and target.npy (run with --set output.save_weights=true)")
    layers = [np.load(f) for f in files]
    Z = np.load(os.path.join(d, "target.npy"))
    for j, (g, ref) in enumerate(zip(gradients(layers, Z, np.float64), gradients(layers, Z, np.longdouble)), 1):
        size = float(np.abs(g).max())
        rounding = float(np.abs(g - ref.astype(np.float64)).max())
        print(f"layer {j}: max |grad| {size:.3g}  max rounding {rounding:.3g}  ratio {rounding / size:.3g}")


if __name__ == "__main__":
    main()
