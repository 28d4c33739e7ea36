"""Where one feature job spent its time, read from the log it wrote.

    .venv/bin/botdetect features --full-refresh --set ... 2>&1 | tee features.log
    .venv/bin/python bench/feature_job_log.py features.log --out bench/results/job.json

The feature job logs its partials and roll-up times, the two cross-account steps it
checkpoints (near-duplicate twins, lock-step pairs) and every connected-component round
with a timestamp. This reads those lines and states the lock-step step's share: its pairs
plus the component runs over lock-step edges, against the roll-up and the whole job. A
roll-up runs components three times, in this order (`features/stage.py`): the
shared-infrastructure graph, the controller components (lock-step edges over the
infrastructure components) and the lock-step graph's own (its component-size feature).
The job would take `job - step` without the step, so `job / (job - step)` is how many
times longer the step makes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
PARTS = re.compile(STAMP + r".*features: partials ([\d.]+) s, roll-up ([\d.]+) s")
STEP = re.compile(STAMP + r".*features: (near-duplicate twins|lock-step pairs) in ([\d.]+) s")
ROUND = re.compile(STAMP + r".*clusters: round (\d+), (\d+) labels changed")
ANY = re.compile(STAMP)


@dataclass
class ComponentRun:
    """One connected-components call: its rounds and the seconds from the log line
    before its first round to its last round (edge preparation included)."""

    rounds: int = 0
    seconds: float = 0.0


@dataclass
class FeatureJob:
    partials_seconds: float | None = None
    rollup_seconds: float | None = None
    twins_seconds: float | None = None
    lockstep_pairs_seconds: float | None = None
    components: list[ComponentRun] = field(default_factory=list)

    @property
    def lockstep_seconds(self) -> float | None:
        """Pairs plus the component runs over lock-step edges (all but the first)."""
        if self.lockstep_pairs_seconds is None:
            return None
        return round(self.lockstep_pairs_seconds + sum(r.seconds for r in self.components[1:]), 1)


def _time(stamp: str) -> dt.datetime:
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")


def parse(lines: list[str]) -> FeatureJob:
    """The job's timings from its log lines; a ValueError if it did not finish."""
    job = FeatureJob()
    previous: dt.datetime | None = None
    run_started: dt.datetime | None = None
    for line in lines:
        stamped = ANY.match(line)
        if stamped is None:
            continue
        now = _time(stamped.group(1))
        if m := ROUND.match(line):
            if int(m.group(2)) == 1:
                job.components.append(ComponentRun())
                run_started = previous or now
            if not job.components or run_started is None:
                raise ValueError(f"a component round before round 1: {line.strip()}")
            run = job.components[-1]
            run.rounds = int(m.group(2))
            run.seconds = round((now - run_started).total_seconds(), 1)
        elif m := STEP.match(line):
            seconds = float(m.group(3))
            if m.group(2) == "lock-step pairs":
                job.lockstep_pairs_seconds = seconds
            else:
                job.twins_seconds = seconds
        elif m := PARTS.match(line):
            job.partials_seconds = float(m.group(2))
            job.rollup_seconds = float(m.group(3))
        previous = now
    if job.rollup_seconds is None or job.lockstep_pairs_seconds is None:
        raise ValueError(
            "no 'features: partials ..., roll-up ...' or 'lock-step pairs' line: "
            "the log is not a finished feature job's"
        )
    return job


def summary(job: FeatureJob) -> dict:
    """The parsed timings and the lock-step step's shares."""
    step = job.lockstep_seconds or 0.0
    rollup = job.rollup_seconds or 0.0
    total = rollup + (job.partials_seconds or 0.0)
    return {
        **asdict(job),
        "lockstep_seconds": step,
        "job_seconds": total,
        "lockstep_share_of_rollup": round(step / rollup, 3),
        "rollup_over_rollup_without_step": round(rollup / (rollup - step), 3),
        "job_over_job_without_step": round(total / (total - step), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="the feature job's log (stderr of the CLI)")
    parser.add_argument("--out", type=Path, help="write the JSON here as well")
    args = parser.parse_args()
    result = summary(parse(args.log.read_text(errors="replace").splitlines()))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
