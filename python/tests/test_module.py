"""The Python module against the CLI on the same configurations: bit-identical runs, analyses and sweeps, the
CLI's error messages, arrays in place of files, batches on threads, figures."""
import json
import os
import threading
import time
import tomllib

import numpy as np
import pytest

import linflow
from conftest import cli, data, load_json, read_csv, sweep_file, without_wall_times

SMALL = data("small.toml")


def assert_same_run(result, run_dir):
    """`result` equals, bit for bit, the run the CLI wrote in run_dir (wall time aside)."""
    csv = read_csv(os.path.join(run_dir, "trajectory.csv"))
    assert list(result.trajectory) == list(csv)
    for name, column in csv.items():
        assert np.array_equal(result.trajectory[name], column), name
    depth = len(result.weights)
    assert depth == len(os.listdir(os.path.join(run_dir, "weights")))
    for j, w in enumerate(result.weights, start=1):
        expected = np.load(os.path.join(run_dir, "weights", f"W{j}.npy"))
        assert w.shape == expected.shape and np.array_equal(w, expected), f"W{j}"
    assert without_wall_times(result.summary) == without_wall_times(load_json(os.path.join(run_dir, "summary.json")))


def test_train_from_a_file_is_bit_identical_to_the_cli(tmp_path, cli_path):
    cli("train", "-q", "-c", SMALL, "-o", str(tmp_path / "cli"))
    result = linflow.train(SMALL)
    assert result.status == "converged" and result.t_eps is not None
    assert_same_run(result, tmp_path / "cli")
    end_to_end = result.weights[-1]
    for w in reversed(result.weights[:-1]):
        end_to_end = end_to_end @ w
    assert np.allclose(result.end_to_end, end_to_end, rtol=1e-13, atol=1e-15)


def test_save_writes_what_the_cli_writes(tmp_path, cli_path):
    cli("train", "-q", "-c", SMALL, "-o", str(tmp_path / "cli"))
    linflow.train(SMALL).save(tmp_path / "py")
    for name in ["trajectory.csv"] + [os.path.join("weights", f) for f in os.listdir(tmp_path / "cli" / "weights")]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    cli_summary = (tmp_path / "cli" / "summary.json").read_text().splitlines()
    py_summary = (tmp_path / "py" / "summary.json").read_text().splitlines()
    differ = [a for a, b in zip(cli_summary, py_summary) if a != b]
    assert len(cli_summary) == len(py_summary) and all('"wall_seconds"' in line for line in differ), differ
    assert sorted(os.listdir(tmp_path / "py")) == sorted(os.listdir(tmp_path / "cli"))


def test_a_dict_with_overrides_is_the_file_with_set(tmp_path, cli_path):
    with open(SMALL, "rb") as f:
        table = tomllib.load(f)
    cli("train", "-q", "-c", SMALL, "-o", str(tmp_path / "cli"), "--set", "solver.eps=1e-8",
        "--set", "network.widths=[3,1,1,3]")
    by_keywords = linflow.train(table, solver__eps=1e-8, network__widths=[3, 1, 1, 3])
    assert_same_run(by_keywords, tmp_path / "cli")
    by_dict = linflow.train(linflow.Config(table), overrides={"solver.eps": 1e-8, "network.widths": [3, 1, 1, 3]})
    for name, column in by_keywords.trajectory.items():
        assert np.array_equal(by_dict.trajectory[name], column)


def test_to_pandas_has_the_trajectory_columns():
    pd = pytest.importorskip("pandas")
    result = linflow.train(SMALL)
    frame = result.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(result.trajectory)
    assert np.array_equal(frame["excess_loss"].to_numpy(), result.trajectory["excess_loss"])


def test_analyze_is_the_cli_analysis(tmp_path, cli_path):
    config = data("analyze_small.toml")
    cli("analyze", "-q", "-c", config, "-o", str(tmp_path / "cli"), "--simulate")
    analysis = linflow.analyze(config, simulate=True)
    assert without_wall_times(dict(analysis)) == without_wall_times(load_json(tmp_path / "cli" / "analysis.json"))
    assert analysis["prediction"]["limit"] == "global_min" and analysis.contradictions == []
    assert_same_run(analysis.run, tmp_path / "cli")
    md = analysis._repr_markdown_()
    assert "global_min" in md and "late_time_rate" in md and "| quantity |" in md
    plain = linflow.analyze(config)
    assert plain.run is None and "observed" not in plain and plain["prediction"] == analysis["prediction"]


