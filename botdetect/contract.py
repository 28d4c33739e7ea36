"""The data contract: the six source tables, their keys, enums and partitioning.

The README's "Tables" and "Ingest rules" describe it for people; this module is what
the code checks against.
"""

from __future__ import annotations

import dataclasses

from pyspark.sql import types as T


@dataclasses.dataclass(frozen=True)
class SourceTable:
    """One source table of the contract."""

    name: str
    schema: T.StructType
    primary_key: tuple[str, ...]
    required: tuple[str, ...]  # columns that may never be null
    enums: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    event_time: str | None = None  # the timestamp that event_date is derived from
    # Snapshot tables: the timestamp that says when a row became visible. Rows dated after
    # the as-of date are held back by ingest (a backfill must not see the future).
    snapshot_time: str | None = None
    # Columns the contract gained after exports already existed: an export without one
    # still ingests, with the column null (what a null means is documented per column).
    added_later: tuple[str, ...] = ()

    @property
    def is_event_table(self) -> bool:
        return self.event_time is not None

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def _struct(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, True) for name, dtype in fields])


TWEETS = SourceTable(
    name="tweets",
    schema=_struct(
        ("tweet_id", T.LongType()),
        ("account_id", T.LongType()),
        ("created_at", T.TimestampType()),
        ("text", T.StringType()),
        ("parent_tweet_id", T.LongType()),
        ("mentioned_account_ids", T.ArrayType(T.LongType(), True)),
        ("event_date", T.DateType()),
    ),
    primary_key=("tweet_id",),
    required=("tweet_id", "account_id", "created_at", "event_date"),
    event_time="created_at",
)

INTERACTIONS = SourceTable(
    name="interactions",
    schema=_struct(
        ("account_id", T.LongType()),
        ("tweet_id", T.LongType()),
        ("action", T.StringType()),
        ("created_at", T.TimestampType()),
        ("event_date", T.DateType()),
    ),
    primary_key=("account_id", "tweet_id", "action", "created_at"),
    required=("account_id", "tweet_id", "action", "created_at", "event_date"),
    enums={"action": ("retweet", "favorite", "reply", "quote")},
    event_time="created_at",
)

ACCOUNTS = SourceTable(
    name="accounts",
    schema=_struct(
        ("account_id", T.LongType()),
        ("handle", T.StringType()),
        ("display_name", T.StringType()),
        ("created_at", T.TimestampType()),
        ("creation_device_id", T.LongType()),
        ("creation_ip", T.StringType()),
        ("verified", T.BooleanType()),
    ),
    primary_key=("account_id",),
    required=("account_id", "handle", "created_at", "verified"),
    snapshot_time="created_at",
)

FOLLOWS = SourceTable(
    name="follows",
    schema=_struct(
        ("account_id", T.LongType()),
        ("followed_account_id", T.LongType()),
        ("created_at", T.TimestampType()),
    ),
    primary_key=("account_id", "followed_account_id"),
    required=("account_id", "followed_account_id", "created_at"),
    snapshot_time="created_at",
)

LOGINS = SourceTable(
    name="logins",
    schema=_struct(
        ("account_id", T.LongType()),
        ("login_at", T.TimestampType()),
        ("device_id", T.LongType()),
        ("ip", T.StringType()),
        ("success", T.BooleanType()),
        ("fail_reason", T.StringType()),
        ("event_date", T.DateType()),
    ),
    primary_key=("account_id", "login_at"),
    required=("account_id", "login_at", "success", "event_date"),
    event_time="login_at",
)

# Why ops looked at an account. Null in exports that predate the field: unknown.
REVIEW_TRIGGERS = ("user_report", "ops_rule", "model_queue", "random_audit", "appeal")
# `none`: reviewed and found nothing to act on (the verdict of most audits of humans).
NO_ACTION = "none"

# Every ops review, with its verdict: a restriction, a clearing, or `none`. `reason` is
# the violation the review was about (for `none`: the one it was checked for).
OPS_ACTIONS = SourceTable(
    name="ops_actions",
    schema=_struct(
        ("account_id", T.LongType()),
        ("action_at", T.TimestampType()),
        ("restriction", T.StringType()),
        ("reason", T.StringType()),
        ("reviewer_note", T.StringType()),
        ("review_trigger", T.StringType()),
        ("review_minutes", T.DoubleType()),
    ),
    primary_key=("account_id", "action_at", "restriction"),
    required=("account_id", "action_at", "restriction", "reason"),
    snapshot_time="action_at",
    enums={
        "restriction": ("suspend", "lock", "warn", "cleared", NO_ACTION),
        "reason": ("spam", "abuse", "impersonation", "other"),
        "review_trigger": REVIEW_TRIGGERS,
    },
    added_later=("review_trigger", "review_minutes"),
)

SOURCE_TABLES: dict[str, SourceTable] = {
    t.name: t for t in (TWEETS, INTERACTIONS, ACCOUNTS, FOLLOWS, LOGINS, OPS_ACTIONS)
}
