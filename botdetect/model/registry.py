"""MLflow: where runs and models go, and when the `champion` alias moves.

Every registered version gets the alias `challenger`. `champion` (what scoring serves by
default) moves only to a model with a block band, and only when it finds more bots at its
block threshold than the champion at its own on the same test accounts, without losing
precision, both judged with cluster-bootstrap bounds (`decide_promotion`).
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
TAG_FAMILY = "model_family"
# One of '+', '-', '0' per feature, in feature_columns order: the side (higher, lower,
# none) where spam accounts sat in training; forest reason codes need it.
TAG_DIRECTIONS = "feature_directions"


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

    @property
    def feature_directions(self) -> dict[str, int] | None:
        """Each feature's spam side (+1 higher, -1 lower, 0 undecided) from the
        `feature_directions` tag; None for versions registered without it."""
        text = self.tags.get(TAG_DIRECTIONS)
        if text is None:
            return None
        signs = {"+": 1, "-": -1, "0": 0}
        columns = self.feature_columns
        if len(text) != len(columns) or not set(text) <= signs.keys():
            raise ValueError(
                f"model {self.name} v{self.version}: tag {TAG_DIRECTIONS}={text!r} is not one "
                f"of '+', '-', '0' for each of its {len(columns)} feature columns"
            )
        return {c: signs[s] for c, s in zip(columns, text, strict=True)}


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


class ChampionError(RuntimeError):
    """The current champion cannot be loaded or cannot score the test set: the run fails
    and nothing is promoted (a broken champion is an incident, not a free pass)."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Challenger against champion at their own block thresholds on the same test accounts
    (components bootstrapped together, so the differences keep the pairing)."""

    accounts: int
    recall: tuple[float, float]  # (challenger, champion), point estimates
    precision: tuple[float | None, float | None]
    recall_gain_lo: float  # lower confidence bound of challenger - champion recall
    precision_change_lo: float | None  # the same for precision; None if either flags none

    def describe(self) -> str:
        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        return (
            f"recall {fmt(self.recall[0])} vs {fmt(self.recall[1])} (gain lower bound "
            f"{fmt(self.recall_gain_lo)}), precision {fmt(self.precision[0])} vs "
            f"{fmt(self.precision[1])} (change lower bound {fmt(self.precision_change_lo)}) "
            f"on {self.accounts:,} test accounts"
        )


def decide_promotion(
    challenger_blocks: bool,
    champion_version: str | None,
    champion_blocks: bool,
    comparison: Comparison | None,
    tolerance: float,
) -> Promotion:
    """Whether `champion` moves to the challenger.

    - A challenger without a block band never becomes champion (it stays `challenger`).
    - With no champion yet, a challenger with a block band does.
    - A champion without a block band (registered before this gate) gives way to one
      that has a band.
    - Otherwise the challenger must catch more bots on the same test accounts with the
      lower bound of the recall gain above 0, and must not lose precision: the lower bound
      of the precision change at least -tolerance. Point estimates on a handful of
      accounts are not enough.
    """
    if not challenger_blocks:
        return Promotion(
            False, "the challenger has no block band (no threshold reaches the block target)"
        )
    if champion_version is None:
        return Promotion(True, "no champion yet")
    if not champion_blocks:
        return Promotion(True, f"champion v{champion_version} has no block band")
    if comparison is None:
        raise ValueError("decide_promotion: a champion with a block band needs a comparison")
    numbers = f"{comparison.describe()} (champion v{champion_version})"
    if comparison.precision_change_lo is None or comparison.precision_change_lo < -tolerance:
        return Promotion(False, f"the challenger may lose precision: {numbers}")
    if comparison.recall_gain_lo <= 0:
        return Promotion(False, f"the challenger does not surely catch more bots: {numbers}")
    return Promotion(True, f"the challenger catches more bots without losing precision: {numbers}")


def served_model(cfg: Config) -> tuple[ServedModel, str]:
    """The model to serve and a note when it is not the configured one.

    With no champion at all (no model has yet earned a block band), the challenger
    serves review-only decisions: its block threshold is dropped, so nothing is blocked
    by a model that could not show block precision. Any other missing alias or version
    fails, naming it.
    """
    scfg = cfg.score
    try:
        return find_model(cfg, scfg.alias, scfg.version), ""
    except ModelNotFoundError:
        if scfg.version is not None or scfg.alias != CHAMPION:
            raise
        challenger = find_model(cfg, CHALLENGER)
    tags = {**challenger.tags, TAG_BLOCK: "none"}
    note = (
        f"no champion: challenger v{challenger.version} serves review-only decisions "
        "(no block) until a model with a block band is promoted"
    )
    log.warning("score: %s", note)
    return dataclasses.replace(challenger, tags=tags), note
