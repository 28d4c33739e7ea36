"""MLflow: where runs and models go, and when the `champion` alias moves.

Every registered version gets the alias `challenger`. `champion` (what scoring serves by
default) moves only when the challenger finds more bots at the block threshold than the
champion on the same test accounts, without losing precision.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from botdetect.config import Config

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
# Model-version tags that scoring reads back.
TAG_BLOCK = "threshold_block"
TAG_REVIEW = "threshold_review"
TAG_AS_OF = "as_of_date"
TAG_FEATURES = "feature_columns"
TAG_RUN = "run_id"


class ModelNotFoundError(LookupError):
    """No registered model version behind the requested alias or version."""


def tracking_uri(cfg: Config) -> str:
    """The configured tracking URI, else a SQLite file next to the local tables."""
    if cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri
    return f"sqlite:///{Path(cfg.storage.root).resolve() / 'mlflow.db'}"


def setup_mlflow(cfg: Config) -> str:
    """Point MLflow at the configured stores and experiment; returns the experiment id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    if cfg.mlflow.registry_uri:
        mlflow.set_registry_uri(cfg.mlflow.registry_uri)
    experiment = mlflow.get_experiment_by_name(cfg.mlflow.experiment)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    elif cfg.mlflow.tracking_uri:
        experiment_id = mlflow.create_experiment(cfg.mlflow.experiment)
    else:  # local: artifacts beside the tables, not in the working directory
        location = (Path(cfg.storage.root).resolve() / "mlartifacts").as_uri()
        experiment_id = mlflow.create_experiment(cfg.mlflow.experiment, location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A registered model version and what scoring needs from it."""

    name: str
    version: str
    uri: str
    run_id: str
    tags: dict[str, str]

    @property
    def block_threshold(self) -> float | None:
        return _optional_float(self.tags.get(TAG_BLOCK))

    @property
    def review_threshold(self) -> float | None:
        return _optional_float(self.tags.get(TAG_REVIEW))

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.tags.get(TAG_FEATURES, "").split(",") if c]


def _optional_float(text: str | None) -> float | None:
    return None if text in (None, "", "none") else float(text)


def find_model(
    cfg: Config, alias: str | None = CHAMPION, version: str | None = None
) -> ServedModel:
    """The version behind `alias` (or the pinned `version`), or ModelNotFoundError."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = cfg.mlflow.model_name
    try:
        if version is not None:
            mv = client.get_model_version(name, str(version))
        else:
            mv = client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        wanted = f"version {version}" if version is not None else f"alias {alias!r}"
        raise ModelNotFoundError(
            f"model {name!r} has no {wanted} in the registry at {tracking_uri(cfg)} "
            f"(train one with `botdetect train`): {exc.message.splitlines()[0]}"
        ) from None
    return ServedModel(
        name=name,
        version=str(mv.version),
        uri=f"models:/{name}/{mv.version}",
        run_id=mv.run_id or "",
        tags=dict(mv.tags or {}),
    )


@dataclasses.dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str


def decide_promotion(
    challenger: tuple[float, float] | None,
    champion: tuple[float, float] | None,
    tolerance: float,
    champion_version: str | None,
) -> Promotion:
    """Whether `champion` moves, from (recall, precision) at each model's block threshold
    on the same test accounts; None means the model has no block threshold there."""
    if champion_version is None:
        return Promotion(True, "no champion yet")
    if challenger is None:
        return Promotion(False, "the challenger reaches the block precision target at no threshold")
    if champion is None:
        return Promotion(
            True,
            f"champion v{champion_version} reaches the block precision target at no "
            "threshold on this test set",
        )
    (c_recall, c_precision), (h_recall, h_precision) = challenger, champion
    numbers = (
        f"recall {c_recall:.4f} vs {h_recall:.4f}, precision {c_precision:.4f} vs "
        f"{h_precision:.4f} (champion v{champion_version})"
    )
    if c_precision < h_precision - tolerance:
        return Promotion(False, f"the challenger loses precision: {numbers}")
    if c_recall <= h_recall:
        return Promotion(False, f"the challenger does not catch more bots: {numbers}")
    return Promotion(True, f"the challenger catches more bots without losing precision: {numbers}")
