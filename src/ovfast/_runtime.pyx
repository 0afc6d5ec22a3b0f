# cython: language_level=3, embedsignature=True
# distutils: language = c++
"""ovfast's runtime: OpenVINO's C API behind openvino's Python runtime API.

One extension, one fragment per concept (as uvloop does): errors, element types, tensors, ports, result
dicts, inputs, requests and their callbacks, compiled models, cores.
"""
cimport cpython
cimport cython
cimport numpy as cnp
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy
from libcpp.string cimport string
from libcpp.vector cimport vector

from ovfast.includes.openvino_c cimport *
from ovfast.includes.bridge cimport *

import _thread
import asyncio
import collections
import collections.abc
import io
import math
import operator
import os
import tempfile
import threading
import warnings
import weakref

import numpy as np
import openvino as _ov

from ovfast import _properties, _records
from ovfast import exceptions as _exc

cnp.import_array()

include "errors.pxi"
include "element_types.pxi"
include "tensor.pxi"
include "ports.pxi"
include "results.pxi"
include "inputs.pxi"
include "callbacks.pxi"
include "infer_request.pxi"
include "state.pxi"
include "compiled_model.pxi"
include "core.pxi"
include "queue.pxi"
include "batches.pxi"
include "aio.pxi"


def openvino_c_version():
    """The build number of the OpenVINO C library loaded in this process."""
    cdef ov_version_t v
    check(ov_get_openvino_version(&v), b"ov_get_openvino_version")
    try:
        return v.buildNumber.decode("utf-8")
    finally:
        ov_version_free(&v)


def _debug_counts():
    """Live objects of a debug build (OVFAST_DEBUG_BUILD=1 at build time): C request states, job pools and
    Tensors; None in a release build."""
    if ovf_live_state_count() < 0:
        return None
    return {"requests": ovf_live_state_count(), "pools": ovf_live_pool_count(), "tensors": ovf_live_tensor_count()}
