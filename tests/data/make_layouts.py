#!/usr/bin/env python3
"""Writes the data files of the layout tests (tests/test_io.cpp, tests/cli/CMakeLists.txt) as a scikit-learn,
PyTorch or pandas user would: the data of x_4x12.npy and y_3x12.npy with samples as rows, through pandas' to_csv
(with and without its index), a tab- and a semicolon-separated file, .npz archives (np.savez, np.savez_compressed),
and integer and boolean .npy files. The files are committed; rerun this script with Debian's python3 (NumPy and
pandas) to regenerate them.
"""
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def main() -> None:
    X = np.load(HERE / "x_4x12.npy")  # d_x × m, samples as columns
    Y = np.load(HERE / "y_3x12.npy")
    pd.DataFrame(X.T).to_csv(HERE / "x_rows_pandas_index.csv")  # pandas' default: an index column and a header
    pd.DataFrame(Y.T).to_csv(HERE / "y_rows_pandas.csv", index=False)  # header 0,1,2: the integers pandas writes
    np.savetxt(HERE / "x_rows_tab.csv", X.T, delimiter="\t", fmt="%.17g")
    np.savetxt(HERE / "y_rows_semicolon.csv", Y.T, delimiter=";", fmt="%.17g")
    np.savetxt(HERE / "x_rows_blank.csv", X.T, delimiter=" ", fmt="%.17g")
    np.savez(HERE / "xy_rows.npz", X=X.T, Y=Y.T)  # stored
    np.savez_compressed(HERE / "xy_columns_compressed.npz", X=X, Y=Y)  # deflated
    np.savez(HERE / "target_3x4.npz", np.load(HERE / "target_3x4.npy"))  # one array, named arr_0
    np.save(HERE / "int32_2x3.npy", np.arange(-3, 3, dtype=np.int32).reshape(2, 3))
    np.save(HERE / "uint8_2x3.npy", np.arange(6, dtype=np.uint8).reshape(2, 3))
    np.save(HERE / "bool_2x3.npy", np.array([[True, False, True], [False, False, True]]))
    np.save(HERE / "int64_inexact.npy", np.array([1, 2**53 + 1], dtype=np.int64))


if __name__ == "__main__":
    main()
