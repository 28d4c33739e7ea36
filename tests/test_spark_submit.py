"""Stages run through `spark-submit` on a real standalone cluster (master + worker on loopback).

Local mode runs the driver and the executors in one JVM; this test starts a standalone
master and one worker from the installed pyspark, submits `jobs/pipeline.py --from ingest
--until ingest --full-ingest` over the small world's exports (conftest.py) with the Delta jars
from `.jars/`, and checks that the raw Delta tables were written by executors the master
scheduled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyspark
import pytest

from botdetect.contract import SOURCE_TABLES
from tests.conftest import SMALL_WORLD, SmallWorld, tiny_config

REPO = Path(__file__).resolve().parent.parent
SPARK_HOME = Path(pyspark.__file__).resolve().parent
JARS_DIR = REPO / ".jars"
STARTUP_TIMEOUT = 120  # seconds for the master to come up and the worker to register
SUBMIT_TIMEOUT = 600  # seconds per spark-submit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
        reason="Java is not installed: a standalone Spark cluster needs a JVM",
    ),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    if not path.is_file():
        return f"<{path} does not exist>"
    text = path.read_text(errors="replace").splitlines()
    return f"--- {path} (last {min(lines, len(text))} of {len(text)} lines) ---\n" + "\n".join(
        text[-lines:]
    )


@dataclass
class Cluster:
    master_url: str
    web_url: str
    log_dir: Path
    work_dir: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def state(self) -> dict:
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as resp:
            return json.load(resp)

    def logs(self) -> str:
        parts = [_tail(p, 40) for p in sorted(self.log_dir.glob("*.log"))]
        parts += [_tail(p, 40) for p in sorted(self.work_dir.glob("app-*/*/stderr"))]
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in reversed(self.procs):  # worker first, then master
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _spark_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SPARK_CONF_DIR", None)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(tmp / "logs"),
        SPARK_WORKER_DIR=str(tmp / "work"),
        SPARK_LOCAL_DIRS=str(tmp / "local"),
        # The executors run on this machine: the driver's venv, where botdetect is installed.
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        TZ="UTC",
    )
    return env


def _start(cluster: Cluster, name: str, args: list[str]) -> None:
    log = (cluster.log_dir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [str(SPARK_HOME / "bin" / "spark-class"), *args],
        env=cluster.env,
        cwd=cluster.work_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stop() kills the JVM too
    )
    log.close()
    cluster.procs.append(proc)


def _wait_for_worker(cluster: Cluster) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error = ""
    while time.monotonic() < deadline:
        for proc in cluster.procs:
            if proc.poll() is not None:
                pytest.fail(f"a cluster process exited with {proc.returncode}\n{cluster.logs()}")
        try:
            workers = cluster.state().get("workers", [])
            if any(w.get("state") == "ALIVE" for w in workers):
                return
            last_error = f"workers: {workers}"
        except OSError as exc:
            last_error = repr(exc)
        time.sleep(1)
    pytest.fail(f"no ALIVE worker after {STARTUP_TIMEOUT}s ({last_error})\n{cluster.logs()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("standalone")
    for sub in ("logs", "work", "local"):
        (tmp / sub).mkdir()
    port, web_port, worker_web_port = _free_port(), _free_port(), _free_port()
    c = Cluster(
        master_url=f"spark://127.0.0.1:{port}",
        web_url=f"http://127.0.0.1:{web_port}",
        log_dir=tmp / "logs",
        work_dir=tmp / "work",
        env=_spark_env(tmp),
    )
    try:
        _start(
            c,
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1",
                "--port", str(port),
                "--webui-port", str(web_port),
            ],
        )  # fmt: skip
        _start(
            c,
            "worker",
            [
                "org.apache.spark.deploy.worker.Worker",
                c.master_url,
                "--host", "127.0.0.1",
                "--cores", "1",
                "--memory", "1g",
                "--webui-port", str(worker_web_port),
                "--work-dir", str(c.work_dir),
            ],
        )  # fmt: skip
        _wait_for_worker(c)
        yield c
    finally:
        c.stop()


def _submit(cluster: Cluster, job: str, *args: str, log_dir: Path) -> str:
    """spark-submit `jobs/<job>.py` to the cluster; return the driver's stdout."""
    jars = sorted(str(p) for p in JARS_DIR.glob("*.jar"))
    assert any("delta-spark" in Path(j).name for j in jars), (
        f"no Delta jars in {JARS_DIR}: run `make jars`"
    )
    cmd = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master", cluster.master_url,
        "--deploy-mode", "client",
        "--jars", ",".join(jars),
        "--total-executor-cores", "1",
        "--conf", "spark.executor.memory=512m",
        "--conf", "spark.driver.memory=1g",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.databricks.delta.snapshotPartitions=2",
        str(REPO / "jobs" / f"{job}.py"),
        *args,
        "--set", f"spark.app_name=botdetect-{job}",  # the session's appName beats --name
    ]  # fmt: skip
    out, err = log_dir / f"{job}.stdout", log_dir / f"{job}.stderr"
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.run(
            cmd,
            env=cluster.env,
            cwd=REPO,
            stdout=fo,
            stderr=fe,
            timeout=SUBMIT_TIMEOUT,
            check=False,
        )
    assert proc.returncode == 0, (
        f"spark-submit jobs/{job}.py exited with {proc.returncode}\n"
        f"{' '.join(cmd)}\n{_tail(out)}\n{_tail(err, 80)}\n{cluster.logs()}"
    )
    return out.read_text()