def test_the_notebook_view_of_an_analysis_without_a_prediction_says_why():
    # A Gaussian start of a network without a width-one layer: no implemented result applies, so the view gives the
    # analysis' reason and what each result needs, not an empty citation; simulated, it says there is nothing to
    # compare rather than an empty table over "no contradictions".
    analysis = linflow.analyze(None, simulate=True, init__kind="gaussian", network__widths=[6, 4, 3, 4, 5])
    assert analysis["prediction"]["limit"] == "unknown" and analysis["prediction"]["result"] is None
    md = analysis._repr_markdown_()
    assert f"- no prediction: {analysis['prediction']['reason']}" in md
    assert analysis["not_applicable"] and all(f"not applicable: {why}" in md for why in analysis["not_applicable"])
    assert "— []" not in md and "result:" not in md and "| quantity |" not in md
    assert "nothing predicted to set beside the observation" in md and "no contradictions" not in md


def test_analyze_writes_what_the_cli_writes(tmp_path, cli_path):
    config = data("analyze_small.toml")
    cli("analyze", "-q", "-c", config, "-o", str(tmp_path / "cli"))
    linflow.analyze(config, out=tmp_path / "py")
    assert (tmp_path / "py" / "analysis.json").read_bytes() == (tmp_path / "cli" / "analysis.json").read_bytes()


def test_sweep_is_byte_identical_to_the_cli(tmp_path, cli_path):
    cli("sweep", "-q", "-c", sweep_file("tiny.toml"), "-o", str(tmp_path / "cli"), "-j", "2")
    result = linflow.sweep(sweep_file("tiny.toml"), threads=2, out=tmp_path / "py")
    assert (tmp_path / "py" / "runs.jsonl").read_bytes() == (tmp_path / "cli" / "runs.jsonl").read_bytes()
    assert result.summary["status"] == "complete" and result.summary["total"] == 12
    assert len(result.lines) == 12 and [line["run"] for line in result.lines] == list(range(12))
    in_memory = linflow.sweep(sweep_file("tiny.toml"), threads=1)
    assert in_memory.out is None and in_memory.lines == result.lines
    pd = pytest.importorskip("pandas")
    assert isinstance(result.runs, pd.DataFrame) and len(result.runs) == 12
    assert "params.init.sigma0" in result.runs.columns and "stats.rhs_evals" in result.runs.columns


def test_a_sweep_dict_with_an_inline_base(tmp_path):
    with open(sweep_file("base.toml"), "rb") as f:
        base = tomllib.load(f)
    result = linflow.sweep({"sweep": {"seeds": 1}, "base": base,
                            "axis": [{"key": "init.sigma0", "values": [0.1, 0.01]}]})
    assert [line["params"]["init.sigma0"] for line in result.lines] == [0.1, 0.01]
    single = linflow.train(base, init__sigma0=0.01)
    assert result.lines[1]["t_eps"] == single.t_eps and result.lines[1]["stats"]["steps"] == \
        single.summary["stats"]["steps"]


def test_a_sweep_with_arrays_is_the_sweep_of_their_files_and_resumes_from_the_cli(tmp_path, cli_path):
    # Arrays in a dict sweep's base (or its overrides) are written under OUT/inputs/ and named by path: the runs are
    # those of the same sweep from .npy files, OUT/sweep.toml resumes it from the CLI, and other arrays are another
    # base (resuming with them is refused).
    target = np.load(data("target_3x4.npy"))
    np.save(tmp_path / "Z.npy", target)
    start = linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3]).weights

    def sweep_of(problem, init, seeds, **kwargs):
        base = {"problem": problem, "network": {"widths": [4, 2, 1, 3]}, "init": init,
                "solver": {"eps": 1e-10, "t_max": 200.0}, "output": {"samples_log": 20}}
        return linflow.sweep({"sweep": {"seeds": 1}, "base": base, "axis": [{"key": "init.seed", "values": seeds}]},
                             **kwargs)

    from_file = sweep_of({"target": str(tmp_path / "Z.npy")}, {"scale": 0.3}, [0, 1, 2], out=tmp_path / "file")
    from_arrays = sweep_of({"target": target}, {"scale": 0.3}, [0, 1, 2], out=tmp_path / "arrays")
    assert from_arrays.summary["errors"] == 0 and len(from_arrays.lines) == 3
    assert without_wall_times(from_arrays.lines) == without_wall_times(from_file.lines)
    assert len({line["t_eps"] for line in from_arrays.lines}) == 3  # the seeds give three runs
    saved = from_arrays.sweep["base"]["problem"]["target"]
    assert os.path.dirname(saved) == str(tmp_path / "arrays" / "inputs") and np.array_equal(np.load(saved), target)
    # The CLI resumes it from the sweep file left in OUT (nothing left to run), Python extends it.
    journal = (tmp_path / "arrays" / "runs.jsonl").read_bytes()
    stdout, _ = cli("sweep", "-c", str(tmp_path / "arrays" / "sweep.toml"), "-o", str(tmp_path / "arrays"), "--resume")
    assert "(0 run now, 3 resumed)" in stdout
    assert (tmp_path / "arrays" / "runs.jsonl").read_bytes() == journal
    grown = sweep_of({"target": target}, {"scale": 0.3}, [0, 1, 2, 3], out=tmp_path / "arrays", resume=True)
    assert grown.summary["resumed"] == 3 and grown.summary["executed"] == 1
    with pytest.raises(linflow.InputError, match="another base configuration"):
        sweep_of({"target": 2 * target}, {"scale": 0.3}, [0, 1], out=tmp_path / "arrays", resume=True)
    # Initial layers (init.kind = "files" from the written folder) and an array given as an override.
    layers = sweep_of({}, {"weights": start}, [0], problem__target=target)
    single = linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3], init__weights=start)
    assert layers.lines[0]["t_eps"] == single.t_eps
    assert layers.lines[0]["stats"]["steps"] == single.summary["stats"]["steps"]


