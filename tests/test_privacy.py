"""No raw IP, device id or reviewer note leaves the raw layer.

Scans every table a run writes outside `raw` and the quarantine (the access-controlled
zone that must hold source records as they came), every HTML report, and every MLflow
artifact of the end-to-end world.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from botdetect.io.tables import read_table, table_ref
from tests.conftest import jvm_rows

pytestmark = pytest.mark.slow

RAW_ZONE = {
    ("raw", name)
    for name in ("tweets", "interactions", "accounts", "follows", "logins", "ops_actions")
}
RAW_ZONE |= {("quality", "quarantine"), ("truth", "ground_truth")}
TEXT_SUFFIXES = {".html", ".json", ".txt", ".yaml", ".yml", ".md", ".csv", ".py", ""}


def _secrets(spark, cfg) -> tuple[set[str], set[int], set[str]]:
    def raw(name):
        return read_table(spark, table_ref(cfg.storage, "raw", name))

    ips = {
        r[0]
        for r in raw("logins")
        .select("ip")
        .union(raw("accounts").select("creation_ip"))
        .distinct()
        .collect()
        if r[0]
    }
    devices = {
        r[0]
        for r in raw("logins")
        .select("device_id")
        .union(raw("accounts").select("creation_device_id"))
        .distinct()
        .collect()
        if r[0] is not None
    }
    notes = {r[0] for r in raw("ops_actions").select("reviewer_note").distinct().collect() if r[0]}
    return ips, devices, notes


def _output_tables(root: Path) -> list[tuple[str, str]]:
    found = []
    for log in root.glob("*/*/_delta_log"):
        layer, name = log.parent.parent.name, log.parent.name
        if (layer, name) not in RAW_ZONE:
            found.append((layer, name))
    return sorted(found)


def test_outputs_hold_no_raw_ip_device_id_or_reviewer_note(spark, e2e_world):
    cfg = e2e_world.cfg
    root = Path(cfg.storage.root)
    ips, devices, notes = _secrets(spark, cfg)
    assert ips and devices and notes  # the world has them, so the scan means something
    tables = _output_tables(root)
    assert {("features", "account_features"), ("scores", "scores"), ("labels", "labels")} <= set(
        tables
    )
    # Each table is scanned in one query: its string and long values, each tagged with its
    # column, joined against the secrets (held in the JVM: `jvm_rows`).
    strings = jvm_rows(spark, [(s,) for s in ips | notes], "secret string")
    numbers = jvm_rows(spark, [(d,) for d in devices], "secret long")
    for layer, name in tables:
        df = read_table(spark, table_ref(cfg.storage, layer, name))
        values: dict[type, list] = {T.StringType: [], T.LongType: []}
        for field in df.schema.fields:
            column, dtype = F.col(f"`{field.name}`"), field.dataType
            if isinstance(dtype, T.ArrayType):
                column, dtype = F.explode_outer(column), dtype.elementType
            if type(dtype) in values:
                values[type(dtype)].append(
                    df.select(F.lit(field.name).alias("c"), column.alias("v"))
                )
        found: set[str] = set()
        for frames, secrets, match in (
            (values[T.StringType], strings, F.col("v").contains(F.col("secret"))),
            (values[T.LongType], numbers, F.col("v") == F.col("secret")),
        ):
            if frames:
                tagged = functools.reduce(DataFrame.unionAll, frames)
                found |= {r["c"] for r in tagged.join(secrets, match).select("c").collect()}
        assert not found, f"{layer}.{name}: {sorted(found)} hold raw values"

    files = [
        p
        for folder in (Path(cfg.storage.reports_root), root / "mlartifacts")
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in TEXT_SUFFIXES
    ]
    assert any(p.suffix == ".html" for p in files)
    assert any("mlartifacts" in p.parts for p in files)
    long_devices = {str(d) for d in devices if d >= 10**6}  # short numbers match anything
    for path in files:
        text = path.read_text(errors="ignore")
        leaked = [s for s in (*ips, *notes, *long_devices) if s in text]
        assert not leaked, f"{path} contains raw values, e.g. {leaked[:3]}"
