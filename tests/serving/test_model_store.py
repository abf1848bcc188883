"""The model holder: local bundles and registry aliases, swapped on refresh without disturbing requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from features.bundle import BUNDLE_FILE, ModelBundle
from serving.model_store import ModelHolder
from training.split import Split


@pytest.fixture
def champion(registry: str) -> Iterator[MlflowClient]:
    """The registry with `champion` on version 1; move it with `set_registered_model_alias`."""
    client = MlflowClient(tracking_uri=registry)
    client.set_registered_model_alias("eta", "champion", "1")
    yield client


def holder_for(registry: str, **kwargs: float) -> ModelHolder:
    return ModelHolder("models:/eta@champion", tracking_uri=registry, **kwargs)


@pytest.mark.parametrize("target", ["directory", "file"])
def test_a_local_bundle_loads_with_a_content_version(bundle_dir: Path, target: str) -> None:
    holder = ModelHolder(str(bundle_dir if target == "directory" else bundle_dir / BUNDLE_FILE))
    assert holder.refresh() is True
    loaded = holder.current
    assert loaded is not None and isinstance(loaded.bundle, ModelBundle)
    assert loaded.version.startswith("local-") and len(loaded.version) == len("local-") + 12


def test_predictions_carry_the_version_in_service(bundle_dir: Path, tiny_history: Split) -> None:
    holder = ModelHolder(str(bundle_dir))
    holder.refresh()
    assert holder.current is not None
    predictions = holder.current.bundle.predict(tiny_history.test.head(3))
    assert set(predictions["model_version"]) == {holder.current.version}


def test_a_missing_model_leaves_the_holder_empty_and_says_why(tmp_path: Path) -> None:
    holder = ModelHolder(str(tmp_path / "nothing-here"))
    holder.start()
    holder.stop()
    assert holder.current is None and "FileNotFoundError" in (holder.last_error or "")


def test_the_registry_alias_resolves_to_a_numbered_version(champion: MlflowClient, registry: str) -> None:
    holder = holder_for(registry)
    holder.refresh()
    assert holder.current is not None and holder.current.version == "eta/1"
    assert holder.current.bundle.metadata["version"] == "eta/1"


def test_refresh_swaps_only_when_the_alias_moves(champion: MlflowClient, registry: str) -> None:
    holder = holder_for(registry)
    assert holder.refresh() is True
    first = holder.current
    assert holder.refresh() is False and holder.current is first
    champion.set_registered_model_alias("eta", "champion", "2")
    assert holder.refresh() is True
    assert holder.current is not None and holder.current.version == "eta/2"
    champion.set_registered_model_alias("eta", "champion", "1")  # rollback is moving the alias back
    assert holder.refresh() is True and holder.current.version == "eta/1"


def test_a_request_keeps_the_model_it_took_across_a_swap(
    champion: MlflowClient, registry: str, tiny_history: Split
) -> None:
    holder = holder_for(registry)
    holder.refresh()
    taken = holder.current  # what a request in flight holds
    champion.set_registered_model_alias("eta", "champion", "2")
    holder.refresh()
    assert taken is not None and holder.current is not None
    assert holder.current.bundle is not taken.bundle and taken.version == "eta/1"
    predictions = taken.bundle.predict(tiny_history.test.head(2))
    assert set(predictions["model_version"]) == {"eta/1"}


def test_the_poller_picks_up_a_new_champion(champion: MlflowClient, registry: str) -> None:
    holder = holder_for(registry, poll_seconds=0.05)
    holder.start()
    try:
        champion.set_registered_model_alias("eta", "champion", "2")
        deadline = time.monotonic() + 20
        while holder.current is None or holder.current.version != "eta/2":
            assert time.monotonic() < deadline, "the poller did not swap in version 2"
            time.sleep(0.05)
    finally:
        holder.stop()


def test_the_holder_reads_its_own_registry_not_mlflows_global_one(
    champion: MlflowClient, registry: str, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        holder = holder_for(registry)
        assert holder.refresh() and holder.current is not None and holder.current.version == "eta/1"
    finally:
        mlflow.set_tracking_uri(registry)
