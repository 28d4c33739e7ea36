"""The whole pipeline on a tiny world, through the CLI, as `make demo` runs it.

The world (`e2e_world` in conftest.py): generate, a first pipeline run three days back
(trains the champion), then today's run (incremental features, score, shadow report).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from botdetect.cli import main
from botdetect.io.tables import read_table
from botdetect.model import registry
from botdetect.report.page import SECTIONS
from botdetect.table_catalog import (
    ACCOUNT_FEATURES,
    AUDIT_REQUESTS,
    AUDIT_RUNS,
    GROUND_TRUTH,
    MONITORING,
    RAW_OPS_ACTIONS,
    SCORES,
)
from tests.conftest import E2E_ACCOUNTS, E2E_DATE, E2E_FIRST

pytestmark = pytest.mark.slow

D = E2E_DATE
FIRST = E2E_FIRST


def test_every_stage_ran_and_the_summary_says_so(e2e_world):
    assert "labels 2026-11-25 (ops actions to 2026-12-09):" in e2e_world.first_out
    assert re.search(r"model botdetect_spam_rf v1 .*trained on 2026-11-25", e2e_world.first_out)
    assert "champion: moved to this version (no champion yet)" in e2e_world.first_out
    assert "labels: skipped (champion v1 is 3 days old)" in e2e_world.second_out
    assert "train: skipped (champion v1 is 3 days old)" in e2e_world.second_out
    # The daily run computes the days since the first run's, not the empty days before the
    # world began.
    assert "daily partials recomputed for 2026-11-26, 2026-11-27, 2026-11-28" in (
        e2e_world.second_out
    )
    assert "scores 2026-11-28: 2,000 accounts" in e2e_world.second_out
    assert "report 2026-11-28:" in e2e_world.second_out
    assert "recommended cadence: every" in e2e_world.second_out
    assert "summary for 2026-11-28" in e2e_world.second_out
    assert re.search(r"scores\.scores\s+2,000 rows for 2026-11-28", e2e_world.second_out)
    assert re.search(r"run report: .*run_report_2026-11-28\.html", e2e_world.second_out)


def test_model_is_registered_with_both_aliases_and_what_scoring_needs(e2e_world):
    registry.setup_mlflow(e2e_world.cfg)
    champion = registry.find_model(e2e_world.cfg, registry.CHAMPION)
    challenger = registry.find_model(e2e_world.cfg, registry.CHALLENGER)
    assert champion.version == challenger.version == "1"
    assert champion.tags[registry.TAG_AS_OF] == FIRST.isoformat()
    assert len(champion.feature_columns) == 92
    assert champion.block_threshold is not None and 0 < champion.block_threshold <= 1
    assert champion.review_threshold is not None
    assert champion.tags[registry.TAG_FAMILY] in ("random_forest", "logistic_regression")
    assert len(champion.tags[registry.TAG_DIRECTIONS]) == 92
    # The calibrator is the served pipeline's last stage: scoring cannot calibrate otherwise.
    import mlflow
    from pyspark.ml.regression import IsotonicRegressionModel

    served = mlflow.spark.load_model(champion.uri)
    assert isinstance(served.stages[-1], IsotonicRegressionModel)


def test_scores_have_one_row_per_account_with_a_decision_in_shadow_mode(spark, e2e_world):
    # A rerun of the date replaces it: the killed-write test of the score job (test_faults.py).
    scores = read_table(spark, SCORES.ref(e2e_world.cfg.storage))
    features = read_table(spark, ACCOUNT_FEATURES.ref(e2e_world.cfg.storage))
    for day in (FIRST, D):
        rows = scores.where(F.col("as_of_date") == F.lit(day))
        visible = features.where(F.col("as_of_date") == F.lit(day)).count()
        assert rows.count() == rows.select("account_id").distinct().count() == visible > 0
    assert visible == E2E_ACCOUNTS
    assert {r["decision"] for r in scores.select("decision").distinct().collect()} <= {
        "block",
        "review",
        "rate_limit",
        "allow",
    }
    assert {r["mode"] for r in scores.select("mode").distinct().collect()} == {"shadow"}


def test_audits_are_drawn_and_the_simulated_verdicts_come_back_through_ingest(spark, e2e_world):
    cfg = e2e_world.cfg
    audits = read_table(spark, AUDIT_REQUESTS.ref(cfg.storage))
    first = audits.where(F.col("as_of_date") == F.lit(FIRST))
    budgets = cfg.score.audit_sample
    scores = read_table(spark, SCORES.ref(cfg.storage))
    sizes = {
        r["decision"]: r["count"]
        for r in scores.where(F.col("as_of_date") == F.lit(FIRST))
        .groupBy("decision")
        .count()
        .collect()
    }
    drawn = {r["decision"]: r["count"] for r in first.groupBy("decision").count().collect()}
    assert drawn == {b: min(n, budgets[b]) for b, n in sizes.items() if budgets.get(b, 0) > 0}
    assert audits.where(F.col("as_of_date") == F.lit(D)).count() > 0
    # ops-sim answered every audit on the next day; the second run ingested the verdicts.
    assert "random_audit" in e2e_world.ops_out
    ops = read_table(spark, RAW_OPS_ACTIONS.ref(cfg.storage))
    answered = ops.where(
        (F.col("review_trigger") == "random_audit")
        & (F.to_date("action_at") == F.lit(FIRST + dt.timedelta(days=1)))
    )
    assert answered.count() == first.count()
    assert answered.join(first, "account_id", "left_anti").count() == 0
    assert ops.where(F.col("review_minutes").isNull()).count() == 0
    # A review that found nothing is a verdict of its own, and never a spam label.
    assert ops.where(F.col("restriction") == "none").count() > 0


def _decisions_of_a_report(spark, e2e_world, capsys) -> tuple[str, dict[str, float]]:
    """Rerun D's report; its promotion reason and every number a decision rests on."""
    capsys.readouterr()
    assert main(["report", "--as-of-date", D.isoformat(), *e2e_world.args]) == 0
    return _decisions(spark, e2e_world, capsys.readouterr().out)


