"""Shared models and the openvino/ovfast parametrisation: openvino is the oracle; on a debug build, the
check that every module leaves no ovfast object alive."""

import gc
import sys
import time

import openvino
import pytest

import ovfast
from models import add_model


@pytest.fixture(params=["openvino", "ovfast"])
def ov(request):
    """Each test using this runs once on openvino and once on ovfast."""
    return openvino if request.param == "openvino" else ovfast


@pytest.fixture
def ir_path(tmp_path):
    path = tmp_path / "add.xml"
    openvino.save_model(add_model(), str(path), compress_to_fp16=False)
    return path


# On a debug build (OVFAST_DEBUG_BUILD=1) ovfast counts its live requests, job pools, Tensors and GStreamer
# elements in C.
# Once a module's last test is torn down (its fixtures and the test's own arguments let go), none may be
# alive; a module that leaves one fails the session. A queue's dispatcher thread lets go of its pool within
# 100 ms of the queue's end, so the counts get a moment.
_LEFT_ALIVE = []
_LEFT_BEFORE = {}  # what earlier modules left (already reported): the next module is judged on its own


def _live_objects():
    from ovfast import _runtime

    if _runtime._debug_counts() is None:
        return {}
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        counts = dict(_runtime._debug_counts())
        if "ovfast.gst._video" in sys.modules:  # the elements, where a test used them
            counts.update(sys.modules["ovfast.gst._video"]._debug_counts())
        live = {name: n - _LEFT_BEFORE.get(name, 0) for name, n in counts.items() if n > _LEFT_BEFORE.get(name, 0)}
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.05)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    yield
    if nextitem is not None and nextitem.module is item.module:
        return
    live = _live_objects()
    if live:
        _LEFT_ALIVE.append(f"{item.module.__name__} left ovfast objects alive: {live}")
        for name, n in live.items():
            _LEFT_BEFORE[name] = _LEFT_BEFORE.get(name, 0) + n


def pytest_terminal_summary(terminalreporter):
    for line in _LEFT_ALIVE:
        terminalreporter.write_line(f"FAILED (debug build): {line}", red=True)


def pytest_sessionfinish(session):
    if _LEFT_ALIVE:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
