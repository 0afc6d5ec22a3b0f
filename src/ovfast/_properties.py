"""Properties cross the C API as strings: this turns openvino-style values into those strings and the
strings back into the values openvino's Python API returns."""

import numbers

import openvino as _ov
import openvino.properties as _props
import openvino.properties.device as _device
import openvino.properties.hint as _hint
import openvino.properties.intel_cpu as _intel_cpu
import openvino.properties.log as _log

_ENUMS = {
    "PERFORMANCE_HINT": _hint.PerformanceMode,
    "EXECUTION_MODE_HINT": _hint.ExecutionMode,
    "SCHEDULING_CORE_TYPE": _hint.SchedulingCoreType,
    "CACHE_MODE": _props.CacheMode,
    "COMPATIBILITY_CHECK": _props.CompatibilityCheck,  # openvino itself cannot return this one (TypeError)
    "TBB_PARTITIONER": _intel_cpu.TbbPartitioner,
    "DEVICE_TYPE": _device.Type,
}
# Enum values the C API spells otherwise than the member names: lower case, or a value with no member.
_ENUM_TEXT = {("DEVICE_TYPE", "integrated"): "INTEGRATED", ("DEVICE_TYPE", "discrete"): "DISCRETE"}
_ENUM_NUMBER = {("TBB_PARTITIONER", "NONE"): 0}  # openvino shows TbbPartitioner.???: 0
# sets of enum members, written comma-separated
_ENUM_SETS = {"MODEL_DISTRIBUTION_POLICY": _hint.ModelDistributionPolicy}
_FLOATS = {"CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE"}
_LOG_LEVELS = {"LOG_NONE": _log.Level.NO, "LOG_ERROR": _log.Level.ERR, "LOG_WARNING": _log.Level.WARNING,
               "LOG_INFO": _log.Level.INFO, "LOG_DEBUG": _log.Level.DEBUG, "LOG_TRACE": _log.Level.TRACE}
# openvino's CompiledModel gives these as plain strings where its Core gives the enum.
_COMPILED_STRINGS = {"PERFORMANCE_HINT", "PERF_COUNT", "PERFORMANCE_HINT_NUM_REQUESTS"}
_TYPES = {"INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION", "KEY_CACHE_PRECISION", "VALUE_CACHE_PRECISION"}
# SUPPORTED_PROPERTIES: the C API gives the names only, so this is a list where openvino has a dict of
# name -> "RO"/"RW" (iteration and `in` behave the same).
_LISTS = {"EXECUTION_DEVICES", "SUPPORTED_PROPERTIES", "AVAILABLE_DEVICES", "OPTIMIZATION_CAPABILITIES",
          "CACHING_PROPERTIES", "SUPPORTED_METRICS", "SUPPORTED_CONFIG_KEYS"}
# ranges openvino gives as tuples of ints: (min, max) streams, (min, max, step) requests
_INT_TUPLES = {"RANGE_FOR_STREAMS", "RANGE_FOR_ASYNC_INFER_REQUESTS"}
_STRINGS = {"FULL_DEVICE_NAME", "DEVICE_ID", "NETWORK_NAME", "MODEL_PRIORITY", "CACHE_DIR", "DEVICE_ARCHITECTURE"}


def key_of(name):
    """A property key: its string, or openvino's key function (ov.properties.hint.performance_mode)."""
    if callable(name) and not isinstance(name, str):
        name = name()
    if not isinstance(name, str):
        raise TypeError(f"a property key is a string such as 'PERFORMANCE_HINT', got {type(name).__name__}")
    return name


# Keys whose value the C API takes as a C struct or a native handle, not as text (ov_property.h): a
# Python value cannot be handed to it faithfully. The encryption callbacks are two C function pointers
# with no context argument, so there is no way to route them to Python callables.
_NOT_TEXT = {
    "CACHE_ENCRYPTION_CALLBACKS": "takes two C function pointers (ov_encryption_callbacks) with no context "
                                  "argument, which cannot call Python functions; compile with openvino to "
                                  "encrypt the cache, or leave the cache unencrypted",
    "OCL_CONTEXT": "takes a native OpenCL handle", "OCL_QUEUE": "takes a native OpenCL handle",
    "VA_DEVICE": "takes a native VA display handle", "MEM_HANDLE": "takes a native memory handle",
    "DEV_OBJECT_HANDLE": "takes a native object handle",
}


