"""ovfast's GStreamer plugin (libgstovfast.so): the elements in programs that run no Python themselves
(gst-launch-1.0, gst-inspect-1.0, a C program), found through GST_PLUGIN_PATH.

Every program runs in a subprocess with a bare environment (no PYTHONPATH, no virtual environment on PATH):
the plugin starts Python and finds ovfast by itself. GStreamer's registry is a file of this module's own,
so no earlier scan is reused. The oracle for every tensor is openvino, on the frames the elements saw."""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import openvino
import pytest

from test_video import conv_net, save

W, H, N = 64, 48, 12
SOURCE = f"videotestsrc num-buffers={N} pattern=ball ! video/x-raw,format=BGR,width={W},height={H},framerate=30/1"
F32_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}
FAILURE = "ovfast GStreamer plugin: cannot load ovfast from "
CC = shlex.split(os.environ.get("CC", "cc"))


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} not found: GStreamer's tools and a C compiler are in the README's packages"
    return path


def bare_env(registry, plugin_path, **extra):
    """An environment with nothing of Python's in it: GStreamer's tools on PATH, the plugin's folder on
    GST_PLUGIN_PATH, a registry file of the caller's."""
    tools = [os.path.dirname(tool(t)) for t in ("gst-launch-1.0", "gst-inspect-1.0", "pkg-config", CC[0])]
    return {"PATH": os.pathsep.join(dict.fromkeys(tools + ["/usr/bin", "/bin"])), "HOME": os.environ.get("HOME", "/"),
            "GST_REGISTRY": str(registry), "GST_PLUGIN_PATH": str(plugin_path), **extra}


def run(cmd, env, timeout=120, cwd=None):
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode >= 0, f"{cmd[0]} was killed by {signal.Signals(-out.returncode).name}:\n{out.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    out = subprocess.run([sys.executable, "-m", "ovfast", "gst-plugin-path"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path_factory.mktemp("cwd"))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def env(plugin_path, tmp_path_factory):
    return bare_env(tmp_path_factory.mktemp("registry") / "registry.bin", plugin_path)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    model = conv_net(H, W)
    return model, save(model, tmp_path_factory.mktemp("net"))


def saver(tmp_path):
    """An ovfastpython module that saves each frame's pixels and tensors to <tmp_path>/frames/<n>.npz (n
    counts on across pipelines: each imports the module anew)."""
    frames = tmp_path / "frames"
    frames.mkdir()
    path = tmp_path / "saver.py"
    path.write_text(textwrap.dedent(f"""
        import os
        import numpy as np

        FRAMES = {str(frames)!r}

        def process_frame(frame):
            tensors = {{t.layer_name(): t.array().copy() for t in frame.tensors()}}
            n = len(os.listdir(FRAMES))
            np.savez(os.path.join(FRAMES, f"{{n:04d}}.npz"), pixels=frame.data().copy(), **tensors)
    """))
    return path, frames


def pipeline(net_path, module):
    return (f"{SOURCE} ! ovfastinfer model={net_path} config=INFERENCE_PRECISION_HINT=f32 ! "
            f"ovfastpython module={module} ! fakesink")


