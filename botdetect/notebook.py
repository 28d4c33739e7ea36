"""Parameters of the notebooks in `notebooks/`: Databricks widgets, else environment variables.

On Databricks the notebook's `dbutils` exists: the widgets `conf`, `as_of_date` and
`overrides` are created (empty values mean "the default") and read. Anywhere else (a
laptop, CI executing the notebooks with nbclient) the same three parameters come from
`BOTDETECT_NB_CONF`, `BOTDETECT_NB_AS_OF_DATE` and `BOTDETECT_NB_OVERRIDES`. Overrides are
`;`-separated `key=value` strings, as `--set` takes them.
"""

from __future__ import annotations

import os
from typing import Any

from botdetect.config import Config, load_config

CONF_ENV = "BOTDETECT_NB_CONF"
AS_OF_DATE_ENV = "BOTDETECT_NB_AS_OF_DATE"
OVERRIDES_ENV = "BOTDETECT_NB_OVERRIDES"
DEFAULT_CONF = "local"  # load_config's default; on Databricks set the `conf` widget


def split_overrides(text: str) -> list[str]:
    """`"a=1; b.c=x"` -> `["a=1", "b.c=x"]` (blank items are dropped)."""
    return [item.strip() for item in text.split(";") if item.strip()]


def _ambient_dbutils() -> Any | None:
    """The `dbutils` of the running notebook (Databricks' IPython namespace), if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.user_ns.get("dbutils")


def notebook_parameters(dbutils: Any | None = None) -> tuple[str, str, str]:
    """(conf, as_of_date, overrides) as raw strings, from widgets or the environment."""
    dbutils = dbutils if dbutils is not None else _ambient_dbutils()
    if dbutils is None:
        return (
            os.environ.get(CONF_ENV, ""),
            os.environ.get(AS_OF_DATE_ENV, ""),
            os.environ.get(OVERRIDES_ENV, ""),
        )
    values = []
    for name in ("conf", "as_of_date", "overrides"):
        dbutils.widgets.text(name, "")  # a no-op when the widget exists or a job set it
        values.append(dbutils.widgets.get(name))
    return values[0], values[1], values[2]


def notebook_config(dbutils: Any | None = None) -> Config:
    """The configuration a notebook runs with (see the module docstring)."""
    conf, as_of_date, overrides = notebook_parameters(dbutils)
    sets = split_overrides(overrides)
    if as_of_date.strip():
        sets.append(f"as_of_date={as_of_date.strip()}")
    return load_config(conf.strip() or DEFAULT_CONF, sets)
