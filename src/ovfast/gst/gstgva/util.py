"""gstgva.util: what a pad probe needs to write on a buffer, and the region meta's C layout."""

import ctypes
from contextlib import contextmanager

from ovfast.gst._video import _probe_buffer_reshare, _probe_buffer_unshare

__all__ = ["GST_PAD_PROBE_INFO_BUFFER", "TRANSFORM_IP_BUFFER", "VideoRegionOfInterestMeta"]


@contextmanager
def TRANSFORM_IP_BUFFER(buffer):
    """The Gst.Buffer, writable inside the block when only its pad and this wrapper hold it: PyGObject's
    wrapper holds a reference of its own, which the block lends back (as gstgva does)."""
    dropped = _probe_buffer_unshare(buffer)
    try:
        yield buffer
    finally:
        if dropped:
            _probe_buffer_reshare(buffer)


@contextmanager
def GST_PAD_PROBE_INFO_BUFFER(info):
    """In a pad probe: `with GST_PAD_PROBE_INFO_BUFFER(info) as buffer:` gives the probe's buffer, writable
    inside the block (VideoFrame(buffer, caps=...) can then add regions, tensors and messages)."""
    with TRANSFORM_IP_BUFFER(info.get_buffer()) as buffer:
        yield buffer


class VideoRegionOfInterestMeta(ctypes.Structure):
    """GstVideoRegionOfInterestMeta's C layout (RegionOfInterest.meta())."""
    _fields_ = [("_meta_flags", ctypes.c_int),
                ("_info", ctypes.c_void_p),
                ("roi_type", ctypes.c_uint32),
                ("id", ctypes.c_int),
                ("parent_id", ctypes.c_int),
                ("x", ctypes.c_uint),
                ("y", ctypes.c_uint),
                ("w", ctypes.c_uint),
                ("h", ctypes.c_uint),
                ("_params", ctypes.c_void_p)]
