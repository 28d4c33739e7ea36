"""`botdetect generate`: write a synthetic platform as source exports plus its truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from botdetect.config import BOT_KINDS, Config
from botdetect.contract import SOURCE_TABLES
from botdetect.generate.world import BENIGN_AUTOMATION_KINDS, generate_world
from botdetect.io.landing import read_export, write_export
from botdetect.io.tables import read_table, write_table
from botdetect.table_catalog import GROUND_TRUTH
from botdetect.verdicts import spam_verdict

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WorldReport:
    """What a generated world contains, for the CLI and the run report."""

    as_of_date: dt.date
    world_start: dt.date
    rows: dict[str, int]
    accounts_by_kind: dict[str, int]
    prevalence: float
    label_coverage: float  # share of true bots with a spam suspend/lock
    wrong_labels: int  # non-bots with a spam suspend/lock
    cleared: int
    # Accounts of each kind with a spam suspend/lock: coverage for spam kinds, wrong
    # locks for the others.
    labelled_by_kind: dict[str, int] = dataclasses.field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"world {self.world_start} .. {self.as_of_date}"]
        out += [f"  {name:<13} {count:>12,} rows" for name, count in self.rows.items()]
        out.append("  accounts by kind:")
        for kind, count in sorted(self.accounts_by_kind.items()):
            labelled = self.labelled_by_kind.get(kind, 0)
            if kind in BOT_KINDS:
                note = f"spam, {labelled / count if count else 0.0:.0%} labelled by ops"
            elif kind in BENIGN_AUTOMATION_KINDS:
                note = f"benign automation, {labelled} wrongly locked"
            else:
                note = ""
            out.append(f"    {kind:<18} {count:>10,}  {note}".rstrip())
        out.append(
            f"  prevalence {self.prevalence:.2%}, ops label coverage {self.label_coverage:.1%}, "
            f"{self.wrong_labels} wrong spam labels ({self.cleared} later cleared)"
        )
        return out


def run_generate(spark: SparkSession, cfg: Config) -> WorldReport:
    """Write the six source exports to the landing folder and `truth.ground_truth`."""
    as_of = cfg.run_date()
    plan, tables = generate_world(spark, cfg.generate, as_of, cfg.platform_start)
    landing = cfg.storage.landing_root
    for name, table in SOURCE_TABLES.items():
        log.info("generate: writing %s", name)
        write_export(tables[name].select(*table.columns), landing, table, cfg.generate.format)
    truth_ref = GROUND_TRUTH.ref(cfg.storage)
    write_table(tables["ground_truth"], truth_ref)
    return summarise_world(spark, cfg, plan.world_start, as_of)


def summarise_world(
    spark: SparkSession, cfg: Config, world_start: dt.date, as_of: dt.date
) -> WorldReport:
    """Count what was written (reading it back, so the numbers describe the files)."""
    landing = cfg.storage.landing_root
    fmt = cfg.generate.format
    options = {"header": "true"} if fmt == "csv" else {}
    rows = {
        name: read_export(spark, landing, table, fmt, options).count()
        for name, table in SOURCE_TABLES.items()
    }
    truth_df = read_table(spark, GROUND_TRUTH.ref(cfg.storage))
    by_kind = {r["bot_kind"]: r["count"] for r in truth_df.groupBy("bot_kind").count().collect()}
    ops_df = read_export(spark, landing, SOURCE_TABLES["ops_actions"], fmt, options)
    spam_df = ops_df.where(spam_verdict()).select("account_id").distinct()
    labelled = (
        spam_df.join(truth_df, "account_id", how="inner")
        .groupBy("is_spam_bot", "bot_kind")
        .count()
        .collect()
    )
    labelled_by_truth: dict[bool, int] = {}
    for r in labelled:
        is_spam = str(r["is_spam_bot"]).lower() == "true"
        labelled_by_truth[is_spam] = labelled_by_truth.get(is_spam, 0) + r["count"]
    labelled_by_kind = {r["bot_kind"]: r["count"] for r in labelled}
    cleared = ops_df.where(F.col("restriction") == "cleared").count()
    n_accounts = sum(by_kind.values())
    n_bots = truth_df.where(F.col("is_spam_bot")).count()
    return WorldReport(
        as_of_date=as_of,
        world_start=world_start,
        rows=rows,
        accounts_by_kind=by_kind,
        prevalence=n_bots / n_accounts if n_accounts else 0.0,
        label_coverage=labelled_by_truth.get(True, 0) / n_bots if n_bots else 0.0,
        wrong_labels=labelled_by_truth.get(False, 0),
        cleared=cleared,
        labelled_by_kind=labelled_by_kind,
    )
