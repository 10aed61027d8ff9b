#!/usr/bin/env python3
"""A rank of an MPI sweep killed (SIGKILL) mid-sweep, end to end.

  kill_rank.py RANK CLI SWEEP OUT LAUNCHER...     (LAUNCHER: the command that starts 2 processes, `mpirun -np 2`)

runs SWEEP cleanly into OUT/clean (one process), then under `LAUNCHER... CLI sweep` into OUT/cut; once
runs.jsonl has a line, SIGKILLs the process of rank RANK (found by the rank its launcher put in its environment) and
checks what README.md's Reliability section promises: the job ends within BOUND_S with a non-zero exit code and a
line saying which rank was killed, no rank is left running (DEATH_BOUND_S later), runs.jsonl holds lines of the clean sweep only (a partial
last line aside); then `sweep --resume` (under LAUNCHER for a killed worker, one process for a killed rank 0) must write
the clean sweep's runs.jsonl byte for byte. Prints the seconds from the kill to the end of the job.

The waits are bounds that a working binary never reaches; a hang is a failure, not a slow pass. The kill follows the
first line within milliseconds, but a loaded machine can stall this script for seconds (CI once found 11 of 12 runs
written at the kill): an attempt whose kill finds all but two runs finished tests nothing and is made again, up to
ATTEMPTS times.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

BOUND_S = 30  # from the kill to the end of the job
ATTEMPTS = 3  # a kill that lands after the last run began cannot test a cut; so many tries before that fails
START_BOUND_S = 120  # for the first line of runs.jsonl
DEATH_BOUND_S = 5  # for the other ranks to be gone once the launcher has ended
RANK_VARIABLES = (b"OMPI_COMM_WORLD_RANK=", b"PMIX_RANK=", b"PMI_RANK=")


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def lines(path):
    return path.read_bytes().split(b"\n") if path.exists() else [b""]


def rank_processes(out_dir):
    """{rank: pid} of the processes whose command line names out_dir, by the rank variable of their environment."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.fsencode(out_dir) not in (entry / "cmdline").read_bytes().split(b"\0"):
                continue
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours
            continue
        for variable in environment:
            if variable.startswith(RANK_VARIABLES):
                found[int(variable.split(b"=", 1)[1])] = int(entry.name)
    return found


def running(pid):
    """Whether pid is a live process (a zombie waiting for its reaper is not)."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def main(argv):
    if len(argv) < 6:
        print(__doc__)
        return 2
    victim, cli, sweep, out, launcher = int(argv[1]), argv[2], argv[3], pathlib.Path(argv[4]), argv[5:]
    clean, cut = out / "clean", out / "cut"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run([cli, "sweep", "-q", "-c", sweep, "-o", str(clean), "-j", "2"], check=True)
    reference = lines(clean / "runs.jsonl")
    for attempt in range(1, ATTEMPTS + 1):
        shutil.rmtree(cut, ignore_errors=True)
        if cut_and_resume(victim, cli, sweep, out, cut, clean, reference, launcher):
            print("ok")
            return 0
        print(f"attempt {attempt}: the kill came too late to cut the sweep; again")
    fail(f"in {ATTEMPTS} attempts no kill came early enough to cut the sweep (is the machine overloaded?)")


def cut_and_resume(victim, cli, sweep, out, cut, clean, reference, launcher):
    """One kill of rank `victim` and the resume; False when the kill came too late to cut the sweep."""
    log = open(out / "launcher.txt", "w+")
    job = subprocess.Popen([*launcher, cli, "sweep", "-q", "-c", sweep, "-o", str(cut), "-j", "1"],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def report():
        log.seek(0)
        return "--- the launcher's output\n" + log.read()

    def kill_job(why):
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        fail(why + "\n" + report())

    deadline = time.monotonic() + START_BOUND_S
    while len(lines(cut / "runs.jsonl")) < 2:
        if job.poll() is not None:
            fail(f"the job ended (exit {job.returncode}) before runs.jsonl had a line\n" + report())
        if time.monotonic() > deadline:
            kill_job(f"no line in runs.jsonl within {START_BOUND_S} s")
        time.sleep(0.01)
    ranks = rank_processes(str(cut))
    if sorted(ranks) != [0, 1] and job.poll() is not None:  # the sweep ended before the search
        return False
    if sorted(ranks) != [0, 1]:
        kill_job(f"expected the processes of ranks 0 and 1, found {ranks}")
    try:
        os.kill(ranks[victim], signal.SIGKILL)
    except ProcessLookupError:  # the sweep ended before the kill
        job.wait(timeout=BOUND_S)
        return False
    killed = time.monotonic()
    done_at_kill = len(lines(cut / "runs.jsonl")) - 1
    try:
        job.wait(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        kill_job(f"the job did not end within {BOUND_S} s of the kill of rank {victim}")
    seconds = time.monotonic() - killed
    print(f"rank {victim} killed with {done_at_kill} of {len(reference) - 1} runs in runs.jsonl; the job ended "
          f"{seconds:.2f} s later, exit code {job.returncode}")
    # The launcher may exit as soon as it has sent SIGKILL, before the kernel has ended the process.
    deadline = time.monotonic() + DEATH_BOUND_S
    while left := [rank for rank, pid in ranks.items() if running(pid)]:
        if time.monotonic() > deadline:
            fail(f"ranks {left} still running {DEATH_BOUND_S} s after the job ended")
        time.sleep(0.01)
    # With two runs or fewer left the other rank, or a result already on its way, may finish the sweep.
    if done_at_kill >= len(reference) - 3:
        return False
    said = report()
    if job.returncode == 0:
        fail("the job exited 0 although a rank was killed\n" + said)
    if not re.search(r"(?i)rank %d\b.*signal:? 9|signal:? 9 \(Killed\)" % victim, said):
        fail("no line saying the rank was killed (signal 9)\n" + said)

    partial = lines(cut / "runs.jsonl")
    whole = partial[:-1]  # after the last newline: a partial line, or nothing
    if len(whole) >= len(reference) - 1 or any(line not in reference for line in whole):
        fail("runs.jsonl after the kill is not a part of the clean sweep's:\n" + b"\n".join(partial).decode())
    resume = [cli, "sweep", "-q", "-c", sweep, "-o", str(cut), "--resume"]
    if victim != 0:
        resume = [*launcher, *resume, "-j", "1"]
    result = subprocess.run(resume, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=START_BOUND_S)
    if result.returncode != 0:
        fail(f"--resume exited {result.returncode}\n{result.stdout}{result.stderr}")
    if (cut / "runs.jsonl").read_bytes() != (clean / "runs.jsonl").read_bytes():
        fail("the resumed runs.jsonl differs from the clean sweep's")
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv))
