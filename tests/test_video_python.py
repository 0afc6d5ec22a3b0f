"""ovfastpython: a user's Python function per frame (VideoFrame), in order, in batches off the streaming thread."""

import gc
import json
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from gi.repository import Gst

import ovfast
import ovfast.gst
from test_video import (assert_null_cycles_free_everything, bus_error, conv_net, frames_out, frames_while_gil_held,
                        pipeline, playing, refusing_downstream, save, slow_to_post)

SRC = "videotestsrc num-buffers={n} ! video/x-raw,format=BGR,width=32,height=32,framerate=30/1"


def module(tmp_path, text, name="user"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return save(conv_net(32, 32), tmp_path_factory.mktemp("py"))


USER = """
    import json
    seen = []

    class Counter:
        def __init__(self, start=0, label="x"):
            self.count = start
            self.label = label

        def process_frame(self, frame):
            self.count += 1
            tensors = frame.tensors()
            frame.add_region(0, 0, 4, 4, f"{self.label}{self.count}", confidence=min(1.0, len(tensors) / 2))
            return True

    def process_frame(frame):
        seen.append(frame.pts)
        return frame.pts // 33333333 % 2 == 0        # drops odd frames

    def boom(frame, after=3):
        seen.append(frame.pts)
        if len(seen) > after:
            raise ValueError(f"frame {len(seen)} is one too many")
"""


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_class_reads_and_adds_metadata_in_order(tmp_path, net, jobs):
    path = module(tmp_path, USER)
    p = pipeline(f"{SRC.format(n=40)} ! ovfastinfer model={net} jobs={jobs} ! ovfastpython module={path} "
                 f"class=Counter kwargs={{\\\"start\\\":10,\\\"label\\\":\\\"n\\\"}} ! "
                 f"appsink name=sink sync=false max-buffers=1000")
    got = [(f.pts, [(r.label(), r.confidence()) for r in f.regions()]) for f in frames_out(p)]
    assert [pts for pts, _ in got] == [i * Gst.SECOND // 30 for i in range(40)]
    assert [regions for _, regions in got] == [[(f"n{11 + i}", 1.0)] for i in range(40)]


THREAD_LOCAL = """
    import threading
    mine = threading.local()
    calls = []

    def process_frame(frame):
        mine.count = getattr(mine, "count", 0) + 1
        calls.append((threading.get_ident(), mine.count))
        return True
"""


def test_calls_share_one_python_thread_across_batches(tmp_path):
    """Every call runs on the element's one thread with one Python thread state, so threading.local()
    keeps what a call put there: a per-thread cache (a connection, a tracker) is made once, not once per
    batch. The sink paces the frames (2000 a second), so they reach Python in many batches."""
    path = module(tmp_path, THREAD_LOCAL, name="local")
    p = pipeline(f"videotestsrc num-buffers=60 ! video/x-raw,format=BGR,width=32,height=32,framerate=2000/1 ! "
                 f"ovfastpython module={path} ! fakesink sync=true")
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS
    calls = sys.modules["local"].calls
    assert len({ident for ident, _ in calls}) == 1
    assert [count for _, count in calls] == list(range(1, 61))


TICKS = """
    import threading
    ticks = 0
    stop = threading.Event()
    seen = []

    def spin():                  # another Python thread that always wants the GIL: a busy application
        global ticks
        while not stop.is_set():
            ticks += 1

    def process_frame(frame):
        seen.append((ticks, frame.pts))
        return True
"""


def test_under_a_busy_interpreter_each_wait_for_the_gil_serves_a_full_batch(tmp_path):
    """While another thread runs Python, each wait for the GIL lasts a switch interval; the frames that
    arrive meanwhile join the batch that waited, so a batch is max-inflight frames, not one frame followed
    by the rest. Calls of one batch run under one hold of the GIL, so the spinning thread's counter does
    not move within a batch: distinct counter values are batches."""
    path = module(tmp_path, TICKS, name="ticks")
    n, inflight = 160, 16
    p = pipeline(f"videotestsrc num-buffers={n} ! video/x-raw,format=GRAY8,width=16,height=16,framerate=30/1 ! "
                 f"ovfastpython module={path} max-inflight={inflight} ! fakesink sync=false")
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.05)          # each wait 50 ms: the source fills max-inflight long before, on any machine
    # A batch holds the GIL until it is done unless it runs a whole switch interval: a full collection of
    # what earlier tests in this process left on the heap can (seen: 12 batches after the region tests).
    gc.disable()
    try:
        p.set_state(Gst.State.PAUSED)
        p.get_state(30 * Gst.SECOND)
        user = sys.modules["ticks"]
        spinner = threading.Thread(target=user.spin)
        spinner.start()
        try:
            p.set_state(Gst.State.PLAYING)
            msg = p.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        finally:
            user.stop.set()
            spinner.join()
    finally:
        gc.enable()
        sys.setswitchinterval(previous)
        p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS
    assert [pts for _, pts in user.seen] == [i * Gst.SECOND // 30 for i in range(n)]
    batches = len({tick for tick, _ in user.seen[1:]})      # the first frame went through at preroll
    assert batches <= (n - 1) // inflight + 2, f"{batches} batches for {n - 1} frames"


EXIT_WHILE_PLAYING = """
import sys, time
import ovfast.gst
from gi.repository import Gst
p = Gst.parse_launch(sys.argv[1])
p.set_state(Gst.State.PLAYING)
time.sleep(float(sys.argv[2]))
print("leaving", flush=True)
"""


def test_the_interpreter_exits_cleanly_while_its_pipeline_plays(tmp_path, net):
    """A program that ends without stopping its pipeline: Python finalizes while ovfastinfer may be
    compiling for the caps and ovfastpython holds a thread state and may be in a batch. The process must
    end with its own exit code, at once."""
    path = module(tmp_path, "def process_frame(frame):\n    return sum(range(500)) > 0\n", name="work")
    script = tmp_path / "exit_while_playing.py"
    script.write_text(EXIT_WHILE_PLAYING)
    description = (f"videotestsrc ! video/x-raw,format=BGR,width=32,height=32 ! ovfastinfer model={net} ! "
                   f"ovfastpython module={path} ! fakesink sync=false")
    for pause in (0.0, 0.0, 0.0, 0.05, 0.3):     # 0: during caps negotiation (3 of 5 aborted without the gate)
        done = subprocess.run([sys.executable, str(script), description, str(pause)], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (0, "leaving\n"), done.stderr[-2000:]


def test_function_drops_frames_returning_false(tmp_path):
    path = module(tmp_path, USER)
    p = pipeline(f"{SRC.format(n=20)} ! ovfastpython module={path} ! appsink name=sink sync=false max-buffers=100")
    pts = [f.pts for f in frames_out(p)]
    assert pts == [i * Gst.SECOND // 30 for i in range(0, 20, 2)]
    assert len(sys.modules["user"].seen) == 20


def test_a_function_that_raises_stops_the_pipeline_with_its_traceback(tmp_path):
    path = module(tmp_path, USER)
    text, debug = bus_error_and_debug(f"{SRC.format(n=50)} ! ovfastpython module={path} function=boom "
                                      f"kwargs={{\\\"after\\\":4}} ! fakesink")
    assert f"{path}:boom raised ValueError: frame 5 is one too many" in text
    assert "Traceback" in debug and "raise ValueError" in debug


def test_errors_name_ovfastpython_not_another_element(tmp_path):
    """An error ovfastpython posts names ovfastpython: in its text and in the debug text's function slot."""
    path = module(tmp_path, USER)
    for description in (f"{SRC.format(n=50)} ! ovfastpython module={path} function=boom "
                        f"kwargs={{\\\"after\\\":4}} ! fakesink",
                        f"{SRC.format(n=3)} ! ovfastpython module={tmp_path}/nope.py ! fakesink"):
        text, debug = bus_error_and_debug(description)
        assert text.startswith("ovfastpython: "), text
        assert " ovfastpython (): " in debug.splitlines()[0], debug
        assert "ovfastinfer" not in debug, debug


def bus_error_and_debug(description, timeout=30):
    """The first error on the bus and its debug text; ovfastpython's are held on their way to the bus, so one
    from upstream caused by the same failure would come first if it could."""
    p = pipeline(description)
    p.get_bus().set_sync_handler(slow_to_post("ovfastpython"))
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(timeout * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.ERROR, "no error within the timeout"
    error, debug = msg.parse_error()
    return error.message, debug or ""


def test_missing_module_function_class_and_bad_kwargs(tmp_path):
    path = module(tmp_path, USER)
    src = SRC.format(n=3)
    assert "no such file" in bus_error(f"{src} ! ovfastpython module={tmp_path}/nope.py ! fakesink")
    assert "no module" in bus_error(f"{src} ! ovfastpython ! fakesink")
    assert "has no function 'missing'" in bus_error(f"{src} ! ovfastpython module={path} function=missing ! fakesink")
    assert "has no class 'Nope'" in bus_error(f"{src} ! ovfastpython module={path} class=Nope ! fakesink")
    assert "is not JSON" in bus_error(f"{src} ! ovfastpython module={path} kwargs=oops ! fakesink")
    broken = module(tmp_path, "import no_such_module_here\n", name="broken")
    assert "no_such_module_here" in bus_error(f"{src} ! ovfastpython module={broken} ! fakesink")


def test_eos_with_frames_pending_delivers_every_frame_in_order(tmp_path):
    path = module(tmp_path, """
        import time
        def process_frame(frame):
            time.sleep(0.002)
            return True
    """, name="slow")
    p = pipeline(f"{SRC.format(n=150)} ! ovfastpython module={path} max-inflight=64 ! "
                 f"appsink name=sink sync=false max-buffers=1000")
    assert [f.pts for f in frames_out(p)] == [i * Gst.SECOND // 30 for i in range(150)]


def test_the_streaming_thread_does_not_wait_for_python(tmp_path):
    """While the main thread holds the GIL, no frame leaves ovfastpython, yet the streaming thread keeps
    handing it frames until max-inflight are pending (then waits for room); with a Python pad probe upstream
    it hands none."""
    path = module(tmp_path, "def process_frame(frame):\n    return True\n", name="trivial")
    description = (f"videotestsrc ! video/x-raw,format=BGR,width=32,height=32 ! identity name=probe ! "
                   f"ovfastpython name=py module={path} max-inflight=24 ! fakesink name=out sync=false")
    counts = frames_while_gil_held(description, ["py", "out"])
    (in_before, in_after), (out_before, out_after) = counts["py"], counts["out"]
    # Python cannot run: at most the batch whose calls were already over when the hold began goes out
    assert out_after - out_before <= 24
    assert 24 <= in_after - out_after <= 24 + 1        # pending at the end: max-inflight (+ one in the chain)
    (in_before, in_after), _ = frames_while_gil_held(description, ["py", "out"], probe_on="probe").values()
    assert in_after - in_before <= 2


SLOW_SEEN = """
    import time
    seen = []

    def process_frame(frame):
        seen.append((frame.pts, frame.width, frame.height))
        time.sleep(0.001)         # frames wait in ovfastpython: a seek, new caps or NULL meets them pending
        return True
"""


def test_flushing_seek_with_frames_pending(tmp_path):
    """A flushing seek drops what is pending in ovfastpython and the stream goes on from the new position,
    in order, with every frame after it called and delivered."""
    path = module(tmp_path, SLOW_SEEN, name="seek")
    p, counter = playing(f"videotestsrc ! video/x-raw,format=GRAY8,width=16,height=16,framerate=30/1 ! "
                         f"ovfastpython module={path} max-inflight=32 ! fakesink name=sink sync=false", 20)
    assert p.seek(1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH, Gst.SeekType.SET, 8 * Gst.SECOND, Gst.SeekType.SET,
                  10 * Gst.SECOND)
    msg = p.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()
    pts = [t for t, _, _ in sys.modules["seek"].seen]
    after = pts[pts.index(8 * Gst.SECOND):]
    assert after == [i * Gst.SECOND // 30 for i in range(240, 300)]     # frames 240..299, each once, in order
    assert counter.count >= 20 + 60


def test_new_caps_mid_stream_reach_the_function_with_their_frames(tmp_path):
    """Frames queued under the old caps keep them; the function sees each frame's own size."""
    path = module(tmp_path, SLOW_SEEN, name="caps")
    p = pipeline(f"appsrc name=src format=time ! ovfastpython module={path} max-inflight=64 ! "
                 f"appsink name=sink sync=false max-buffers=1000")
    src = p.get_by_name("src")
    p.set_state(Gst.State.PLAYING)
    n = 0
    for side in (8, 12, 8):
        src.set_property("caps", Gst.Caps.from_string(f"video/x-raw,format=GRAY8,width={side},height={side},"
                                                      f"framerate=30/1"))
        for _ in range(10):
            buf = Gst.Buffer.new_wrapped(bytes(side * side))
            buf.pts = n
            n += 1
            src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    got = [(f.pts, f.width) for f in frames_out(p)]
    assert got == [(i, (8, 12, 8)[i // 10]) for i in range(30)]
    assert [(w, h) for _, w, h in sys.modules["caps"].seen] == [((8, 12, 8)[i // 10],) * 2
                                                                           for i in range(30)]


def test_null_mid_stream_with_frames_pending_twenty_times(tmp_path):
    """NULL while frames wait for Python: the pad task stops, the pending frames are freed, the function's
    object is let go; twenty times, RSS flat."""
    path = module(tmp_path, SLOW_SEEN, name="cycles")
    assert_null_cycles_free_everything(f"videotestsrc ! video/x-raw,format=BGR,width=64,height=64 ! ovfastpython "
                                       f"module={path} max-inflight=64 ! fakesink name=sink sync=false", 5)


SECOND_MODEL = """
    import ovfast

    results = []        # (pts, how, output): what the function's own inferences gave
    queues = []

    class Infer:
        def __init__(self, model):
            self.compiled = ovfast.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
            self.queue = ovfast.AsyncInferQueue(self.compiled, 2)
            self.queue.set_callback(lambda request, pts: results.append((pts, "pool", request.results[0].copy())))
            queues.append(self.queue)

        def process_frame(self, frame):
            picture = frame.data()[None]     # (1, height, width, channels)
            results.append((frame.pts, "call", self.compiled(picture)[0].copy()))
            self.queue.start_async({0: picture.copy()}, frame.pts)
            frame.add_region(0, 0, 2, 2, "seen")
            return True
"""


def test_the_function_can_run_ovfast_models_on_its_frames(tmp_path, net):
    """The function calls back into ovfast: a model run on the frame it was given, synchronously and through
    an AsyncInferQueue whose callbacks come on another thread while the frames move on. Every result equals
    the model run here on the same picture."""
    path = module(tmp_path, SECOND_MODEL, name="second")
    frames = 30
    # one word, quotes escaped, as gst-launch syntax wants
    kwargs = json.dumps({"model": str(net)}, separators=(",", ":")).replace('"', '\\"')
    p = pipeline(f"videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=BGR,width=32,height=32,"
                 f"framerate=30/1 ! ovfastpython module={path} class=Infer kwargs={kwargs} ! "
                 f"appsink name=sink sync=false max-buffers=100")
    pictures = {}
    for f in frames_out(p):
        assert [r.label() for r in f.regions()] == ["seen"]
        pictures[f.pts] = f.data().copy()
    user = sys.modules["second"]
    user.queues[0].wait_all()
    assert len(pictures) == frames
    assert sorted((pts, how) for pts, how, _ in user.results) == sorted(
        (pts, how) for pts in pictures for how in ("call", "pool"))
    direct = ovfast.compile_model(net, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for pts, _, output in user.results:
        np.testing.assert_allclose(output, direct(pictures[pts][None])[0], rtol=1e-6, atol=1e-7)
    user.queues.clear()  # the user's module stays imported: its queue goes with this test


def test_a_frame_refused_downstream_is_ovfastpythons_error_first(tmp_path):
    """As the other elements: downstream refusing the third frame (not-negotiated) is ovfastpython's error on
    the bus, before the source's, and no frame is sent after it."""
    path = module(tmp_path, """
        def process_frame(frame):
            return True
    """)
    error, frames = refusing_downstream(f"{SRC.format(n=50)} ! ovfastpython name=py module={path}", "py")
    assert error == "ovfastpython: downstream refused a frame (not-negotiated)", error
    assert frames == 3
