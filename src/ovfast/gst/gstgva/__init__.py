"""DL Streamer's gstgva API on ovfast: `from gstgva import VideoFrame` becomes
`from ovfast.gst.gstgva import VideoFrame`, and nothing else changes. The classes are ovfast.gst's own (one
implementation): VideoFrame, RegionOfInterest, Tensor, and util.GST_PAD_PROBE_INFO_BUFFER for pad probes that
write."""

from ovfast.gst.gstgva import util  # noqa: F401
from ovfast.gst.gstgva.region_of_interest import RegionOfInterest
from ovfast.gst.gstgva.tensor import Tensor
from ovfast.gst.gstgva.video_frame import VideoFrame

__all__ = ["VideoFrame", "RegionOfInterest", "Tensor", "util"]
