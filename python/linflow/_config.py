"""Configurations from Python: a dict with the TOML file's sections and keys, a path, or a `Config`, plus overrides.

A dict goes to the C++ parser as data (`_linflow.template_from_dict` converts its values as `toml_value` writes them
into TOML, with the same messages, once per `Config`; sweeps still take TOML text from `toml_text`) and is checked by
the same code as a file, and overrides become the `--set section.key=value` strings of the CLI, so validation and
error messages are the CLI's. numpy arrays given
where the configuration takes a file (`problem.target`, `problem.x`, `problem.y`, `init.end_to_end`) and
`init.weights = [W1, ..., WN]` are handed to the engine in memory (no temporary files): it checks them as it checks
files, with messages naming the key followed by "(array)", and the echoed configuration in `summary["config"]`
says "(array)" where a file's path would be.
"""
from __future__ import annotations

import collections.abc
import json
import math
import os
import re
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from . import _linflow
from ._linflow import InputError

#: Keys whose value is a matrix file; a numpy array (or nested list of numbers) may stand there.
MATRIX_KEYS = ("problem.target", "problem.x", "problem.y", "init.end_to_end")
#: The key that takes the initial layers as arrays (read as init.kind = "files" reads init.dir's files).
WEIGHTS_KEY = "init.weights"

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _is_mapping(value: Any) -> bool:
    # dict first: an isinstance check against an abstract class costs microseconds, and a configuration has many values.
    return isinstance(value, dict) or isinstance(value, collections.abc.Mapping)

ConfigLike = Union["Config", Mapping[str, Any], str, "os.PathLike[str]"]


def as_matrix(value: Any, key: str) -> np.ndarray:
    """`value` as a C-ordered float64 matrix, converted only when lossless; InputError naming `key` otherwise."""
    if type(value) is np.ndarray and value.dtype == np.float64 and value.ndim == 2 and value.flags.c_contiguous:
        return value  # already what the engine takes (the common case: nothing to check or convert)
    a = np.asarray(value)
    if a.dtype == object or a.dtype.kind not in "fiub":
        raise InputError(f"{key}: expected a real numeric array, got dtype {a.dtype}")
    if a.dtype.kind == "b":
        raise InputError(f"{key}: expected a real numeric array, got booleans")
    if a.ndim != 2:
        raise InputError(f"{key}: expected a 2-D array (a matrix), got shape {a.shape}")
    if a.dtype.kind in "iu":
        # Integers convert exactly up to 2^53.
        if a.size and np.max(np.abs(a.astype(object))) > 2**53:
            raise InputError(f"{key}: integer entries beyond 2^53 do not convert to float64 exactly")
    elif a.dtype.kind == "f" and a.dtype.itemsize > 8:
        converted = a.astype(np.float64)
        if not np.array_equal(converted.astype(a.dtype), a, equal_nan=True):
            raise InputError(f"{key}: {a.dtype} entries do not convert to float64 exactly")
    return np.ascontiguousarray(a, dtype=np.float64)


def _is_array_like_matrix(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (
        isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], (list, tuple, np.ndarray)))


