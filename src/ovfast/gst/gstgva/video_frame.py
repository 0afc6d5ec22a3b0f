"""gstgva.video_frame: VideoFrame."""

from ovfast.gst import VideoFrame

__all__ = ["VideoFrame"]
