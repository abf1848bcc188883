"""LightGBM predictions on one thread, with the C API's single-row fast path for a checkout-sized input, and
on every core for a bulk matrix (batch prediction, evaluation), where threads pay for themselves.

`Booster.predict` parses its parameters and sets up a predictor on every call (~40 µs for a 300-tree model on
one row); `LGBM_BoosterPredictForMatSingleRowFast` keeps that set-up from one call to the next (~18 µs). Both
run the same trees and give the same numbers (a test checks). The fast handle belongs to this object, which is
built on first use and never pickled: a bundle stays a plain picklable object.
"""

from __future__ import annotations

import ctypes
import threading
import weakref

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

SINGLE_ROW_MAX = 2  # up to this many rows go one by one through the fast path; more go as one matrix
BULK_ROWS = 10_000  # from this many rows the matrix is predicted on every core (same answer per row)
_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: what Booster.predict returns by default
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64

_API = ctypes.CDLL(_LIB._name)  # our own function objects over LightGBM's library, with declared types
_API.LGBM_BoosterPredictForMatSingleRowFast.argtypes = [
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_int64),
    ctypes.c_void_p,
]
_API.LGBM_BoosterPredictForMatSingleRowFastInit.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int32,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_void_p),
]
_API.LGBM_FastConfigFree.argtypes = [ctypes.c_void_p]


def threads(rows: int) -> int:
    """LightGBM's `num_threads` for a matrix of `rows`: every core (0) for a bulk matrix, else one."""
    return 0 if rows >= BULK_ROWS else 1


class OneThreadPredictor:
    """A booster's default predictions (what `Booster.predict(X, num_threads=1)` returns), on one thread below
    `BULK_ROWS` rows (a server's request must not fan out), on every core from there."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        self._handle: ctypes.c_void_p | None = None
        self._lock = threading.Lock()

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(X) > SINGLE_ROW_MAX:
            return np.asarray(self.booster.predict(X, num_threads=threads(len(X))))
        handle = self._handle if self._handle is not None else self._init(X.shape[1])
        out = np.empty(len(X), dtype=np.float64)
        n_out = ctypes.c_int64()
        for i in range(len(X)):
            row = np.ascontiguousarray(X[i], dtype=np.float64)
            predict = _API.LGBM_BoosterPredictForMatSingleRowFast
            _safe_call(predict(handle, row.ctypes.data, n_out, out[i:].ctypes.data))
        return out

    def _init(self, n_features: int) -> ctypes.c_void_p:
        with self._lock:
            if self._handle is None:
                if self.booster.num_model_per_iteration() != 1:
                    raise ValueError("the single-row path answers one number per row")
                handle = ctypes.c_void_p()
                iterations = self.booster.best_iteration or -1  # Booster.predict's default: all, or the best
                init = _API.LGBM_BoosterPredictForMatSingleRowFastInit
                args = (_PREDICT_NORMAL, 0, iterations, _FLOAT64, n_features, b"num_threads=1")
                _safe_call(init(self.booster._handle, *args, ctypes.byref(handle)))
                weakref.finalize(self, _API.LGBM_FastConfigFree, handle)
                self._handle = handle
        return self._handle