@pytest.mark.parametrize("args, overrides", [
    (["--set", "init.sigma=1"], {"init__sigma": 1}),
    (["--set", "init.u0=[1.0,2.0]"], {"init__u0": [1.0, 2.0]}),
    (["--set", "solver.rtol=-1.0"], {"solver__rtol": -1.0}),
    (["--set", "network.widths=[3,2]"], {"network__widths": [3, 2]}),
])
def test_bad_input_raises_the_clis_message(tmp_path, cli_path, args, overrides):
    config = data("analyze_small.toml")
    _, err = cli("train", "-q", "-c", config, "-o", str(tmp_path / "x"), *args, expect=2)
    with pytest.raises(linflow.InputError) as e:
        linflow.train(config, **overrides)
    assert isinstance(e.value, ValueError)
    assert "linflow: error: " + str(e.value) == err.strip()


def test_bad_input_in_a_dict():
    with pytest.raises(linflow.InputError, match=r"unknown key init.sigma \(did you mean 'sigma0'\?\)"):
        linflow.train({"init": {"sigma": 0.1}})
    with pytest.raises(linflow.InputError, match="overrides are written section__key=value"):
        linflow.train(None, rtol=1e-8)
    with pytest.raises(linflow.InputError, match="cannot open config file"):
        linflow.train("/nonexistent/run.toml")
    with pytest.raises(linflow.InputError, match="unknown experiment 'nope'"):
        linflow.experiment("nope")


def test_an_array_target_is_the_file_target(tmp_path, cli_path):
    target = np.load(data("target_3x4.npy"))
    cli("train", "-q", "-c", SMALL, "-o", str(tmp_path / "cli"), "--set", f"problem.target={data('target_3x4.npy')}",
        "--set", "network.widths=[4,2,1,3]")
    result = linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3])
    csv = read_csv(tmp_path / "cli" / "trajectory.csv")
    for name, column in csv.items():
        assert np.array_equal(result.trajectory[name], column), name
    # Lossless conversions give the same run: Fortran order, float32 values, integers.
    fortran = linflow.train(SMALL, problem__target=np.asfortranarray(target), network__widths=[4, 2, 1, 3])
    assert np.array_equal(fortran.trajectory["excess_loss"], result.trajectory["excess_loss"])
    small_ints = np.array([[3, 0, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0]])
    as_ints = linflow.train(SMALL, problem__target=small_ints, network__widths=[4, 2, 1, 3])
    as_f32 = linflow.train(SMALL, problem__target=small_ints.astype(np.float32), network__widths=[4, 2, 1, 3])
    assert np.array_equal(as_ints.trajectory["excess_loss"], as_f32.trajectory["excess_loss"])


@pytest.mark.parametrize("value, message", [
    (np.ones(4), "expected a 2-D array"),
    (np.ones((3, 4), dtype=complex), "expected a real numeric array"),
    (np.array([["a", "b"]]), "expected a real numeric array"),
    (np.ones((3, 4), dtype=bool), "got booleans"),
    (np.array([[2**60, 1]]), "beyond 2\\^53"),
])
def test_arrays_that_do_not_convert_exactly_are_refused(value, message):
    with pytest.raises(linflow.InputError, match="problem.target: .*" + message):
        linflow.train(SMALL, problem__target=value)


def test_nan_in_an_array_is_refused_by_the_engine():
    target = np.load(data("target_3x4.npy"))
    target[1, 2] = np.nan
    with pytest.raises(linflow.InputError, match="NaN|non-finite|not finite"):
        linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3])


def test_initial_weights_as_arrays_continue_a_run(tmp_path):
    first = linflow.train(SMALL, solver__stop_at_eps=False, solver__t_max=2.0)
    first.save(tmp_path / "first")
    from_files = linflow.train(SMALL, init__kind="files", init__dir=str(tmp_path / "first" / "weights"))
    from_arrays = linflow.train(SMALL, init__weights=first.weights)
    assert from_arrays.summary["initial_loss"] == first.summary["loss"]
    for name, column in from_files.trajectory.items():
        assert np.array_equal(from_arrays.trajectory[name], column), name
    with pytest.raises(linflow.InputError, match=r"init.weights\[1\] \(W2\): expected a 2-D array"):
        linflow.train(SMALL, init__weights=[first.weights[0], np.ones(3)])


