"""`make test` runs pytest in two workers (pytest-xdist); the tests of the end-to-end world
must be one unit of work, or each worker would build the world (conftest.E2E_FILES)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import E2E_FILES

TESTS = Path(__file__).resolve().parent


def test_every_file_that_uses_the_end_to_end_world_is_one_unit_of_work():
    users = {
        p.name for p in TESTS.glob("test_*.py") if "e2e_world" in p.read_text(encoding="utf-8")
    }
    users.discard(Path(__file__).name)
    assert users == E2E_FILES