def check_frames(model, frames):
    """N frames, each with both outputs of the model as openvino computes them on the frame's pixels."""
    saved = sorted(frames.iterdir())
    assert len(saved) == N, [p.name for p in saved]
    compiled = openvino.Core().compile_model(model, "CPU", F32_CONFIG)
    pictures = set()
    for path in saved:
        with np.load(path) as f:
            got = {name: f[name] for name in f.files}
        assert set(got) == {"pixels", "features", "means"}
        assert got["pixels"].shape == (H, W, 3)
        pictures.add(got["pixels"].tobytes())
        want = compiled(got["pixels"][None])
        np.testing.assert_allclose(got["features"], want["features"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["means"], want["means"], rtol=1e-6)
    assert len(pictures) > 1   # the ball moves: the frames differ, so each result is its own frame's


def test_gst_plugin_path_prints_the_plugins_folder(plugin_path):
    assert os.path.isabs(plugin_path)
    assert os.listdir(plugin_path) == ["libgstovfast.so"]   # GST_PLUGIN_PATH scans every file there


def test_gst_plugin_path_says_when_ovfast_was_built_without_it(monkeypatch, capsys):
    from ovfast import benchmark

    isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda p: not p.endswith("libgstovfast.so") and isfile(p))
    assert benchmark.main(["gst-plugin-path"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1
    assert "this ovfast was built without its GStreamer plugin" in out.err


@pytest.mark.parametrize("element, prop", [("ovfastinfer", "model"), ("ovfastpython", "module"),
                                           ("ovfasttrack", "tracking-type"), ("ovfastfpscounter", "interval"),
                                           ("ovfastclassify", "reclassify-interval")])
def test_gst_inspect_describes_the_element(env, element, prop):
    out = run([tool("gst-inspect-1.0"), element], env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Author                   ovfast" in out.stdout
    assert f"{prop} " in out.stdout and "Element Properties:" in out.stdout
    assert "libgstovfast.so" in out.stdout    # the plugin's, not a registration of a Python process


def test_gst_inspect_describes_the_plugin(env):
    out = run([tool("gst-inspect-1.0"), "ovfast"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    names = ("ovfastinfer", "ovfastdetect", "ovfastclassify", "ovfastpython", "ovfastmetaconvert",
             "ovfastmetapublish", "ovfasttrack", "ovfastwatermark", "ovfastfpscounter")
    assert all(f"{name}: " in out.stdout for name in names) and f"{len(names)} elements" in out.stdout


def test_gst_launch_runs_both_elements(env, net, tmp_path):
    model, path = net
    module, frames = saver(tmp_path)
    out = run([tool("gst-launch-1.0"), "-q", *pipeline(path, module).split()], env)
    assert out.returncode == 0, out.stdout + out.stderr
    check_frames(model, frames)


def test_gst_launch_exits_cleanly_every_time(env, net):
    # the interpreter the plugin started is never finalized: the process ends with it alive, and the
    # model's threads gone with the pipeline
    _, path = net
    for i in range(5):
        out = run([tool("gst-launch-1.0"), "-q", *f"{SOURCE} ! ovfastinfer model={path} jobs=2 ! fakesink".split()],
                  env)
        assert out.returncode == 0, (i, out.stdout + out.stderr)
        assert out.stderr == "", (i, out.stderr)


def test_gst_launch_leaves_ctrl_c_to_gstreamer(env, net, tmp_path):
    # Python's own SIGINT handler is not installed: gst-launch-1.0 -e turns Ctrl-C into EOS, every frame
    # in flight comes out, and the exit code is 0
    _, path = net
    module, frames = saver(tmp_path)
    description = f"{SOURCE.replace(f'num-buffers={N} ', '')} ! ovfastinfer model={path} ! ovfastpython module={module}"
    proc = subprocess.Popen([tool("gst-launch-1.0"), "-e", *f"{description} ! fakesink".split()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(frames.iterdir()):    # playing
            assert proc.poll() is None and time.monotonic() < deadline, proc.returncode
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, stdout + stderr
    assert "Got EOS" in stdout, stdout


def test_a_c_program_runs_the_pipeline(env, net, tmp_path):
    model, path = net
    module, frames = saver(tmp_path)
    source = tmp_path / "run.c"
    source.write_text(textwrap.dedent("""
        #include <gst/gst.h>

        int main(int argc, char **argv)
        {
            GError *error = NULL;
            gst_init(&argc, &argv);
            GstElement *pipeline = gst_parse_launch(argv[1], &error);
            if (pipeline == NULL) {
                g_printerr("%s\\n", error->message);
                return 2;
            }
            gst_element_set_state(pipeline, GST_STATE_PLAYING);
            GstBus *bus = gst_element_get_bus(pipeline);
            GstMessage *msg = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
            int rc = msg != NULL && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS ? 0 : 1;
            if (msg != NULL && rc != 0) {
                gst_message_parse_error(msg, &error, NULL);
                g_printerr("%s\\n", error->message);
            }
            if (msg != NULL)
                gst_message_unref(msg);
            gst_object_unref(bus);
            gst_element_set_state(pipeline, GST_STATE_NULL);
            gst_object_unref(pipeline);
            return rc;
        }
    """))
    flags = run([tool("pkg-config"), "--cflags", "--libs", "gstreamer-1.0"], env).stdout.split()
    program = tmp_path / "run"
    built = run([tool(CC[0]), *CC[1:], str(source), "-o", str(program), *flags], env)
    assert built.returncode == 0, built.stderr
    out = run([str(program), pipeline(path, module)], env)
    assert out.returncode == 0, out.stdout + out.stderr
    check_frames(model, frames)


@pytest.fixture
def lone_plugin(plugin_path, tmp_path):
    """The plugin copied where no ovfast is installed beside it."""
    folder = tmp_path / "lone" / "plugin"
    folder.mkdir(parents=True)
    shutil.copy(os.path.join(plugin_path, "libgstovfast.so"), folder)
    return folder


def test_without_ovfast_beside_it_the_element_is_missing_with_one_line(lone_plugin, tmp_path):
    # a fresh registry for each program: GStreamer remembers a plugin that failed and does not load it again
    out = run([tool("gst-inspect-1.0"), "ovfastinfer"], bare_env(tmp_path / "inspect.bin", lone_plugin))
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    lines = [line for line in text.splitlines() if line.startswith(FAILURE)]
    assert len(lines) == 1, text
    assert "ModuleNotFoundError: No module named 'ovfast'" in lines[0], lines[0]
    assert "python -m ovfast gst-plugin-path" in lines[0]
    assert "Traceback" not in text

    out = run([tool("gst-launch-1.0"), "videotestsrc", "num-buffers=1", "!", "ovfastinfer", "!", "fakesink"],
              bare_env(tmp_path / "launch.bin", lone_plugin))
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert sum(line.startswith(FAILURE) for line in text.splitlines()) == 1, text
    assert 'no element "ovfastinfer"' in text


PYTHON_PROGRAM = """
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
import ovfast.gst

def play(description):
    p = Gst.parse_launch(description)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()

print("owner:", Gst.ElementFactory.find("ovfastinfer").get_plugin_name())
play(sys.argv[1])
# GStreamer may still load the plugin itself (as gst_plugin_load_by_name does): its elements take over
plugin = Gst.Registry.get().find_plugin("ovfast")
assert plugin is not None and plugin.load() is not None
print("owner:", Gst.ElementFactory.find("ovfastinfer").get_plugin_name())
play(sys.argv[1])
"""


@pytest.mark.parametrize("fork", ["yes", "no"])
def test_a_python_process_with_the_plugin_on_the_path(plugin_path, net, tmp_path, fork):
    """A Python program that imports ovfast.gst while GST_PLUGIN_PATH has the plugin. GST_REGISTRY_FORK=no
    makes GStreamer scan the plugin inside Gst.init() of this process, which already runs Python: the
    plugin then registers the elements before ovfast.gst is imported (which does not register them again)."""
    model, path = net
    module, frames = saver(tmp_path)
    env = bare_env(tmp_path / "registry.bin", plugin_path, GST_REGISTRY_FORK=fork)
    description = pipeline(path, module).replace(f"num-buffers={N}", f"num-buffers={N // 2}")
    out = run([sys.executable, "-c", PYTHON_PROGRAM, description], env)
    assert out.returncode == 0, out.stdout + out.stderr
    # forked scan: this process registers the elements for itself; in-process scan: the plugin did
    assert out.stdout.splitlines() == ["owner: None" if fork == "yes" else "owner: ovfast", "owner: ovfast"]
    check_frames(model, frames)