def test_train_many_equals_one_by_one():
    configs = [linflow.Config(SMALL, init__seed=seed, init__sigma0=sigma0)
               for seed in (1, 2, 3) for sigma0 in (0.1, 0.01)]
    batch = linflow.train_many(configs, threads=2)
    assert len(batch) == len(configs)
    for config, result in zip(configs, batch):
        single = linflow.train(config)
        for name, column in single.trajectory.items():
            assert np.array_equal(result.trajectory[name], column)
        assert without_wall_times(result.summary) == without_wall_times(single.summary)
    with pytest.raises(linflow.InputError, match="init.sigma0"):
        linflow.train_many([SMALL, linflow.Config(SMALL, init__sigma0=-1.0)], threads=2)


def test_the_engine_runs_without_the_gil():
    # A run of a few tenths of a second in a thread: the main thread keeps running meanwhile only if the GIL is
    # released (held, the main thread would stand still for the whole run). dop853: the default `auto` is done with
    # this plateau in a few hundredths.
    config = linflow.Config(None, network__widths=[30, 30, 30, 30, 30], problem__singular_values=[3.0, 2.0, 1.0],
                            solver__rtol=1e-12, solver__atol=1e-14, init__sigma0=1e-3, output__trajectory=False,
                            solver__integrator="dop853")
    start = time.monotonic()
    linflow.train(config)
    duration = time.monotonic() - start
    assert duration > 0.05, "the run is too short to show anything"
    done = threading.Event()
    worker = threading.Thread(target=lambda: (linflow.train(config), done.set()))
    ticks, longest, last = 0, 0.0, time.monotonic()
    worker.start()
    while not done.is_set():
        now = time.monotonic()
        longest, last = max(longest, now - last), now
        ticks += 1
        time.sleep(0.001)
    worker.join()
    assert ticks > 5 and longest < 0.5 * duration, (ticks, longest, duration)


def test_figures_of_a_run_and_a_sweep():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    figures = linflow.train(SMALL).plot()
    assert set(figures) == {"loss", "spectrum"} and all(isinstance(f, Figure) for f in figures.values())
    simulated = linflow.analyze(data("analyze_small.toml"), simulate=True)
    labels = [line.get_label() for line in linflow.plot_run(simulated)["loss"].axes[0].get_lines()]
    assert any("late-time rate" in label for label in labels)
    fig = linflow.sweep(sweep_file("tiny.toml")).plot(field="stats.rhs_evals")
    assert isinstance(fig, Figure) and "stats.rhs_evals vs init.sigma0" in fig.axes[0].get_title()
    with pytest.raises(linflow.InputError, match="no trajectory"):
        linflow.train(SMALL, output__trajectory=False).plot()


def test_sharpness_column_reaches_the_trajectory_and_its_figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    lr = 0.05
    with_column = linflow.train(SMALL, solver__method="gd", solver__lr=lr, output__sharpness=True)
    without = linflow.train(SMALL, solver__method="gd", solver__lr=lr)
    assert "sharpness" in with_column.trajectory and "sharpness" not in without.trajectory
    assert np.all(np.isfinite(with_column.trajectory["sharpness"]))
    for name, values in without.trajectory.items():  # recording it never changes the run
        assert np.array_equal(values, with_column.trajectory[name]), name
    figures = with_column.plot()
    assert set(figures) == {"loss", "spectrum", "sharpness"}
    assert isinstance(figures["sharpness"], Figure)
    labels = [line.get_label() for line in figures["sharpness"].axes[0].get_lines()]
    assert any(label.startswith("2/η") for label in labels), labels


def test_an_experiment_gives_its_verdict(tmp_path, monkeypatch, cli_path):
    # tests/sweep/experiments holds reduced copies of the shipped experiments (as the CLI's tests use them).
    monkeypatch.setenv("LINFLOW_EXPERIMENTS", sweep_file("experiments"))
    result = linflow.experiment("rate-vs-depth", threads=2, out=tmp_path / "py")
    assert result.passed is True and result.verdict.startswith("rate-vs-depth: PASS")
    assert result.report["experiment"] == "rate-vs-depth" and result.table
    assert (tmp_path / "py" / "experiment.json").is_file()
    stdout, _ = cli("experiment", "rate-vs-depth", "-q", "-o", str(tmp_path / "cli"), "-j", "2")
    assert stdout.strip() == result.verdict
    assert "PASS" in result._repr_markdown_()


