# cython: language_level=3, embedsignature=True
"""ovfast's GStreamer elements and frame API, on GStreamer's C API. Import ovfast.gst, not this module."""
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdio cimport snprintf
from libc.string cimport memcpy, memset, strlen
from cpython.buffer cimport PyBuffer_FillInfo, PyBUF_WRITABLE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF

from ovfast.includes.gstreamer cimport *
from ovfast cimport api
from ovfast.api cimport ovf_pool

cdef extern from "Python.h" nogil:     # ovfastpython's task keeps one thread state (python_element.pxi)
    ctypedef struct PyThreadState
    ctypedef enum PyGILState_STATE:
        PyGILState_LOCKED
        PyGILState_UNLOCKED
    PyGILState_STATE PyGILState_Ensure()
    void PyGILState_Release(PyGILState_STATE)
    PyThreadState* PyEval_SaveThread()
    void PyEval_RestoreThread(PyThreadState*)

from ovfast.gst import _model, _python

api.check_version()

# Each file stands only on files included before it: those named in its comment.
include "python_gate.pxi"       # Python on GStreamer's threads
include "meta.pxi"              # OvfastTensorMeta
include "element.pxi"           # the skeleton every element stands on
include "decode.pxi"            # what a run's outputs become on its frame (meta; postproc, its part)
include "yolo_grids.pxi"        # model-proc's YOLO converters on raw grids (meta, decode)
include "postproc.pxi"          # model-proc's converters (meta, decode, yolo_grids)
include "batch.pxi"             # a frame's run through a DynamicBatcher (meta, decode)
include "reclassify.pxi"        # ovfastinfer's reclassify-interval (element)
include "infer_model.pxi"       # ovfastinfer's state and model (python_gate, element, decode, batch)
include "infer.pxi"             # ovfastinfer (element, decode, batch, infer_model)
include "fields.pxi"            # a GstStructure's fields as Python values
include "frame.pxi"             # VideoFrame (meta, fields; its regions and tensors follow)
include "tensor.pxi"            # gstgva's Tensor (meta, fields, frame)
include "region.pxi"            # gstgva's RegionOfInterest (fields, frame, tensor)
include "python_element.pxi"    # ovfastpython (python_gate, element, frame)
include "in_place.pxi"          # elements that work on a frame on the thread that brings it (element)
include "metaconvert.pxi"       # ovfastmetaconvert (meta, element, in_place)
include "metapublish.pxi"       # ovfastmetapublish (element, in_place)
include "track.pxi"             # ovfasttrack (element, in_place)
include "watermark.pxi"         # ovfastwatermark (element, in_place)
include "fpscounter.pxi"        # ovfastfpscounter (element, in_place)


cdef bint _gate_closes_at_exit = False


def register(size_t plugin=0):
    """Registers ovfast's metas and the elements (GStreamer must be initialised): with the GstPlugin at
    address plugin, which ovfast's GStreamer plugin passes while GStreamer loads it, or for this process
    alone (0), as `import ovfast.gst` does."""
    global _gate_closes_at_exit
    if not _gate_closes_at_exit:
        import atexit
        atexit.register(_close_python_gate)
        _gate_closes_at_exit = True
    _register_tensor_meta()
    _register_infer(<void*>plugin)
    _register_python(<void*>plugin)
    _register_metaconvert(<void*>plugin)
    _register_metapublish(<void*>plugin)
    _register_track(<void*>plugin)
    _register_watermark(<void*>plugin)
    _register_fpscounter(<void*>plugin)


def _debug_counts():
    """Live ovfast elements of a debug build (OVFAST_DEBUG_BUILD=1 at build time); None in a release build."""
    n = ovf_live_element_count()
    return None if n < 0 else {"elements": n}
