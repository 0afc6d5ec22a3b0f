"""ovfastmetaconvert and ovfastmetapublish: each frame's results as gvametaconvert's JSON message, and the
messages in a file or at an MQTT broker (Mosquitto, started here on 127.0.0.1). The detector and classifier
are test_video_regions' stand-ins; openvino runs them on the same frames as the oracle."""

import getpass
import json
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import time

import gi
import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import ovfast.gst  # noqa: E402,F401
from ovfast.gst import VideoFrame  # noqa: E402
from test_gst_plugin import env, plugin_path, run, tool  # noqa: E402,F401  (fixtures)
from test_video import F32, F32_CONFIG, bus_error, pipeline  # noqa: E402
from test_video_regions import LABELS, classifier, crop_oracle, detector, frame_with_means, save  # noqa: E402

W, H = 64, 48
APPSRC = f"appsrc name=src format=time caps=video/x-raw,format=BGR,width={W},height={H},framerate=30/1"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish")
    return save(detector(H, W), folder, "det"), save(classifier(), folder, "cls")


def push(src, frames, start=0):
    for i, frame in enumerate(frames, start):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts = i * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK


def pull_messages(p, n, timeout=30, warnings=None):
    """[(pts, [messages parsed])] of the next n frames at the appsink `sink`; fails on an error on the bus, and
    appends the text of the warnings it takes off the bus to warnings."""
    sink, out = p.get_by_name("sink"), []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        sample = sink.emit("try-pull-sample", 100 * Gst.MSECOND)
        if sample is not None:
            with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
                out.append((f.pts, [json.loads(m) for m in f.messages()]))
        else:
            while (msg := p.get_bus().pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)) is not None:
                assert msg.type == Gst.MessageType.WARNING, msg.parse_error()[0].message
                if warnings is not None:
                    warnings.append(msg.parse_warning()[0].message)
    assert len(out) == n, f"{len(out)} of {n} frames"
    return out