def test_a_sweep_takes_overrides_and_extends_by_resume(tmp_path):
    part = linflow.sweep(sweep_file("tiny_part.toml"), out=tmp_path / "s", solver__t_max=50.0)
    assert part.sweep["base"]["solver"]["t_max"] == 50.0 and part.summary["executed"] == 2
    with pytest.raises(linflow.InputError, match="another base configuration"):
        linflow.sweep(sweep_file("tiny.toml"), out=tmp_path / "s", resume=True)
    grown = linflow.sweep(sweep_file("tiny.toml"), out=tmp_path / "s", resume=True,
                          overrides={"solver.t_max": 50.0})
    assert grown.summary["resumed"] == 2 and grown.summary["executed"] == 10
    fresh = linflow.sweep(sweep_file("tiny.toml"), out=tmp_path / "f", overrides={"solver.t_max": 50.0})
    assert (tmp_path / "s" / "runs.jsonl").read_bytes() == (tmp_path / "f" / "runs.jsonl").read_bytes()
    assert [line["run"] for line in grown.lines] == list(range(12))


def test_sweep_figure_draws_the_median_over_seeds_with_its_band():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from linflow import plotting
    result = linflow.sweep(sweep_file("tiny.toml"), threads=2)  # 3 sigma0 × 2 methods × 2 seeds
    fig = result.plot(field="stats.rhs_evals")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2, [line.get_label() for line in lines]  # one per method, not one per method and seed
    assert len(ax.collections) == 2  # the interquartile bands
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["method = gf (n = 2)", "method = gd (n = 2)"]
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1  # outside the data
    for line, method in zip(lines, ("gf", "gd")):
        for x, y in zip(line.get_xdata(), line.get_ydata()):
            evals = [r["stats"]["rhs_evals"] for r in result.lines
                     if r["params"]["solver.method"] == method and r["params"]["init.sigma0"] == x]
            assert len(evals) == 2 and y == pytest.approx(sum(evals) / 2, rel=1e-15)  # the median of two
    assert plotting.quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)
    linear = result.plot(field="stats.rhs_evals,t_final", x="init.sigma0")
    assert len(linear.axes) == 2
    with pytest.raises(linflow.InputError, match="--xscale cubic: expected one of auto, log, linear"):
        plotting.sweep_figure(result.sweep, result.lines, "t_eps", None, xscale="cubic")