def to_text(value, key="?"):
    """The text the C API parses for a property value; TypeError for values that have none."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, _ov.Type):
        return value.get_type_name()
    if isinstance(value, dict):  # a nested map (DEVICE_PROPERTIES): OpenVINO's AnyMap text
        return "{" + ",".join(f"{key_of(k)}:{to_text(v, k)}" for k, v in _non_empty(value)) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(to_text(v, key) for v in value)
    name = getattr(value, "name", None)
    if isinstance(name, str) and type(value).__module__.startswith("openvino"):
        return name  # an openvino enum (hint.PerformanceMode.LATENCY, ...)
    raise TypeError(f"property {key!r}: a value of type {type(value).__name__} ({value!r:.60}) cannot be passed "
                    f"to OpenVINO's C API; expected a str, bool, int, float, openvino.Type, an openvino "
                    f"enum, a list of those, or a dict (for DEVICE_PROPERTIES)")


def _non_empty(mapping):
    """The items of a property map, leaving out empty nested maps: they set nothing, and the C API's
    parser never returns on the text "{}" (OpenVINO 2026.4.1 hangs in compile_model)."""
    for k, v in mapping.items():
        if not _is_empty_map(v):
            yield k, v


def _is_empty_map(value):
    return isinstance(value, dict) and not any(True for _ in _non_empty(value))


# Keys whose value is a map (AnyMap). A map given as text is parsed here and written again: the C API's
# own parser never returns on some malformed or empty texts ("{", "{}": OpenVINO 2026.4.1 hangs).
_MAPS = {"DEVICE_PROPERTIES"}


def _parse_map(text, key):
    """'{CPU:{NUM_STREAMS:1},GPU:{}}' -> {'CPU': {'NUM_STREAMS': '1'}, 'GPU': {}}; ValueError if malformed."""
    pos = 0

    def fail(what):
        raise ValueError(f"property {key!r}: {text!r} is not a map such as '{{CPU:{{NUM_STREAMS:1}}}}' "
                         f"({what} at character {pos})")

    def parse_map():
        nonlocal pos
        if text[pos:pos + 1] != "{":
            fail("expected '{'")
        pos += 1
        out = {}
        while text[pos:pos + 1] != "}":
            end = min((i for i in (text.find(":", pos), text.find("}", pos), text.find(",", pos)) if i >= 0),
                      default=-1)
            if end < 0 or text[end] != ":" or end == pos:
                fail("expected KEY:")
            name, pos = text[pos:end].strip(), end + 1
            if text[pos:pos + 1] == "{":
                out[name] = parse_map()
            else:
                end = min((i for i in (text.find(",", pos), text.find("}", pos)) if i >= 0), default=-1)
                if end < 0:
                    fail("unterminated value")
                out[name], pos = text[pos:end].strip(), end
            if text[pos:pos + 1] == ",":
                pos += 1
            elif text[pos:pos + 1] != "}":
                fail("expected ',' or '}'")
        pos += 1
        return out

    result = parse_map()
    if text[pos:].strip():
        fail("text after the map")
    return result


def to_pairs(properties):
    if not isinstance(properties, dict):
        raise TypeError(f"properties are a dict of key: value, got {type(properties).__name__}")
    pairs = []
    for k, v in _non_empty(properties):
        key = key_of(k)
        if key in _NOT_TEXT:
            raise NotImplementedError(f"property {key!r} {_NOT_TEXT[key]}")
        if key in _MAPS and isinstance(v, str):
            v = _parse_map(v.strip(), key)
            if _is_empty_map(v):
                continue
        pairs.append((key, to_text(v, key)))
    return pairs


def from_text(key, text, compiled=False):
    """The typed value openvino's Python API gives for this key (of a Core, or of a CompiledModel)."""
    if compiled and key in _COMPILED_STRINGS:
        return text
    if key == "LOG_LEVEL":
        return _LOG_LEVELS.get(text, text)
    if key in _ENUMS:
        enum = _ENUMS[key]
        if (key, text) in _ENUM_NUMBER:
            return enum(_ENUM_NUMBER[key, text])
        member = getattr(enum, _ENUM_TEXT.get((key, text), text), None)
        return member if member is not None else text
    if key in _ENUM_SETS:
        members = [getattr(_ENUM_SETS[key], t, None) for t in text.replace(",", " ").split()]
        return set(members) if None not in members else text
    if key in _FLOATS:
        try:
            return float(text)
        except ValueError:
            return text
    if key in _TYPES:
        t = getattr(_ov.Type, text, None)
        return t if isinstance(t, _ov.Type) else text
    if key in _INT_TUPLES:
        try:
            return tuple(int(t) for t in text.replace(",", " ").split())
        except ValueError:
            return text
    if key in _LISTS:  # openvino gives [""] for an empty list, as its text splits
        return [t for t in text.replace(",", " ").split() if t] or [""]
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
