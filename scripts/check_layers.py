#!/usr/bin/env python3
"""Holds linflow's #include graph to its layers, bottom to top:

    core → flows → theory → run → sweep → experiments → cli

The Python bindings (python/src/) are a client at the top like the CLI, beside it: public headers only.

A file may include headers of its own layer and of the layers beneath it, never above. Public headers
(include/linflow/) include only public headers; the command-line tool (src/cli/) includes only public headers and
its own. Every public header must be assigned a layer here, so a new one cannot slip in unplaced.
Exit 0 and one summary line when the graph is clean, else one line per violation and exit 1.
"""
import pathlib
import re
import sys

LAYERS = ["core", "flows", "theory", "run", "sweep", "experiments", "cli"]
CLIENTS = {"cli": "src/cli", "python": "python/src"}  # top-level clients: public headers (and their own) only
PUBLIC = {
    "error.hpp": "core", "random.hpp": "core", "problem.hpp": "core", "network.hpp": "core",
    "init.hpp": "core", "io.hpp": "core", "hessian.hpp": "core", "interrupt.hpp": "core",
    "solver.hpp": "flows", "exact.hpp": "flows",
    "theory.hpp": "theory",
    "config.hpp": "run", "json.hpp": "run", "run.hpp": "run",
    "sweep_plan.hpp": "sweep", "process_group.hpp": "sweep", "sweep.hpp": "sweep",
    "experiment.hpp": "experiments",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of_include(name):
    """The layer a quoted include belongs to, or None when it is not one of linflow's."""
    head, _, rest = name.partition("/")
    if head == "linflow":
        return PUBLIC.get(rest, "unassigned")
    return head if head in LAYERS else None


def main(root):
    root = pathlib.Path(root)
    errors, checked = [], 0
    public_dir = root / "include" / "linflow"
    for header in sorted(public_dir.glob("*.hpp")):
        if header.name not in PUBLIC:
            errors.append(f"{header.relative_to(root)}: public header without a layer in scripts/check_layers.py")
    sources = [(p, PUBLIC.get(p.name, "unassigned"), True) for p in sorted(public_dir.glob("*.hpp"))]
    for layer in LAYERS:
        sources += [(p, layer, False) for p in sorted((root / "src" / layer).rglob("*")) if p.suffix in (".cpp", ".hpp")]
    sources += [(p, "python", False) for p in sorted((root / CLIENTS["python"]).rglob("*"))
                if p.suffix in (".cpp", ".hpp")]
    for path, layer, public in sources:
        rel = path.relative_to(root)
        for name in INCLUDE.findall(path.read_text(encoding="utf-8")):
            checked += 1
            target = layer_of_include(name)
            if target is None:
                errors.append(f"{rel}: includes \"{name}\", which is in no layer")
            elif target == "unassigned":
                errors.append(f"{rel}: includes \"{name}\", a public header without a layer")
            elif public and not name.startswith("linflow/"):
                errors.append(f"{rel}: a public header includes the private \"{name}\"")
            elif layer == "cli" and not (name.startswith("linflow/") or name.startswith("cli/")):
                errors.append(f"{rel}: the CLI includes the library's private \"{name}\"")
            elif layer == "python" and not name.startswith("linflow/"):
                errors.append(f"{rel}: the Python bindings include the library's private \"{name}\"")
            elif layer == "python":
                continue
            elif layer in LAYERS and LAYERS.index(target) > LAYERS.index(layer):
                errors.append(f"{rel} ({layer}): includes \"{name}\" from the higher layer {target}")
    for e in errors:
        print(e)
    if errors:
        print(f"check_layers: {len(errors)} include(s) against the layering")
        return 1
    print(f"check_layers: {checked} includes in {len(sources)} files follow {' → '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent))
