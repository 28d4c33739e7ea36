"""Every table the project writes, declared once: layer, name, the stage that owns it,
partitioning, clustering, and the schema where the writer does not derive it.

`contract.py` declares the sources (what exports hold); this module declares the tables
the stages write, the raw copies of the sources included. Code refers to a table through
its constant here (`SCORES.ref(cfg.storage)`), never through a layer and name spelled at
the call site; `pipeline.py` names these constants as each stage's inputs and outputs.

Schemas are declared here for the tables written from rows the code builds (quarantine,
quality results, labels, splits, scores, the audit sample, monitoring, the run log, the
ground truth); tests hold the writers to them. The others take theirs from what writes
them: raw tables from the contract, the feature tables from the feature catalogue
(`features/catalog.py`), the review queue from the scores it selects.
"""

from __future__ import annotations

import dataclasses

from pyspark.sql import types as T

from botdetect.config import StorageConfig
from botdetect.contract import SOURCE_TABLES
from botdetect.io.tables import TableRef, table_ref

RAW_LAYER = "raw"
QUALITY_LAYER = "quality"
FEATURES_LAYER = "features"
LABELS_LAYER = "labels"
SCORES_LAYER = "scores"
MONITORING_LAYER = "monitoring"
AUDIT_LAYER = "audit"
TRUTH_LAYER = "truth"  # synthetic worlds only: what the generator knows


@dataclasses.dataclass(frozen=True)
class Table:
    """One table the project writes."""

    layer: str
    name: str
    owner: str  # the stage (pipeline.py) that writes it
    partition_by: tuple[str, ...] = ()
    cluster_by: str | None = None  # range-clustered within each written partition
    schema: T.StructType | None = None  # None: the writer's rows define it (see above)

    @property
    def label(self) -> str:
        return f"{self.layer}.{self.name}"

    def ref(self, storage: StorageConfig) -> TableRef:
        """Where the table lives for this storage configuration (a path or a UC name)."""
        return table_ref(storage, self.layer, self.name)


RAW: dict[str, Table] = {
    name: Table(
        RAW_LAYER, name, "ingest", partition_by=("event_date",) if source.is_event_table else ()
    )
    for name, source in SOURCE_TABLES.items()
}
RAW_TWEETS = RAW["tweets"]
RAW_INTERACTIONS = RAW["interactions"]
RAW_ACCOUNTS = RAW["accounts"]
RAW_FOLLOWS = RAW["follows"]
RAW_LOGINS = RAW["logins"]
RAW_OPS_ACTIONS = RAW["ops_actions"]

QUARANTINE = Table(
    QUALITY_LAYER,
    "quarantine",
    "ingest",
    partition_by=("source_table",),
    schema=T.StructType(
        [
            T.StructField("source_table", T.StringType()),
            T.StructField("batch_date", T.DateType()),
            T.StructField("rule", T.StringType()),
            T.StructField("column", T.StringType()),
            T.StructField("reasons", T.ArrayType(T.StringType())),
            T.StructField("source_file", T.StringType()),
            T.StructField("record", T.StringType()),
        ]
    ),
)
QUALITY_RESULTS = Table(
    QUALITY_LAYER,
    "quality_results",
    "validate",
    partition_by=("stage",),
    schema=T.StructType(
        [
            T.StructField("stage", T.StringType()),
            T.StructField("as_of_date", T.DateType()),
            T.StructField("checked_at", T.TimestampType()),
            T.StructField("table_name", T.StringType()),
            T.StructField("expectation", T.StringType()),
            T.StructField("column_name", T.StringType()),
            T.StructField("severity", T.StringType()),
            T.StructField("success", T.BooleanType()),
            T.StructField("observed", T.StringType()),
            T.StructField("unexpected_count", T.LongType()),
            T.StructField("unexpected_percent", T.DoubleType()),
            T.StructField("details", T.StringType()),
        ]
    ),
)

FEATURES_DAILY = Table(FEATURES_LAYER, "features_daily", "features", ("event_date",))
ACCOUNT_FEATURES = Table(
    FEATURES_LAYER, "account_features", "features", ("as_of_date",), cluster_by="account_id"
)

