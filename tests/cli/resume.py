#!/usr/bin/env python3
"""`linflow train --resume` after SIGKILL at random moments and after Ctrl-C, end to end.

  resume.py OUT KILLS COMMAND...   runs `COMMAND... -o OUT/clean` (a linflow train of a few seconds) to its end,
                                   then the same into OUT/cut with checkpoints every 0.02 s, killed by SIGKILL at
                                   KILLS random moments (each run continued by `--resume`, and killed again), then a
                                   SIGINT, then `--resume` to the end. What it ends with must be the clean run's files
                                   byte for byte: trajectory.csv, weights/, target.npy, and summary.json but for
                                   stats.wall_seconds and the notes saying where it resumed.

The moments are drawn from a seed printed first (RESUME_SEED=... reruns them); each wait is at most a quarter of the
clean run's time, so that a clean run slowed by load does not push the kills past the end. A kill that lands after the
run ended is not counted; the test fails when fewer than half of the kills land mid-run (the run is too short for the
test).
"""
import filecmp
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

BOUND_S = 300  # upper bound of every wait


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def run_to_end(args, what):
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BOUND_S)
    if p.returncode != 0:
        fail(f"{what}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def start(args):
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def checkpoint_id(folder):
    try:
        st = (folder / "checkpoint.bin").stat()
        return (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        return None


def wait_for_checkpoint(proc, folder, earlier):
    """Until the run has written a checkpoint of its own (not `earlier`, a killed run's), which also says that its
    signal handlers are installed; False when it ended first."""
    deadline = time.monotonic() + BOUND_S
    while checkpoint_id(folder) in (None, earlier):
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            proc.kill()
            fail("no checkpoint.bin within the bound")
        time.sleep(0.005)
    return True


def summary_without_this_process(path):
    s = json.loads(path.read_text())
    s["stats"].pop("wall_seconds")
    s.pop("notes")
    return s


def main():
    out = pathlib.Path(sys.argv[1])
    kills = int(sys.argv[2])
    command = sys.argv[3:]
    seed = int(os.environ.get("RESUME_SEED", random.SystemRandom().randrange(1 << 30)))
    print(f"RESUME_SEED={seed}")
    rng = random.Random(seed)
    shutil.rmtree(out, ignore_errors=True)
    clean, cut = out / "clean", out / "cut"

    began = time.monotonic()
    run_to_end(command + ["-o", str(clean), "-q"], "the clean run")
    duration = time.monotonic() - began
    print(f"clean run: {duration:.2f} s")

    cut_args = command + ["-o", str(cut), "--checkpoint-every", "0.02", "-q"]
    landed = 0
    resume = False
    for k in range(kills):
        earlier = checkpoint_id(cut)
        proc = start(cut_args + (["--resume"] if resume else []))
        if wait_for_checkpoint(proc, cut, earlier):
            time.sleep(rng.uniform(0, 0.25 * duration))
        proc.kill()
        rc = proc.wait(timeout=BOUND_S)
        stderr = proc.stderr.read()
        if rc == -signal.SIGKILL:
            landed += 1
            print(f"kill {k + 1}: landed mid-run")
        elif rc == 0:
            print(f"kill {k + 1}: the run had ended")
        else:
            fail(f"kill {k + 1}: exit {rc}\n{stderr}")
        resume = True
    if landed * 2 < kills:
        fail(f"only {landed} of {kills} kills landed mid-run: the run is too short for this test")

    # Ctrl-C: the interrupted run writes its files and a checkpoint; --resume continues from the state it reached.
    earlier = checkpoint_id(cut)
    proc = start(cut_args + ["--resume"])
    if wait_for_checkpoint(proc, cut, earlier):
        time.sleep(rng.uniform(0, 0.2 * duration))
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=BOUND_S)
    stderr = proc.stderr.read()
    if rc == 130:
        status = json.loads((cut / "summary.json").read_text())["status"]
        if status != "interrupted":
            fail(f"after SIGINT summary.json says {status}")
        if "--resume" not in stderr:
            fail(f"the interrupted line does not say how to resume:\n{stderr}")
        print("SIGINT: interrupted, resumable")
    elif rc != 0:
        fail(f"SIGINT: exit {rc}\n{stderr}")
    run_to_end(cut_args + ["--resume"], "the last --resume")
    if (cut / "checkpoint.bin").exists():
        fail("a finished run left checkpoint.bin")
    notes = json.loads((cut / "summary.json").read_text())["notes"]
    if rc == 130 and not any(n.startswith("resumed from ") and " at t = 0 " not in n for n in notes):
        fail(f"the last --resume did not continue from the interrupted run's checkpoint: notes {notes}")
    before = (cut / "summary.json").stat().st_mtime_ns
    run_to_end(cut_args + ["--resume"], "--resume of a finished run")
    if (cut / "summary.json").stat().st_mtime_ns != before:
        fail("--resume of a finished run ran it again")

    for name in ["trajectory.csv", "target.npy"] + [f"weights/{p.name}" for p in (clean / "weights").iterdir()]:
        if not filecmp.cmp(clean / name, cut / name, shallow=False):
            fail(f"{name} differs from the clean run's")
    if summary_without_this_process(clean / "summary.json") != summary_without_this_process(cut / "summary.json"):
        fail("summary.json differs from the clean run's beyond wall_seconds and notes")
    leftovers = sorted(p.name for p in cut.iterdir() if p.name.endswith(".tmp"))
    if leftovers:
        fail(f"temporary files left: {leftovers}")
    print(f"PASS: {landed} kills mid-run and a SIGINT, resumed to the clean run's files byte for byte")


if __name__ == "__main__":
    main()
