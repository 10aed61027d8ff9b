"""Shared fixtures of the Python module's tests (run by CTest as python.pytest: PYTHONPATH is the build tree's
python/ folder, LINFLOW_CLI the CLI built beside it, LINFLOW_SOURCE_DIR the repository)."""
import json
import os
import subprocess

import numpy as np
import pytest

SOURCE = os.environ.get("LINFLOW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("LINFLOW_CLI", os.path.join(SOURCE, "build", "linflow"))


def data(name):
    """A file of tests/data."""
    return os.path.join(SOURCE, "tests", "data", name)


def sweep_file(name):
    """A file of tests/sweep."""
    return os.path.join(SOURCE, "tests", "sweep", name)


def cli(*args, expect=0):
    """Runs the CLI; returns (stdout, stderr); fails the test unless it exits with `expect`."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert p.returncode == expect, f"linflow {' '.join(args)} exited {p.returncode}: {p.stderr}"
    return p.stdout, p.stderr


def read_csv(path):
    """trajectory.csv as {column: float64 array} (17 significant digits: the doubles round-trip exactly)."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return {name: table[:, i] for i, name in enumerate(header)}


def without_wall_times(obj):
    """A JSON value with every "wall_seconds" member removed (the only field that differs between equal runs)."""
    if isinstance(obj, dict):
        return {k: without_wall_times(v) for k, v in obj.items() if k != "wall_seconds"}
    if isinstance(obj, list):
        return [without_wall_times(v) for v in obj]
    return obj


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def cli_path():
    if not os.path.isfile(CLI):
        pytest.fail(f"the CLI is not built at {CLI} (set LINFLOW_CLI)")
    return CLI