def test_ingest_on_standalone_cluster(
    cluster: Cluster, tmp_path: Path, spark, small_world_built: SmallWorld
):
    root = tmp_path / "lake"
    # The small world's exports: generating them here would cost the cold cluster JVMs half
    # a minute and show nothing about spark-submit that ingest does not.
    small = tiny_config(small_world_built.root, *SMALL_WORLD)
    shutil.copytree(small.storage.landing_root, root / "landing")
    out = _submit(
        cluster,
        "pipeline",
        "--as-of-date", small.run_date().isoformat(),
        "--set", "spark.master=null",  # spark-submit's --master wins
        "--set", "spark.jars_dir=null",  # --jars supplies Delta
        "--set", f"storage.root={root}",
        "--set", "spark.shuffle_partitions=2",
        "--from", "ingest",
        "--until", "ingest",
        "--full-ingest",
        log_dir=tmp_path,
    )  # fmt: skip
    timed = re.findall(r"^  (\S.*?)\s+\d+\.\d s$", out, re.MULTILINE)
    assert timed == ["ingest", "total"], out

    # The application was scheduled by the standalone master and finished there...
    apps = {a["name"]: a for a in cluster.state().get("completedapps", [])}
    app = apps.get("botdetect-pipeline")
    assert app is not None, f"master lists no completed botdetect-pipeline: {apps}"
    assert app["state"] == "FINISHED", app
    driver_log = (tmp_path / "pipeline.stderr").read_text(errors="replace")
    assert cluster.master_url in driver_log, "the driver did not connect to the standalone master"
    # ...and its tasks ran in an executor JVM the worker launched, not in the driver.
    executor_log = cluster.work_dir / app["id"] / "0" / "stderr"
    assert "Finished task" in executor_log.read_text(errors="replace"), _tail(executor_log)

    # The raw Delta tables exist, are readable, and hold what ingest reported writing.
    written = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"^(\w+)\s+[\d,]+\s+([\d,]+)\s", out, re.MULTILINE)
    }
    assert written == small_world_built.generated, out
    for name in SOURCE_TABLES:
        path = root / "raw" / name
        assert (path / "_delta_log").is_dir(), f"no Delta table at {path}"
        assert spark.read.format("delta").load(str(path)).count() == written[name], name
    assert written["tweets"] > 0 and written["accounts"] == 300, written
