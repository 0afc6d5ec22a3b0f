"""Publishing each frame's detections as JSON, against what users write without DL Streamer, in one run
(FPS = frames / median):

- baseline: `ovfastinfer output=detection ! fakesink` (the ceiling: detection alone);
- ovfast_file / ovfast_mqtt: `ovfastmetaconvert ! ovfastmetapublish` to a JSON-lines file, or to Mosquitto
  on 127.0.0.1 (started here);
- probe_file / probe_mqtt: a Python pad probe that reads the regions with VideoFrame, builds the same JSON
  with json.dumps and writes it to a file, or publishes it with paho-mqtt (QoS 1).

The detector is test_video_regions' stand-in (three boxes a frame) on 64x48 frames, so per-frame overhead,
not inference, is what differs.

    pytest bench/test_publish_bench.py --benchmark-group-by=group
"""

import json

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import pytest  # noqa: E402

import ovfast.gst  # noqa: E402
from test_video import save  # noqa: E402  (tests/ is on the path)
from test_video_publish import Broker  # noqa: E402
from test_video_regions import LABELS, detector  # noqa: E402
from test_video_bench import fps, last_pipeline_down, timed  # noqa: E402, F401

FRAMES = 2000
W, H = 64, 48


@pytest.fixture(scope="module")
def det(tmp_path_factory):
    return save(detector(H, W), tmp_path_factory.mktemp("publish"), "det")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


def head(det):
    return (f"videotestsrc num-buffers={FRAMES} pattern=ball ! video/x-raw,format=BGR,width={W},height={H},"
            f"framerate=1000/1 ! ovfastinfer model={det} output=detection labels={LABELS} threshold=0.1")


def frame_json(frame, pts):
    objects = []
    for r in frame.regions():
        x, y, w, h = r.rect()
        nx, ny, nw, nh = r.normalized_rect()
        objects.append({"x": x, "y": y, "w": w, "h": h, "region_id": r.region_id(), "roi_type": r.label(),
                        "detection": {"bounding_box": {"x_min": nx, "y_min": ny, "x_max": nx + nw, "y_max": ny + nh},
                                      "confidence": r.confidence(), "label_id": r.label_id(), "label": r.label()}})
    return json.dumps({"objects": objects, "resolution": {"width": W, "height": H}, "timestamp": pts},
                      sort_keys=True, separators=(",", ":"))


def probe_writing(write):
    def probe(pad, info):
        with ovfast.gst.VideoFrame(info.get_buffer(), pad.get_current_caps()) as frame:
            write(frame_json(frame, info.get_buffer().pts))
        return Gst.PadProbeReturn.OK
    return probe


def test_baseline(benchmark, det):
    benchmark.group = "publish"
    timed(benchmark, f"{head(det)} ! fakesink sync=false", frames=FRAMES)


def test_ovfast_file(benchmark, det, tmp_path):
    benchmark.group = "publish"
    timed(benchmark, f"{head(det)} ! ovfastmetaconvert ! ovfastmetapublish file-path={tmp_path}/o.jsonl "
          f"file-format=json-lines ! fakesink sync=false", frames=FRAMES)


def test_probe_file(benchmark, det, tmp_path):
    benchmark.group = "publish"
    with open(tmp_path / "o.jsonl", "w") as f:
        def write(text):
            f.write(text + "\n")
            f.flush()
        timed(benchmark, f"{head(det)} ! identity name=probe ! fakesink sync=false", probe_writing(write),
              frames=FRAMES)


def test_ovfast_mqtt(benchmark, det, broker):
    benchmark.group = "publish"
    timed(benchmark, f"{head(det)} ! ovfastmetaconvert ! ovfastmetapublish method=mqtt "
          f"address=127.0.0.1:{broker.port} topic=bench ! fakesink sync=false", frames=FRAMES)


def test_probe_mqtt(benchmark, det, broker):
    import paho.mqtt.client as mqtt
    benchmark.group = "publish"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        timed(benchmark, f"{head(det)} ! identity name=probe ! fakesink sync=false",
              probe_writing(lambda text: client.publish("bench", text, qos=1)), frames=FRAMES)
    finally:
        client.loop_stop()
        client.disconnect()
