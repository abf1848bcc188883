"""The model being served, swapped without downtime when the registry alias (or the local export) changes.

`holder.current` is one immutable (bundle, version) pair read in a single step: a request takes it once and
keeps that object until it answers, so a swap never fails or mixes models inside a request. Rollback is moving
the alias back; the poller picks the old version up like any other change.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import mlflow.artifacts
from mlflow.tracking import MlflowClient

from features.bundle import BUNDLE_FILE, ModelBundle

logger = logging.getLogger(__name__)


class LoadedModel(NamedTuple):
    bundle: ModelBundle
    version: str


@dataclass(frozen=True)
class _Source:
    fingerprint: str  # changes exactly when a different model is behind the URI
    location: str  # a local file, or an MLflow URI pinned to one version


def is_local(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file") and not uri.startswith(("models:", "runs:"))


def local_bundle_file(uri: str) -> Path:
    path = Path(urlparse(uri).path if uri.startswith("file:") else uri)
    file = path / BUNDLE_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no model bundle at {path}")
    return file


class ModelHolder:
    """Loads the model behind `uri`: a local bundle (a directory holding `bundle.joblib`, or the file) or an
    MLflow URI (`models:/NAME@alias`, `models:/NAME/N`, `runs:/…`), read from `tracking_uri`."""

    def __init__(self, uri: str, tracking_uri: str | None = None, poll_seconds: float = 0) -> None:
        self.uri = uri
        self.tracking_uri = tracking_uri
        self.poll_seconds = poll_seconds
        self.last_error: str | None = None
        self._current: LoadedModel | None = None
        self._fingerprint: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def refresh(self) -> bool:
        """Re-resolve the URI; load and swap in the model only when it changed. True when it swapped."""
        with self._lock:
            source = self._resolve()
            if source.fingerprint == self._fingerprint:
                return False
            loaded = self._load(source)
            self._current, self._fingerprint = loaded, source.fingerprint
        logger.info("serving model %s from %s", loaded.version, self.uri)
        return True

    def try_refresh(self) -> bool:
        """`refresh`, logging a failure instead of raising: the model in service (if any) stays."""
        try:
            changed = self.refresh()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("could not load the model from %s: %s", self.uri, self.last_error)
            logger.debug("model load failure", exc_info=exc)
            return False
        self.last_error = None
        return changed

    def start(self) -> None:
        """Load the model (a failure leaves `current` None) and poll for a new one every `poll_seconds`."""
        self.try_refresh()
        if self.poll_seconds > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="model-poller", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.try_refresh()

    def _resolve(self) -> _Source:
        if is_local(self.uri):
            file = local_bundle_file(self.uri)
            stat = file.stat()
            return _Source(f"{stat.st_mtime_ns}:{stat.st_size}", str(file))
        if self.uri.startswith("models:/") and "@" in self.uri:
            name, alias = self.uri.removeprefix("models:/").split("@", 1)
            version = MlflowClient(tracking_uri=self.tracking_uri).get_model_version_by_alias(name, alias)
            pinned = f"{name}/{version.version}"
            return _Source(pinned, f"models:/{pinned}")
        return _Source(self.uri, self.uri)  # a fixed version or run: it never changes

    def _load(self, source: _Source) -> LoadedModel:
        if is_local(source.location):
            bundle = ModelBundle.load(Path(source.location))
            digest = hashlib.sha256(Path(source.location).read_bytes()).hexdigest()
            version = str(bundle.metadata.get("version") or f"local-{digest[:12]}")
        else:
            bundle = self._download(source.location)
            version = source.location.removeprefix("models:/")
        bundle.metadata["version"] = version  # stamped on every prediction by `ModelBundle.predict`
        return LoadedModel(bundle, version)

    def _download(self, uri: str) -> ModelBundle:
        if uri.startswith("models:/"):  # MLflow would resolve it through its global registry URI, not ours
            name, version = uri.removeprefix("models:/").split("/", 1)
            uri = MlflowClient(tracking_uri=self.tracking_uri).get_model_version_download_uri(name, version)
        with tempfile.TemporaryDirectory(prefix="eta-model-") as tmp:
            root = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=tmp, tracking_uri=self.tracking_uri
                )
            )
            found = root if root.name == BUNDLE_FILE else next(root.rglob(BUNDLE_FILE), None)
            if found is None:
                raise FileNotFoundError(f"no {BUNDLE_FILE} under {uri}")
            return ModelBundle.load(found)
