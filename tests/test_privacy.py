"""No raw IP, device id or reviewer note leaves the raw layer.

Scans every table a run writes outside `raw` and the quarantine (the access-controlled
zone that must hold source records as they came), every HTML report, and every MLflow
artifact of the end-to-end world.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from pyspark.sql import Column, DataFrame
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


@dataclasses.dataclass(frozen=True)
class Frame:
    """A table read for the scan, named `layer.name`."""

    table: str
    df: DataFrame


def _pair_with(tag: Column):
    return lambda x: F.struct(tag, x.alias("v"))


def _tagged_values(df: DataFrame, table: str, kind: type) -> DataFrame | None:
    """Every non-null value of `df`'s columns of type `kind` (or arrays of it) as rows
    (`c`: `table.column`, `v`), in one projection rather than a union of one scan per column."""
    pairs = []
    for field in df.schema.fields:
        column, dtype = F.col(f"`{field.name}`"), field.dataType
        tag = F.lit(f"{table}.{field.name}").alias("c")
        if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, kind):
            empty = F.array().cast(dtype)
            pairs.append(F.transform(F.coalesce(column, empty), _pair_with(tag)))
        elif isinstance(dtype, kind):
            pairs.append(F.array(F.struct(tag, column.alias("v"))))
    if not pairs:
        return None
    exploded = df.select(F.explode(F.concat(*pairs)).alias("p")).select("p.c", "p.v")
    return exploded.where(F.col("v").isNotNull())


def _leaks(spark, frames: list[Frame], strings: set[str], numbers: set[int]) -> dict[str, list]:
    """The columns (`table.column`) of `frames` holding a secret: a long equal to one of
    `numbers`, or a string containing one of `strings`; with up to three of what they hold."""
    found: dict[str, list] = {}
    longs = [t for f in frames if (t := _tagged_values(f.df, f.table, T.LongType)) is not None]
    if longs:
        secrets = jvm_rows(spark, [(n,) for n in numbers], "secret long")
        joined = functools.reduce(DataFrame.unionAll, longs).join(
            secrets, F.col("v") == F.col("secret"), how="inner"
        )
        for r in joined.select("c", "v").distinct().collect():
            found.setdefault(r["c"], []).append(r["v"])
    texts = [t for f in frames if (t := _tagged_values(f.df, f.table, T.StringType)) is not None]
    if texts:
        # Output tables hold few distinct strings (about a thousand on the end-to-end world):
        # each column's are joined into one text and searched for every secret in Python,
        # where a containment join would compare every value with every secret in Spark.
        by_column: dict[str, list[str]] = {}
        for r in functools.reduce(DataFrame.unionAll, texts).distinct().collect():
            by_column.setdefault(r["c"], []).append(r["v"])
        for column, values in by_column.items():
            text = "\x00".join(values)  # no secret holds a NUL, so none matches across two
            hits = [s for s in strings if s in text]
            if hits:
                found.setdefault(column, []).extend(hits)
    return {column: sorted(held)[:3] for column, held in found.items()}


def test_outputs_hold_no_raw_ip_device_id_or_reviewer_note(spark, e2e_world):
    cfg = e2e_world.cfg
    root = Path(cfg.storage.root)
    ips, devices, notes = _secrets(spark, cfg)
    assert ips and devices and notes  # the world has them, so the scan means something
    tables = _output_tables(root)
    assert {("features", "account_features"), ("scores", "scores"), ("labels", "labels")} <= set(
        tables
    )

    def frame(layer: str, name: str) -> Frame:
        return Frame(f"{layer}.{name}", read_table(spark, table_ref(cfg.storage, layer, name)))

    # The scan finds what the raw layer holds, so it would find a leak.
    assert set(_leaks(spark, [frame("raw", "logins")], ips | notes, devices)) == {
        "raw.logins.ip",
        "raw.logins.device_id",
    }
    leaks = _leaks(spark, [frame(layer, name) for layer, name in tables], ips | notes, devices)
    assert not leaks, f"output columns hold raw values: {leaks}"

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
