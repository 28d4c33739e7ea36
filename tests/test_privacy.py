"""No raw IP, device id or reviewer note leaves the raw layer.

Scans every table a run writes outside `raw` and the quarantine (the access-controlled
zone that must hold source records as they came), every HTML report, and every MLflow
artifact of the end-to-end world.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from botdetect.io.tables import read_table, table_ref

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
    strings = spark.createDataFrame([(s,) for s in ips | notes], "secret string")
    numbers = spark.createDataFrame([(d,) for d in devices], "secret long")
    for layer, name in tables:
        df = read_table(spark, table_ref(cfg.storage, layer, name))
        for field in df.schema.fields:
            column = F.col(f"`{field.name}`")
            dtype = field.dataType
            if isinstance(dtype, T.ArrayType):
                values, dtype = df.select(F.explode_outer(column).alias("v")), dtype.elementType
            else:
                values = df.select(column.alias("v"))
            if isinstance(dtype, T.StringType):
                hits = values.join(strings, F.col("v").contains(F.col("secret")))
            elif isinstance(dtype, T.LongType):
                hits = values.join(numbers, F.col("v") == F.col("secret"))
            else:
                continue
            assert hits.limit(1).count() == 0, f"{layer}.{name}.{field.name} holds raw values"

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
