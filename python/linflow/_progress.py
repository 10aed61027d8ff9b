"""Progress display for long calls: a tqdm bar in notebooks and interactive sessions, nothing otherwise.

`progress=None` (the default of every call) means "when interactive": in a Jupyter kernel, an interactive
interpreter, or with stderr on a terminal, and tqdm installed (Debian python3-tqdm). Like the CLI, nothing is
shown during the first second, so short runs stay silent. `progress=True` forces it (when tqdm is installed),
`progress=False` turns it off.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional

DELAY_SECONDS = 1.0


def interactive() -> bool:
    """True in a Jupyter kernel, an interactive interpreter, or with stderr on a terminal."""
    if "ipykernel" in sys.modules or hasattr(sys, "ps1"):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _tqdm() -> Optional[Callable[..., Any]]:
    """tqdm's notebook bar when ipywidgets is installed (tqdm.auto warns without it), else its text bar."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        try:
            from tqdm import tqdm
        except ImportError:
            return None
    return tqdm


class Bar:
    """The callback handed to the engine (called with a dict at most every 0.1 s); `close()` ends the bar."""

    def __init__(self, kind: str, desc: str) -> None:
        self.kind, self.desc = kind, desc
        self.start = time.monotonic()
        self.bar: Any = None
        self.tqdm = _tqdm()

    def __call__(self, p: dict) -> None:
        if self.tqdm is None or time.monotonic() - self.start < DELAY_SECONDS:
            return
        if self.bar is None:
            if self.kind == "sweep":
                self.bar = self.tqdm(total=p["total"], desc=self.desc, unit="run", leave=False)
            else:
                self.bar = self.tqdm(desc=self.desc, unit="step", leave=False)
        if self.kind == "sweep":
            self.bar.n = p["done"]
        else:
            self.bar.n = p["steps"]
            self.bar.set_postfix(t=f"{p['t']:.4g}", excess_loss=f"{p['excess_loss']:.3g}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class progress_bar:
    """Context manager giving the engine's progress callback (or None when there is nothing to show)."""

    def __init__(self, progress: Optional[bool], kind: str, desc: str) -> None:
        show = interactive() if progress is None else bool(progress)
        self.bar = Bar(kind, desc) if show and _tqdm() is not None else None

    def __enter__(self) -> Optional[Bar]:
        return self.bar

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