def toml_value(value: Any, key: str) -> str:
    """A Python value as a TOML value (the right-hand side of `key = ...`)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return repr(f)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v, key) for v in value) + "]"
    raise InputError(f"{key}: cannot write a {type(value).__name__} into a configuration")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_mapping(v) for v in value)


def toml_text(table: Mapping[str, Any]) -> str:
    """A nested dict as TOML text: sub-dicts become [tables], lists of dicts [[arrays of tables]]."""
    lines: list = []

    def emit(prefix: str, tbl: Mapping[str, Any], header: str) -> None:
        if header:
            lines.append(header)
        for k, v in tbl.items():
            if not _is_mapping(v) and not _is_table_array(v):
                lines.append(f"{_toml_key(str(k))} = {toml_value(v, (prefix + '.' if prefix else '') + str(k))}")
        for k, v in tbl.items():
            path = (prefix + "." if prefix else "") + _toml_key(str(k))
            if _is_mapping(v):
                emit(path, v, f"[{path}]")
            elif _is_table_array(v):
                for item in v:
                    emit(path, item, f"[[{path}]]")

    emit("", table, "")
    return "\n".join(lines) + "\n"


def _split_key(key: str) -> tuple:
    section, dot, name = key.partition(".")
    if not dot or not section or not name:
        raise InputError(f"override '{key}': expected section.key")
    return section, name


def normalize_overrides(overrides: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any]) -> dict:
    """Overrides from a {"section.key": value} dict and section__key=value keywords, as one {"section.key": value}."""
    out: dict = {}
    for k, v in (overrides or {}).items():
        _split_key(k)
        out[k] = v
    for k, v in kwargs.items():
        section, sep, name = k.partition("__")
        if not sep or not section or not name:
            raise InputError(f"unknown keyword argument '{k}' (overrides are written section__key=value, "
                             "e.g. solver__rtol=1e-8)")
        out[f"{section}.{name}"] = v
    return out


class Config:
    """A run configuration: a dict (the TOML file's sections and keys), a TOML file path, or another Config, with
    overrides on top. Overrides are `{"section.key": value}` dicts or `section__key=value` keywords; they are
    applied as `linflow train --set section.key=value` applies them (same checks, same messages).

    >>> cfg = Config({"network": {"widths": [3, 1, 3]}}, solver__eps=1e-10)
    """

    def __init__(self, source: Optional[ConfigLike] = None, overrides: Optional[Mapping[str, Any]] = None,
                 **kwargs: Any) -> None:
        extra = normalize_overrides(overrides, kwargs)
        if isinstance(source, Config):
            self.path: Optional[str] = source.path
            self.table: Optional[dict] = source.table
            self.overrides: dict = {**source.overrides, **extra}
            self._parsed: list = source._parsed  # shared: the same table, parsed once for every derived Config
            return
        self.path, self.table, self._parsed = None, None, [None]
        if source is None:
            self.table = {}
        elif isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
        elif _is_mapping(source):
            self.table = {k: (dict(v) if _is_mapping(v) else v) for k, v in source.items()}
        else:
            raise InputError(f"config: expected a dict, a path or a linflow.Config, got {type(source).__name__}")
        self.overrides = extra

    def __getstate__(self) -> dict:
        # The parsed form is a C++ object: a pickled or deep-copied Config parses its dict again when first used.
        return {**self.__dict__, "_parsed": [None]}

    def with_overrides(self, overrides: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> "Config":
        """A copy with more overrides (later ones win)."""
        return Config(self, overrides, **kwargs)

    def toml(self) -> str:
        """The configuration as TOML text (a path's file text with the overrides as comments is not attempted:
        only dict configurations have a TOML form here)."""
        if self.table is None:
            with open(self.path, encoding="utf-8") as f:
                return f.read()
        return toml_text(self.table)

    def effective(self) -> dict:
        """Every key with its value after defaults and overrides (summary.json's "config"), validated."""
        return json.loads(make_run_config(self).to_json())

    def __repr__(self) -> str:
        src = repr(self.path) if self.path is not None else repr(self.table)
        return f"linflow.Config({src}, overrides={self.overrides!r})"


def run_config(config: ConfigLike, overrides: Optional[Mapping[str, Any]] = None,
               **kwargs: Any) -> "_linflow.RunConfig":
    """The validated C++ configuration (`_linflow.RunConfig`) of a ConfigLike with overrides."""
    if isinstance(config, Config) and not overrides and not kwargs:
        return make_run_config(config)
    return make_run_config(Config(config, overrides, **kwargs))


def _weights(value: Any) -> list:
    if not isinstance(value, (list, tuple)) or not value:
        raise InputError(f"{WEIGHTS_KEY}: expected a list of matrices [W1, ..., WN]")
    return [as_matrix(w, f"{WEIGHTS_KEY}[{j - 1}] (W{j})") for j, w in enumerate(value, start=1)]


def _matrix_value(key: str, value: Any) -> Optional[Any]:
    """What the engine gets in memory for `key` (an array at a matrix key, the list at init.weights), else None."""
    if key in MATRIX_KEYS and _is_array_like_matrix(value):
        return as_matrix(value, key)
    if key == WEIGHTS_KEY:
        return _weights(value)
    return None


#: The keys whose value may go to the engine in memory, as (section, name).
_ARRAY_KEYS = tuple(tuple(k.split(".")) for k in MATRIX_KEYS + (WEIGHTS_KEY,))


class _Parsed:
    """What a dict Config keeps of its table, parsed once (the first time it is used): the table without its arrays as
    a C++ `ConfigTemplate`, relative paths taken from `cwd`, and the (key, value) of each array in it. The arrays are
    converted and copied at every call, so an array changed in place is read as it is then; the rest of the table is
    read once (a Config is not meant to change: `with_overrides` makes another)."""

    __slots__ = ("template", "cwd", "arrays", "kind_given")

    def __init__(self, table: dict, cwd: str) -> None:
        arrays = []
        rest = table
        for section, name in _ARRAY_KEYS:
            body = rest.get(section)
            if not _is_mapping(body) or name not in body:
                continue
            key = f"{section}.{name}"
            value = body[name]
            if key != WEIGHTS_KEY and not _is_array_like_matrix(value):
                continue  # a path
            if rest is table:
                rest = dict(table)  # the arrays leave a copy: the Config stays as given
            rest[section] = {k: v for k, v in body.items() if k != name}
            arrays.append((key, value))
        init = rest.get("init")
        self.kind_given = _is_mapping(init) and "kind" in init
        if not self.kind_given and any(key == WEIGHTS_KEY for key, _ in arrays) and (init is None or _is_mapping(init)):
            # Into the table, parsed once, rather than an override for the parser to parse at every call.
            rest = dict(rest)
            rest["init"] = {**(init or {}), "kind": "files"}
            self.kind_given = True
        self.template = _linflow.template_from_dict(rest, cwd, "config")
        self.cwd = cwd
        self.arrays = arrays


def make_run_config(config: Config) -> "_linflow.RunConfig":
    """Parses `config` into a validated `_linflow.RunConfig`, its arrays passed in memory. A dict goes to the C++
    parser as data (`_linflow.template_from_dict`, no TOML text), once per Config and current directory (_Parsed);
    a path is read as the CLI reads it, at every call."""
    arrays: dict = {}
    strings: list = []
    weights_override = False
    for k, v in config.overrides.items():
        matrix = _matrix_value(k, v)
        if matrix is None:
            strings.append(f"{k}={toml_value(v, k)}")
        else:
            arrays[k] = matrix
            weights_override = weights_override or k == WEIGHTS_KEY
    if config.path is not None:
        if weights_override and "init.kind" not in config.overrides:
            strings.append("init.kind=\"files\"")
        return _linflow.load_config(config.path, strings, arrays)
    cwd = os.getcwd()
    parsed = config._parsed[0]
    if parsed is None or parsed.cwd != cwd:
        parsed = config._parsed[0] = _Parsed(config.table or {}, cwd)
    for key, value in parsed.arrays:
        if key not in arrays:  # an override's array wins over the table's
            arrays[key] = _matrix_value(key, value)
    if weights_override and not parsed.kind_given and "init.kind" not in config.overrides:
        strings.append("init.kind=\"files\"")
    return parsed.template.instantiate(strings, arrays)


def iter_configs(configs: Sequence[ConfigLike]) -> Iterator[Config]:
    for c in configs:
        yield Config(c)