def test_escape_time_figure_draws_the_theory_the_verdict_uses(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from linflow import plotting
    monkeypatch.setenv("LINFLOW_EXPERIMENTS", sweep_file("experiments"))
    result = linflow.experiment("escape-time", threads=2, out=tmp_path / "escape")
    assert result.passed is True
    s1 = result.report["s1"]
    for run in result.report["runs"]:
        # The figure's curve (Simpson in Python) is the experiment's prediction (the C++ §6 integral).
        t = plotting.escape_integral(run["depth"], s1, run["sigma0"], run["sigma1"])
        assert t == pytest.approx(run["predicted"], rel=1e-9)
    fig = result.plot()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "N = 2: §6 escape integral" in labels and "N = 4: theory" in labels
    assert "N = 4: observed t_eps (2)" in labels


def test_progress_is_off_when_not_interactive(monkeypatch):
    from linflow import _progress
    monkeypatch.setattr(_progress, "interactive", lambda: False)
    with _progress.progress_bar(None, "train", "x") as bar:
        assert bar is None
    calls = []
    with _progress.progress_bar(True, "train", "x") as bar:
        assert bar is not None
        monkeypatch.setattr(_progress, "DELAY_SECONDS", 0.0)
        bar.tqdm = lambda **kw: calls.append(kw) or _Recorder()
        bar({"t": 1.0, "t_max": 10.0, "excess_loss": 0.5, "steps": 7})
    assert calls and calls[0]["unit"] == "step"


class _Recorder:
    n = 0

    def set_postfix(self, **kw):
        self.postfix = kw

    def refresh(self):
        pass

    def close(self):
        pass


def test_version_and_docstrings():
    assert linflow.__version__ == cli("--version")[0].split()[-1]
    for name in linflow.__all__:
        obj = getattr(linflow, name)
        if callable(obj):
            assert obj.__doc__, name


def test_ctrl_c_during_a_run_raises_keyboard_interrupt():
    # SIGINT while the engine runs: Python's handler raises in the progress callback, the next Python code the main
    # thread runs; the binding stops the run (linflow's interrupt flag) and raises KeyboardInterrupt.
    import signal
    from linflow import _linflow
    from linflow._config import run_config
    calls = []

    def progress(p):
        calls.append(p)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    rc = run_config(SMALL)
    with pytest.raises(KeyboardInterrupt):
        _linflow.train(rc, progress)
    assert calls and isinstance(_linflow.train(rc, progress=None), _linflow.Run)


def test_ctrl_c_stops_a_long_run_without_a_callback():
    # A gradient-descent run of 2e9 iterations (minutes): SIGINT from a timer thread reaches linflow's handler while
    # the GIL is released, the run ends within a step, KeyboardInterrupt is raised, and the next run is not affected.
    import signal
    import threading
    import time
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            linflow.train(SMALL, solver__method="gd", solver__lr=1e-3, solver__t_max=1e12, solver__max_steps=2000000000,
                          solver__stop_at_eps=False, solver__grad_tol=0.0)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert linflow.train(SMALL).summary["status"] == "converged"


def test_progress_reaches_the_bar_during_a_run(monkeypatch):
    from linflow import _progress
    made = []
    monkeypatch.setattr(_progress, "DELAY_SECONDS", 0.0)
    monkeypatch.setattr(_progress, "_tqdm", lambda: (lambda **kw: made.append(kw) or _Recorder()))
    linflow.train(SMALL, progress=True)
    assert made and made[0]["unit"] == "step"
    made.clear()
    linflow.sweep(sweep_file("tiny.toml"), progress=True)
    assert made and made[0]["total"] == 12 and made[0]["unit"] == "run"


def test_a_value_that_has_no_toml_form_is_refused():
    with pytest.raises(linflow.InputError, match="solver.eps: cannot write a NoneType"):
        linflow.train(SMALL, solver__eps=None)
    with pytest.raises(linflow.InputError, match="network.widths: cannot write a object"):
        linflow.train({"network": {"widths": object()}})


def test_errors_about_arrays_name_the_key_not_a_temporary_file():
    with pytest.raises(linflow.InputError) as e:
        linflow.train(None, problem__target=np.full((5, 6), np.inf))
    assert str(e.value) == "problem.target (array): contains NaN or Inf"
    with pytest.raises(linflow.InputError) as e:
        linflow.train(None, problem__target=np.ones((3, 4)))
    assert str(e.value).startswith("problem.target (array) gives d_x = 4, d_y = 3 but network.widths has d_0 = 6")
    with pytest.raises(linflow.InputError, match=r"^init.weights\[1\] \(W2, array\): shape 4x6, expected 1x4"):
        linflow.train(None, init__weights=[np.ones((4, 6))] * 4)


def test_arrays_go_to_the_engine_in_memory_and_give_the_files_run(tmp_path, cli_path, monkeypatch):
    # The CLI reads X and Y from files; the module, given the same matrices as arrays, writes no file at all (np.save
    # and temporary directories are made to fail) and runs the same run, bit for bit.
    x, y = np.load(data("x_4x12.npy")), np.load(data("y_3x12.npy"))
    end_to_end = 0.01 * np.outer([1.0, -2.0, 0.5], [1.0, 0.0, 3.0, -1.0])  # rank 1: the network has a width of 1
    cli("train", "-q", "-c", SMALL, "-o", str(tmp_path / "cli"), "--set", f"problem.x={data('x_4x12.npy')}",
        "--set", f"problem.y={data('y_3x12.npy')}", "--set", "network.widths=[4,2,1,3]")
    np.save(tmp_path / "e2e.npy", end_to_end)
    from_files = linflow.train(SMALL, problem__x=data("x_4x12.npy"), problem__y=data("y_3x12.npy"),
                               network__widths=[4, 2, 1, 3], init__kind="balanced",
                               init__end_to_end=str(tmp_path / "e2e.npy"))

    def no_files(*args, **kwargs):
        raise AssertionError("an array was written to a file")

    monkeypatch.setattr(np, "save", no_files)
    monkeypatch.setattr("tempfile.mkdtemp", no_files)
    by_arrays = linflow.train(SMALL, problem__x=x, problem__y=y, network__widths=[4, 2, 1, 3])
    run_dir = tmp_path / "cli"
    for name, column in read_csv(run_dir / "trajectory.csv").items():
        assert np.array_equal(by_arrays.trajectory[name], column), name
    for j, w in enumerate(by_arrays.weights, start=1):
        assert np.array_equal(w, np.load(run_dir / "weights" / f"W{j}.npy")), f"W{j}"
    cli_summary = load_json(run_dir / "summary.json")
    for key in ("status", "message", "t_eps", "loss", "excess_loss", "optimal_loss", "data_constant"):
        assert by_arrays.summary[key] == cli_summary[key], key
    assert by_arrays.summary["config"]["problem"]["x"] == "(array)"
    assert by_arrays.summary["config"]["problem"]["y"] == "(array)"
    # Samples as rows (problem.layout), an initial end-to-end matrix and initial layers: the same as from files.
    rows = linflow.train(SMALL, problem__x=x.T, problem__y=y.T, problem__layout="rows", network__widths=[4, 2, 1, 3])
    assert np.array_equal(rows.trajectory["excess_loss"], by_arrays.trajectory["excess_loss"])
    e2e = linflow.train(SMALL, problem__x=x, problem__y=y, network__widths=[4, 2, 1, 3], init__kind="balanced",
                        init__end_to_end=end_to_end)
    assert e2e.summary["config"]["init"]["end_to_end"] == "(array)"
    for name, column in from_files.trajectory.items():
        assert np.array_equal(e2e.trajectory[name], column), name
    # An array overrides the file's key; a file's configuration with arrays in its overrides works the same.
    target = np.load(data("target_3x4.npy"))
    file_config = linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3],
                                init__weights=from_files.weights)
    dict_config = linflow.train({"problem": {"target": target}, "network": {"widths": [4, 2, 1, 3]},
                                 "init": {"weights": from_files.weights}, "solver": {"eps": 1e-10, "t_max": 200.0},
                                 "output": {"samples_log": 20}})
    assert file_config.summary["initial_loss"] == dict_config.summary["initial_loss"]
    assert np.array_equal(file_config.trajectory["excess_loss"], dict_config.trajectory["excess_loss"])
    assert file_config.summary["config"]["init"]["kind"] == "files"


