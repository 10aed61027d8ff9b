"""linflow from Python: training dynamics of deep linear networks W_N ... W_1 on the same C++ engine as the CLI.

    import linflow
    r = linflow.train({"network": {"widths": [6, 4, 1, 4, 5]}}, solver__eps=1e-10)
    r.summary["t_eps"], r.trajectory["excess_loss"], r.weights, r.end_to_end
    linflow.analyze("run.toml", simulate=True)          # prediction beside observation
    linflow.sweep("sweep.toml", threads=4).runs         # a pandas DataFrame (a list of dicts without pandas)
    linflow.experiment("escape-time").verdict

Configurations are dicts with the TOML file's sections and keys (README.md, "Configuration"), paths of TOML
files, or `linflow.Config` objects; overrides are `section__key=value` keywords or an `overrides={"section.key":
value}` dict, applied as the CLI's `--set`. numpy arrays may stand where a key takes a matrix file
(`problem.target`, `problem.x`, `problem.y`, `init.end_to_end`), and `init.weights=[W1, ..., WN]` gives the
initial layers. Bad input raises `linflow.InputError` (a ValueError) with the line the CLI prints. The engine
runs with the GIL released. docs/python.md has the whole API.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _linflow
from ._config import (MATRIX_KEYS, WEIGHTS_KEY, Config, ConfigLike, _matrix_value, as_matrix, normalize_overrides,
                      run_config, toml_text, toml_value)
from ._linflow import InputError
from ._progress import progress_bar

__all__ = [
    "Analysis", "Config", "ExperimentResult", "InputError", "Result", "SweepResult", "__version__", "analyze",
    "experiment", "experiments", "plot_experiment", "plot_run", "plot_sweep", "sweep", "train", "train_many",
]

__version__: str = _linflow.version()
InputError.__doc__ = ("Bad input (a configuration key, a file, an array, a shape or a value that cannot be used): "
                      "a ValueError whose message is the one line the CLI prints after 'linflow: error: '.")

PathLike = Union[str, "os.PathLike[str]"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _markdown_number(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_markdown_number(x) for x in v) + "]"
    return "—" if v is None else str(v)


class Result:
    """One finished run, in memory.

    Attributes:
        summary: the content of summary.json (status, message, t_eps, losses, stats, version, config).
        trajectory: {column: 1-D float64 array}, the columns of trajectory.csv (t, loss, excess_loss,
            dist_to_opt, grad_norm, imbalance_drift, sv1..svk, align1..alignk, and sharpness last when
            output.sharpness); empty when output.trajectory
            is false.
        weights: the final layers [W1, ..., WN] (float64 arrays, W_j of shape d_j × d_{j-1}).
        end_to_end: W = W_N ... W_1 at the end of the run.
    """

    def __init__(self, run: "_linflow.Run") -> None:
        self._run = run
        self.summary: Dict[str, Any] = run.summary
        self._trajectory: Optional[Dict[str, np.ndarray]] = None
        self._weights: Optional[List[np.ndarray]] = None
        self._end_to_end: Optional[np.ndarray] = None

    # The arrays are made from the run held in memory when first read (a loop that reads only the summary does not
    # pay for them); each is made once.
    @property
    def trajectory(self) -> Dict[str, np.ndarray]:
        if self._trajectory is None:
            table = self._run.trajectory
            names = self._run.columns.split(",")
            self._trajectory = (
                {name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(names)} if table.shape[0] else {})
        return self._trajectory

    @property
    def weights(self) -> List[np.ndarray]:
        if self._weights is None:
            self._weights = list(self._run.weights)
        return self._weights

    @property
    def end_to_end(self) -> np.ndarray:
        if self._end_to_end is None:
            self._end_to_end = self._run.end_to_end
        return self._end_to_end

    @property
    def status(self) -> str:
        """The run's status word (converged, t_max, max_steps, diverged, stalled)."""
        return self.summary["status"]

    @property
    def t_eps(self) -> Optional[float]:
        """First time the excess loss reached solver.eps (None if never)."""
        return self.summary.get("t_eps")

    def to_pandas(self) -> Any:
        """The trajectory as a pandas DataFrame (needs pandas)."""
        pd = _pandas()
        if pd is None:
            raise ImportError("Result.to_pandas needs pandas (Debian: python3-pandas)")
        return pd.DataFrame(self.trajectory)

    def save(self, dir: PathLike) -> str:
        """Writes what `linflow train --out DIR` writes (summary.json, trajectory.csv, weights/), by the same code
        path; returns DIR. Arrays the run was given in memory are written to DIR/inputs/ (KEY.npy, the initial layers
        as inputs/init.weights/Wj.npy) and summary.json's configuration names them relative to DIR, so that
        `linflow train -c DIR/summary.json` reruns the run bit for bit. InputError when DIR cannot be written."""
        path = os.fspath(dir)
        self._run.save(path)
        return path

    def plot(self) -> Dict[str, Any]:
        """The figures of `linflow plot` for this run: {"loss": Figure, "spectrum": Figure} and, with
        output.sharpness, "sharpness": Figure."""
        return plot_run(self)

    def __repr__(self) -> str:
        return f"<linflow.Result {self.summary.get('message')!r}>"

    def _repr_markdown_(self) -> str:
        s = self.summary
        stats = s.get("stats", {})
        return (f"**linflow run**: {s.get('message')}\n\n| status | t_eps | excess loss | steps | gradient evaluations |"
                f"\n|---|---|---|---|---|\n| {s.get('status')} | {_markdown_number(s.get('t_eps'))} | "
                f"{_markdown_number(s.get('excess_loss'))} | {stats.get('steps')} | {stats.get('rhs_evals')} |\n")


