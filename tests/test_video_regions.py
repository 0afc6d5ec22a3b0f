"""ovfastinfer on regions: output=detection, region=roi with output=classification, VideoFrame.regions() and
add_region(). Boxes come from a detection model written here whose boxes are known; the classifier's
results on each region are checked against the model run from Python on the same crop from numpy."""

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from gi.repository import Gst, GstVideo

import ovfast
import ovfast.gst
from ovfast.gst import VideoFrame
from test_video import F32, F32_CONFIG, bus_error, bus_error_of, frames_out, pipeline, run_appsrc, save

LABELS = "face,car,dog"
# (label id, x_min, y_min, x_max, y_max) of the three boxes; box i's confidence is channel i's mean / 255
BOXES = [(0, 0.1, 0.2, 0.5, 0.7), (1, 0.0, 0.0, 1.0, 1.0), (2, 0.55, 0.1, 0.95, 0.45)]


def detector(h, w):
    """u8 NHWC [1,h,w,3] -> [1,1,4,7]: the three BOXES, confidences from the frame's channel means, and a last
    row with image_id -1 (the end of the list)."""
    x = ops.parameter([1, h, w, 3], openvino.Type.u8, name="image")
    means = ops.divide(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2], np.int64), False),
                       np.float32(255))
    conf = ops.reshape(means, np.array([3, 1], np.int64), False)
    ids = ops.constant(np.zeros((3, 1), np.float32))
    labels = ops.constant(np.array([[b[0]] for b in BOXES], np.float32))
    coords = ops.constant(np.array([b[1:] for b in BOXES], np.float32))
    rows = ops.concat([ids, labels, conf, coords], 1)
    end = ops.constant(np.array([[-1, 0, 0, 0, 0, 0, 0]], np.float32))
    out = ops.reshape(ops.concat([rows, end], 0), np.array([1, 1, 4, 7], np.int64), False)
    model = openvino.Model([out], [x], "detector")
    model.outputs[0].tensor.set_names({"boxes"})
    return model


def classifier():
    """u8 NHWC [1,16,16,3] -> f32 [1,5] scores (a conv net; resized crops go in)."""
    rng = np.random.default_rng(5)
    x = ops.parameter([1, 16, 16, 3], openvino.Type.u8, name="image")
    y = ops.transpose(ops.convert(x, openvino.Type.f32), np.array([0, 3, 1, 2], np.int64))
    k = ops.constant(rng.standard_normal((5, 3, 3, 3)).astype(np.float32) / 30)
    y = ops.reduce_mean(ops.relu(ops.convolution(y, k, [1, 1], [1, 1], [1, 1], [1, 1])), np.array([2, 3], np.int64),
                        False)
    model = openvino.Model([ops.softmax(y, 1)], [x], "classifier")
    model.outputs[0].tensor.set_names({"scores"})
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regions")
    return save(detector(48, 64), folder, "det"), save(classifier(), folder, "cls")


