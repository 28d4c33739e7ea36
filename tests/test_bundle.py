"""databricks.yml: valid Jobs settings whose tasks call real `botdetect` stages.

The jobs are checked with the Jobs model of `databricks-bundles` (the bundles' own Python
support, generated from the same schema as the CLI's): it rejects unknown fields, missing
required fields and bad enum values. The rest of the file (targets, run_as, permissions,
variables, artifacts) has no model there, so it is checked field by field below.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.bundles.jobs import Job, JobRunAs

from botdetect.cli import COMMANDS, build_parser
from botdetect.config import CONF_DIR_ENV, load_config
from botdetect.pipeline import DAILY_JOB, PIPELINE, TRAINING_JOB, job_stages

ROOT = Path(__file__).resolve().parent.parent
BUNDLE_FILE = ROOT / "databricks.yml"

DAILY = DAILY_JOB
WEEKLY = TRAINING_JOB
MODEL_STAGES = {"train", "score", "report"}
VALIDATE_STAGE = {"validate_raw": "raw", "validate_features": "features"}
CONF_PARAM = "${workspace.file_path}/conf/${bundle.target}.yml"
SECRET_REF = re.compile(r"^\{\{secrets/\$\{var\.secret_scope\}/pseudonym_key\}\}$")
REFERENCE = re.compile(r"\$\{([^}]+)\}")
# Bundle top-level keys (bundle configuration reference) plus our anchored block.
TOP_LEVEL_KEYS = {
    "bundle",
    "variables",
    "artifacts",
    "sync",
    "resources",
    "targets",
    "workspace",
    "include",
    "permissions",
    "run_as",
    "presets",
    "experimental",
    "scripts",
    "python",
    "botdetect_shared",
}
# Levels allowed in a bundle's (top-level or target) `permissions` mapping.
BUNDLE_PERMISSION_LEVELS = {"CAN_VIEW", "CAN_RUN", "CAN_MANAGE"}
PRINCIPAL_KEYS = {"user_name", "group_name", "service_principal_name"}


def load_bundle() -> dict[str, Any]:
    return yaml.safe_load(BUNDLE_FILE.read_text())


BUNDLE = load_bundle()
JOBS: dict[str, dict[str, Any]] = BUNDLE["resources"]["jobs"]
TARGETS = sorted(BUNDLE["targets"])
TASKS = [(job, task["task_key"]) for job, spec in JOBS.items() for task in spec["tasks"]]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def task(job: str, key: str) -> dict[str, Any]:
    return next(t for t in JOBS[job]["tasks"] if t["task_key"] == key)


def strings(node: object) -> Iterator[str]:
    """Every string in the loaded file, keys included."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def substitute(text: str, target: str) -> str:
    """Stand-ins for `${...}` references, as the CLI would resolve them for `target`."""

    def value(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "bundle.target":
            return target
        if ref == "bundle.name":
            return BUNDLE["bundle"]["name"]
        if ref == "workspace.file_path":
            return f"/Workspace/Users/someone/.bundle/botdetect/{target}/files"
        return f"placeholder-{ref.replace('.', '-')}"

    return REFERENCE.sub(value, text)


# --- the Jobs model -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_is_valid_for_the_jobs_model(name):
    job = Job.from_dict(copy.deepcopy(JOBS[name]))
    assert isinstance(job, Job)
    assert [t.task_key for t in job.tasks] == [t["task_key"] for t in JOBS[name]["tasks"]]
    assert job.schedule is not None
    assert job.schedule.timezone_id == "UTC"


def _drop_task_key(job: dict[str, Any]) -> None:
    del job["tasks"][0]["task_key"]


def _unknown_task_field(job: dict[str, Any]) -> None:
    job["tasks"][0]["python_wheel"] = job["tasks"][0].pop("python_wheel_task")


def _unknown_wheel_field(job: dict[str, Any]) -> None:
    job["tasks"][0]["python_wheel_task"]["params"] = ["ingest"]


def _drop_entry_point(job: dict[str, Any]) -> None:
    del job["tasks"][0]["python_wheel_task"]["entry_point"]


def _bad_security_mode(job: dict[str, Any]) -> None:
    job["job_clusters"][0]["new_cluster"]["data_security_mode"] = "SINGLE_USR"


def _libraries_not_a_list(job: dict[str, Any]) -> None:
    job["tasks"][0]["libraries"] = "./dist/*.whl"


def _cluster_field_misplaced(job: dict[str, Any]) -> None:
    # The very mistake the bundle once had: variable lines pasted into new_cluster.
    job["job_clusters"][0]["new_cluster"]["secret_scope"] = {"default": "botdetect"}


@pytest.mark.parametrize(
    "breakage",
    [
        _drop_task_key,
        _unknown_task_field,
        _unknown_wheel_field,
        _drop_entry_point,
        _bad_security_mode,
        _libraries_not_a_list,
        _cluster_field_misplaced,
    ],
)
def test_jobs_model_rejects_a_broken_job(breakage):
    job = copy.deepcopy(JOBS[DAILY])
    # The anchored blocks are shared objects after loading: break a private copy only.
    breakage(job)
    with pytest.raises((TypeError, ValueError)):
        Job.from_dict(job)
    Job.from_dict(copy.deepcopy(JOBS[DAILY]))  # the real one still passes


# --- jobs, tasks and their order ------------------------------------------------------


def test_jobs_run_the_declared_pipeline_in_its_order():
    """Each job's tasks are the stages `pipeline.py` assigns to it, in pipeline order, and
    each task runs its stage's command."""
    assert set(JOBS) == {s.job for s in PIPELINE if s.job}
    for job in JOBS:
        stages = job_stages(job)
        assert [t["task_key"] for t in JOBS[job]["tasks"]] == [s.task_key for s in stages]
        for t, stage in zip(JOBS[job]["tasks"], stages, strict=True):
            params = t["python_wheel_task"]["parameters"]
            assert tuple(params[: len(stage.command)]) == stage.command
    assert [s.task_key for s in job_stages(DAILY)] == [
        "ingest",
        "validate_raw",
        "features",
        "validate_features",
        "score",
        "report",
    ]
    assert [s.task_key for s in job_stages(WEEKLY)] == ["labels", "train"]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_each_task_depends_on_the_previous_one(name):
    tasks = JOBS[name]["tasks"]
    keys = [t["task_key"] for t in tasks]
    assert len(keys) == len(set(keys)), "task keys must be unique within a job"
    assert "depends_on" not in tasks[0]
    for previous, current in itertools.pairwise(tasks):
        assert current["depends_on"] == [{"task_key": previous["task_key"]}]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_depends_on_names_tasks_of_the_same_job(name):
    keys = {t["task_key"] for t in JOBS[name]["tasks"]}
    for t in JOBS[name]["tasks"]:
        for dep in t.get("depends_on", []):
            assert dep["task_key"] in keys, f"{t['task_key']} depends on unknown {dep}"


@pytest.mark.parametrize("name", sorted(JOBS))
def test_schedule_is_quartz_in_utc(name):
    schedule = JOBS[name]["schedule"]
    assert schedule["timezone_id"] == "UTC"
    fields = schedule["quartz_cron_expression"].split()
    assert len(fields) in (6, 7)  # sec min hour day-of-month month day-of-week [year]
    assert all(f.isdigit() for f in fields[:3])
    day_of_month, day_of_week = fields[3], fields[5]
    if name == DAILY:
        assert (day_of_month, fields[4], day_of_week) == ("*", "*", "?")
    else:
        assert day_of_month == "?"
        assert day_of_week in {"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}


@pytest.mark.parametrize(("job", "key"), TASKS)
def test_task_runs_the_wheel_entry_point(job, key):
    t = task(job, key)
    wheel = t["python_wheel_task"]
    scripts = pyproject()["project"]["scripts"]
    assert wheel["package_name"] == pyproject()["project"]["name"] == "botdetect"
    assert wheel["entry_point"] in scripts
    assert scripts[wheel["entry_point"]] == "botdetect.cli:main"
    assert {"whl": "./dist/*.whl"} in t["libraries"]
    clusters = {c["job_cluster_key"] for c in JOBS[job]["job_clusters"]}
    assert t["job_cluster_key"] in clusters


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("job", "key"), TASKS)
def test_task_parameters_parse_with_the_cli(job, key, target):
    params = task(job, key)["python_wheel_task"]["parameters"]
    assert all(isinstance(p, str) for p in params)
    stage = params[0]
    assert stage in COMMANDS
    assert stage == (key if key not in VALIDATE_STAGE else "validate")
    assert params.count("--conf") == 1
    assert params[params.index("--conf") + 1] == CONF_PARAM
    sets = {params[i + 1] for i, p in enumerate(params) if p == "--set"}
    expected = {"storage.catalog=${var.catalog}", "storage.schema=${var.schema}"}
    if stage in MODEL_STAGES:
        expected.add("mlflow.model_name=${var.catalog}.${var.schema}.${var.model_name}")
    assert sets == expected

    if key in VALIDATE_STAGE:
        assert params[1:3] == ["--stage", VALIDATE_STAGE[key]]

    args = build_parser().parse_args([substitute(p, target) for p in params])
    conf = Path(args.conf)
    assert conf.name == f"{target}.yml"
    local_conf = ROOT / "conf" / conf.name
    assert local_conf.is_file()
    # The overrides name real keys of the typed configuration, for this target's file.
    cfg = load_config(local_conf, args.overrides)
    assert cfg.env == target
    assert cfg.storage.catalog == "placeholder-var-catalog"
    assert cfg.storage.schema == "placeholder-var-schema"
    if stage in MODEL_STAGES:
        model = "placeholder-var-catalog.placeholder-var-schema.placeholder-var-model_name"
        assert cfg.mlflow.model_name == model


@pytest.mark.parametrize(("job", "key"), TASKS)
def test_parsed_task_dispatches_to_its_stage(job, key):
    params = task(job, key)["python_wheel_task"]["parameters"]
    args = build_parser().parse_args([substitute(p, "dev") for p in params])
    assert args.stage == params[0]
    assert args.stage in COMMANDS


def test_validate_tasks_pin_great_expectations_like_pyproject():
    local = pyproject()["project"]["optional-dependencies"]["local"]
    pin = next(d for d in local if d.startswith("great-expectations"))
    version = pin.split("==")[1]
    for key in VALIDATE_STAGE:
        packages = [
            lib["pypi"]["package"] for lib in task(DAILY, key)["libraries"] if "pypi" in lib
        ]
        assert packages == [f"great-expectations=={version}"]


# --- clusters, environment and secrets ------------------------------------------------


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_cluster_environment(name):
    for cluster in JOBS[name]["job_clusters"]:
        spec = cluster["new_cluster"]
        assert spec["spark_version"] == "${var.spark_version}"
        env = spec["spark_env_vars"]
        assert env[CONF_DIR_ENV] == "${workspace.file_path}/conf"
        for target in TARGETS:
            key_env = load_config(ROOT / "conf" / f"{target}.yml").features.pseudonym_key_env
            assert SECRET_REF.match(env[key_env]), f"{key_env} must be a secret reference"


def test_spark_version_is_a_spark_41_runtime():
    # Databricks Runtime 18.x is Apache Spark 4.1 (Scala 2.13), like pyproject's pyspark.
    default = BUNDLE["variables"]["spark_version"]["default"]
    assert re.fullmatch(r"18\.\d+\.x-scala2\.13", default)
    pyspark = next(
        d for d in pyproject()["project"]["optional-dependencies"]["local"] if "pyspark" in d
    )
    assert pyspark.startswith("pyspark==4.1.")


def env_vars(node: object) -> Iterator[tuple[str, object]]:
    """Every (NAME, value) pair under an upper-case key: environment variables."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.isupper():
                yield key, value
            yield from env_vars(value)
    elif isinstance(node, list):
        for item in node:
            yield from env_vars(item)


def test_no_literal_secret_anywhere():
    for text in strings(BUNDLE):
        # Databricks tokens, long hex or base64 runs: none belong in this file.
        assert not re.search(r"dapi[0-9a-f]{16,}", text), text
        assert not re.search(r"[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{40,}={0,2}", text), text
        if "{{secrets/" in text:
            assert SECRET_REF.match(text), text
    found = dict(env_vars(BUNDLE))
    assert "BOTDETECT_PSEUDONYM_KEY" in found
    for name, value in found.items():
        if re.search(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", name):
            assert isinstance(value, str), name
            assert SECRET_REF.match(value), f"{name} must be a {{{{secrets/...}}}} reference"


# --- variables, targets, permissions --------------------------------------------------


def test_every_variable_reference_is_declared():
    declared = set(BUNDLE["variables"])
    used = set(re.findall(r"\$\{var\.([A-Za-z0-9_-]+)", BUNDLE_FILE.read_text()))
    assert used, "the bundle should be parameterised"
    assert used <= declared, f"undeclared: {sorted(used - declared)}"
    assert {"catalog", "schema", "model_name", "spark_version", "secret_scope"} <= declared
    assert "node_type_id" in declared
    for name, spec in BUNDLE["variables"].items():
        assert spec.get("description"), f"variable {name} needs a description"
    for name, target in BUNDLE["targets"].items():
        overridden = set(target.get("variables", {}))
        assert overridden <= declared, f"target {name} sets undeclared {overridden - declared}"


def test_required_variables_are_assigned_or_documented():
    # The CLI needs a value for every variable in every target: no default means each
    # target assigns one, or (prod) the description says how to pass it.
    for name, spec in BUNDLE["variables"].items():
        if "default" in spec:
            continue
        for target_name, target in BUNDLE["targets"].items():
            if name not in target.get("variables", {}):
                assert f"--var {name}=" in " ".join(spec["description"].split()), (
                    f"{name} has no default and no value in target {target_name}"
                )


def test_top_level_keys_are_bundle_keys():
    assert set(BUNDLE) <= TOP_LEVEL_KEYS, set(BUNDLE) - TOP_LEVEL_KEYS
    assert BUNDLE["bundle"]["name"] == "botdetect"


def test_targets_dev_and_prod():
    targets = BUNDLE["targets"]
    assert set(targets) == {"dev", "prod"}
    assert targets["dev"]["mode"] == "development"
    assert targets["dev"]["default"] is True
    assert [n for n, t in targets.items() if t.get("default")] == ["dev"]
    assert targets["prod"]["mode"] == "production"
    for name in targets:
        assert (ROOT / "conf" / f"{name}.yml").is_file()


def test_prod_runs_as_a_service_principal_with_permissions():
    prod = BUNDLE["targets"]["prod"]
    run_as = prod["run_as"]
    assert set(run_as) == {"service_principal_name"}
    assert REFERENCE.fullmatch(run_as["service_principal_name"])
    JobRunAs.from_dict(dict(run_as))
    # Production mode wants an explicit root_path so only one copy is deployed.
    assert prod["workspace"]["root_path"].startswith("/Workspace/")

    permissions = prod["permissions"]
    assert permissions
    for entry in permissions:
        principals = set(entry) & PRINCIPAL_KEYS
        assert len(principals) == 1, entry
        assert set(entry) == principals | {"level"}, entry
        assert entry["level"] in BUNDLE_PERMISSION_LEVELS, entry
    levels = {e["level"] for e in permissions}
    assert "CAN_MANAGE" in levels
    assert {"group_name": "users", "level": "CAN_VIEW"} in permissions
    assert "run_as" not in BUNDLE["targets"]["dev"]


# --- files the bundle points at -------------------------------------------------------


def test_sync_includes_match_files():
    for pattern in BUNDLE["sync"]["include"]:
        matches = sorted(ROOT.glob(pattern))
        assert matches, f"sync include {pattern} matches nothing"
    assert (ROOT / "conf" / "base.yml") in sorted(ROOT.glob("conf/*.yml"))


def test_wheel_artifact_builds_from_pyproject():
    artifacts = BUNDLE["artifacts"]
    assert list(artifacts) == ["botdetect_wheel"]
    wheel = artifacts["botdetect_wheel"]
    assert wheel["type"] == "whl"
    assert (ROOT / wheel["path"] / "pyproject.toml").is_file()
    build = wheel["build"].split()
    assert build[build.index("pip") + 1] == "wheel"
    assert "--no-deps" in build
    wheel_dir = build[build.index("--wheel-dir") + 1]
    assert build[-1] == "."
    # Every task installs what the build writes.
    for job, key in TASKS:
        whls = [lib["whl"] for lib in task(job, key)["libraries"] if "whl" in lib]
        assert whls == [f"./{wheel_dir}/*.whl"]