def train(config: ConfigLike = None, *, overrides: Optional[Mapping[str, Any]] = None, out: Optional[PathLike] = None,
          progress: Optional[bool] = None, **kwargs: Any) -> Result:
    """Trains one network as `config` says (what `linflow train` does) and returns the Result.

    Args:
        config: a dict with the TOML sections and keys, a TOML file path, a `linflow.Config`, or None (defaults).
        overrides: {"section.key": value}, applied as `--set section.key=value`.
        out: also write the run's files into this directory (as `linflow train --out`).
        progress: a tqdm bar for long runs; None: when interactive (see linflow._progress).
        **kwargs: overrides written section__key=value (e.g. solver__rtol=1e-8, init__weights=[W1, W2]).

    Raises:
        InputError: bad configuration, files, arrays or shapes (the CLI's one-line message).
    """
    rc = run_config(config, overrides, **kwargs)
    with progress_bar(progress, "train", "linflow train") as bar:
        result = Result(_linflow.train(rc, bar))
    if out is not None:
        result.save(out)
    return result


def train_many(configs: Sequence[ConfigLike], *, threads: int = 0, overrides: Optional[Mapping[str, Any]] = None,
               **kwargs: Any) -> List[Result]:
    """Trains many configurations in one call, on `threads` threads (0: one per core) with the GIL released.

    Each run is exactly `train(config)`; the results come back in the order of `configs`. `overrides` and
    section__key keywords apply to every configuration. The first bad configuration (in order) raises InputError;
    every configuration is checked before any run starts.
    """
    runs = _linflow.train_many([run_config(c, overrides, **kwargs) for c in configs], threads)
    return [Result(r) for r in runs]


class Analysis(dict):
    """The analysis of a start (the content of analysis.json) as a dict, with a notebook view: the hypotheses,
    the predicted limit and bounds and, when simulated, every prediction beside its observation.

    Attributes:
        run: the simulated run as a Result (simulate=True), else None.
    """

    run: Optional[Result]

    def __init__(self, data: Mapping[str, Any], run: Optional[Result]) -> None:
        super().__init__(data)
        self.run = run

    @property
    def contradictions(self) -> List[str]:
        """The contradictions between prediction and observation (empty when none, or not simulated)."""
        return list((self.get("observed") or {}).get("contradictions", []))

    def _repr_markdown_(self) -> str:
        pred = self.get("prediction") or {}
        lines = [f"**linflow analyze**: {self.get('message', '')}", ""]
        result = pred.get("result")
        if result:
            lines += [f"- predicted limit: **{pred.get('limit')}** — {pred.get('reason', '')}",
                      f"- result: {result.get('name')} [{result.get('tag')}]"]
        else:
            # No implemented result applies: say why (the analysis' reason and what each result needs).
            lines.append(f"- no prediction: {pred.get('reason') or 'no implemented result applies to this start'}")
            lines += [f"  - not applicable: {why}" for why in self.get("not_applicable") or []]
        bounds = self.get("bounds", {})
        for key in ("kappa", "t_eps_bound", "asymptotic_rate"):
            if bounds.get(key) is not None:
                lines.append(f"- {key}: {_markdown_number(bounds[key])}")
        observed = self.get("observed")
        if observed and not observed.get("comparisons"):
            lines += ["", f"observed: {observed.get('message', '')}", "",
                      "nothing predicted to set beside the observation"]
        elif observed:
            lines += ["", f"observed: {observed.get('message', '')}", "",
                      "| quantity | relation | predicted | observed | ratio | note |", "|---|---|---|---|---|---|"]
            for c in observed.get("comparisons", []):
                predicted = c.get("predicted")
                if c.get("predicted_lower") is not None:
                    predicted = f"[{_markdown_number(c['predicted_lower'])}, {_markdown_number(predicted)}]"
                lines.append(f"| {c.get('quantity')} | {c.get('relation')} | {_markdown_number(predicted)} | "
                             f"{_markdown_number(c.get('observed'))} | {_markdown_number(c.get('ratio'))} | "
                             f"{'**CONTRADICTION** ' if c.get('contradiction') else ''}{c.get('note', '')} |")
            contradictions = observed.get("contradictions", [])
            lines += ["", "**contradictions**: " + "; ".join(contradictions) if contradictions
                      else "no contradictions: every prediction checked here holds"]
        return "\n".join(lines) + "\n"


