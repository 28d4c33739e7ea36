"""The command line: help, argument errors, and one end-to-end run on a tiny world."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from botdetect import pipeline
from botdetect.cli import COMMANDS, main
from botdetect.config import load_config
from botdetect.io.tables import TableRef, read_table
from botdetect.pipeline import describe, retrain_due
from botdetect.session import SessionError, delta_jars

ROOT = Path(__file__).resolve().parent.parent


def test_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for stage in COMMANDS:
        assert stage in out


def test_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", "--as-of-date", "2026-13-01"])
    assert exit_info.value.code == 2
    assert "expected a date YYYY-MM-DD, got '2026-13-01'" in capsys.readouterr().err


def test_unknown_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["trian"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err


def test_unknown_conf_key_is_named(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--set", "generate.acounts=5"])
    assert exit_info.value.code == 2
    assert "unknown configuration key 'generate.acounts'" in capsys.readouterr().err


@pytest.mark.parametrize("stage", sorted(COMMANDS))
def test_every_stage_has_a_job_entry_point(stage):
    job = ROOT / "jobs" / f"{stage}.py"
    done = subprocess.run(
        [sys.executable, str(job), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"botdetect {stage}" in done.stdout


def test_missing_delta_jars_are_explained(tmp_path):
    with pytest.raises(SessionError, match="run `make jars`"):
        delta_jars(tmp_path)


def test_missing_export_exits_1_with_the_table_named(spark, tmp_path, capsys):
    code = main(["ingest", "--set", f"storage.root={tmp_path}"])
    assert code == 1
    assert "no export for table 'tweets'" in capsys.readouterr().err


def test_validate_stage_flag_does_not_clobber_the_subcommand():
    from botdetect.cli import build_parser

    args = build_parser().parse_args(["validate", "--stage", "raw"])
    assert (args.stage, args.layer) == ("validate", "raw")


@pytest.mark.parametrize("stage", ["labels", "train"])
def test_labels_and_train_run_for_the_run_date_minus_the_label_lag(spark, tmp_path, capsys, stage):
    argv = [stage, "--as-of-date", "2026-11-28", "--set", f"storage.root={tmp_path}"]
    # Nothing to label or train on here: the run fails, and its audit row shows the date
    # the stage worked on.
    assert main([*argv, "--set", "train.label_lag_days=14"]) == 1
    out = capsys.readouterr()
    assert (
        out.out == "run date 2026-11-28, train.label_lag_days 14: labels and train use 2026-11-14\n"
    )
    assert "does not exist" in out.err
    runs = read_table(spark, TableRef("audit", "runs", path=str(tmp_path / "audit" / "runs")))
    assert [(r["stage"], r["as_of_date"], r["status"]) for r in runs.collect()] == [
        (stage, dt.date(2026, 11, 14), "failed")
    ]


def test_a_label_lag_does_not_age_the_champion():
    # Trained on 11-14 (a run on 11-28 with a 14-day lag); next runs train on R - 14.
    trained = dt.date(2026, 11, 14)
    assert retrain_due("3", trained, dt.date(2026, 11, 20), 7) == (
        False,
        "champion v3 is 6 days old",
    )
    assert retrain_due("3", trained, dt.date(2026, 11, 21), 7) == (
        True,
        "champion v3 is 7 days old (train.every_days 7)",
    )
    assert retrain_due("3", None, trained, 7) == (True, "champion v3 has no training date")


def test_pipeline_describe_prints_the_declaration_the_readme_shows(capsys):
    assert main(["pipeline", "--describe"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == describe()
    assert printed.splitlines()[2].startswith("| `generate` |")
    assert describe() in (ROOT / "README.md").read_text()


def test_a_stage_span_runs_its_stages_in_order_and_nothing_else(monkeypatch):
    ran = []
    monkeypatch.setattr(pipeline, "run_stage", lambda spark, cfg, stage, opts: ran.append(opts))
    seen = []
    cfg = load_config("local", [])
    results = pipeline.run_pipeline(
        None,
        cfg,
        generate=True,
        opts=pipeline.RunOptions(),
        stages=pipeline.stage_span("generate", "ingest"),
        on_stage=lambda stage, result: seen.append(stage.name),
    )
    assert seen == list(results) == ["generate", "ingest"]
    assert ran == [pipeline.RunOptions(full_ingest=True, full_refresh=True)] * 2
    # A span after generate reads the exports as they are: no implied full refresh.
    ran.clear()
    pipeline.run_pipeline(
        None,
        cfg,
        generate=True,
        opts=pipeline.RunOptions(),
        stages=pipeline.stage_span("validate_raw", "features"),
    )
    assert ran == [pipeline.RunOptions()] * 2


def test_stage_spans_and_their_errors(capsys):
    assert pipeline.stage_span() == pipeline.PIPELINE
    assert [s.name for s in pipeline.stage_span("score")] == ["score", "report"]
    assert [s.name for s in pipeline.stage_span(last="ingest")] == ["generate", "ingest"]
    assert [s.name for s in pipeline.stage_span("features", "features")] == ["features"]
    with pytest.raises(ValueError, match="no pipeline stage 'scoring'; the stages are generate,"):
        pipeline.stage_span("scoring")
    assert main(["pipeline", "--from", "score", "--until", "features"]) == 2
    assert "stage 'score' comes after 'features'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pipeline", "--until", "validate raw"])
    assert "invalid choice: 'validate raw'" in capsys.readouterr().err