def frame_with_means(b, g, r, h=48, w=64, seed=0):
    """A BGR frame whose channel means are b, g, r (noise that cancels out)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 21, (h, w // 2, 3))
    noise = np.concatenate([noise, -noise], axis=1)
    return np.clip(np.array([b, g, r])[None, None] + noise, 0, 255).astype(np.uint8)


def expected_regions(frame, threshold, w=64, h=48):
    means = frame.reshape(-1, 3).mean(0) / 255
    out = []
    for i, (label_id, x0, y0, x1, y1) in enumerate(BOXES):
        if means[i] >= threshold:
            px, py = int(x0 * w + 0.5), int(y0 * h + 0.5)
            out.append((LABELS.split(",")[label_id], (px, py, int(x1 * w + 0.5) - px, int(y1 * h + 0.5) - py),
                        label_id, means[i]))
    return out


def test_detection_regions_box_by_box(models):
    det, _ = models
    frames = [frame_with_means(200, 50, 100, seed=1), frame_with_means(40, 220, 180, seed=2),
              frame_with_means(10, 10, 10, seed=3)]
    p = pipeline(f"appsrc name=src format=time caps=video/x-raw,format=BGR,width=64,height=48,framerate=30/1 ! "
                 f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.3 ! "
                 f"appsink name=sink sync=false")
    src = p.get_by_name("src")
    got = []
    p.set_state(Gst.State.PLAYING)
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts = i
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    for f in frames_out(p):
        got.append([(r.label(), r.rect(), r.label_id(), r.confidence(), r.parent_id, r.region_id,
                     len(r.tensors())) for r in f.regions()])
        assert len(f.tensors()) == 1 and f.tensors()[0].dims() == (1, 1, 4, 7)   # the raw boxes too
    assert len(got) == 3
    for regions, frame in zip(got, frames):
        want = expected_regions(frame, 0.3)
        assert [(label, rect, lid) for label, rect, lid, *_ in regions] == [(a, b, c) for a, b, c, _ in want]
        for (_, _, _, conf, parent, rid, n), (*_, mean), k in zip(regions, want, range(len(want))):
            assert conf == pytest.approx(mean, abs=1e-5)
            assert (parent, rid, n) == (-1, k, 0)
    assert got[2] == []                               # every confidence under the threshold


def crop_oracle(model, frame, rect):
    x, y, w, h = rect
    crop = np.ascontiguousarray(frame[y:y + h, x:x + w])
    compiled = ovfast.compile_model(ovfast.gst.frame_model(model, "BGR", w, h, (w * 3,), (0,))[0], "CPU", F32_CONFIG)
    return compiled(crop[None])[0]


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_classifier_on_each_region_equals_the_crop_run_from_python(models, jobs):
    det, cls = models
    frames = [frame_with_means(200 - 7 * i, 60 + 5 * i, 150, seed=10 + i) for i in range(8)]
    got, error = run_appsrc(f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.2 ! "
                            f"ovfastinfer model={cls} region=roi output=classification jobs={jobs} {F32} "
                            f"labels=a,b,c,d,e", frames, "BGR", 64, 48, regions=True)
    assert error is None and len(got) == len(frames)
    model = classifier()
    for i, ((pts, regions), frame) in enumerate(zip(got, frames)):
        assert pts == i * Gst.SECOND // 30
        assert len(regions) == 3
        for label, rect, classes, tensors in regions:
            want = crop_oracle(model, frame, rect)
            assert [t[0] for t in tensors] == ["scores"]
            np.testing.assert_allclose(tensors[0][1], want, rtol=1e-4, atol=1e-6)
            best = int(np.argmax(want))
            assert classes == [{"label": "abcde"[best], "label_id": best, "confidence": pytest.approx(
                float(want[0, best]), rel=1e-4)}]


def test_roi_label_picks_the_regions_and_frames_without_regions_pass(models):
    det, cls = models
    frames = [frame_with_means(200, 200, 200, seed=4)]
    got, error = run_appsrc(f"ovfastinfer model={det} output=detection labels={LABELS} ! "
                            f"ovfastinfer model={cls} region=roi roi-label=car output=classification {F32}",
                            frames, "BGR", 64, 48, regions=True)
    assert error is None
    assert [(label, len(classes), len(tensors)) for label, _, classes, tensors in got[0][1]] == \
        [("face", 0, 0), ("car", 1, 1), ("dog", 0, 0)]
    # no regions upstream: frames pass unchanged, nothing attached
    got, error = run_appsrc(f"ovfastinfer model={cls} region=roi output=classification", frames, "BGR", 64, 48,
                            regions=True)
    assert error is None and got[0][1] == []


def test_classification_of_the_whole_frame(models):
    _, cls = models
    frame = frame_with_means(90, 120, 30, h=16, w=16, seed=6)
    got, error = run_appsrc(f"ovfastinfer model={cls} output=classification {F32}", [frame], "BGR", 16, 16,
                            regions=True)
    assert error is None
    [(label, rect, classes, tensors)] = got[0][1]
    want = ovfast.compile_model(classifier(), "CPU", F32_CONFIG)(frame[None])[0]
    best = int(np.argmax(want))
    assert (label, rect) == (str(best), (0, 0, 16, 16))
    assert classes[0]["label_id"] == best and classes[0]["confidence"] == pytest.approx(float(want[0, best]), rel=1e-5)


def test_bad_region_settings(models, tmp_path):
    det, cls = models
    src = "videotestsrc num-buffers=3 ! video/x-raw,format=BGR,width=64,height=48"
    text = bus_error(f"{src} ! ovfastinfer model={cls} output=detection ! fakesink")
    assert "[1,1,N,7]" in text and "'scores' is f32[1, 5]" in text
    assert "region='boxes' is not one of frame, roi" in bus_error(f"{src} ! ovfastinfer model={cls} region=boxes ! "
                                                                  f"fakesink")
    text = bus_error(f"videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 ! "
                     f"ovfastinfer model={cls} region=roi ! fakesink")
    assert "region=roi reads regions of packed frames" in text
    assert "could not be read" in bus_error(f"{src} ! ovfastinfer model={det} output=detection "
                                            f"labels={tmp_path} ! fakesink")


def test_add_region_and_regions_from_python():
    caps = Gst.Caps.from_string("video/x-raw,format=BGR,width=8,height=4")
    buf = Gst.Buffer.new_wrapped(bytes(96))
    with VideoFrame(buf, caps) as f:
        r = f.add_region(1, 1, 4, 2, "person", confidence=0.75, label_id=3)
        assert (r.region_id, r.label(), r.rect(), r.confidence(), r.label_id()) == (0, "person", (1, 1, 4, 2), 0.75, 3)
        assert f.add_region(0, 0, 8, 4).region_id == 1
        assert [(x.label(), x.confidence()) for x in f.regions()] == [("person", 0.75), ("", None)]
        for bad in [(0, 0, 9, 4), (0, 0, 0, 1), (-1, 0, 2, 2)]:
            with pytest.raises(ValueError, match="inside the 8x4 frame"):
                f.add_region(*bad)
        with pytest.raises(ValueError, match="confidence"):
            f.add_region(0, 0, 1, 1, confidence=1.5)
        view = f.data()                                # keeps the memory, not the buffer: still writable
        assert f.add_region(0, 0, 1, 1).region_id == 2
        del view
    # the regions any element put there (GstVideo's own API) read the same way
    GstVideo.buffer_add_video_region_of_interest_meta(buf, "cat", 2, 2, 2, 2)
    assert [r.label() for r in VideoFrame(buf, caps).regions()] == ["person", "", "", "cat"]
    # in a Python pad probe PyGObject's Gst.Buffer is a second reference: refused, with the reason
    errors = []

    def probe(pad, info):
        with VideoFrame(info.get_buffer(), pad.get_current_caps()) as frame:
            try:
                frame.add_region(0, 0, 1, 1)
            except RuntimeError as exc:
                errors.append(str(exc))
        return Gst.PadProbeReturn.OK

    p = pipeline("videotestsrc num-buffers=2 ! video/x-raw,format=BGR,width=8,height=4 ! identity name=probe ! "
                 "fakesink")
    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    assert bus_error_of(p) is None
    assert len(errors) == 2 and all("not writable" in e and "ovfastpython" in e for e in errors)
