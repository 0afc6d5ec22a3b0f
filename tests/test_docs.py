"""The documentation site (docs/) and the README: the site builds with warnings as errors (broken links
included), every `python` block of every page runs, every public name is in the reference, and every test
the differences page names exists."""

import glob
import os
import re
import subprocess
import sys
import zlib

import pytest

import ovfast
import ovfast.api
import ovfast.exceptions
import ovfast.gst
import ovfast.helpers
import ovfast.interop
import ovfast.ray
import ovfast.serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
PAGES = sorted(glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True)) + [os.path.join(ROOT, "README.md")]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.S | re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("site"))
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", DOCS, out],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"sphinx-build failed:\n{run.stderr[-6000:]}"
    return out


def inventory(site):
    """(role, name) of every object in the site's objects.inv (Sphinx's format, version 2)."""
    with open(os.path.join(site, "objects.inv"), "rb") as f:
        for _ in range(4):
            f.readline()
        text = zlib.decompress(f.read()).decode()
    entries = set()
    for line in text.splitlines():
        m = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)", line)
        if m:
            entries.add((m.group(2), m.group(1)))
    return entries


def test_the_site_builds_without_warnings_and_renders_every_page(site):
    for page in glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True):
        html = os.path.join(site, os.path.relpath(page, DOCS)[:-3] + ".html")
        assert os.path.exists(html), f"{page} was not rendered"
    with open(os.path.join(site, "differences.html")) as f:
        assert f.read().count("<tr") > 30   # the table is a table


def _public_classes():
    for module, names in ((ovfast, ovfast.__all__), (ovfast.exceptions, ovfast.exceptions.__all__),
                          (ovfast.gst, ovfast.gst.__all__), (ovfast.ray, ovfast.ray.__all__)):
        for name in names:
            value = getattr(module, name)
            if isinstance(value, type) and value.__module__.startswith("ovfast"):
                yield f"{module.__name__}.{name}", value


def test_every_public_name_is_in_the_reference(site):
    names = {name for _, name in inventory(site)}
    expected = [f"ovfast.{n}" for n in ovfast.__all__]
    expected += [f"{m.__name__}.{n}" for m in (ovfast.helpers, ovfast.exceptions, ovfast.interop, ovfast.gst, ovfast.ray,
                                                           ovfast.serve)
                 for n in m.__all__]
    expected += ["ovfast.api.API_VERSION"]
    for qualified, cls in _public_classes():   # and every public method and attribute of our classes
        own = set(vars(cls)) if not issubclass(cls, BaseException) else set()
        expected += [f"{qualified}.{n}" for n in own if not n.startswith("_")]
    missing = sorted(set(expected) - names)
    assert not missing, f"not in the reference: {missing}"


def test_the_c_level_api_is_in_the_reference(site):
    c_names = {name for role, name in inventory(site) if role.startswith("c:")}
    exported = set(ovfast.api.__pyx_capi__)
    assert exported, "ovfast.api exports no C functions"
    declared = exported | {"check_version", "OVFAST_API_VERSION", "done_fn", "ovf_pool", "OVFAST_OK",
                           "OVFAST_FAILED"}
    missing = sorted(declared - c_names)
    assert not missing, f"not in the C-level API reference: {missing}"


def test_every_element_and_property_is_in_the_reference(site):
    from gi.repository import Gst

    entries = inventory(site)
    factories = [f for f in Gst.Registry.get().get_feature_list(Gst.ElementFactory)
                 if f.get_metadata("author") == "ovfast"]
    assert {f.get_name() for f in factories} >= {"ovfastinfer", "ovfastpython"}
    for factory in factories:
        assert ("std:gst-element", factory.get_name()) in entries
        element = factory.create(None)
        for spec in element.list_properties():
            if spec.owner_type.name not in ("GstObject", "GObject"):
                assert ("std:gst-property", f"{factory.get_name()}.{spec.name}") in entries


def _python_blocks(page):
    with open(page) as f:
        text = f.read()
    return [m.group("body") for m in FENCE.finditer(text) if m.group("info").strip() == "python"]


@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)], ids=lambda p: os.path.relpath(p, ROOT))
def test_every_python_block_runs(page, tmp_path):
    """A page's python blocks run in order in one fresh process, in an empty folder, as a reader would
    paste them."""
    program = "\n\n".join(_python_blocks(page))
    run = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{page}:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"


def test_blocks_that_do_not_run_are_files_or_other_languages():
    """Every block is a runnable `python` block, another language (sh, cython, text), or a listing of a
    named file (a `{code-block}` with a caption): no Python on a page escapes the test above."""
    for page in PAGES:
        with open(page) as f:
            text = f.read()
        for m in FENCE.finditer(text):
            info = m.group("info").strip()
            if info.startswith("{code-block}"):
                assert ":caption:" in m.group("body"), f"{page}: a code-block without a caption (a file name)"
            elif info.startswith("{"):
                continue   # a directive (toctree, eval-rst, the generated references)
            else:
                assert info in ("python", "sh", "cython", "text", "c"), f"{page}: a block in {info!r}"


def test_the_differences_page_names_tests_that_exist():
    with open(os.path.join(DOCS, "differences.md")) as f:
        named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", f.read())
    assert len(named) > 30
    for filename, test in named:
        path = os.path.join(ROOT, "tests", filename)
        assert os.path.exists(path), f"differences.md names {filename}, which does not exist"
        with open(path) as f:
            assert re.search(rf"^(async )?def {test}\(", f.read(), re.M), f"differences.md names {filename}::{test}"


def test_the_readmes_links_into_the_site_exist():
    with open(os.path.join(ROOT, "README.md")) as f:
        links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", f.read())
    assert len(links) >= 10
    for link in links:
        assert os.path.exists(os.path.join(ROOT, link)), f"README links to {link}, which does not exist"
    with open(os.path.join(ROOT, "README.md")) as f:
        assert len(f.read().splitlines()) <= 120   # a short README; the rest is in the site
