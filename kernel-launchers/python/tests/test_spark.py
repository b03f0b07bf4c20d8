"""The lazy Spark hook: nothing is created until first use, then the names become the real objects."""

import sys
import types

from atrium_launcher import spark as lazy


class FakeSession:
    created = 0

    def __init__(self):
        FakeSession.created += 1
        self.sparkContext = types.SimpleNamespace(appName="fake-app", cancelAllJobs=lambda: None)

    def range(self, n):
        return list(range(n))


def install_fake_pyspark(monkeypatch):
    builder = types.SimpleNamespace(getOrCreate=FakeSession)
    sql = types.ModuleType("pyspark.sql")
    sql.SparkSession = types.SimpleNamespace(builder=builder)
    monkeypatch.setitem(sys.modules, "pyspark", types.ModuleType("pyspark"))
    monkeypatch.setitem(sys.modules, "pyspark.sql", sql)
    monkeypatch.setattr(lazy, "_session", None)
    FakeSession.created = 0


def test_lazy_names_create_the_session_on_first_use(monkeypatch):
    install_fake_pyspark(monkeypatch)
    ns = {}
    assert lazy.install_lazy_spark(ns) is True
    assert FakeSession.created == 0
    assert "created on first use" in repr(ns["spark"])
    assert ns["sc"].appName == "fake-app"  # first use
    assert FakeSession.created == 1
    assert isinstance(ns["spark"], FakeSession)  # placeholders replaced by the real objects
    assert ns["spark"].range(3) == [0, 1, 2]
    assert FakeSession.created == 1


def test_display_probes_do_not_start_spark(monkeypatch):
    install_fake_pyspark(monkeypatch)
    ns = {}
    lazy.install_lazy_spark(ns)
    assert getattr(ns["spark"], "_repr_html_", None) is None
    assert FakeSession.created == 0


def test_without_pyspark_nothing_is_defined(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # makes `import pyspark` raise ImportError
    ns = {}
    assert lazy.install_lazy_spark(ns) is False
    assert ns == {}


def test_background_mode_creates_the_session_without_waiting_for_first_use(monkeypatch):
    # A YARN cluster-mode driver must create its SparkContext within spark.yarn.am.waitTime; on first use is too late.
    install_fake_pyspark(monkeypatch)
    ns = {}
    lazy.install_lazy_spark(ns)
    lazy.start_spark_in_background(ns).join(5)
    assert FakeSession.created == 1
    assert isinstance(ns["spark"], FakeSession)


def test_cancel_spark_jobs_cancels_when_a_session_exists(monkeypatch):
    install_fake_pyspark(monkeypatch)
    cancelled = []
    lazy.cancel_spark_jobs()  # no session yet: nothing to do, no error
    ns = {}
    lazy.install_lazy_spark(ns)
    ns["sc"].appName  # noqa: B018 - first use creates the session
    monkeypatch.setattr(lazy._session.sparkContext, "cancelAllJobs", lambda: cancelled.append(True))
    lazy.cancel_spark_jobs()
    assert cancelled == [True]


def test_an_interrupted_action_ends_as_keyboard_interrupt_even_if_the_call_site_reset_fails(monkeypatch):
    class CallSite:  # pyspark.traceback_utils.SCCallSiteSync's shape: one more JVM call on the way out
        def __enter__(self):
            return self

        def __exit__(self, etype, value, tb):
            raise RuntimeError("Py4JNetworkError: Answer from Java side is empty")

    pyspark = types.ModuleType("pyspark")
    utils = types.ModuleType("pyspark.traceback_utils")
    utils.SCCallSiteSync = CallSite
    pyspark.traceback_utils = utils
    monkeypatch.setitem(sys.modules, "pyspark", pyspark)
    monkeypatch.setitem(sys.modules, "pyspark.traceback_utils", utils)

    lazy.keep_interrupts_visible()
    lazy.keep_interrupts_visible()  # idempotent: wrapped once

    try:
        with CallSite():
            raise KeyboardInterrupt()
    except BaseException as exc:  # noqa: BLE001
        assert type(exc) is KeyboardInterrupt
    else:
        raise AssertionError("the interrupt was swallowed")

    try:  # any other way out keeps pyspark's own behaviour
        with CallSite():
            pass
    except RuntimeError as exc:
        assert "Py4JNetworkError" in str(exc)
    else:
        raise AssertionError("the call-site failure was hidden outside an interrupt")
