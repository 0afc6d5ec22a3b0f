"""Properties cross the C API as strings: this turns openvino-style values into those strings and the
strings back into the values openvino's Python API returns."""

import openvino as _ov
import openvino.properties as _props
import openvino.properties.hint as _hint
import openvino.properties.log as _log

_ENUMS = {
    "PERFORMANCE_HINT": _hint.PerformanceMode,
    "EXECUTION_MODE_HINT": _hint.ExecutionMode,
    "SCHEDULING_CORE_TYPE": _hint.SchedulingCoreType,
    "CACHE_MODE": _props.CacheMode,
}
_LOG_LEVELS = {"LOG_NONE": _log.Level.NO, "LOG_ERROR": _log.Level.ERR, "LOG_WARNING": _log.Level.WARNING,
               "LOG_INFO": _log.Level.INFO, "LOG_DEBUG": _log.Level.DEBUG, "LOG_TRACE": _log.Level.TRACE}
# openvino's CompiledModel gives these as plain strings where its Core gives the enum.
_COMPILED_STRINGS = {"PERFORMANCE_HINT", "PERF_COUNT"}
_TYPES = {"INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION"}
# SUPPORTED_PROPERTIES: the C API gives the names only, so this is a list where openvino has a dict of
# name -> "RO"/"RW" (iteration and `in` behave the same).
_LISTS = {"EXECUTION_DEVICES", "SUPPORTED_PROPERTIES", "AVAILABLE_DEVICES", "OPTIMIZATION_CAPABILITIES",
          "CACHING_PROPERTIES", "SUPPORTED_METRICS", "SUPPORTED_CONFIG_KEYS"}
_STRINGS = {"FULL_DEVICE_NAME", "DEVICE_ID", "NETWORK_NAME", "MODEL_PRIORITY", "CACHE_DIR", "DEVICE_ARCHITECTURE"}


def key_of(name):
    """A property key: its string, or openvino's key function (ov.properties.hint.performance_mode)."""
    if callable(name) and not isinstance(name, str):
        name = name()
    if not isinstance(name, str):
        raise TypeError(f"a property key is a string such as 'PERFORMANCE_HINT', got {type(name).__name__}")
    return name


def to_text(value):
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, _ov.Type):
        return value.get_type_name()
    if isinstance(value, (list, tuple, set)):
        return ",".join(to_text(v) for v in value)
    name = getattr(value, "name", None)
    if isinstance(name, str) and type(value).__module__.startswith("openvino"):
        return name
    return str(value)


def to_pairs(properties):
    if not isinstance(properties, dict):
        raise TypeError(f"properties are a dict of key: value, got {type(properties).__name__}")
    return [(key_of(k), to_text(v)) for k, v in properties.items()]


def from_text(key, text, compiled=False):
    """The typed value openvino's Python API gives for this key (of a Core, or of a CompiledModel)."""
    if compiled and key in _COMPILED_STRINGS:
        return text
    if key == "LOG_LEVEL":
        return _LOG_LEVELS.get(text, text)
    if key in _ENUMS:
        enum = _ENUMS[key]
        member = getattr(enum, text, None)
        return member if member is not None else text
    if key in _TYPES:
        t = getattr(_ov.Type, text, None)
        return t if isinstance(t, _ov.Type) else text
    if key in _LISTS:
        return [t for t in text.replace(",", " ").split() if t]
    if key in _STRINGS:
        return text
    if text in ("YES", "NO"):
        return text == "YES"
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