def analyze(config: ConfigLike = None, simulate: bool = False, *, out: Optional[PathLike] = None,
            overrides: Optional[Mapping[str, Any]] = None, progress: Optional[bool] = None,
            **kwargs: Any) -> Analysis:
    """The theory's analysis of the start `config` describes (what `linflow analyze [--simulate]` does).

    With `simulate`, the flow is run and every prediction is set beside its observation (`Analysis.run` holds the
    run). With `out`, analysis.json (and, simulated, the run's files) are written there by the CLI's code path.
    Overrides as in `train`. Raises InputError on bad input.
    """
    rc = run_config(config, overrides, **kwargs)
    with progress_bar(progress, "train", "linflow analyze") as bar:
        data, run = _linflow.analyze(rc, bool(simulate), "" if out is None else os.fspath(out), bar)
    return Analysis(data, Result(run) if run is not None else None)


def _runs_table(lines: List[dict]) -> Any:
    pd = _pandas()
    if pd is None:
        return lines
    return pd.json_normalize(lines, sep=".")


class SweepResult:
    """A finished sweep.

    Attributes:
        runs: one row per run (the lines of runs.jsonl: run, point, repeat, params.KEY, the summary fields,
            stats.*; with sweep.analyze also analysis.* and observed.*), a pandas DataFrame when pandas is installed,
            else the list of dicts.
        lines: the lines of runs.jsonl as dicts, in run order.
        summary: the sweep's summary (status, message, total, errors, status_counts, wall_seconds, threads, ...).
        sweep: the content of sweep.json (axes, counts, the base configuration).
        out: the output directory, or None when the sweep ran in a temporary one.
    """

    def __init__(self, summary: dict, lines: List[dict], sweep: dict, out: Optional[str]) -> None:
        self.summary, self.lines, self.sweep, self.out = summary, lines, sweep, out
        self.runs = _runs_table(lines)

    def plot(self, field: Optional[str] = None, x: Optional[str] = None, xscale: str = "auto",
             yscale: str = "auto") -> Any:
        """The figure of `linflow plot DIR --field FIELD --x X` for this sweep (a matplotlib Figure)."""
        return plot_sweep(self, field=field, x=x, xscale=xscale, yscale=yscale)

    def __repr__(self) -> str:
        return f"<linflow.SweepResult {self.summary.get('message')!r}>"


def _read_sweep_dir(d: str) -> tuple:
    from . import plotting
    with open(os.path.join(d, "sweep.json"), encoding="utf-8") as f:
        sweep_json = json.load(f)
    return sweep_json, plotting.read_runs(os.path.join(d, "runs.jsonl"))


def _sweep_source(sweep_config: Any) -> tuple:
    """(path, toml_text, base_dir) for the C++ sweep call."""
    if isinstance(sweep_config, (str, os.PathLike)):
        return os.fspath(sweep_config), "", ""
    if isinstance(sweep_config, Mapping):
        return "", toml_text(sweep_config), os.getcwd()
    raise InputError(f"sweep: expected a sweep file path or a dict, got {type(sweep_config).__name__}")