def test_a_saved_run_from_arrays_reruns_from_its_summary_with_the_cli(tmp_path, cli_path):
    # save() writes the arrays into DIR/inputs/ and names them in summary.json's configuration by paths relative to
    # DIR, so that `linflow train -c DIR/summary.json` repeats the run bit for bit, in any folder DIR is moved to.
    import shutil
    x, y = np.load(data("x_4x12.npy")), np.load(data("y_3x12.npy"))
    end_to_end = 0.01 * np.outer([1.0, -2.0, 0.5], [1.0, 0.0, 3.0, -1.0])
    target = np.load(data("target_3x4.npy"))
    start = linflow.train(SMALL, problem__target=target, network__widths=[4, 2, 1, 3], init__seed=7).weights
    runs = {"target_and_layers": dict(problem__target=target, init__weights=start),
            "data_and_end_to_end": dict(problem__x=x.T, problem__y=y.T, problem__layout="rows", init__kind="balanced",
                                        init__end_to_end=end_to_end)}
    for label, arrays in runs.items():
        result = linflow.train(SMALL, network__widths=[4, 2, 1, 3], **arrays)
        saved = tmp_path / label / "py"
        result.save(saved)
        config = load_json(saved / "summary.json")["config"]
        assert "(array)" not in json.dumps(config), config
        assert result.summary["config"] != config  # in memory, the summary still says "(array)"
        moved = tmp_path / label / "moved"
        shutil.copytree(saved, moved)
        cli("train", "-q", "-c", str(moved / "summary.json"), "-o", str(tmp_path / label / "cli"))
        names = ["trajectory.csv", "target.npy"] + [os.path.join("weights", f"W{j}.npy") for j in range(1, 4)]
        for name in names:
            assert (tmp_path / label / "cli" / name).read_bytes() == (saved / name).read_bytes(), (label, name)
        rerun = load_json(tmp_path / label / "cli" / "summary.json")
        for key in ("status", "message", "t_eps", "initial_loss", "excess_loss"):
            assert rerun[key] == result.summary[key], (label, key)
    layers = sorted(os.listdir(tmp_path / "target_and_layers" / "py" / "inputs" / "init.weights"))
    assert layers == ["W1.npy", "W2.npy", "W3.npy"]
    for j, w in enumerate(start, start=1):
        assert np.array_equal(np.load(tmp_path / "target_and_layers" / "py" / "inputs" / "init.weights" / f"W{j}.npy"),
                              w)
    # A later run without arrays saved into the same folder leaves no input of the earlier one behind.
    linflow.train(SMALL).save(tmp_path / "target_and_layers" / "py")
    assert not os.path.exists(tmp_path / "target_and_layers" / "py" / "inputs")


def test_in_memory_arrays_are_checked_as_files_are():
    x, y = np.load(data("x_4x12.npy")), np.load(data("y_3x12.npy"))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(linflow.InputError) as e:
        linflow.train(SMALL, problem__x=bad, problem__y=y, network__widths=[4, 2, 1, 3])
    assert str(e.value) == "problem.x (array): contains NaN or Inf"
    with pytest.raises(linflow.InputError, match=r"^problem.x \(array\) is 4 x 12 and problem.y \(array\) is 3 x 12"
                                                 r".*set problem.layout = \"columns\""):
        linflow.train(SMALL, problem__x=x, problem__y=y, network__widths=[4, 2, 1, 3], problem__layout="rows")
    with pytest.raises(linflow.InputError, match="problem.target and problem.x/problem.y are exclusive"):
        linflow.train(SMALL, problem__x=x, problem__y=y, problem__target=np.ones((3, 4)))
    with pytest.raises(linflow.InputError, match="problem.x and problem.y must be given together"):
        linflow.train(SMALL, problem__x=x)
    with pytest.raises(linflow.InputError) as e:
        linflow.train(SMALL, init__weights=[np.ones((2, 3)), np.ones((1, 2))])
    assert str(e.value) == "init.weights: 2 matrices, but network.widths has 3 layers"
    with pytest.raises(linflow.InputError) as e:
        linflow.train(SMALL, init__kind="balanced", init__end_to_end=np.full((3, 3), np.inf))
    assert str(e.value) == "init.end_to_end (array): contains NaN or Inf"


