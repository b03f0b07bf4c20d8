"""Lazy Spark session: `spark` and `sc` exist in the user namespace from the start and are created on first use
(or, with `--spark-init background`, by a thread started with the kernel; first use then waits for it).

Creating a SparkSession on a YARN driver takes seconds to minutes; doing it on first use keeps the kernel's
start fast and costs nothing for notebooks that never touch Spark. Kept deliberately small: YARN-specific
configuration arrives through spark-submit, not through this module.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, MutableMapping, Optional

log = logging.getLogger("atrium_launcher.spark")

_lock = threading.Lock()
_session: Optional[Any] = None


def _get_session(namespace: MutableMapping[str, Any]) -> Any:
    global _session
    with _lock:
        if _session is None:
            from pyspark.sql import SparkSession

            log.info("creating the Spark session on first use")
            keep_interrupts_visible()
            _session = SparkSession.builder.getOrCreate()
            # Replace the placeholders so later uses are the real objects, with no indirection.
            namespace["spark"] = _session
            namespace["sc"] = _session.sparkContext
        return _session


def keep_interrupts_visible() -> None:
    """An interrupted Spark action must end as KeyboardInterrupt. pyspark's call-site helper makes one more
    JVM call on the way out of every action; after an interrupt that call can fail on the interrupted py4j
    connection, and its Py4JNetworkError would replace the KeyboardInterrupt the user caused. On the way out
    of an interrupt, that call's failure is logged instead."""
    try:
        from pyspark import traceback_utils
    except ImportError:
        return
    helper = traceback_utils.SCCallSiteSync
    original = helper.__exit__
    if getattr(original, "_atrium_keeps_interrupts", False):
        return

    def __exit__(self: Any, etype: Any, value: Any, tb: Any) -> Any:
        if etype is not None and issubclass(etype, KeyboardInterrupt):
            try:
                original(self, etype, value, tb)
            except Exception as exc:  # noqa: BLE001 - the interrupt is what the user must see
                log.info("after an interrupt, resetting the Spark call site failed: %s", exc)
            return False
        return original(self, etype, value, tb)

    __exit__._atrium_keeps_interrupts = True  # type: ignore[attr-defined]
    helper.__exit__ = __exit__  # type: ignore[method-assign]


class _LazySparkName:
    """Stands in for `spark` or `sc` until first attribute access."""

    def __init__(self, name: str, namespace: MutableMapping[str, Any]):
        self._name = name
        self._namespace = namespace

    def _target(self) -> Any:
        session = _get_session(self._namespace)
        return session if self._name == "spark" else session.sparkContext

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr.startswith("_ipython_") or attr.startswith("_repr_"):
            raise AttributeError(attr)  # keep IPython's display and completion probes from starting Spark
        return getattr(self._target(), attr)

    def __repr__(self) -> str:
        return f"<{self._name}: Spark session is created on first use>"


def install_lazy_spark(namespace: MutableMapping[str, Any]) -> bool:
    """Define lazy `spark` and `sc` when pyspark is importable. Returns whether it did."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        log.info("--spark-init lazy, but pyspark is not importable here: no spark/sc defined")
        return False
    namespace["spark"] = _LazySparkName("spark", namespace)
    namespace["sc"] = _LazySparkName("sc", namespace)
    return True


def start_spark_in_background(namespace: MutableMapping[str, Any]) -> threading.Thread:
    """Start creating the session now, in a daemon thread; `spark`/`sc` (from install_lazy_spark) wait for it.

    A failure is logged and left for the first use to retry, where the user sees the error in the cell.
    """

    def create() -> None:
        try:
            _get_session(namespace)
        except Exception as exc:  # noqa: BLE001 - reported again on first use
            log.error("creating the Spark session in the background failed: %s", exc)

    thread = threading.Thread(target=create, name="atrium-spark-init", daemon=True)
    thread.start()
    return thread


def cancel_spark_jobs() -> None:
    """On interrupt, cancel running Spark jobs too (a SIGINT alone leaves them running on the cluster)."""
    session = _session
    if session is None:
        return
    try:
        session.sparkContext.cancelAllJobs()
    except Exception as exc:  # py4j errors must not break the interrupt path
        log.warning("could not cancel Spark jobs on interrupt: %s", exc)
