"""Every property openvino's properties module defines, read from a Core and from compiled models on both
libraries: the same value of the same type, or one of the differences docs/differences.md names."""

import types

import openvino
import openvino._pyopenvino.properties as raw_properties
import pytest

import ovfast
from models import add_model


def property_names(module=raw_properties):
    """The key of every property function in openvino's properties modules (found at run time, so a new
    openvino release's keys are audited too)."""
    names = []
    for attr in dir(module):
        value = getattr(module, attr)
        if isinstance(value, types.BuiltinFunctionType):
            try:
                key = value()
            except TypeError:  # a function of a device id or of a value, not a key
                continue
            if isinstance(key, str):
                names.append(key)
        elif isinstance(value, types.ModuleType) and value.__name__.startswith(raw_properties.__name__):
            names += property_names(value)
    return sorted(set(names))


KEYS = property_names()


def read(get):
    try:
        return "ok", get()
    except Exception as e:
        return "raised", e


CONFIGS = {"default": {}, "throughput": {"PERFORMANCE_HINT": "THROUGHPUT"},
           "one thread": {"INFERENCE_NUM_THREADS": 1, "PERF_COUNT": True}}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def sources(request):
    config = CONFIGS[request.param]
    ov_core, fast_core = openvino.Core(), ovfast.Core()
    return {
        "core": (lambda k: ov_core.get_property("CPU", k), lambda k: fast_core.get_property("CPU", k)),
        "compiled": (openvino.compile_model(add_model(), "CPU", config).get_property,
                     ovfast.compile_model(add_model(), "CPU", config).get_property),
    }


def test_openvino_defines_many_properties():
    assert len(KEYS) > 50 and "RANGE_FOR_STREAMS" in KEYS and "KEY_CACHE_PRECISION" in KEYS


@pytest.mark.parametrize("where", ["core", "compiled"])
def test_every_property_reads_as_in_openvino(sources, where):
    get_ov, get_fast = sources[where]
    differ = []
    for key in KEYS:
        expected, got = read(lambda: get_ov(key)), read(lambda: get_fast(key))
        if key == "SUPPORTED_PROPERTIES" and expected[0] == "ok":
            # documented: the C API gives the names only, so a list where openvino has name -> RO/RW
            assert got == ("ok", list(expected[1])), key
            continue
        if key == "COMPATIBILITY_CHECK" and expected[0] == "raised" and isinstance(expected[1], TypeError):
            # openvino cannot convert its own enum here (TypeError); ovfast returns the enum member
            assert got[0] == "ok"
            assert isinstance(got[1], openvino.properties.CompatibilityCheck), got
            continue
        if expected[0] == "raised":
            if got[0] != "raised" or not isinstance(got[1], type(expected[1])):
                differ.append((key, expected, got))
            continue
        if got[0] != "ok" or type(got[1]) is not type(expected[1]) or str(got[1]) != str(expected[1]):
            differ.append((key, expected, got))
    assert not differ, "\n".join(f"{k}: openvino {e!r}, ovfast {g!r}" for k, e, g in differ)