def test_a_config_parses_its_dict_once_and_reads_its_arrays_at_every_call(tmp_path, monkeypatch):
    # A Config keeps its dict parsed (the C++ template) for every call and every Config derived from it by overrides,
    # so a loop of train(cfg, overrides=...) parses only the overrides; its arrays are read at each call (an array
    # changed in place is seen), and a change of directory re-reads relative paths from the new one.
    target = np.load(data("target_3x4.npy"))
    table = {"problem": {"target": target}, "network": {"widths": [4, 2, 1, 3]},
             "solver": {"eps": 1e-10, "t_max": 200.0}, "output": {"samples_log": 20}}
    cfg = linflow.Config(table)
    first = [linflow.train(cfg, overrides={"init.seed": seed}) for seed in range(3)]
    parsed = cfg._parsed[0]
    assert parsed is not None
    for seed, result in enumerate(first):
        fresh = linflow.train(table, init__seed=seed)  # a new dict parse at each call
        assert np.array_equal(result.trajectory["excess_loss"], fresh.trajectory["excess_loss"]), seed
        assert result.summary["config"] == fresh.summary["config"]
    assert linflow.train(cfg, init__seed=1).t_eps == first[1].t_eps and cfg._parsed[0] is parsed
    import copy
    import pickle
    for clone in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg)):  # the parsed form is not carried
        assert linflow.train(clone, init__seed=2).t_eps == first[2].t_eps
    assert len({r.t_eps for r in first}) == 3
    target *= 2.0  # in place: the Config sees it at its next call
    doubled = linflow.train(cfg, init__seed=0)
    assert doubled.summary["initial_loss"] != first[0].summary["initial_loss"]
    assert doubled.summary["optimal_loss"] == pytest.approx(4 * first[0].summary["optimal_loss"], rel=1e-12)
    # An array given as an override wins over the table's.
    assert linflow.train(cfg, init__seed=0, problem__target=target / 2.0).t_eps == first[0].t_eps
    # Relative paths: from the current directory of each call.
    np.save(tmp_path / "Z.npy", target)
    by_path = linflow.Config({**table, "problem": {"target": "Z.npy"}})
    monkeypatch.chdir(tmp_path)
    assert linflow.train(by_path, init__seed=0).t_eps == doubled.t_eps
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    with pytest.raises(linflow.InputError, match="Z.npy"):
        linflow.train(by_path, init__seed=0)


def test_a_dict_reaches_the_parser_as_data_with_the_toml_texts_meaning(tmp_path):
    # A dict configuration goes to the C++ parser as data (no TOML text): every kind of value means what the same
    # dict written as TOML means, and bad values get the messages the TOML path gives.
    import pathlib
    from linflow import _linflow
    from linflow._config import toml_text
    table = {"problem": {"singular_values": np.array([2.0, 1.0]), "seed": np.int64(3), "target": "t.npy"},
             "network": {"widths": (np.int32(3), 2, 1, 3)},
             "init": {"kind": np.str_("balanced_rank1"), "sigma0": np.float32(0.125), "u0": [1, 0.5, 2],
                      "dir": pathlib.Path("w")},
             "solver": {"eps": 1e-10, "t_max": 50, "stop_at_eps": np.bool_(True), "max_steps": 10**6},
             "output": {"trajectory": False}}
    as_data = _linflow.config_from_dict(table, str(tmp_path), "config", [])
    as_text = _linflow.parse_config(toml_text(table), str(tmp_path), "config", [])
    assert as_data.to_json() == as_text.to_json()
    for bad, message in [({"solver": {"eps": None}}, "solver.eps: cannot write a NoneType into a configuration"),
                         ({"solver": {"max_steps": 2**70}}, "solver.max_steps: 1180591620717411303424 is out of range"),
                         ({"solver": {"t_max": float("inf")}}, None), ({"solver": {"eps": float("nan")}}, None),
                         ({"solver": {"eps": "x"}}, None), ({"solvr": {}}, None), ({"network": 3}, None)]:
        with pytest.raises(linflow.InputError) as from_data:
            _linflow.config_from_dict(bad, str(tmp_path), "config", [])
        if message is not None:
            assert str(from_data.value) == message
        else:
            with pytest.raises(linflow.InputError) as from_text:
                _linflow.parse_config(toml_text(bad), str(tmp_path), "config", [])
            assert str(from_data.value) == str(from_text.value)