def _decisions(spark, e2e_world, out: str) -> tuple[str, dict[str, float]]:
    """The promotion reason a report printed and the decision numbers of D's report."""
    why = re.search(r"recommendation: (.*)", out).group(1)
    rows = read_table(spark, MONITORING.ref(e2e_world.cfg.storage)).where(
        F.col("as_of_date") == F.lit(D)
    )
    decided = {
        r["name"]: r["value"]
        for r in rows.collect()
        if r["name"].startswith(
            (
                "audited_",
                "audits_",
                "recommended_cadence",
                "cadence_leak_",
                "ops_minutes_saved",
                "hit_rate_",
            )
        )
    }
    return why, decided


def test_no_decision_changes_when_the_truth_is_altered_or_absent(spark, e2e_world, capsys):
    """Promotion, its audited evidence and the cadence come from ops data only: flipping
    every account's truth, or removing the truth table, must not move any of them."""
    truth_ref = GROUND_TRUTH.ref(e2e_world.cfg.storage)
    kept = f"{truth_ref.path}.kept"
    before = _decisions(spark, e2e_world, e2e_world.second_out)  # the pipeline's report of D
    assert before[1]["audits_block"] > 0 and "audited" in before[0]
    # D's report as the world made it, put back afterwards (its truth rows would differ).
    monitoring = DeltaTable.forPath(spark, MONITORING.ref(e2e_world.cfg.storage).path)
    version = monitoring.history(1).first()["version"]
    page = Path(e2e_world.cfg.storage.reports_root) / "run" / f"run_report_{D.isoformat()}.html"
    html = page.read_bytes()
    shutil.move(truth_ref.path, kept)
    try:
        flipped = (
            spark.read.format("delta").load(kept).withColumn("is_spam_bot", ~F.col("is_spam_bot"))
        )
        flipped.write.format("delta").save(truth_ref.path)
        assert _decisions_of_a_report(spark, e2e_world, capsys) == before
        shutil.rmtree(truth_ref.path)
        assert _decisions_of_a_report(spark, e2e_world, capsys) == before
    finally:
        shutil.rmtree(truth_ref.path, ignore_errors=True)
        shutil.move(kept, truth_ref.path)
        monitoring.restoreToVersion(version)
        page.write_bytes(html)


