"""The package's layers: no module imports from a stage that runs after its own.

Sources and catalogue -> ingest -> features -> quality -> labels -> the served model ->
train -> score -> report -> the synthetic world -> pipeline -> CLI. An import that runs
back up (a stage reaching into a later one, production code into the generator) is what
makes a stage impossible to change alone; this test names the first one that appears.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "botdetect"

# The first component under botdetect/ (a module or a package) and its place in the order.
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "config",
            "dates",
            "contract",
            "draws",
            "io",
            "privacy",
            "session",
            "table_catalog",
            "quantiles",
            "verdicts",
            "audit",
            "render",
        ),
        0,
    ),
    "ingest": 1,
    "features": 2,
    "quality": 3,
    "labels": 4,
    "model": 5,
    "train": 6,
    "score": 7,
    "report": 8,
    "generate": 9,  # synthetic worlds: only the pipeline and the CLI run it
    "pipeline": 10,
    "cli": 11,
    "notebook": 11,
}


def unit(module: str) -> str:
    """`botdetect.train.stage` -> `train`; `botdetect.cli` -> `cli`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported(path: Path) -> list[str]:
    """Every botdetect module a file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botdetect"):
            if node.module == "botdetect":
                found += [f"botdetect.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("botdetect.")]
    return found


def backward_imports(package: Path, layers: dict[str, int]) -> list[str]:
    """`file -> module` for each import of a later layer, or of an unplaced module (an
    unplaced module may import anything: `test_every_module_has_a_layer` places it)."""
    out = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).with_suffix("")
        if relative.name == "__init__" and len(relative.parts) == 2:
            continue
        own = unit(".".join(relative.parts))
        for module in imported(path):
            other = unit(module)
            if other != own and layers.get(other, 99) > layers.get(own, 99):
                out.append(f"{relative}.py -> {module}")
    return out


def test_every_module_has_a_layer():
    units = {
        p.stem if p.parent == PACKAGE else p.relative_to(PACKAGE).parts[0]
        for p in PACKAGE.rglob("*.py")
    }
    assert sorted(units - set(LAYERS) - {"__init__"}) == []


def test_no_import_runs_back_to_an_earlier_stage():
    assert backward_imports(PACKAGE, LAYERS) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"score/stage.py": "from botdetect.train import registry\n"}, []),
        (
            {"train/stage.py": "def f():\n    from botdetect.score.stage import run_score\n"},
            ["botdetect/train/stage.py -> botdetect.score.stage"],
        ),
        (
            {"labels.py": "import botdetect.generate.world\n"},
            ["botdetect/labels.py -> botdetect.generate.world"],
        ),
        (
            {"features/x.py": "from botdetect import pipeline\n"},
            ["botdetect/features/x.py -> botdetect.pipeline"],
        ),
        ({"newthing.py": "from botdetect import config\n"}, []),
        (
            {"config.py": "from botdetect import newthing\n"},
            ["botdetect/config.py -> botdetect.newthing"],
        ),
    ],
)
def test_the_check_finds_imports_that_run_back(tmp_path, files, expected):
    package = tmp_path / "botdetect"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert backward_imports(package, LAYERS) == expected
