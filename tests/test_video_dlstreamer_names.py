"""DL Streamer's property names on ovfastinfer, and ovfastdetect and ovfastclassify in the roles of gvadetect
and gvaclassify: a gvainference, gvadetect or gvaclassify launch line needs only its element's name changed.
Each DL Streamer name runs against ours on the same frames, and each element against ovfastinfer with the
settings it stands for; both must give the same outputs, frame by frame."""

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import ovfast.gst  # noqa: E402,F401  registers the elements
from ovfast.gst import VideoFrame  # noqa: E402
from ovfast.gst._model import modern_config  # noqa: E402
from test_video import F32, bus_error, conv_net, pipeline, save  # noqa: E402
from test_video_regions import LABELS, classifier, detector, frame_with_means  # noqa: E402

# DL Streamer's name -> ours, for the same setting (the same field of the element)
ALIASES = {"inference-region": "region", "inference-interval": "interval", "nireq": "jobs", "ie-config": "config",
           "object-class": "roi-label", "labels-file": "labels"}
SAME_NAMES = ("model", "device", "threshold")    # DL Streamer's names that are ours too
ELEMENTS = ("ovfastinfer", "ovfastdetect", "ovfastclassify")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(conv net for 32x32 frames, detector for 64x48 frames, classifier, a labels file of the detector's
    classes) saved in a folder."""
    folder = tmp_path_factory.mktemp("dlstreamer")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(LABELS.split(",")) + "\n")
    return (save(conv_net(32, 32), folder, "net"), save(detector(48, 64), folder, "det"),
            save(classifier(), folder, "cls"), str(labels))


def conv_frames(n=12):
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)]


def region_frames():
    """64x48 BGR frames on which the detector finds one, two or three of its boxes (threshold 0.3)."""
    return [frame_with_means(200, 50, 100, seed=1), frame_with_means(40, 220, 180, seed=2),
            frame_with_means(200, 200, 200, seed=3), frame_with_means(90, 40, 60, seed=4)]


def outputs(description, frames):
    """Everything the elements put on each frame after `appsrc ! <description> ! appsink`: (pts, the whole
    frame's tensors, [(label, rect, label id, confidence, classifications, the region's tensors)]), with the
    tensors as (name, data) in the order they were attached. Fails on an error or a missing frame."""
    height, width = frames[0].shape[:2]
    p = pipeline(f"appsrc name=src format=time caps=video/x-raw,format=BGR,width={width},height={height},"
                 f"framerate=30/1 ! {description} ! appsink name=sink sync=false max-buffers=100000")
    src, sink = p.get_by_name("src"), p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts = i
        assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    out = []
    try:
        while (sample := sink.emit("try-pull-sample", 30 * Gst.SECOND)) is not None:
            with VideoFrame(sample.get_buffer(), sample.get_caps()) as f:
                out.append((f.pts, [(t.name(), t.array().copy()) for t in f.tensors()],
                            [(r.label(), r.rect(), r.label_id(), r.confidence(), r.classifications(),
                              [(t.name(), t.array().copy()) for t in r.tensors() if t.element_type() is not None])
                             for r in f.regions()]))
        error = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
    finally:
        p.set_state(Gst.State.NULL)
    assert error is None, error.parse_error()[0].message
    assert [pts for pts, _, _ in out] == list(range(len(frames))), description
    return out


def assert_same_outputs(got, want):
    """Frame by frame, region by region: the same labels, rectangles, classes and confidences, and tensors
    equal to the bit."""
    assert len(got) == len(want)
    for (pts, tensors, regions), (want_pts, want_tensors, want_regions) in zip(got, want):
        assert pts == want_pts
        assert [name for name, _ in tensors] == [name for name, _ in want_tensors]
        for (_, data), (_, want_data) in zip(tensors, want_tensors):
            np.testing.assert_array_equal(data, want_data)
        assert [r[:5] for r in regions] == [r[:5] for r in want_regions], f"frame {pts}"
        for r, want_r in zip(regions, want_regions):
            assert [name for name, _ in r[5]] == [name for name, _ in want_r[5]]
            for (_, data), (_, want_data) in zip(r[5], want_r[5]):
                np.testing.assert_array_equal(data, want_data)


# --- the names ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("element", ELEMENTS)
def test_every_dlstreamer_name_is_a_property_reading_the_same_setting(element):
    """As gst-inspect-1.0 lists them: each DL Streamer name is a property of its own, of our name's type and
    default, and either name reads what the other set."""
    e = Gst.ElementFactory.make(element)
    specs = {spec.name: spec for spec in e.list_properties()}
    assert set(ALIASES) | set(SAME_NAMES) <= set(specs)
    for theirs, ours in ALIASES.items():
        assert specs[theirs].value_type == specs[ours].value_type
        assert specs[theirs].default_value == specs[ours].default_value
        assert e.get_property(theirs) == e.get_property(ours)
    for theirs, ours, value, other in [("inference-region", "region", "roi-list", "frame"),
                                       ("inference-interval", "interval", 4, 2), ("nireq", "jobs", 3, 5),
                                       ("ie-config", "config", "NUM_STREAMS=2", "PERFORMANCE_HINT=LATENCY"),
                                       ("object-class", "roi-label", "face,dog", "car"),
                                       ("labels-file", "labels", "/labels.txt", "a,b")]:
        e.set_property(theirs, value)
        assert e.get_property(ours) == value
        e.set_property(ours, other)
        assert e.get_property(theirs) == other


def test_detect_and_classify_take_gvadetect_and_gvaclassify_defaults():
    """gvadetect runs on whole frames (the base class's inference-region), gvaclassify on every region
    (its init sets roi-list and no object-class); ovfastinfer stays gvainference's: tensors on whole frames."""
    def defaults(element):
        specs = {spec.name: spec for spec in Gst.ElementFactory.make(element).list_properties()}
        return tuple(specs[name].default_value for name in ("output", "region", "inference-region", "object-class"))

    assert defaults("ovfastinfer") == ("tensor", "frame", "frame", None)
    assert defaults("ovfastdetect") == ("detection", "frame", "frame", None)
    assert defaults("ovfastclassify") == ("classification", "roi", "roi", None)
    for element in ELEMENTS:
        factory = Gst.ElementFactory.find(element)
        assert factory.get_metadata("author") == "ovfast" and factory.get_metadata("klass") == "Filter/Video/Analyzer"


# --- each DL Streamer name gives what ours gives --------------------------------------------------------------
DET = "ovfastinfer model={det} output=detection labels=" + LABELS + " threshold=0.3"

# (id, DL Streamer's launch line, ours, frames: "conv" or "regions"); {net} {det} {cls} {labels} are the models
ALIAS_CASES = [
    ("inference-region=roi-list", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} "
     "inference-region=roi-list", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi",
     "regions"),
    ("inference-region=full-frame", f"ovfastinfer model={{cls}} output=classification {F32} "
     "inference-region=full-frame", f"ovfastinfer model={{cls}} output=classification {F32} region=frame", "regions"),
    # either vocabulary on either name
    ("inference-region=roi", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} inference-region=roi",
     f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi", "regions"),
    ("region=roi-list", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi-list",
     f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi", "regions"),
    ("inference-interval=3", f"ovfastinfer model={{net}} {F32} inference-interval=3",
     f"ovfastinfer model={{net}} {F32} interval=3", "conv"),
    ("nireq=3", f"ovfastinfer model={{net}} {F32} nireq=3", f"ovfastinfer model={{net}} {F32} jobs=3", "conv"),
    ("ie-config", "ovfastinfer model={net} ie-config=INFERENCE_PRECISION_HINT=f32,PERFORMANCE_HINT=LATENCY",
     "ovfastinfer model={net} config=INFERENCE_PRECISION_HINT=f32,PERFORMANCE_HINT=LATENCY", "conv"),
    # an OpenVINO 1 key, renamed as DL Streamer renames it
    ("ie-config=CPU_THROUGHPUT_STREAMS", f"ovfastinfer model={{net}} ie-config={F32[7:]},CPU_THROUGHPUT_STREAMS=2",
     f"ovfastinfer model={{net}} {F32},NUM_STREAMS=2", "conv"),
    ("object-class", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi "
     "object-class=face,dog", f"{DET} ! ovfastinfer model={{cls}} output=classification {F32} region=roi "
     "roi-label=face,dog", "regions"),
    ("labels-file", "ovfastinfer model={det} output=detection threshold=0.3 labels-file={labels}",
     "ovfastinfer model={det} output=detection threshold=0.3 labels={labels}", "regions"),
]


@pytest.mark.parametrize("theirs, ours, frames", [case[1:] for case in ALIAS_CASES], ids=[c[0] for c in ALIAS_CASES])
def test_a_dlstreamer_name_gives_the_same_outputs_as_ours(models, theirs, ours, frames):
    net, det, cls, labels = models
    frames = conv_frames() if frames == "conv" else region_frames()
    names = dict(net=net, det=det, cls=cls, labels=labels)
    want = outputs(ours.format(**names), frames)
    assert any(tensors or regions for _, tensors, regions in want)     # the comparison compares something
    assert_same_outputs(outputs(theirs.format(**names), frames), want)


def test_interval_and_roi_list_do_what_they_say(models):
    """The comparisons above compare real work: inference-interval=3 runs on frames 0, 3, 6, ... (DL Streamer
    too runs the first frame), and roi-list classifies each detected region."""
    net, det, cls, _ = models
    got = outputs(f"ovfastinfer model={net} {F32} inference-interval=3", conv_frames())
    assert [i for i, (_, tensors, _) in enumerate(got) if tensors] == [0, 3, 6, 9]
    got = outputs(f"{DET.format(det=det)} ! ovfastinfer model={cls} output=classification {F32} "
                  f"inference-region=roi-list", region_frames())
    for _, _, regions in got:
        assert regions and all(len(classes) == 1 and len(tensors) == 1 for *_, classes, tensors in regions)


def test_legacy_ie_config_keys_are_renamed_for_their_device():
    """DL Streamer renames OpenVINO 1 keys on CPU (streams, threads, pinning) and GPU (streams) only; a key
    also given by its new name keeps that value."""
    old = {"CPU_THROUGHPUT_STREAMS": "4", "CPU_THREADS_NUM": "2", "CPU_BIND_THREAD": "NUMA", "X": "1"}
    assert modern_config(old, "CPU") == {"NUM_STREAMS": "4", "INFERENCE_NUM_THREADS": "2",
                                         "ENABLE_CPU_PINNING": "NO", "X": "1"}
    assert modern_config({"CPU_BIND_THREAD": "YES"}, "CPU") == {"ENABLE_CPU_PINNING": "YES"}
    assert modern_config({"GPU_THROUGHPUT_STREAMS": "2"}, "GPU.1") == {"NUM_STREAMS": "2"}
    assert modern_config({"GPU_THROUGHPUT_STREAMS": "2"}, "CPU") == {"GPU_THROUGHPUT_STREAMS": "2"}
    assert modern_config({"CPU_THROUGHPUT_STREAMS": "4", "NUM_STREAMS": "1"}, "CPU") == {"NUM_STREAMS": "1"}


# --- ovfastdetect and ovfastclassify ---------------------------------------------------------------------------
def test_ovfastdetect_gives_the_regions_of_ovfastinfer_output_detection(models):
    _, det, _, labels = models
    want = outputs(f"ovfastinfer model={det} output=detection labels-file={labels} threshold=0.3", region_frames())
    got = outputs(f"ovfastdetect model={det} labels-file={labels} threshold=0.3", region_frames())
    assert_same_outputs(got, want)
    assert [len(regions) for _, _, regions in got] == [2, 2, 3, 1]
    assert {label for _, _, regions in got for label, *_ in regions} == {"face", "car", "dog"}
    assert all(confidence >= 0.3 for _, _, regions in got for _, _, _, confidence, _, _ in regions)


def test_ovfastclassify_classifies_every_region_as_ovfastinfer_on_rois(models):
    """gvaclassify's role: without object-class, each region gets a classification and the run's tensors."""
    _, det, cls, _ = models
    want = outputs(f"ovfastinfer model={det} output=detection threshold=0.3 labels={LABELS} ! "
                   f"ovfastinfer model={cls} output=classification region=roi labels=a,b,c,d,e {F32}",
                   region_frames())
    got = outputs(f"ovfastdetect model={det} threshold=0.3 labels={LABELS} ! "
                  f"ovfastclassify model={cls} labels=a,b,c,d,e {F32}", region_frames())
    assert_same_outputs(got, want)
    regions = [r for _, _, frame_regions in got for r in frame_regions]
    assert len(regions) == 8
    assert all(len(classes) == 1 and classes[0]["label"] in "abcde" and len(tensors) == 1
               for *_, classes, tensors in regions)


@pytest.mark.parametrize("object_class, picked", [("face,dog", {"face", "dog"}), ("car", {"car"}),
                                                  (" dog , face ", {"face", "dog"}), ("cat,bird", set())])
def test_object_class_runs_only_on_regions_of_those_labels(models, object_class, picked):
    """Runs counted by the tensors each run attaches to its region: only the regions of those labels get any.
    Labels that match nothing are not an error: the frames pass with nothing classified."""
    _, det, cls, _ = models
    got = outputs(f"ovfastdetect model={det} threshold=0.3 labels={LABELS} ! "
                  f"ovfastclassify model={cls} {F32} object-class=\"{object_class}\"", region_frames())
    runs = {label: 0 for label in LABELS.split(",")}
    for _, tensors, regions in got:
        assert [name for name, _ in tensors] == ["inference_layer_name:boxes"]       # the detector's, on the whole frame
        for label, _, _, _, classes, region_tensors in regions:
            assert len(classes) == len(region_tensors) == (label in picked)
            runs[label] += len(region_tensors)
    assert {label for label, n in runs.items() if n} == picked
    assert sum(runs.values()) == sum(1 for _, _, regions in got for r in regions if r[0] in picked)


# --- bad values ------------------------------------------------------------------------------------------------
SRC = "videotestsrc num-buffers=3 ! video/x-raw,format=BGR,width=64,height=48"


@pytest.mark.parametrize("element", ELEMENTS)
def test_bad_values_are_errors_naming_the_property_the_value_and_what_is_allowed(models, tmp_path, element):
    _, det, cls, _ = models
    model = det if element == "ovfastdetect" else cls
    for setting in ("inference-region=foo", "region=foo"):
        text = bus_error(f"{SRC} ! {element} model={model} {setting} ! fakesink")
        assert all(word in text for word in ("'foo'", "inference-region", "region", "full-frame", "roi-list",
                                             "frame", "roi")), text
        assert text.startswith(f"{element}")
    for missing in ("no-such-labels.txt", str(tmp_path / "no-such-labels.txt")):
        text = bus_error(f"{SRC} ! {element} model={model} labels-file={missing} ! fakesink")
        assert "labels-file" in text and repr(missing) in text and "no such file" in text, text
    text = bus_error(f"{SRC} ! {element} model={model} labels-file={tmp_path} ! fakesink")
    assert "labels-file" in text and "not a file" in text, text
    # object-class picks regions: on whole frames it is a mistake, as DL Streamer says too
    text = bus_error(f"{SRC} ! {element} model={model} inference-region=full-frame object-class=face ! fakesink")
    assert "object-class" in text and "'face'" in text and "inference-region=roi-list" in text, text