#: Keys whose value is a path, resolved against the folder of whatever gave it (the C++ reader's is_path_key).
_PATH_KEYS = ("problem.target", "problem.x", "problem.y", "init.end_to_end", "init.dir")
#: The file a dict sweep leaves in its output folder, so that the CLI can resume or extend it.
SWEEP_FILE = "sweep.toml"


def _write_input(inputs: str, key: str, matrix: Any) -> str:
    """A matrix (init.weights: the list of layers) written under `inputs` as the engine reads it from a file: KEY-HASH.npy
    (init.weights: the folder KEY-HASH of W1.npy … WN.npy), HASH from the content, so that the same arrays name the
    same file (a resumed sweep's sweep.json matches) and other arrays another one (it does not). Its absolute path."""
    layers = matrix if isinstance(matrix, list) else [matrix]
    digest = hashlib.sha256()
    for m in layers:
        digest.update(f"{m.shape};".encode())
        digest.update(m.tobytes())
    name = os.path.join(os.path.abspath(inputs), f"{key}-{digest.hexdigest()[:16]}")
    target = name if isinstance(matrix, list) else name + ".npy"
    if os.path.exists(target):
        return target
    os.makedirs(inputs, exist_ok=True)
    # Written beside and renamed into place: a file of that name is always whole.
    staging = tempfile.mkdtemp(dir=inputs, prefix=".staging-")
    try:
        for j, m in enumerate(layers, start=1):
            with open(os.path.join(staging, f"W{j}.npy"), "wb") as f:
                np.save(f, m)
        os.replace(staging if isinstance(matrix, list) else os.path.join(staging, "W1.npy"), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _sweep_inputs(sweep_config: Any, overrides: Dict[str, Any], out: str) -> tuple:
    """(sweep_config, overrides) with every array of the base and the overrides written under OUT/inputs/
    (_write_input) and named by its absolute path, init.weights as init.dir (init.kind = "files" unless given)."""
    inputs = os.path.join(out, "inputs")
    base = sweep_config.get("base") if isinstance(sweep_config, Mapping) else None
    table = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in base.items()} if isinstance(base, Mapping) \
        else None
    overrides = dict(overrides)
    kind_given = "init.kind" in overrides or "kind" in ((table or {}).get("init") or {})
    changed = False
    for key in MATRIX_KEYS + (WEIGHTS_KEY,):
        section, _, name = key.partition(".")
        for body, field in ((table.get(section) if table else None, name), (overrides, key)):
            if not isinstance(body, dict) or field not in body:
                continue
            matrix = _matrix_value(key, body[field])
            if matrix is None:
                continue
            path = _write_input(inputs, key, matrix)
            changed = changed or body is not overrides
            if key != WEIGHTS_KEY:
                body[field] = path
                continue
            del body[field]
            body["dir" if body is not overrides else "init.dir"] = path
            if not kind_given:
                body["kind" if body is not overrides else "init.kind"] = "files"
    if changed:
        sweep_config = {**sweep_config, "base": table}
    return sweep_config, overrides


def _absolute_paths(sweep_config: Mapping[str, Any]) -> dict:
    """A dict sweep with its relative paths (sweep.base, the base's path keys, path values of an axis) made absolute
    against the current directory, as the sweep reads them: the same sweep from a file in another folder."""
    def absolute(value: Any) -> Any:
        return os.path.abspath(os.fspath(value)) if isinstance(value, (str, os.PathLike)) and value else value

    out = dict(sweep_config)
    if isinstance(out.get("sweep"), Mapping) and "base" in out["sweep"]:
        out["sweep"] = {**out["sweep"], "base": absolute(out["sweep"]["base"])}
    if isinstance(out.get("base"), Mapping):
        out["base"] = {section: ({k: absolute(v) if f"{section}.{k}" in _PATH_KEYS else v for k, v in body.items()}
                                 if isinstance(body, Mapping) else body) for section, body in out["base"].items()}
    if isinstance(out.get("axis"), (list, tuple)):
        out["axis"] = [{**a, "values": [absolute(v) for v in a["values"]]}
                       if isinstance(a, Mapping) and a.get("key") in _PATH_KEYS and "values" in a else a
                       for a in out["axis"]]
    return out