def run_frames(description, frames, timeout=60):
    """Pushes frames through appsrc ! description ! appsink; [(pts, [messages])] per frame, in order."""
    p = pipeline(f"{APPSRC} ! {description} ! appsink name=sink sync=false max-buffers=100000")
    p.set_state(Gst.State.PLAYING)
    try:
        push(p.get_by_name("src"), frames)
        p.get_by_name("src").emit("end-of-stream")
        out = pull_messages(p, len(frames), timeout)
        msg = p.get_bus().timed_pop_filtered(timeout * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()[0].message
    finally:
        p.set_state(Gst.State.NULL)
    return out


# --- ovfastmetaconvert: gvametaconvert's schema, against openvino ----------------------------------------------
def test_json_of_each_frame_is_its_regions_results_and_tensors(models, tmp_path):
    det, cls = models
    frames = [frame_with_means(200 - 9 * i, 60 + 7 * i, 150, seed=20 + i) for i in range(6)]
    path = tmp_path / "out.jsonl"
    got = run_frames(f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.2 {F32} ! "
                     f"ovfastinfer model={cls} region=roi output=classification {F32} labels=a,b,c,d,e ! "
                     f"ovfastmetaconvert add-tensor-data=true ! "
                     f"ovfastmetapublish method=file file-path={path} file-format=json-lines", frames)
    # the file says what the frames' messages said, frame by frame
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [m for _, messages in got for m in messages] and len(lines) == len(frames)
    det_oracle = openvino.Core().compile_model(detector(H, W), "CPU", F32_CONFIG)
    cls_model = classifier()
    for i, ((pts, messages), frame) in enumerate(zip(got, frames)):
        assert pts == i * Gst.SECOND // 30 and len(messages) == 1
        m = messages[0]
        assert set(m) == {"objects", "resolution", "timestamp", "tensors"}
        assert m["resolution"] == {"width": W, "height": H} and m["timestamp"] == pts
        boxes = det_oracle(frame[None])[0]
        [raw] = m["tensors"]
        assert (raw["name"], raw["layer_name"], raw["model_name"], raw["precision"], raw["dims"]) == \
            ("inference_layer_name:boxes", "boxes", "detector", "FP32", [1, 1, 4, 7])
        np.testing.assert_allclose(np.array(raw["data"], np.float32).reshape(boxes.shape), boxes, rtol=1e-6)
        rows = [r for r in boxes[0, 0] if r[0] >= 0 and r[2] >= 0.2]
        assert len(m["objects"]) == len(rows) > 0
        for o, (_, label_id, conf, x0, y0, x1, y1) in zip(m["objects"], rows):
            px, py = int(x0 * W + 0.5), int(y0 * H + 0.5)
            rect = (px, py, int(x1 * W + 0.5) - px, int(y1 * H + 0.5) - py)
            label = LABELS.split(",")[int(label_id)]
            assert (o["x"], o["y"], o["w"], o["h"]) == rect
            assert o["roi_type"] == label and o["region_id"] != 0 and "id" not in o    # no tracker: no id
            d = o["detection"]
            assert (d["label"], d["label_id"]) == (label, int(label_id))
            assert d["confidence"] == pytest.approx(float(conf), rel=1e-6)
            assert d["bounding_box"] == pytest.approx({"x_min": rect[0] / W, "y_min": rect[1] / H,
                                                       "x_max": (rect[0] + rect[2]) / W,
                                                       "y_max": (rect[1] + rect[3]) / H})
            scores = crop_oracle(cls_model, frame, rect)
            best = int(np.argmax(scores))
            c = o["classification"]
            assert (c["label"], c["label_id"], c["model"]) == ("abcde"[best], best, {"name": "classifier"})
            assert c["confidence"] == pytest.approx(float(scores[0, best]), rel=5e-3)
            params, outputs = o["tensors"][:2], o["tensors"][2:]
            assert [t["name"] for t in params] == ["detection", "classification"]
            assert params[1]["label"] == "abcde"[best] and "label" not in params[0]
            [out] = outputs
            assert (out["layer_name"], out["model_name"], out["dims"]) == ("scores", "classifier", [1, 5])
            np.testing.assert_allclose(out["data"], scores[0], rtol=5e-3, atol=1e-5)


def test_empty_frames_indent_and_one_json_array(tmp_path):
    path = tmp_path / "out.json"
    got = run_frames(f"ovfastmetaconvert add-empty-results=true json-indent=2 source=cam1 ! "
                     f"ovfastmetapublish file-path={path} file-format=json", [frame_with_means(9, 9, 9)] * 4)
    messages = [m for _, ms in got for m in ms]
    assert json.loads(path.read_text()) == messages
    assert messages == [{"resolution": {"width": W, "height": H}, "timestamp": i * Gst.SECOND // 30,
                         "source": "cam1"} for i in range(4)]
    p = pipeline(f"{APPSRC} ! ovfastmetaconvert add-empty-results=true json-indent=2 ! appsink name=sink")
    p.set_state(Gst.State.PLAYING)
    try:
        push(p.get_by_name("src"), [frame_with_means(9, 9, 9)])
        sample = p.get_by_name("sink").emit("pull-sample")
        with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
            [text] = f.messages()
    finally:
        p.set_state(Gst.State.NULL)
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)     # json-indent: indented, keys sorted
    # without add-empty-results, frames without results get no message and the file is an empty array
    got = run_frames(f"ovfastmetaconvert ! ovfastmetapublish file-path={path}", [frame_with_means(9, 9, 9)] * 3)
    assert got == [(i * Gst.SECOND // 30, []) for i in range(3)] and json.loads(path.read_text()) == []


def test_messages_added_from_python_are_published_too(tmp_path):
    module = tmp_path / "adder.py"
    module.write_text("def process_frame(frame):\n    frame.add_message('{\"n\": %d}' % frame.pts)\n    return True\n")
    path = tmp_path / "out.jsonl"
    got = run_frames(f"ovfastpython module={module} ! ovfastmetapublish file-path={path} file-format=json-lines",
                     [frame_with_means(9, 9, 9)] * 3)
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"n": pts} for pts, _ in got]


def integer_model(element_type, values):
    """u8 NHWC frame -> `values` as an output of element_type (the frame adds 0 to them: a real run)."""
    x = ops.parameter([1, H, W, 3], openvino.Type.u8, name="image")
    zero = ops.multiply(ops.convert(ops.reduce_min(x, np.array([1, 2, 3], np.int64), True), element_type),
                        ops.constant(np.array(0, values.dtype)))
    out = ops.add(ops.constant(values.reshape(1, -1)), ops.reshape(zero, np.array([1, 1], np.int64), False))
    model = openvino.Model([out], [x], "ints")
    model.outputs[0].tensor.set_names({"values"})
    return model