LABELS = Table(
    LABELS_LAYER,
    "labels",
    "labels",
    ("as_of_date",),
    schema=T.StructType(
        [
            T.StructField("account_id", T.LongType()),
            T.StructField("as_of_date", T.DateType()),
            T.StructField("label", T.IntegerType()),
            T.StructField("label_source", T.StringType()),
            T.StructField("weight", T.DoubleType()),
            T.StructField("sample_rate", T.DoubleType()),
        ]
    ),
)
SPLITS = Table(
    LABELS_LAYER,
    "splits",
    "train",
    schema=T.StructType(
        [
            T.StructField("account_id", T.LongType()),
            T.StructField("split", T.StringType()),
            T.StructField("assigned_on", T.DateType()),
            T.StructField("cluster_id", T.LongType()),
        ]
    ),
)

SCORES = Table(
    SCORES_LAYER,
    "scores",
    "score",
    ("as_of_date",),
    cluster_by="account_id",
    schema=T.StructType(
        [
            T.StructField("account_id", T.LongType()),
            T.StructField("as_of_date", T.DateType()),
            T.StructField("score", T.DoubleType()),
            T.StructField("decision", T.StringType()),
            T.StructField("max_tweets_per_hour", T.IntegerType()),
            T.StructField("reasons", T.ArrayType(T.StringType())),
            T.StructField("model_name", T.StringType()),
            T.StructField("model_version", T.StringType()),
            T.StructField("mode", T.StringType()),
            T.StructField("status", T.StringType()),
            T.StructField("cluster_id", T.LongType()),
            T.StructField("peak_tweets_per_hour", T.IntegerType()),
        ]
    ),
)
REVIEW_QUEUE = Table(SCORES_LAYER, "review_queue", "score", ("as_of_date",))
AUDIT_REQUESTS = Table(
    SCORES_LAYER,
    "audit_requests",
    "score",
    ("as_of_date",),
    schema=T.StructType(
        [
            T.StructField("as_of_date", T.DateType()),
            T.StructField("account_id", T.LongType()),
            T.StructField("decision", T.StringType()),
            T.StructField("score", T.DoubleType()),
            T.StructField("band_accounts", T.LongType()),
            T.StructField("band_sampled", T.LongType()),
        ]
    ),
)

MONITORING = Table(
    MONITORING_LAYER,
    "monitoring",
    "report",
    ("as_of_date",),
    schema=T.StructType(
        [
            T.StructField("as_of_date", T.DateType()),
            T.StructField("kind", T.StringType()),
            T.StructField("name", T.StringType()),
            T.StructField("value", T.DoubleType()),
            T.StructField("threshold", T.DoubleType()),
            T.StructField("status", T.StringType()),
            T.StructField("detail", T.StringType()),
            T.StructField("model_version", T.StringType()),
            T.StructField("reference_date", T.DateType()),
        ]
    ),
)

AUDIT_RUNS = Table(
    AUDIT_LAYER,
    "runs",
    "every stage",
    schema=T.StructType(
        [
            T.StructField("run_id", T.StringType()),
            T.StructField("stage", T.StringType()),
            T.StructField("as_of_date", T.DateType()),
            T.StructField("started_at", T.TimestampType()),
            T.StructField("finished_at", T.TimestampType()),
            T.StructField("status", T.StringType()),
            T.StructField("error", T.StringType()),
            T.StructField("env", T.StringType()),
            T.StructField("code_version", T.StringType()),
            T.StructField("conf_fingerprint", T.StringType()),
            T.StructField("input_versions", T.MapType(T.StringType(), T.LongType())),
            T.StructField("output_versions", T.MapType(T.StringType(), T.LongType())),
            T.StructField("model_name", T.StringType()),
            T.StructField("model_version", T.StringType()),
        ]
    ),
)

GROUND_TRUTH = Table(
    TRUTH_LAYER,
    "ground_truth",
    "generate",
    schema=T.StructType(
        [
            T.StructField("account_id", T.LongType()),
            T.StructField("is_spam_bot", T.BooleanType()),
            T.StructField("bot_kind", T.StringType()),
            T.StructField("botnet_id", T.LongType()),
        ]
    ),
)

TABLES: tuple[Table, ...] = (
    *RAW.values(),
    QUARANTINE,
    QUALITY_RESULTS,
    FEATURES_DAILY,
    ACCOUNT_FEATURES,
    LABELS,
    SPLITS,
    SCORES,
    REVIEW_QUEUE,
    AUDIT_REQUESTS,
    MONITORING,
    AUDIT_RUNS,
    GROUND_TRUTH,
)


def schema_of(table: Table) -> T.StructType:
    """A table's declared schema; a table whose writer defines it has none to give."""
    if table.schema is None:
        raise ValueError(f"{table.label}: its schema comes from its writer, not the catalogue")
    return table.schema