def _write_sweep_file(out: str, sweep_config: Mapping[str, Any], strings: List[str]) -> None:
    """OUT/sweep.toml: the dict sweep as a sweep file, so that `linflow sweep -c OUT/sweep.toml -o OUT [--set …]
    --resume` continues or extends it from the command line."""
    sets = "".join(f" --set {shlex.quote(s)}" for s in strings)
    text = (f"# The sweep linflow.sweep ran in this folder, as a sweep file. Continue or extend it with\n"
            f"#   linflow sweep -c {SWEEP_FILE} -o .{sets} --resume\n" + toml_text(_absolute_paths(sweep_config)))
    path = os.path.join(out, SWEEP_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


class _OutDir:
    """The output directory of a sweep: the one given, or a temporary one removed after reading it."""

    def __init__(self, out: Optional[PathLike]) -> None:
        self.given = out is not None
        self.path = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix="linflow-sweep-")

    def __enter__(self) -> "_OutDir":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.given:
            shutil.rmtree(self.path, ignore_errors=True)


def _set_strings(overrides: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any]) -> List[str]:
    """{"section.key": value} and section__key=value keywords as `--set` strings."""
    return [f"{k}={toml_value(v, k)}" for k, v in normalize_overrides(overrides, kwargs).items()]


def sweep(sweep_config: Union[PathLike, Mapping[str, Any]], *, threads: int = 1, out: Optional[PathLike] = None,
          resume: bool = False, progress: Optional[bool] = None, overrides: Optional[Mapping[str, Any]] = None,
          **kwargs: Any) -> SweepResult:
    """Runs a sweep (what `linflow sweep` does): a sweep file path, or a dict with its tables ({"sweep": {...},
    "base": {...} or "sweep": {"base": "base.toml"}, "axis": [{...}, ...]}; relative paths from the current
    directory).

    Args:
        threads: compute threads (0: one per core); runs.jsonl is the same for any number.
        out: the output directory (sweep.json, runs.jsonl); None: a temporary one, removed after reading.
        resume: continue an interrupted sweep in `out`, or extend it (more seeds, points, values): only the runs
            not in its runs.jsonl are run.
        progress: a tqdm bar over the runs; None: when interactive.
        overrides, section__key=value keywords: keys of the base configuration, as `linflow sweep --set`.

    numpy arrays in a dict's base or the overrides (as in `train`) are written to OUT/inputs/ (KEY-HASH.npy, HASH
    from the content) and named by path; a dict sweep given `out` also leaves OUT/sweep.toml, for
    `linflow sweep -c OUT/sweep.toml -o OUT --resume`.

    A run whose parameters are rejected as input is a row with status "error" (as in the CLI, which then exits 2).
    Raises InputError on a bad sweep file or output directory.
    """
    with _OutDir(out) as d, progress_bar(progress, "sweep", "linflow sweep") as bar:
        sweep_config, extra = _sweep_inputs(sweep_config, normalize_overrides(overrides, kwargs), d.path)
        path, text, base_dir = _sweep_source(sweep_config)
        strings = [f"{k}={toml_value(v, k)}" for k, v in extra.items()]
        if d.given and isinstance(sweep_config, Mapping):
            os.makedirs(d.path, exist_ok=True)
            _write_sweep_file(d.path, sweep_config, strings)
        summary = _linflow.sweep(path, text, base_dir, d.path, int(threads), bool(resume), bar, strings)
        sweep_json, lines = _read_sweep_dir(d.path)
        return SweepResult(summary, lines, sweep_json, d.path if d.given else None)


class ExperimentResult(SweepResult):
    """A built-in experiment: its sweep (SweepResult's attributes) and its verdict.

    Attributes:
        name: the experiment.
        passed: the measurements agree with the prediction.
        verdict: the one-line verdict the CLI prints ("escape-time: PASS — ...").
        table: the measurements as aligned text lines, header first.
        report: the content of experiment.json.
    """

    def __init__(self, name: str, data: dict, lines: List[dict], sweep_json: dict, out: Optional[str]) -> None:
        super().__init__(data["sweep"], lines, sweep_json, out)
        self.name = name
        self.description: str = data.get("description", "")
        self.passed: Optional[bool] = data.get("passed")
        self.verdict: Optional[str] = data.get("verdict")
        self.table: List[str] = list(data.get("table", []))
        self.report: Dict[str, Any] = json.loads(data["report_json"]) if "report_json" in data else {}

    def plot(self, field: Optional[str] = None, x: Optional[str] = None) -> Any:
        """The experiment's own figure (as `linflow plot`), or the sweep figure when field/x are given or the
        experiment has no figure of its own."""
        if field is None and x is None:
            fig = plot_experiment(self)
            if fig is not None:
                return fig
        return plot_sweep(self, field=field, x=x)

    def __repr__(self) -> str:
        return f"<linflow.ExperimentResult {self.verdict!r}>"

    def _repr_markdown_(self) -> str:
        table = "\n".join(self.table)
        return f"**{self.verdict}**\n\n```\n{table}\n```\n"