@pytest.mark.parametrize("element_type", ["i64", "i32", "i8", "u8"])
def test_integer_tensor_data_is_each_value_in_decimal(element_type, tmp_path):
    # the extremes of the type, zero, +-1, and random values of every magnitude; openvino's output is the oracle
    # (OpenVINO's CPU plugin computes i64 in i32)
    dtype = np.dtype({"i64": np.int64, "i32": np.int32, "i8": np.int8, "u8": np.uint8}[element_type])
    info = np.iinfo(dtype)
    rng = np.random.default_rng(11)
    magnitudes = [int(rng.integers(0, 10 ** e)) for e in range(1, 19)]
    values = np.array([info.min, info.max, 0, 1, min(info.max, 10), info.min + 1] +
                      [int(np.clip(v * sign, info.min, info.max)) for v in magnitudes for sign in (1, -1)], dtype)
    model = integer_model(getattr(openvino.Type, element_type), values)
    path = save(model, tmp_path, "ints")
    expected = openvino.compile_model(model, "CPU")(np.full((1, H, W, 3), 7, np.uint8))[0]
    got = run_frames(f"ovfastinfer model={path} output=tensor ! ovfastmetaconvert add-tensor-data=true "
                     f"add-empty-results=true", [frame_with_means(9, 9, 9)])
    [(_, [m])] = got
    [t] = m["tensors"]
    assert (t["precision"], t["dims"]) == (element_type.upper(), list(expected.shape))
    assert t["data"] == [int(v) for v in expected.ravel()]


FRAME_RESULT = """
def process_frame(frame):
    t = frame.add_tensor()
    for key, value in [("attribute_name", "scene"), ("label", "day"), ("label_id", 2), ("confidence", 0.75),
                       ("model_name", "scener")]:
        t[key] = value
    frame.add_tensor()["note"] = "no label: not a result"
    return True
"""


def test_results_on_the_whole_frame_are_one_object_covering_it(tmp_path):
    module = tmp_path / "scene.py"
    module.write_text(FRAME_RESULT)
    got = run_frames(f"ovfastpython module={module} ! ovfastmetaconvert add-tensor-data=true",
                     [frame_with_means(9, 9, 9)] * 2)
    for pts, [m] in got:
        assert m["objects"] == [{"x": 0, "y": 0, "w": W, "h": H, "tensors": [m["tensors"][0]],
                                 "scene": {"label": "day", "label_id": 2, "confidence": 0.75,
                                           "model": {"name": "scener"}}}]
        assert m["tensors"] == [{"name": "meta", "label": "day", "label_id": 2, "confidence": 0.75,
                                 "model_name": "scener"}, {"name": "meta"}]


