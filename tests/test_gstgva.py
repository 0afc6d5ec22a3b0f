"""DL Streamer's Python API (gstgva) on ovfast: programs of our own that make the calls DL Streamer's gvapython
samples and its bindings page make, the way they make them, with only the import changed
(`from ovfast.gst.gstgva import VideoFrame`). Stand-in models carry the real models' output names
(face-detection-adas' detection_out, age-gender-recognition's age_conv3 and prob); what the programs write
(regions, labels by set_label, names by set_name, messages, the log) is checked frame by frame against the
stand-ins run by openvino on the same frames, downstream: in the next ovfastpython, in a pad probe and in C."""

import ctypes
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from gi.repository import Gst

import ovfast.gst
from ovfast.gst import _model
from ovfast.gst.gstgva import RegionOfInterest, Tensor, VideoFrame, util
from test_video import F32, F32_CONFIG, buffer_address, bus_error, meta_reader, pipeline, save

W, H = 64, 48
SRC = f"videotestsrc num-buffers={{n}} pattern=ball ! video/x-raw,format=BGR,width={W},height={H},framerate=30/1"
# (label id, x_min, y_min, x_max, y_max) of the stand-in detector's boxes; box i's confidence: channel i's mean
BOXES = [(1, 0.1, 0.2, 0.5, 0.7), (1, -0.2, 0.5, 0.3, 1.3), (2, 0.55, 0.1, 0.95, 0.45)]
THRESHOLD = 0.05


def face_detector():
    """u8 [1,H,W,3] -> detection_out f32 [1,1,4,7] (SSD's layout, as face-detection-adas-0001 names it)."""
    x = ops.parameter([1, H, W, 3], openvino.Type.u8, name="data")
    means = ops.divide(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2], np.int64), False),
                       np.float32(255))
    conf = ops.reshape(means, np.array([3, 1], np.int64), False)
    rows = ops.concat([ops.constant(np.zeros((3, 1), np.float32)),
                       ops.constant(np.array([[b[0]] for b in BOXES], np.float32)), conf,
                       ops.constant(np.array([b[1:] for b in BOXES], np.float32))], 1)
    end = ops.constant(np.array([[-1, 0, 0, 0, 0, 0, 0]], np.float32))
    out = ops.reshape(ops.concat([rows, end], 0), np.array([1, 1, 4, 7], np.int64), False)
    model = openvino.Model([out], [x], "face-detection-adas-0001")
    model.outputs[0].tensor.set_names({"detection_out"})
    return model


def age_gender(size=8):
    """u8 [1,size,size,3] -> age_conv3 [1,1,1,1] (the crop's red mean / 255) and prob [1,2,1,1] (softmax of the
    blue and green means / 32), as age-gender-recognition-retail-0013 names them."""
    x = ops.parameter([1, size, size, 3], openvino.Type.u8, name="data")
    means = ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2], np.int64), False)   # [1, 3]
    age = ops.reshape(ops.divide(ops.gather(means, np.array([2], np.int64), np.int64(1)), np.float32(255)),
                      np.array([1, 1, 1, 1], np.int64), False)
    prob = ops.reshape(ops.softmax(ops.divide(ops.gather(means, np.array([0, 1], np.int64), np.int64(1)),
                                              np.float32(32)), 1), np.array([1, 2, 1, 1], np.int64), False)
    model = openvino.Model([age, prob], [x], "age-gender-recognition-retail-0013")
    model.outputs[0].tensor.set_names({"age_conv3"})
    model.outputs[1].tensor.set_names({"prob"})
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gva")
    return save(face_detector(), folder, "face"), save(age_gender(), folder, "agegender")


def source_frames(n):
    """The frames SRC makes, pulled here (the oracle's input)."""
    p = pipeline(f"{SRC.format(n=n)} ! appsink name=sink sync=false max-buffers=1000")
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    frames = []
    while (sample := sink.emit("pull-sample")) is not None:
        with VideoFrame(sample.get_buffer(), caps=sample.get_caps()) as f:
            frames.append(f.data().copy())
    p.set_state(Gst.State.NULL)
    return frames


