#!/usr/bin/env python3
"""SIGINT / SIGTERM sent to a running linflow, end to end.

  interrupt.py train CLI OUT SIGNAL COMMAND... runs `COMMAND... -o OUT/run` (linflow train or analyze --simulate
                                              command that runs far longer than the test), waits until its run has
                                              started, sends SIGNAL (INT or TERM) and checks what the README promises:
                                              exit 130, one line on stderr, summary.json with status "interrupted",
                                              the trajectory up to the state reached (its last row at t_final), the
                                              weights of that state, no temporary file left.
  interrupt.py sweep CLI SWEEP OUT            runs the sweep cleanly into OUT/clean, then again into OUT/cut, sends
                                              SIGINT once the first run is in runs.jsonl (the second, long, run is
                                              then in flight), checks exit 130, the one line naming --resume, and that
                                              runs.jsonl holds finished lines of the clean sweep only; then --resume
                                              must write the clean sweep's runs.jsonl byte for byte.

"Has started" is read from the files the command writes (trajectory.csv.tmp is opened after the handlers are
installed; a sweep's runs.jsonl gains a line when a run finishes), never from a clock: the waits below are bounds
that a working binary never reaches. Without the signal handler the process dies of the signal and writes no
summary, so these checks fail.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

BOUND_S = 300  # upper bound of every wait; a hang is a failure, not a slow pass


class Command:
    """A running linflow: stdout to a file, stderr read line by line as it comes (progress lines included)."""

    def __init__(self, args, out_dir):
        self.stdout_path = pathlib.Path(out_dir) / "stdout.txt"
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        self.stdout = open(self.stdout_path, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=subprocess.PIPE,
                                     text=True)
        self.stderr = []
        self.reader = threading.Thread(target=lambda: self.stderr.extend(iter(self.proc.stderr.readline, "")))
        self.reader.start()

    def report(self):
        self.reader.join(timeout=5)
        return "--- stdout\n" + self.stdout_path.read_text() + "--- stderr\n" + "".join(self.stderr)

    def wait_for(self, condition, what):
        deadline = time.monotonic() + BOUND_S
        while not condition():
            if self.proc.poll() is not None:
                fail(f"the command ended (exit {self.proc.returncode}) before {what}\n" + self.report())
            if time.monotonic() > deadline:
                self.proc.kill()
                fail(f"no {what} within {BOUND_S} s\n" + self.report())
            time.sleep(0.01)

    def finish(self, expected_rc):
        try:
            self.proc.wait(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(f"the command did not end within {BOUND_S} s of the signal\n" + self.report())
        self.reader.join()
        self.stdout.close()
        if self.proc.returncode != expected_rc:
            fail(f"exit code {self.proc.returncode}, expected {expected_rc}\n" + self.report())
        # Progress lines ("train: t = …") are not messages.
        return [l.rstrip("\n") for l in self.stderr if ": t = " not in l.split(",")[0] or l.startswith("linflow:")]


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def one_line(lines, starts):
    if len(lines) != 1 or not lines[0].startswith(starts):
        fail(f"expected one line on stderr starting {starts!r}, got:\n" + "\n".join(lines))
    return lines[0]


def interrupt(args, run, out, signame):
    """Starts the long command into `run`, signals it once its run is under way; returns its stderr lines."""
    command = Command([*args, "-o", str(run)], out)
    if args[1] == "train":
        command.wait_for(lambda: (run / "trajectory.csv.tmp").exists(), "trajectory.csv.tmp")
        time.sleep(0.5)  # usually some steps into the run; not relied on: a signal before the first step is valid too
    else:  # analyze --simulate writes nothing while it runs: its first progress line
        command.wait_for(lambda: any(": t = " in l for l in command.stderr), "progress line")
    command.proc.send_signal(getattr(signal, "SIG" + signame))
    return command.finish(130)


def folder_bytes(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def check_train(cli, out, signame, args):
    run = pathlib.Path(out) / "run"
    shutil.rmtree(out, ignore_errors=True)
    one_line(interrupt(args, run, out, signame), "linflow: interrupted at t = ")
    summary = json.loads((run / "summary.json").read_text())
    if summary["status"] != "interrupted" or "interrupted at t = " not in summary["message"]:
        fail(f"summary.json: status {summary['status']!r}, message {summary['message']!r}")
    if not 0 <= summary["t_final"] < summary["config"]["solver"]["t_max"]:
        fail(f"summary.json: t_final {summary['t_final']} not inside [0, t_max)")
    rows = (run / "trajectory.csv").read_text().splitlines()
    last = [float(v) for v in rows[-1].split(",")]
    if len(rows) < 2 or last[0] != summary["t_final"] or last[2] != summary["excess_loss"]:
        fail(f"trajectory.csv's last row {rows[-1]!r} is not the final state of summary.json")
    widths = summary["config"]["network"]["widths"]
    for j in range(1, len(widths)):
        if not (run / "weights" / f"W{j}.npy").is_file():
            fail(f"weights/W{j}.npy missing")
    leftovers = [p.name for p in run.rglob("*") if p.name.endswith(".tmp")]
    if leftovers:
        fail(f"temporary files left: {leftovers}")

    # Into a folder that holds a finished run (the same command, short), the interrupted run writes nothing.
    subprocess.run([*args, "--set", "solver.t_max=1", "-q", "-o", str(run)], check=True, stdout=subprocess.DEVNULL)
    finished = folder_bytes(run)
    if json.loads(finished[pathlib.Path("summary.json")])["status"] == "interrupted":
        fail("the short run did not finish")
    line = one_line(interrupt(args, run, out, signame), "linflow: interrupted at t = ")
    if "holds a finished run, kept" not in line:
        fail(f"the line does not say the finished run was kept: {line}")
    if folder_bytes(run) != finished:
        fail("the interrupted run changed the folder of a finished run")


def runs_lines(path):
    return path.read_text().splitlines() if path.exists() else []


def check_sweep(cli, sweep, out):
    out = pathlib.Path(out)
    clean, cut = out / "clean", out / "cut"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([cli, "sweep", "-q", "-c", sweep, "-o", str(clean), "-j", "1"], check=True)
    reference = runs_lines(clean / "runs.jsonl")
    command = Command([cli, "sweep", "-q", "-c", sweep, "-o", str(cut), "-j", "1"], out)
    command.wait_for(lambda: len(runs_lines(cut / "runs.jsonl")) >= 1, "first line of runs.jsonl")
    command.proc.send_signal(signal.SIGINT)
    line = one_line(command.finish(130), "linflow: sweep interrupted: ")
    if "--resume" not in line:
        fail(f"the line does not say how to resume: {line}")
    partial = runs_lines(cut / "runs.jsonl")
    if not 0 < len(partial) < len(reference) or any(l not in reference for l in partial):
        fail(f"runs.jsonl after the interrupt is not a part of the clean sweep's:\n" + "\n".join(partial))
    if any('"interrupted"' in l for l in partial):
        fail("an interrupted run was recorded as finished")
    subprocess.run([cli, "sweep", "-q", "-c", sweep, "-o", str(cut), "-j", "1", "--resume"], check=True)
    if (cut / "runs.jsonl").read_bytes() != (clean / "runs.jsonl").read_bytes():
        fail("the resumed runs.jsonl differs from the clean sweep's")


def main(argv):
    if len(argv) >= 5 and argv[1] == "train":
        check_train(argv[2], argv[3], argv[4], argv[5:])
    elif len(argv) == 5 and argv[1] == "sweep":
        check_sweep(argv[2], argv[3], argv[4])
    else:
        print(__doc__)
        return 2
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
