#!/usr/bin/env python3
"""Writes the crafted bad inputs that the CLI tests feed to linflow (tests/cli/CMakeLists.txt).

They are hand-made bytes, not np.save output: each is a header that lies or a field no writer produces. The
files are committed; rerun this script (no NumPy needed) from anywhere to regenerate them.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent
NPY_MAGIC = b"\x93NUMPY\x01\x00"
NPY_ALIGN = 64  # NumPy pads the header so that the data starts at a multiple of 64 bytes


def npy(shape: str, data: bytes, descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    preamble = len(NPY_MAGIC) + 2
    header += b" " * ((NPY_ALIGN - (preamble + len(header) + 1) % NPY_ALIGN) % NPY_ALIGN) + b"\n"
    return NPY_MAGIC + len(header).to_bytes(2, "little") + header + data


FILES = {
    # 145 bytes whose rows * cols wraps to 0 in 64-bit arithmetic: crashed the reader (SIGSEGV).
    "overflow_shape.npy": npy("(4294967296, 4294967296)", bytes(17)),
    # Promises 96 GiB and holds 16 bytes: the reader allocated what the header said before reading.
    "huge_promise.npy": npy("(3, 4294967296)", bytes(16)),
    # Empty tuple items: was read as a 3 x 4 array.
    "bad_shape.npy": npy("(3,,,,4,,)", bytes(96)),
    # A NUL byte inside a field: was printed raw in the error message.
    "nul.csv": b"1.0, 2.0\n3.0, \x004.0\n",
}

if __name__ == "__main__":
    for name, content in FILES.items():
        (HERE / name).write_bytes(content)