def expected(frames):
    """Per frame, the regions DL Streamer's SSD post-processing sample adds: [(label, (x, y, w, h), confidence)]
    from openvino's run of the stand-in detector, with gstgva's rounding and clipping."""
    compiled = openvino.Core().compile_model(face_detector(), "CPU", F32_CONFIG)
    out = []
    for frame in frames:
        data = compiled(frame[None])[0].reshape(-1)
        regions = []
        for i in range(4):
            image_id, label_id, conf, x0, y0, x1, y1 = data[7 * i: 7 * i + 7]
            if image_id != 0:
                break
            if conf < THRESHOLD:
                continue
            x, y = int(x0 * W + 0.5), int(y0 * H + 0.5)
            w, h = int(x1 * W + 0.5) - x, int(y1 * H + 0.5) - y
            cx, cy = min(max(x, 0), W), min(max(y, 0), H)
            cw, ch = min(max(w, 0), W - cx), min(max(h, 0), H - cy)
            regions.append((str(label_id), (cx, cy, cw, ch), float(conf)))
        out.append(regions)
    return out


def write(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


# The chain of DL Streamer's face_detection_and_classification sample, written again with our own code: SSD
# boxes from the frame's raw tensor become regions; the age and gender outputs on each region get a label and
# a name; a class (made with kwarg) logs the ages. Each also logs what it saw, for the test.
DETECT = """
    import json
    import sys
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    from ovfast.gst.gstgva import VideoFrame

    Gst.init(sys.argv)
    LOG = open({log!r}, "a")

    def process_frame(frame: VideoFrame, threshold: float = {threshold}) -> bool:
        width = frame.video_info().width
        height = frame.video_info().height
        for tensor in frame.tensors():
            dims = tensor.dims()
            data = tensor.data()
            size = dims[-1]
            for i in range(dims[-2]):
                image_id, label_id, confidence = data[i * size], data[i * size + 1], data[i * size + 2]
                x_min = int(data[i * size + 3] * width + 0.5)
                y_min = int(data[i * size + 4] * height + 0.5)
                x_max = int(data[i * size + 5] * width + 0.5)
                y_max = int(data[i * size + 6] * height + 0.5)
                if image_id != 0:
                    break
                if confidence < threshold:
                    continue
                frame.add_region(x_min, y_min, x_max - x_min, y_max - y_min, str(label_id), confidence)
        LOG.write(json.dumps([[r.label(), list(r.rect()), r.confidence()] for r in frame.regions()]) + "\\n")
        LOG.flush()
        return True
"""

ATTRIBUTES = """
    from ovfast.gst.gstgva import VideoFrame

    def process_frame(frame: VideoFrame) -> bool:
        for roi in frame.regions():
            for tensor in roi.tensors():
                if tensor.name() == "detection":
                    continue
                layer_name = tensor.layer_name()
                data = tensor.data()
                if layer_name == "age_conv3":
                    tensor.set_label(str(int(data[0] * 100)))
                    tensor.set_name("age")
                    continue
                if layer_name == "prob":
                    tensor.set_label(" M " if data[1] > 0.5 else " F ")
                    tensor.set_name("gender")
                    continue
        return True
"""

LOGGER = """
    import json
    from ovfast.gst.gstgva import VideoFrame

    class AgeLogger:
        def __init__(self, log_file_path, tag="age"):
            self.log_file = open(log_file_path, "a")
            self.tag = tag

        def log_age(self, frame: VideoFrame) -> bool:
            seen = []
            for roi in frame.regions():
                for tensor in roi.tensors():
                    if tensor.name() == "detection":
                        continue
                    seen.append([roi.label(), tensor.name(), tensor.layer_name(), tensor.label(),
                                 [float(v) for v in tensor.data()]])
            self.log_file.write(json.dumps([self.tag, seen]) + "\\n")
            self.log_file.flush()
            return True

        def __del__(self):
            self.log_file.close()
"""


@pytest.fixture(scope="module")
def gst_env(tmp_path_factory):
    """gst-launch-1.0's environment: nothing of Python's, ovfast's plugin on GST_PLUGIN_PATH, a fresh registry."""
    from test_gst_plugin import bare_env
    out = subprocess.run([sys.executable, "-m", "ovfast", "gst-plugin-path"], capture_output=True, text=True,
                         timeout=120, check=True)
    return bare_env(tmp_path_factory.mktemp("registry") / "registry.bin", out.stdout.strip())


def launch(line, env, timeout=120):
    """gst-launch-1.0 with the line, as a DL Streamer user runs it (only the element names changed)."""
    import shlex
    return subprocess.run(["gst-launch-1.0", "-q", *shlex.split(line)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_dlstreamer_face_detection_and_classification_chain(models, tmp_path, gst_env):
    det, ag = models
    detect_log, age_log = tmp_path / "detect.log", tmp_path / "age.log"
    detect = write(tmp_path, "ssd_detection", DETECT.format(log=str(detect_log), threshold=THRESHOLD))
    attributes = write(tmp_path, "age_gender", ATTRIBUTES)
    logger = write(tmp_path, "age_logger", LOGGER)
    kwarg = json.dumps({"log_file_path": str(age_log)}, separators=(",", ":")).replace('"', '\\"')
    n = 8
    line = (f"{SRC.format(n=n)} ! ovfastinfer model={det} device=CPU {F32} ! queue ! "
            f"ovfastpython module={str(detect)[:-3]} ! "                        # .py left out, as gvapython allows
            f"ovfastinfer inference-region=roi-list model={ag} device=CPU {F32} ! queue ! "
            f"ovfastpython module={attributes} ! "
            f"ovfastpython module={logger} class=AgeLogger function=log_age 'kwarg={kwarg}' ! fakesink")
    done = launch(line, gst_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    frames = source_frames(n)
    want = expected(frames)
    seen = [json.loads(x) for x in detect_log.read_text().splitlines()]
    assert len(seen) == n
    for got, regions in zip(seen, want):
        assert [(label, tuple(rect)) for label, rect, _ in got] == [(label, rect) for label, rect, _ in regions]
        assert [c for *_, c in got] == pytest.approx([c for *_, c in regions], abs=1e-5)
    assert all(len(r) == 3 for r in want) and all(r[1][1] == (0, 24, 31, 24) for r in want)    # clipped as gstgva clips

    logged = [json.loads(x) for x in age_log.read_text().splitlines()]
    assert len(logged) == n
    for (tag, attrs), regions in zip(logged, want):
        assert tag == "age"
        assert [a[0] for a in attrs] == [label for label, _, _ in regions for _ in range(2)]
        for roi_label, name, layer, label, data in attrs:
            if layer == "age_conv3":
                assert (name, label) == ("age", str(int(np.float32(data[0]) * 100))) and len(data) == 1
            else:
                assert (layer, name, label) == ("prob", "gender", " M " if data[1] > 0.5 else " F ")
                assert len(data) == 2 and sum(data) == pytest.approx(1, abs=1e-5)
    # the attribute values are the model's on each region: openvino on the same crops, resized as ovfastinfer does
    agm = age_gender()
    for frame, regions, (_, attrs) in zip(frames, want, logged):
        for k, (_, (x, y, w, h), _) in enumerate(regions):
            if w == 0 or h == 0:
                continue
            crop = np.ascontiguousarray(frame[y:y + h, x:x + w])
            compiled = openvino.Core().compile_model(_model.frame_model(agm, "BGR", w, h, (w * 3,), (0,))[0], "CPU",
                                                     F32_CONFIG)
            result = compiled(crop[None])
            # (the crop is resized inside the model as region=roi does: within 1e-3 of a resize of the numpy crop)
            assert attrs[2 * k][4] == pytest.approx(result[0].reshape(-1).tolist(), abs=1e-3)
            assert attrs[2 * k + 1][4] == pytest.approx(result[1].reshape(-1).tolist(), abs=1e-3)


def test_arg_accumulates_and_kwarg_merges_as_gvapython_does(tmp_path, gst_env):
    out = tmp_path / "args.json"
    path = write(tmp_path, "takes_args", f"""
        import json
        class Taker:
            def __init__(self, *args, **kwargs):
                json.dump([args, kwargs], open({str(out)!r}, "w"))
            def process_frame(self, frame):
                return True
    """)
    e = Gst.ElementFactory.make("ovfastpython")
    for value in ("1", "[2, 3]", '"four"', "[[5]]"):
        e.set_property("arg", value)
    e.set_property("kwarg", '{"a": 1, "b": 2}')
    e.set_property("kwarg", '{"b": 3}')
    assert json.loads(e.get_property("arg")) == [1, 2, 3, "four", [5]]
    assert json.loads(e.get_property("kwarg")) == {"a": 1, "b": 3}
    done = launch(f"{SRC.format(n=2)} ! ovfastpython module={path} class=Taker arg=1 arg=[2,3] "
                  """'kwarg={\\"a\\":1}' 'kwarg={\\"b\\":[1,2]}' ! fakesink""", gst_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(out.read_text()) == [[1, 2, 3], {"a": 1, "b": [1, 2]}]
    # not JSON, or not an object: an error on the bus naming the property and the value, before any frame
    for bad, says in (("arg=\"[1,\"", "arg='[1,' is not JSON"), ("kwarg=5", "kwarg='5' must be a JSON object"),
                      ("kwarg=nope", "kwarg='nope' is not JSON")):
        assert says in bus_error(f"{SRC.format(n=2)} ! ovfastpython module={path} class=Taker {bad} ! fakesink")


def test_module_is_found_as_gvapython_finds_it(tmp_path):
    (tmp_path / "helper_for_sibling.py").write_text("VALUE = 7\n")
    path = write(tmp_path, "uses_sibling", """
        from helper_for_sibling import VALUE      # its folder is on sys.path
        def process_frame(frame):
            frame.add_message(str(VALUE))
            return True
    """)
    got = []
    for module in (str(path), str(path)[:-3]):
        p = pipeline(f"{SRC.format(n=3)} ! ovfastpython module={module} ! appsink name=sink sync=false")
        sink = p.get_by_name("sink")
        p.set_state(Gst.State.PLAYING)
        while (sample := sink.emit("pull-sample")) is not None:
            got.append(VideoFrame(sample.get_buffer(), caps=sample.get_caps()).messages())
        p.set_state(Gst.State.NULL)
    assert got == [["7"]] * 6
    assert "no such file" in bus_error(f"{SRC.format(n=1)} ! ovfastpython module={tmp_path}/absent ! fakesink")


def test_a_function_returning_none_drops_the_frame_and_says_so_once(tmp_path):
    path = write(tmp_path, "returns_none", """
        def process_frame(frame):
            if frame.pts // 33333333 % 2:
                return True
    """)
    p = pipeline(f"{SRC.format(n=6)} ! ovfastpython module={path} ! appsink name=sink sync=false")
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    kept = []
    while (sample := sink.emit("pull-sample")) is not None:
        kept.append(round(sample.get_buffer().pts * 30 / Gst.SECOND))
    warnings_ = []
    while (msg := p.get_bus().pop_filtered(Gst.MessageType.WARNING)) is not None:
        warnings_.append(msg.parse_warning()[0].message)
    p.set_state(Gst.State.NULL)
    assert kept == [1, 3, 5]                              # gvapython's rule: a false value drops the frame
    assert len(warnings_) == 1 and "returned None, so the frame was dropped" in warnings_[0]


MESSAGES_FIRST = """
    import json
    def process_frame(frame):
        frame.add_message(json.dumps({"pts": frame.pts, "what": "first"}))
        frame.add_message(json.dumps({"pts": frame.pts, "what": "doomed"}))
        return True
"""

MESSAGES_SECOND = """
    import json
    def process_frame(frame):
        messages = frame.messages()
        assert [json.loads(m)["what"] for m in messages] == ["first", "doomed"], messages
        frame.remove_message(messages[1])
        frame.add_message(json.dumps({"pts": frame.pts, "what": "second", "saw": len(messages)}))
        return True
"""


def test_messages_flow_downstream_to_python_a_probe_and_c(tmp_path):
    first, second = write(tmp_path, "first_msg", MESSAGES_FIRST), write(tmp_path, "second_msg", MESSAGES_SECOND)
    lib = meta_reader(tmp_path)
    p = pipeline(f"{SRC.format(n=5)} ! ovfastpython module={first} ! ovfastpython module={second} ! "
                 f"identity name=probe ! appsink name=sink sync=false")
    probed = []

    def probe(pad, info):
        probed.append(VideoFrame(info.get_buffer(), caps=pad.get_current_caps()).messages())
        return Gst.PadProbeReturn.OK

    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    from_c, pts = [], []
    while (sample := sink.emit("pull-sample")) is not None:
        text = ctypes.create_string_buffer(4096)
        n = lib.read_messages(buffer_address(sample.get_buffer()), text, 4096)
        from_c.append(text.value.decode().split("\n")[:n])
        pts.append(sample.get_buffer().pts)
    assert p.get_bus().pop_filtered(Gst.MessageType.ERROR) is None
    p.set_state(Gst.State.NULL)
    want = [[json.dumps({"pts": t, "what": "first"}), json.dumps({"pts": t, "what": "second", "saw": 2})]
            for t in pts]
    assert len(pts) == 5 and probed == want and from_c == want


def test_the_bindings_page_probe_walks_regions_and_tensors(models, tmp_path):
    """The pad probe of DL Streamer's bindings page: every tensor of every region, with its name, label and
    confidence (a classifier's and a detection's)."""
    det, ag = models
    attributes = write(tmp_path, "age_gender_probe", ATTRIBUTES)
    p = pipeline(f"{SRC.format(n=4)} ! ovfastdetect model={det} threshold={THRESHOLD} labels=bg,face,person {F32} "
                 f"! ovfastinfer inference-region=roi-list model={ag} {F32} ! ovfastpython module={attributes} ! "
                 f"identity name=probe ! appsink name=sink sync=false")
    lib = meta_reader(tmp_path)
    printed = []

    def pad_probe_callback(pad, info):
        with util.GST_PAD_PROBE_INFO_BUFFER(info) as buffer:
            caps = pad.get_current_caps()
            frame = VideoFrame(buffer, caps)                     # caps passed where gstgva takes video_info
            for roi in frame.regions():
                for tensor in roi.tensors():
                    printed.append((roi.label(), tensor.name(), tensor.label(), tensor.confidence()))
        return Gst.PadProbeReturn.OK

    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, pad_probe_callback)
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    from_c, from_python = [], []
    while (sample := sink.emit("pull-sample")) is not None:
        text = ctypes.create_string_buffer(8192)
        lib.read_region_fields(buffer_address(sample.get_buffer()), text, 8192)
        from_c.extend(text.value.decode().split("\n") if text.value else [])
        for roi in VideoFrame(sample.get_buffer(), caps=sample.get_caps()).regions():
            fields = " ".join(f"{t.name()}={t['label'] or '-'}" for t in roi.tensors())
            from_python.append(f"{roi.label()} id:{roi.object_id() or -1} {fields}")
    assert p.get_bus().pop_filtered(Gst.MessageType.ERROR) is None
    p.set_state(Gst.State.NULL)
    assert from_c == from_python and from_c and all(" age=" in line and " gender=" in line for line in from_c)
    want = expected(source_frames(4))
    rows = []
    for regions in want:
        for label_id, _, conf in regions:
            label = ["bg", "face", "person"][int(float(label_id))]
            rows.append((label, "detection", label, pytest.approx(conf, abs=1e-5)))
            rows.append((label, "age", None, None))
            rows.append((label, "gender", None, None))
    assert len(printed) == len(rows)
    for got, row in zip(printed, rows):
        assert got[:2] == row[:2] and got[3] == row[3]
        if row[1] == "detection":
            assert got[2] == row[2]
        else:
            assert isinstance(got[2], str) and got[2]           # the label set_label wrote upstream


def test_draw_face_attributes_probe_writes_the_picture(models, tmp_path):
    """draw_face_attributes.py's frame callback, in a writable pad probe: `with frame.data() as mat` and
    the region's tensors by layer name; what it draws reaches the sink."""
    det, ag = models
    p = pipeline(f"{SRC.format(n=3)} ! ovfastdetect model={det} threshold={THRESHOLD} {F32} ! "
                 f"ovfastinfer inference-region=roi-list model={ag} {F32} ! identity name=probe ! "
                 f"appsink name=sink sync=false")
    drawn = []

    def frame_callback(frame: VideoFrame):
        with frame.data() as mat:
            for roi in frame.regions():
                labels = []
                rect = roi.rect()
                for tensor in roi.tensors():
                    if tensor.layer_name() == "prob":
                        labels.append("M" if tensor.data()[1] > 0.5 else "F")
                    elif tensor.layer_name() == "age_conv3":
                        labels.append(str(int(tensor.data()[0] * 100)))
                if labels and rect.w and rect.h:
                    mat[rect.y, rect.x:rect.x + rect.w] = (0, 0, 255)         # a red line atop the region
                    drawn.append((frame.pts, rect.y, rect.x, rect.w, " ".join(labels)))

    def pad_probe_callback(pad, info):
        with util.GST_PAD_PROBE_INFO_BUFFER(info) as buffer:
            frame_callback(VideoFrame(buffer, caps=pad.get_current_caps()))
        return Gst.PadProbeReturn.OK

    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, pad_probe_callback)
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    pictures = {}
    while (sample := sink.emit("pull-sample")) is not None:
        with VideoFrame(sample.get_buffer(), caps=sample.get_caps()) as f:
            pictures[f.pts] = f.data().copy()
    p.set_state(Gst.State.NULL)
    assert drawn and len(pictures) == 3
    for pts, y, x, w, labels in drawn:
        assert (pictures[pts][y, x:x + w] == (0, 0, 255)).all() and len(labels.split()) == 2


def test_gstgva_api_on_a_frame():
    """Each call of the API, against gstgva's behaviour as its source gives it."""
    caps = Gst.Caps.from_string(f"video/x-raw,format=BGR,width={W},height={H}")
    buf = Gst.Buffer.new_wrapped(bytes(W * H * 3))
    f = VideoFrame(buf, caps=caps)
    assert (f.video_info().width, f.video_info().height) == (W, H)
    roi = f.add_region(0.25, 0.5, 0.5, 0.25, "car", 0.5, normalized=True, extra_params={"color": "red"})
    assert isinstance(roi, RegionOfInterest) and roi.rect() == (16, 24, 32, 12)
    assert (roi.rect().x, roi.rect().w, roi.label(), roi.confidence(), roi.label_id()) == (16, 32, "car", 0.5, None)
    assert roi.normalized_rect() == pytest.approx((0.25, 0.5, 0.5, 0.25))
    d = roi.detection()
    assert d.is_detection() and json.loads(d["extra_params_json"]) == {"color": "red"}
    assert sorted(d.fields()) == ["confidence", "extra_params_json", "x_max", "x_min", "y_max", "y_min"]
    assert d.label() == "car"                  # its region's (gstgva raises here; see docs/differences.md)
    with pytest.raises(RuntimeError, match="detection tensor can't have a label"):
        d.set_label("x")
    assert roi.object_id() is None
    roi.set_object_id(42)
    roi.set_object_id(43)
    assert roi.object_id() == 43 and [t.name() for t in roi.tensors()] == ["detection"]
    t = roi.add_tensor("color")
    t["label"], t["confidence"], t["label_id"], t["big"], t["flag"] = "red", 0.9, 2, 2 ** 40, True
    assert isinstance(t, Tensor) and (t.label(), t.confidence(), t.label_id(), t["big"], t["flag"]) == \
        ("red", 0.9, 2, 2 ** 40, True)
    assert t.has_field("label") and not t.has_field("absent") and t["absent"] is None and len(t) == 5
    del t["big"]
    assert dict(t) == {"label": "red", "confidence": 0.9, "label_id": 2, "flag": True}
    t.set_name("colour")
    copy = roi.add_tensor("shade", tensor=t)
    assert [x.name() for x in roi.tensors()] == ["detection", "colour", "shade"] and copy["label"] == "red"
    assert (t.precision(), t.layout(), t.precision_as_string(), t.layout_as_string()) == \
        (Tensor.PRECISION.UNSPECIFIED, Tensor.LAYOUT.ANY, "UNSPECIFIED", "ANY")
    assert t.data() is None and t.dims() is None
    for bad, error in ((lambda: t.set_name("2bad"), ValueError), (lambda: t.set_name("has space"), ValueError),
                       (lambda: t.__setitem__("x", [1]), NotImplementedError),
                       (lambda: t.__setitem__("x", object()), TypeError), (lambda: t.set_label(3), TypeError),
                       (lambda: roi.set_object_id("7"), TypeError), (lambda: t.__setitem__("x", 2 ** 70), OverflowError)):
        with pytest.raises(error):
            bad()
    ft = f.add_tensor()
    ft["label"] = "scene"
    assert [x.name() for x in f.tensors()] == ["meta"] and f.tensors()[0].label() == "scene"
    # clipped as gstgva clips, with its warning
    with pytest.warns(UserWarning, match="clipped"):
        assert f.add_region(-5, 40, 20, 20).rect() == (0, 40, 20, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.add_region(0, 0, W, H)
    for bad, error in ((lambda: f.add_region("1", 0, 1, 1), TypeError), (lambda: f.add_region(0, 0, 1, 1, 5), TypeError),
                       (lambda: f.add_region(0, 0, 1, 1, "x", 2.0), ValueError),
                       (lambda: f.add_region(0, 0, float("nan"), 1), TypeError)):
        with pytest.raises(error):
            bad()
    # messages: str only, removed only when they came from this frame
    f.add_message('{"a": 1}')
    f.add_message("plain text is kept as it is")
    assert f.messages() == ['{"a": 1}', "plain text is kept as it is"]
    with pytest.raises(TypeError, match="expected a str"):
        f.add_message({"a": 1})
    with pytest.raises(TypeError, match="expected a str"):
        f.add_message(b"bytes")
    with pytest.raises(RuntimeError, match="doesn't belong"):
        f.remove_message('{"a": 1}')
    f.remove_message(f.messages()[0])
    assert f.messages() == ["plain text is kept as it is"]
    # removing a region: its objects then raise instead of reading freed memory
    n = len(f.regions())
    f.remove_region(roi)
    assert len(f.regions()) == n - 1
    f.add_region(1, 1, 2, 2, "newcomer")            # may take the removed meta's memory: still told apart
    for use in (roi.rect, roi.tensors, t.label, lambda: t.set_label("x"), d.confidence):
        with pytest.raises(RuntimeError, match="removed"):
            use()
    with pytest.raises(RuntimeError, match="doesn't belong"):
        f.remove_region(roi)
    assert f.regions()[-1].label() == "newcomer"
    other = f.regions()[0]
    f.release()
    for use in (other.label, lambda: ft.set_label("x"), f.messages, lambda: f.add_message("x"), f.regions):
        with pytest.raises(RuntimeError, match="released"):
            use()
    with pytest.raises(TypeError):
        VideoFrame(buf, caps, caps)


def test_writing_in_a_probe_needs_the_writable_helper(models):
    det, _ = models
    p = pipeline(f"{SRC.format(n=3)} ! ovfastdetect model={det} threshold={THRESHOLD} {F32} ! identity name=probe ! "
                 f"appsink name=sink sync=false")
    outcomes = []

    def probe(pad, info):
        frame = VideoFrame(info.get_buffer(), caps=pad.get_current_caps())
        for write in (lambda: frame.add_message("x"), lambda: frame.regions()[0].add_tensor("t"),
                      lambda: frame.add_region(0, 0, 1, 1), lambda: frame.regions()[0].set_object_id(1)):
            try:
                write()
                outcomes.append("written")
            except RuntimeError as exc:
                outcomes.append("GST_PAD_PROBE_INFO_BUFFER" in str(exc))
        frame.release()          # its Gst.Buffer is a reference too: while it lives nothing can write
        with util.GST_PAD_PROBE_INFO_BUFFER(info) as buffer:
            VideoFrame(buffer, caps=pad.get_current_caps()).regions()[0].set_object_id(7)
        return Gst.PadProbeReturn.OK

    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    ids = []
    while (sample := sink.emit("pull-sample")) is not None:
        ids.append(VideoFrame(sample.get_buffer(), caps=sample.get_caps()).regions()[0].object_id())
    p.set_state(Gst.State.NULL)
    assert outcomes == [True] * 12 and ids == [7, 7, 7]


def test_tensors_of_a_released_frame_and_kept_arrays(models, tmp_path):
    """A function that keeps a region's tensor past its call: using it later raises (the frame was lent for
    one call), the array it took stays valid, and no frame is lost or reordered."""
    det, ag = models
    path = write(tmp_path, "keeps", """
        kept, arrays, errors = [], [], []
        def process_frame(frame):
            for old in kept:
                try:
                    old.set_label("late")
                except RuntimeError as exc:
                    errors.append(str(exc))
            kept.clear()
            for roi in frame.regions():
                for t in roi.tensors():
                    if t.layer_name() == "age_conv3":
                        kept.append(t)
                        arrays.append(t.data())
            return True
    """)
    p = pipeline(f"{SRC.format(n=6)} ! ovfastdetect model={det} threshold={THRESHOLD} {F32} ! "
                 f"ovfastinfer inference-region=roi-list model={ag} {F32} ! ovfastpython module={path} ! "
                 f"appsink name=sink sync=false")
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    pts = []
    while (sample := sink.emit("pull-sample")) is not None:
        pts.append(sample.get_buffer().pts)
    p.set_state(Gst.State.NULL)
    keeps = sys.modules["keeps"]
    assert pts == sorted(pts) and len(pts) == 6
    assert keeps.errors and all("released" in e for e in keeps.errors)
    assert all(a.shape == (1,) and 0 <= a[0] <= 1 for a in keeps.arrays)


def test_a_failing_module_is_an_error_and_frames_before_it_pass_in_order(tmp_path):
    """A call that raises (here add_message given an int) is an error on the bus; the frames before it, in the
    same batch too, still go downstream in order."""
    path = write(tmp_path, "bad_message", """
        def process_frame(frame):
            if round(frame.pts * 30 / 1e9) >= 20:
                frame.add_message(3)
            return True
    """)
    p = pipeline(f"appsrc name=src format=time caps=video/x-raw,format=BGR,width={W},height={H},framerate=30/1 ! "
                 f"ovfastpython module={path} max-inflight=64 ! appsink name=sink sync=false max-buffers=1000")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    pts = []

    def push(i):
        buf = Gst.Buffer.new_wrapped(bytes(W * H * 3))
        buf.pts = i * Gst.SECOND // 30
        src.emit("push-buffer", buf)

    push(0)                      # an error before the pipeline plays fails its start instead: play first
    assert p.get_state(10 * Gst.SECOND)[0] == Gst.StateChangeReturn.SUCCESS
    for i in range(1, 30):       # then many at once: the failing call is in a batch with frames before it
        push(i)
    src.emit("end-of-stream")
    while (sample := sink.emit("try-pull-sample", 2 * Gst.SECOND)) is not None:
        pts.append(round(sample.get_buffer().pts * 30 / Gst.SECOND))
    error = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert pts == list(range(20))
    assert error is not None and "add_message: expected a str, got int" in error.parse_error()[0].message


def test_video_info_and_video_meta_in_ovfastpython_and_on_a_buffer(tmp_path):
    path = write(tmp_path, "infos", """
        seen = []
        def process_frame(frame):
            meta = frame.video_meta()
            seen.append((frame.video_info().width, frame.video_info().height, meta and (meta.width, meta.height)))
            return True
    """)
    p = pipeline(f"{SRC.format(n=3)} ! ovfastpython module={path} ! fakesink")
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg.type == Gst.MessageType.EOS
    assert sys.modules["infos"].seen == [(W, H, None)] * 3
    from gi.repository import GstVideo
    buf = Gst.Buffer.new_wrapped(bytes(W * H * 3))
    GstVideo.buffer_add_video_meta(buf, GstVideo.VideoFrameFlags.NONE, GstVideo.VideoFormat.BGR, W, H)
    f = VideoFrame(buf)                                      # no caps: the video meta says the format
    assert (f.video_meta().width, f.video_info().width, f.format, f.data().shape) == (W, W, "BGR", (H, W, 3))
    info = GstVideo.VideoInfo.new_from_caps(Gst.Caps.from_string(f"video/x-raw,format=BGR,width={W},height={H}"))
    assert VideoFrame(buf, info).video_info() is info