def test_only_synthetic_steps_and_displays_read_the_truth():
    """Labels, features, scoring and ingest never read the generator's truth. The modules
    that do: the world and ops-sim (synthetic steps), the table catalogue and the pipeline
    (they name the table), and train and report, for the truth metrics they log and show
    beside their estimates (the report test above checks its decisions do not move with
    the truth; a new reader here must show the same)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "botdetect"
    readers = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "GROUND_TRUTH" in p.read_text() or "ground_truth" in p.read_text()
    )
    assert readers == [
        "generate/ops_team.py",
        "generate/stage.py",
        "generate/world.py",
        "pipeline.py",
        "report/stage.py",
        "table_catalog.py",
        "train/stage.py",
    ]


def test_report_writes_monitoring_rows_and_a_complete_run_report(spark, e2e_world):
    rows = read_table(spark, MONITORING.ref(e2e_world.cfg.storage)).where(
        F.col("as_of_date") == F.lit(D)
    )
    names = {r["name"] for r in rows.select("name").collect()}
    assert {"psi:score", "flagged_rate_ratio", "promotion", "observed_spam_fraction"} <= names
    assert "if_blocked_spam_fraction" in names
    # The late campaign starts after the training date: some feature must raise an alert.
    assert rows.where((F.col("kind") == "drift") & (F.col("status") == "alert")).count() > 0
    html = (
        e2e_world.cfg.storage.reports_root and f"{e2e_world.cfg.storage.reports_root}/run"
    ) + f"/run_report_{D.isoformat()}.html"
    with open(html) as fh:
        text = fh.read()
    for section in SECTIONS:
        assert f'id="{section}"' in text


def test_run_report_renders_in_headless_chromium(e2e_world):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is missing: `make setup` installs it"
    path = f"{e2e_world.cfg.storage.reports_root}/run/run_report_{D.isoformat()}.html"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", f"file://{path}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert dom.count("<img") >= 3  # PR curve, score histogram, importances
    assert "Recommended time between scoring runs" in dom


def test_a_worse_model_does_not_replace_the_champion(e2e_world, capsys):
    code = main(
        [
            "train",
            "--as-of-date",
            FIRST.isoformat(),
            *e2e_world.args,
            "--set",
            "train.forest.num_trees=[1]",
            "--set",
            "train.forest.max_depth=[1]",
            "--set",
            "train.logistic.reg_param=[1000]",  # the regression learns nothing either
            # Promotion is the subject here, not the training: skip the reliable-negative
            # cross-fit and keep few bootstrap replicates (a useless model's recall loss
            # is far outside any of their intervals).
            "--set",
            "train.unreliable_quantile=1",
            "--set",
            "train.bootstrap_replicates=20",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "model botdetect_spam_rf v2" in out
    assert "champion: kept" in out
    registry.setup_mlflow(e2e_world.cfg)
    assert registry.find_model(e2e_world.cfg, registry.CHAMPION).version == "1"
    assert registry.find_model(e2e_world.cfg, registry.CHALLENGER).version == "2"


def test_scoring_without_the_alias_fails_and_writes_nothing(spark, e2e_world, capsys):
    code = main(
        ["score", "--as-of-date", "2026-11-27", *e2e_world.args, "--set", "score.alias=gone"]
    )
    assert code == 1
    assert "has no alias 'gone'" in capsys.readouterr().err
    scores = read_table(spark, SCORES.ref(e2e_world.cfg.storage))
    assert scores.where(F.col("as_of_date") == F.lit(dt.date(2026, 11, 27))).count() == 0


def test_every_run_is_audited_with_versions_code_and_conf(spark, e2e_world):
    runs = read_table(spark, AUDIT_RUNS.ref(e2e_world.cfg.storage))
    ok = runs.where(F.col("status") == "success")
    stages = {r["stage"] for r in ok.select("stage").distinct().collect()}
    assert {"generate", "ingest", "validate", "features", "labels", "train", "score"} <= stages
    assert "report" in stages
    score = ok.where((F.col("stage") == "score") & (F.col("as_of_date") == F.lit(D))).first()
    assert score["model_version"] == "1"
    assert "features.account_features" in score["input_versions"]
    assert "scores.scores" in score["output_versions"]
    assert score["code_version"].startswith(("git:", "botdetect=="))
    assert score["conf_fingerprint"] == e2e_world.cfg.fingerprint()
    failed = runs.where(F.col("status") == "failed").collect()
    assert any("alias 'gone'" in (r["error"] or "") for r in failed)
