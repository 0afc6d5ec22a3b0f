# cython: language_level=3, embedsignature=True
# distutils: language = c++
"""ovfast's runtime: OpenVINO's C API behind openvino's Python runtime API.

One extension, one fragment per concept (as uvloop does): errors, element types, tensors, ports, result
dicts, inputs, callbacks and waits, requests, compiled models, cores, the queue, whole batches, asyncio.
"""
# Who owns what (every C resource has one owner; everything else borrows it):
# - ov_core_t is freed by Core's __dealloc__, ov_compiled_model_t by CompiledModel's, each ov_tensor_t
#   reference by the one object that took it (a Tensor, _BoundTensors, _MapPlan); every tensor handle is
#   the C API's own (a variable state's too), so ov_tensor_free frees them all.
# - A request is owned by its ovf_request_state (_pool.hpp), a C++ object that also owns the tensors ovfast
#   made for it (its own input tensors, its cached outputs) and frees them all in its destructor. The
#   InferRequest owns the state; _InputSlots, the pool and every holder borrow it, and the state is freed
#   only once every run has settled.
# - Memory OpenVINO reads but does not own (ov_tensor_create_from_host_ptr) is kept by the Python object
#   that holds the tensor over it: a Tensor's _owner, a request's held inputs, map's plan.
# - The pool of an AsyncInferQueue is the one C object with shared owners, reference counted: the queue,
#   each of its jobs and each C-API user hold a reference.
# - A Python object that must outlive a completion C reports later is kept by a Python owner until then:
#   a request with a callback pending, by the callback pump's table (callbacks.pxi).
# Debug builds (OVFAST_DEBUG_BUILD=1) count live requests, pools and Tensors; the tests check that each
# test module leaves none alive.
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

from ovfast import _port_nodes, _properties, _records
from ovfast import _sugar  # the spellings of openvino's calls that are off the hot paths, parsed in Python
from ovfast import exceptions as _exc

cnp.import_array()
ovf_altstack_check()  # a thread stack left on unmapped memory before ovfast came (_altstack.h)

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
