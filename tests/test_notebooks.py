"""The notebooks run: each Databricks-source notebook becomes an nbformat notebook and is
executed by nbclient in a fresh `ipykernel` (this venv's Python) against the tiny world.

The kernel is a separate process with its own local SparkSession; it reads its
parameters from the `BOTDETECT_NB_*` environment variables (see botdetect.notebook).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from botdetect.notebook import notebook_config, split_overrides
from tests.conftest import SUBPROCESS_SETS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
HEADER = "# Databricks notebook source"
SEPARATOR = re.compile(r"^# COMMAND -{10}\s*$", re.MULTILINE)
KERNEL = "botdetect-tests"
CELL_TIMEOUT = 600  # seconds; the first cell starts a JVM on a busy 2-core machine


def to_notebook(source: str) -> nbformat.NotebookNode:
    """Databricks source -> nbformat v4: `# MAGIC %md` cells become markdown."""
    lines = source.splitlines()
    if lines and lines[0].strip() == HEADER:
        lines = lines[1:]
    cells = []
    for chunk in SEPARATOR.split("\n".join(lines)):
        chunk = chunk.strip("\n")
        if not chunk.strip():
            continue
        if not chunk.startswith("# MAGIC"):
            cells.append(nbformat.v4.new_code_cell(chunk))
            continue
        body = [line.removeprefix("# MAGIC").removeprefix(" ") for line in chunk.splitlines()]
        if not body[0].startswith("%md"):
            raise ValueError(f"unsupported magic cell: {body[0]!r}")
        body[0] = body[0].removeprefix("%md").strip()
        cells.append(nbformat.v4.new_markdown_cell("\n".join(body).strip("\n")))
    return nbformat.v4.new_notebook(cells=cells)


def stream_text(nb: nbformat.NotebookNode) -> str:
    """Everything the code cells printed to stdout."""
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )


def test_to_notebook_splits_cells_and_strips_magic():
    nb = to_notebook(
        f"{HEADER}\n# MAGIC %md\n# MAGIC # Title\n# MAGIC\n# MAGIC text\n\n"
        "# COMMAND ----------\nx = 1\n\n# COMMAND ----------\n# MAGIC %md ## Two\n"
    )
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "markdown"]
    assert nb.cells[0].source == "# Title\n\ntext"
    assert nb.cells[1].source == "x = 1"
    assert nb.cells[2].source == "## Two"
    nbformat.validate(nb)
    with pytest.raises(ValueError, match="unsupported magic"):
        to_notebook("# MAGIC %sql\n# MAGIC SELECT 1\n")


def test_every_notebook_is_databricks_source():
    for path in sorted(NOTEBOOKS.glob("*.py")):
        assert path.read_text().startswith(HEADER + "\n"), path.name
        nbformat.validate(to_notebook(path.read_text()))


def test_notebook_config_from_environment(monkeypatch):
    monkeypatch.setenv("BOTDETECT_NB_CONF", "local")
    monkeypatch.setenv("BOTDETECT_NB_AS_OF_DATE", "2026-11-20")
    monkeypatch.setenv("BOTDETECT_NB_OVERRIDES", "storage.root=/tmp/w; generate.days=3;")
    cfg = notebook_config()
    assert (str(cfg.as_of_date), cfg.storage.root, cfg.generate.days) == ("2026-11-20", "/tmp/w", 3)
    assert split_overrides(" ; a=1;b=2 ") == ["a=1", "b=2"]


def test_notebook_config_from_widgets(monkeypatch):
    monkeypatch.setenv("BOTDETECT_NB_OVERRIDES", "storage.root=/ignored")

    class Widgets:
        def __init__(self, values):
            self.values = values

        def text(self, name, default):
            self.values.setdefault(name, default)

        def get(self, name):
            return self.values[name]

    class DbUtils:
        widgets = Widgets({"as_of_date": "2026-11-21", "overrides": "storage.root=/w"})

    cfg = notebook_config(DbUtils())
    assert (cfg.env, str(cfg.as_of_date), cfg.storage.root) == ("local", "2026-11-21", "/w")


def install_kernel(folder: Path) -> str:
    """A kernelspec for this interpreter under `folder` (put it on JUPYTER_PATH: nothing
    global)."""
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL, prefix=str(folder))
    return KERNEL


def run_notebooks(paths: list[Path], kernel: str) -> dict[str, str]:
    """Run the notebooks one after another in one kernel, as notebooks attached to one
    Databricks cluster share its driver: each gets a fresh Python namespace (`%reset`) and
    finds the session the first one started. Returns what each printed, by file name."""
    cells: list[nbformat.NotebookNode] = []
    spans: dict[str, slice] = {}
    for path in paths:
        start = len(cells)
        cells += to_notebook(path.read_text()).cells
        spans[path.name] = slice(start, len(cells))
        cells.append(nbformat.v4.new_code_cell("%reset -f"))
    # Test-only last cell: stop the kernel's local session so its JVM shuts down cleanly
    # (never in the notebooks: on Databricks the session is the cluster's).
    cells.append(
        nbformat.v4.new_code_cell(
            "from pyspark.sql import SparkSession\nSparkSession.getActiveSession().stop()"
        )
    )
    nb = nbformat.v4.new_notebook(cells=cells)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel,
        resources={"metadata": {"path": str(REPO)}},  # the kernel's working directory
    )
    client.execute()
    return {
        name: stream_text(nbformat.v4.new_notebook(cells=nb.cells[span]))
        for name, span in spans.items()
    }


EXPECTED = {  # lines (or parts of them) each notebook must print on the tiny world
    "explore_world.py": [
        "as of 2026-11-28",
        "raw.tweets ",
        "raw.ops_actions ",
        "labels as of ",
        "label_source ops ",
        "label_source random ",
        "naive_template",
        "tweets_per_active_day_7d",
        "|label|label_source|accounts|",  # the features by label (every account is labelled)
    ],
    "model_report.py": [
        "champion: version ",
        "challenger: version ",
        "block threshold ",
        "pr_auc ",
        "baseline",
        "truth_",
        "of 92 feature importances",
        "decision allow ",
        "monitoring alerts and warnings on 2026-11-28",
    ],
}


@pytest.fixture(scope="module")
def notebook_prints(e2e_world, tmp_path_factory) -> dict[str, str]:
    """Every notebook run on the tiny world (one kernel, see `run_notebooks`)."""
    overrides = [
        *e2e_world.args[1::2],  # the world's --set values, storage.root first
        f"spark.jars_dir={REPO / '.jars'}",
        "spark.driver_memory=2g",  # a second JVM beside the test session's
        *SUBPROCESS_SETS,
    ]
    jupyter = tmp_path_factory.mktemp("jupyter")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PATH", str(jupyter / "share" / "jupyter"))
        env.setenv("BOTDETECT_NB_CONF", "local")
        env.setenv("BOTDETECT_NB_AS_OF_DATE", e2e_world.cfg.run_date().isoformat())
        env.setenv("BOTDETECT_NB_OVERRIDES", ";".join(overrides))
        env.setenv("PYSPARK_PYTHON", sys.executable)
        return run_notebooks(sorted(NOTEBOOKS.glob("*.py")), install_kernel(jupyter))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_on_the_tiny_world(name, notebook_prints):
    assert set(notebook_prints) == set(EXPECTED)  # every notebook has its expected lines
    printed = notebook_prints[name]
    for text in EXPECTED[name]:
        assert text in printed, f"{name}: {text!r} not in the output:\n{printed}"