def test_frames_before_an_error_are_in_the_file(tmp_path):
    module = tmp_path / "boom.py"
    module.write_text("seen = []\ndef process_frame(frame):\n    seen.append(1)\n"
                      "    if len(seen) > 4:\n        raise ValueError('frame 5')\n    return True\n")
    path = tmp_path / "out.jsonl"
    error = bus_error(f"videotestsrc num-buffers=20 ! video/x-raw,width=32,height=32 ! "
                      f"ovfastmetaconvert add-empty-results=true ! "
                      f"ovfastmetapublish file-path={path} file-format=json-lines ! ovfastpython module={module} ! "
                      f"fakesink")
    assert "frame 5" in error
    # each frame is on disk before it goes on: the 4 the function passed are there (and the fifth, which it failed)
    stamps = [json.loads(line)["timestamp"] for line in path.read_text().splitlines()]
    assert stamps[:5] == [i * Gst.SECOND // 30 for i in range(5)]


SRC5 = "videotestsrc num-buffers=5 ! video/x-raw,width=32,height=32"


def test_bad_properties_and_paths_are_errors_naming_them(tmp_path):
    error = bus_error(f"{SRC5} ! ovfastmetaconvert format=xml ! fakesink")
    assert "format=xml: ovfastmetaconvert writes format=json" in error
    assert "method=kafka: expected file or mqtt" in bus_error(f"{SRC5} ! ovfastmetapublish method=kafka ! fakesink")
    assert "file-format=csv: expected json or json-lines" in bus_error(
        f"{SRC5} ! ovfastmetapublish file-format=csv ! fakesink")
    error = bus_error(f"{SRC5} ! ovfastmetapublish file-path={tmp_path}/missing/out.json ! fakesink")
    assert f"file-path={tmp_path}/missing/out.json: cannot open it for writing: No such file" in error
    if os.path.exists("/dev/full"):
        error = bus_error(f"{SRC5} ! ovfastmetaconvert add-empty-results=true ! "
                          f"ovfastmetapublish file-path=/dev/full ! fakesink")
        assert "file-path=/dev/full: cannot write: No space left on device" in error
    error = bus_error(f"{SRC5} ! ovfastmetapublish method=mqtt address=no-such-host.invalid:1883 ! fakesink")
    assert "address=no-such-host.invalid:1883: the host 'no-such-host.invalid' does not resolve" in error
    error = bus_error(f"{SRC5} ! ovfastmetapublish method=mqtt address=127.0.0.1:http ! fakesink")
    assert "address=127.0.0.1:http: expected the MQTT broker as host:port" in error
    error = bus_error(f"{SRC5} ! ovfastmetapublish method=mqtt address=127.0.0.1:{free_port()} ! fakesink")
    assert "cannot connect to the MQTT broker: Connection refused" in error
    error = bus_error(f"{SRC5} ! ovfastmetapublish method=mqtt address=127.0.0.1:1 topic=a/# ! fakesink")
    assert "topic=a/#: expected an MQTT topic" in error


def published(method, tmp_path, request, convert=""):
    """videotestsrc ! ovfastmetaconvert ! ovfastmetapublish (to tmp_path/o.json, or a broker started for it)
    ! fakesink named sink."""
    if method == "mqtt":
        out = f"method=mqtt address=127.0.0.1:{request.getfixturevalue('broker').port} topic=frames"
    else:
        out = f"file-path={tmp_path}/o.json"
    return (f"videotestsrc ! video/x-raw,format=BGR,width=32,height=32 ! ovfastmetaconvert add-empty-results=true "
            f"{convert} ! ovfastmetapublish {out} ! fakesink name=sink sync=false")


@pytest.mark.parametrize("method", ["file", "mqtt"])
def test_streaming_thread_never_needs_the_gil_through_both(tmp_path, method, request):
    from test_video import frames_while_gil_held
    before, after = frames_while_gil_held(published(method, tmp_path, request), ["sink"])["sink"]
    assert after - before >= 20


@pytest.mark.parametrize("method", ["file", "mqtt"])
def test_null_mid_stream_twenty_times_frees_everything(tmp_path, method, request):
    from test_video import assert_null_cycles_free_everything
    assert_null_cycles_free_everything(published(method, tmp_path, request, "add-tensor-data=true"), 30)
    if method == "file":
        assert isinstance(json.loads((tmp_path / "o.json").read_text()), list)    # the last run's array, closed


def test_gst_launch_through_the_plugin(env, tmp_path):  # noqa: F811
    path = tmp_path / "out.jsonl"
    out = run([tool("gst-launch-1.0"), "-q", "videotestsrc", "num-buffers=3", "!", "video/x-raw,width=32,height=32",
               "!", "ovfastmetaconvert", "add-empty-results=true", "!", "ovfastmetapublish", f"file-path={path}",
               "file-format=json-lines", "!", "fakesink"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = path.read_text().splitlines()
    assert [json.loads(line)["resolution"] for line in lines] == [{"width": 32, "height": 32}] * 3
    out = run([tool("gst-launch-1.0"), "-q", "videotestsrc", "num-buffers=2", "!", "video/x-raw,width=8,height=8",
               "!", "ovfastmetaconvert", "add-empty-results=true", "!", "ovfastmetapublish", "!", "fakesink"], env)
    assert out.returncode == 0 and json.loads(out.stdout) == [{"resolution": {"width": 8, "height": 8},
                                                               "timestamp": i * Gst.SECOND // 30} for i in range(2)]
    for element, prop in [("ovfastmetaconvert", "add-tensor-data"), ("ovfastmetapublish", "mqtt-client-id")]:
        out = run([tool("gst-inspect-1.0"), element], env)
        assert out.returncode == 0 and f"{prop} " in out.stdout


# --- MQTT: a real broker -------------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Mosquitto on 127.0.0.1:port, persistent (a stopped and restarted broker keeps its sessions)."""

    def __init__(self, folder, anonymous=True):
        self.port, self.folder, self.proc = free_port(), folder, None
        exe = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
        assert exe, "mosquitto not found: it is in the README's system packages"
        self.exe = exe
        self.config = folder / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\n"
                               f"persistence true\n"
                               f"persistence_location {folder}/\nuser {getpass.getuser()}\n")

    def start(self):
        self.proc = subprocess.Popen([self.exe, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.stderr.read().decode()
                time.sleep(0.02)
        raise AssertionError("mosquitto did not listen within 10 s")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc.stderr.close()
            self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


class Subscriber:
    """paho-mqtt on the topic, QoS 1, a persistent session: it gets what was published while it reconnected."""

    def __init__(self, port, topic):
        import paho.mqtt.client as mqtt
        self.messages, self.lock, self.subscribed = [], threading.Lock(), threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{port}", clean_session=False)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append(json.loads(msg.payload))

    def wait_for(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len({m["timestamp"] for m in self.messages}) >= n:
                    return
            time.sleep(0.01)
        stamps = sorted({round(m["timestamp"] * 30 / 1e9) for m in self.messages})
        raise AssertionError(f"{len(stamps)} of {n} messages; frames {stamps} arrived")

    def stamps(self):
        with self.lock:
            return sorted({m["timestamp"] for m in self.messages})

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


MQTT = "ovfastmetaconvert add-empty-results=true ! ovfastmetapublish method=mqtt address=127.0.0.1:{port} topic=frames"


def test_a_subscriber_receives_every_frames_message(broker):
    sub = Subscriber(broker.port, "frames")
    try:
        frames = [frame_with_means(9, 9, 9)] * 30
        got = run_frames(MQTT.format(port=broker.port) + " mqtt-client-id=ovfast-test", frames)
        sub.wait_for(30)
        with sub.lock:
            received = sorted(sub.messages, key=lambda m: m["timestamp"])
        assert received == [m for _, ms in got for m in ms]       # each message once, as the frames said
    finally:
        sub.close()


@pytest.mark.parametrize("backlog", [10000, 20])
def test_broker_stopped_and_restarted_mid_stream(broker, backlog):
    """The pipeline keeps running while the broker is away; messages wait (up to max-backlog) and arrive
    once it is back, newer ones beyond max-backlog are dropped with a warning."""
    sub = Subscriber(broker.port, "frames")
    p = pipeline(f"{APPSRC} ! {MQTT.format(port=broker.port)} max-backlog={backlog} ! "
                 f"appsink name=sink sync=false max-buffers=100000")
    frame = frame_with_means(9, 9, 9)
    try:
        p.set_state(Gst.State.PLAYING)
        src = p.get_by_name("src")
        warnings = []
        push(src, [frame] * 10)
        pull_messages(p, 10, warnings=warnings)
        sub.wait_for(10)
        time.sleep(0.5)                            # and their acknowledgements reach the publisher
        broker.stop()
        push(src, [frame] * 30, start=10)
        pull_messages(p, 30, warnings=warnings)    # frames flow while the broker is down
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("lost the MQTT broker" in w for w in warnings):
            msg = p.get_bus().timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.WARNING)
            if msg is not None:
                warnings.append(msg.parse_warning()[0].message)
        assert any(f"lost the MQTT broker at 127.0.0.1:{broker.port}" in w for w in warnings), warnings
        broker.start()
        kept = min(30, backlog)
        sub.wait_for(10 + kept)
        time.sleep(1)          # their acknowledgements reach the publisher too, and the backlog is empty again
        push(src, [frame] * 10, start=40)
        src.emit("end-of-stream")
        pull_messages(p, 10, warnings=warnings)
        sub.wait_for(20 + kept)
        kinds = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING
        while (msg := p.get_bus().timed_pop_filtered(20 * Gst.SECOND, kinds)) is not None \
                and msg.type == Gst.MessageType.WARNING:
            warnings.append(msg.parse_warning()[0].message)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()[0].message
    finally:
        p.set_state(Gst.State.NULL)
        sub.close()
    stamps = [i * Gst.SECOND // 30 for i in range(50)]
    assert sub.stamps() == stamps[:10 + kept] + stamps[40:]      # the oldest kept, in order; the newest dropped
    if backlog < 30:
        assert any(f"has not acknowledged max-backlog={backlog} messages" in w for w in warnings), warnings
        assert any(f"takes messages again; {30 - backlog} were dropped" in w for w in warnings), warnings


def test_a_broker_that_refuses_the_client_is_an_error_naming_it(tmp_path):
    """A broker that answers the connection with a refusal (here: no anonymous clients) is an error on the
    bus at start, naming the address and the broker's code, not a backlog that never drains."""
    b = Broker(tmp_path, anonymous=False)
    b.start()
    try:
        error = bus_error(f"{SRC5} ! ovfastmetaconvert ! ovfastmetapublish method=mqtt "
                          f"address=127.0.0.1:{b.port} topic=frames ! fakesink")
    finally:
        b.stop()
    assert f"address=127.0.0.1:{b.port}: the MQTT broker refused the connection (CONNACK code 5)" in error, error
