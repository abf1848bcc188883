"""The registered versions behind the served alias, and moving that alias (promote, roll back).

The service follows the alias (`models:/NAME@ALIAS`): after the alias moves, `ModelHolder.refresh` loads the
version it now points to, and every other replica picks it up at its next poll.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from serving.errors import ProblemError

SHOWN_METRICS = ("test_mae_hours", "test_coverage", "test_width_hours", "late_brier", "late_roc_auc")


class UnknownVersion(ProblemError):
    status = 404


@dataclass(frozen=True)
class AliasTarget:
    name: str
    alias: str


@dataclass(frozen=True)
class RegisteredVersion:
    version: str
    created_at: dt.datetime
    aliases: tuple[str, ...]
    metrics: dict[str, float]


def alias_target(model_uri: str) -> AliasTarget | None:
    """`models:/NAME@ALIAS` -> (NAME, ALIAS); None for a fixed version or a local export."""
    if not model_uri.startswith("models:/") or "@" not in model_uri:
        return None
    name, alias = model_uri.removeprefix("models:/").split("@", 1)
    return AliasTarget(name, alias)


def list_versions(tracking_uri: str, target: AliasTarget, limit: int = 20) -> list[RegisteredVersion]:
    """The newest registered versions of the model, with their aliases and headline test metrics."""
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        registered = client.get_registered_model(target.name)
    except MlflowException:
        return []  # nothing registered under that name (yet)
    aliases: dict[str, list[str]] = {}
    for alias, version in registered.aliases.items():
        aliases.setdefault(str(version), []).append(alias)  # search results do not carry aliases
    found = client.search_model_versions(
        f"name='{target.name}'", max_results=limit, order_by=["creation_timestamp DESC"]
    )
    out = []
    for v in found:
        metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        out.append(RegisteredVersion(
            version=str(v.version),
            created_at=dt.datetime.fromtimestamp(v.creation_timestamp / 1000, dt.UTC),
            aliases=tuple(sorted(aliases.get(str(v.version), []))),
            metrics={k: metrics[k] for k in SHOWN_METRICS if k in metrics},
        ))  # fmt: skip
    return sorted(out, key=lambda v: -int(v.version))


def move_alias(tracking_uri: str, target: AliasTarget, version: str) -> None:
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        client.get_model_version(target.name, version)
    except MlflowException:
        raise UnknownVersion(f"Model '{target.name}' has no version {version}.") from None
    client.set_registered_model_alias(target.name, target.alias, version)