def experiments_dir() -> str:
    """The directory of the built-in experiments' sweep files (LINFLOW_EXPERIMENTS overrides it, as for the CLI)."""
    env = os.environ.get("LINFLOW_EXPERIMENTS")
    return env if env else os.path.join(os.path.dirname(os.path.abspath(__file__)), "experiments")


def experiments() -> Dict[str, str]:
    """The built-in experiments: {name: one-line summary}."""
    return dict(_linflow.experiments())


def experiment(name: str, *, threads: int = 1, out: Optional[PathLike] = None, resume: bool = False,
               progress: Optional[bool] = None, overrides: Optional[Mapping[str, Any]] = None,
               **kwargs: Any) -> ExperimentResult:
    """Runs built-in experiment `name` (what `linflow experiment NAME` does) and returns its runs and verdict.

    Args as `sweep` (overrides included); the report is also written to OUT/experiment.json. Raises InputError for an unknown name
    (listing the known ones). A sweep with error lines returns without a verdict (passed and verdict None).
    """
    known = experiments()
    if name not in known:
        raise InputError(f"unknown experiment '{name}' (known: {', '.join(known)})")
    sweep_file = os.path.join(experiments_dir(), name + ".toml")
    with _OutDir(out) as d, progress_bar(progress, "sweep", f"linflow experiment {name}") as bar:
        data = _linflow.experiment(name, sweep_file, d.path, int(threads), bool(resume), bar,
                                   _set_strings(overrides, kwargs))
        sweep_json, lines = _read_sweep_dir(d.path)
        return ExperimentResult(name, data, lines, sweep_json, d.path if d.given else None)


def plot_run(run: Union[Result, Analysis, PathLike]) -> Dict[str, Any]:
    """The figures `linflow plot` draws for a run: {"loss": Figure, "spectrum": Figure} and, with output.sharpness,
    "sharpness": Figure (λ_max(∇²L) against t, for GD with the line 2/η) (matplotlib).

    `run` is a Result, a simulated Analysis (its bounds are drawn too) or a run directory.
    """
    from . import plotting
    if isinstance(run, Analysis):
        if run.run is None:
            raise InputError("plot_run: the analysis was not simulated (analyze(..., simulate=True))")
        return plotting.run_figures(run.run.summary, run.run.trajectory, dict(run))
    if isinstance(run, Result):
        return plotting.run_figures(run.summary, run.trajectory, None)
    summary, columns, analysis = plotting.read_run(os.fspath(run))
    return plotting.run_figures(summary, columns, analysis)


def plot_sweep(result: Union[SweepResult, PathLike], field: Optional[str] = None, x: Optional[str] = None,
               xscale: str = "auto", yscale: str = "auto") -> Any:
    """The sweep figure of `linflow plot`: summary field `field` (default t_eps; dotted names reach into stats;
    several comma-separated give one panel each) against `x` (an axis or a numeric field; default the first numeric
    axis), one colour per setting of the other axes, the median over the seeds with the interquartile band.
    xscale, yscale: "auto" (log when the values span two decades), "log" or "linear"."""
    from . import plotting
    if isinstance(result, SweepResult):
        return plotting.sweep_figure(result.sweep, result.lines, field, x, xscale, yscale)
    sweep_json, lines = _read_sweep_dir(os.fspath(result))
    return plotting.sweep_figure(sweep_json, lines, field, x, xscale, yscale)


def plot_experiment(result: Union[ExperimentResult, PathLike]) -> Any:
    """The experiment's own figure as `linflow plot` draws it (None for experiments without one)."""
    from . import plotting
    if isinstance(result, ExperimentResult):
        return plotting.experiment_figure(result.report)
    with open(os.path.join(os.fspath(result), "experiment.json"), encoding="utf-8") as f:
        return plotting.experiment_figure(json.load(f))
