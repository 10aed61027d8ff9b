#!/usr/bin/env python3
"""Runs the README's transcripts and compares what they print with what the README shows, so the README cannot
drift from the program.

A transcript is a fenced code block whose first line starts with "$ ". Each "$ " line is run with bash in one
scratch directory per block (in order, so a later command sees an earlier one's files), with `build/linflow`
standing for the linflow binary under test; the lines up to the next "$ " line are the output it must print
(stdout and stderr). The text must match exactly; numbers are compared loosely, because the last digits and the
step counts of a run move a little with the CPU's kernels and the BLAS the build uses (the sanitizer build has none):
two numbers agree within NUMBER_RTOL relative, integers also within INTEGER_ATOL. Wall times (a number followed by
" s") and rates ("runs/s") are not compared. A changed format, a new field or a changed algorithm (a fit of 297 points that became 230)
still fails.

A fenced block whose info string names a file, as in "```toml file=sweep.toml", is written into the scratch
directory of the next transcript before it runs, so a transcript can use the configuration the README shows.

Python sessions (fenced blocks whose first line starts with ">>> ") are run as doctests by PYTHON (the third
argument, an interpreter that imports the build tree's module: PYTHONPATH is set to the `python` folder next to the
binary), in a scratch directory of their own; without that argument they are skipped, and said so (the sanitizer
build has no Python module).

usage: check_readme.py LINFLOW_BINARY README.md [PYTHON]
Prints one line per transcript and exits 1 when any differs, with a diff of the first difference.
"""
import os
import difflib
import pathlib
import re
import subprocess
import sys
import tempfile

WALL_TIME = re.compile(r"\b\d+(\.\d+)?(e[-+]?\d+)? (runs/)?s\b")
FILE_BLOCK = re.compile(r"\bfile=(\S+)")
NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")
NUMBER_RTOL = 0.02
INTEGER_ATOL = 1


def fenced_blocks(text, with_info=False):
    """(line number of the first body line, body lines) for every fenced code block; with_info: (line number, info
    string, body lines)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            start, info, body = i + 1, lines[i][3:].strip(), []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            yield (start, info, body) if with_info else (start, body)
        i += 1


def transcripts(text):
    """(line number, [(command, expected output lines)], {file name: text}) for every fenced block that starts with
    '$ ', with the file blocks since the previous transcript."""
    blocks = []
    files = {}
    for start, info, body in fenced_blocks(text, with_info=True):
        named = FILE_BLOCK.search(info)
        if named:
            files[named.group(1)] = "\n".join(body) + "\n"
        elif body and body[0].startswith("$ "):
            steps = []
            for line in body:
                if line.startswith("$ "):
                    steps.append((line[2:], []))
                else:
                    steps[-1][1].append(line)
            blocks.append((start, steps, files))
            files = {}
    return blocks


def python_sessions(text):
    """(line number, block text) for every fenced block that starts with '>>> '."""
    return [(start, "\n".join(body) + "\n") for start, body in fenced_blocks(text)
            if body and body[0].startswith(">>> ")]


DOCTEST = """import doctest, sys
test = doctest.DocTestParser().get_doctest(sys.stdin.read(), {}, "README", "README.md", 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


def check_python(binary, readme, python):
    """Runs the README's Python sessions as doctests; returns (passed, failed)."""
    sessions = python_sessions(pathlib.Path(readme).read_text(encoding="utf-8"))
    if python is None:
        if sessions:
            print(f"check_readme: {len(sessions)} Python session(s) skipped (no PYTHON argument)")
        return 0, 0
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(binary).parent / "python"), MPLBACKEND="Agg")
    passed = failed = 0
    for start, body in sessions:
        with tempfile.TemporaryDirectory(prefix="linflow-readme-") as scratch:
            run = subprocess.run([python, "-c", DOCTEST], input=body, cwd=scratch, capture_output=True, text=True,
                                 env=env, timeout=300)
        if run.returncode == 0:
            passed += 1
            print(f"README.md:{start}: the Python session prints what the README shows")
        else:
            failed += 1
            print(f"README.md:{start}: the Python session prints something else:\n{run.stdout}{run.stderr}")
    return passed, failed


def normalise(lines):
    return [WALL_TIME.sub("<wall time> s", line.rstrip()) for line in lines]


def numbers_agree(a, b):
    x, y = float(a), float(b)
    if abs(x - y) <= NUMBER_RTOL * max(abs(x), abs(y)):
        return True
    integers = NUMBER.fullmatch(a) and "." not in a and "e" not in a.lower() and "." not in b and "e" not in b.lower()
    return bool(integers) and abs(x - y) <= INTEGER_ATOL


def lines_agree(want, got):
    """Same text between the numbers, the same count of numbers, each pair within the tolerances."""
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if NUMBER.sub("#", w) != NUMBER.sub("#", g):
            return False
        wn, gn = [m.group(0) for m in NUMBER.finditer(w)], [m.group(0) for m in NUMBER.finditer(g)]
        if not all(numbers_agree(a, b) for a, b in zip(wn, gn)):
            return False
    return True


def main(binary, readme, python=None):
    binary = str(pathlib.Path(binary).resolve())
    failures = 0
    blocks = transcripts(pathlib.Path(readme).read_text(encoding="utf-8"))
    if not blocks:
        print(f"check_readme: no transcript in {readme}")
        return 1
    for start, steps, files in blocks:
        with tempfile.TemporaryDirectory(prefix="linflow-readme-") as scratch:
            for name, content in files.items():
                pathlib.Path(scratch, name).write_text(content, encoding="utf-8")
            pathlib.Path(scratch, "build").mkdir()
            pathlib.Path(scratch, "build", "linflow").symlink_to(binary)
            for command, expected in steps:
                run = subprocess.run(["bash", "-c", command], cwd=scratch, capture_output=True, text=True,
                                     timeout=300)
                got = normalise((run.stdout + run.stderr).splitlines())
                want = normalise(expected)
                if not lines_agree(want, got) or run.returncode != 0:
                    failures += 1
                    print(f"README.md:{start}: `{command}` (exit {run.returncode}) prints something else:")
                    sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(want, got, "README", "linflow",
                                                                                  lineterm="", n=1))
                    break
            else:
                print(f"README.md:{start}: {len(steps)} command(s) print what the README shows")
    py_passed, py_failed = check_python(binary, readme, python)
    failures += py_failed
    print(f"check_readme: {len(blocks) - failures + py_failed + py_passed} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
