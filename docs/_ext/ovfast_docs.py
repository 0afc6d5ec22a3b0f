"""Reference pages written from the code at build time, so they cannot drift from it:

- ``ovfast-elements``: every GStreamer element ovfast registers, from GStreamer's own registry (metadata,
  pad templates, and each GObject property with its type, default, range and description, as
  gst-inspect-1.0 shows them);
- ``ovfast-c-api``: the C-level API from ``ovfast/api.pxd``, each declaration with the comment above it.

Both emit objects into the inventory (``std:gst-element``, ``std:gst-property``, ``c:*``), which
tests/test_docs.py compares with what the package exports.
"""

import os
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _indent(text, by="   "):
    return [by + line if line else "" for line in text.splitlines()]


class _Generated(SphinxDirective):
    """Parses the reST lines lines() returns, as if written in place."""

    def run(self):
        container = nodes.container()
        self.state.nested_parse(StringList(self.lines(), source=self.get_source_info()[0]), self.content_offset,
                                container)
        return container.children


# --- GStreamer elements -------------------------------------------------------------------------------------
def _elements():
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import GObject, Gst

    import ovfast.gst  # noqa: F401  registers the elements

    factories = [f for f in Gst.Registry.get().get_feature_list(Gst.ElementFactory)
                 if f.get_metadata("author") == "ovfast"]
    return GObject, Gst, sorted(factories, key=lambda f: f.get_name())


def _property_line(GObject, spec, element):
    value_type = spec.value_type.name
    default = element.get_property(spec.name) if spec.flags & GObject.ParamFlags.READABLE else spec.default_value
    facts = [f"type ``{value_type}``", f"default ``{default!r}``" if default is not None else "no default"]
    if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
        facts.append(f"range ``{spec.minimum}`` to ``{spec.maximum}``")
    access = [name for name, flag in (("readable", GObject.ParamFlags.READABLE),
                                      ("writable", GObject.ParamFlags.WRITABLE)) if spec.flags & flag]
    facts.append(", ".join(access))
    return "; ".join(facts)


def _caps_lines(Gst, caps):
    """Caps as gst-inspect-1.0 writes them: each structure's name, then a field a line."""
    lines = []
    for i in range(caps.get_size()):
        text, depth, parts, start = caps.get_structure(i).to_string(), 0, [], 0
        for k, ch in enumerate(text):   # split at the commas between fields, not those inside {} or []
            depth += (ch in "{[(") - (ch in "}])")
            if ch == "," and depth == 0:
                parts.append(text[start:k].strip())
                start = k + 1
        parts.append(text[start:].strip().rstrip(";"))
        lines.append(parts[0])
        for field in parts[1:]:
            name, value = field.split("=", 1)
            lines.append(f"  {name}: {value.split(')', 1)[1] if value.startswith('(') else value}")
    return "\n".join(lines)


class GstElements(_Generated):
    def lines(self):
        GObject, Gst, factories = _elements()
        out = []
        for factory in factories:
            name = factory.get_name()
            element = factory.create(None)
            out += [f".. gst-element:: {name}", ""]
            out += _indent(f"**{factory.get_metadata('long-name')}** ({factory.get_metadata('klass')}): "
                           f"{factory.get_metadata('description')}.")
            out.append("")
            for template in factory.get_static_pad_templates():
                caps = _caps_lines(Gst, template.get_caps())
                direction = "sink" if template.direction == Gst.PadDirection.SINK else "src"
                out += _indent(f"Pad ``{template.name_template}`` ({direction}, "
                               f"{template.presence.value_nick}):")
                out += ["", "   .. code-block:: text", ""] + _indent(caps, "      ") + [""]
            own = [spec for spec in element.list_properties() if spec.owner_type.name not in ("GstObject", "GObject")]
            for spec in own:
                out += [f"   .. gst-property:: {name}.{spec.name}", ""]
                out += _indent(spec.get_blurb().replace("*", r"\*") + ".", "      ") + [""]
                out += _indent(_property_line(GObject, spec, element), "      ") + [""]
        return out


# --- the C-level API ----------------------------------------------------------------------------------------
_DECL = re.compile(r"cdef\s+(inline\s+)?(?!class\b|enum\b|extern\b|struct\b)\w[^=]*\(")  # at column 0


def _c_declaration(cython):
    """`cdef int f(ovf_pool* p, int x=1) noexcept nogil` -> `int f(ovf_pool *p, int x)` for Sphinx's C domain."""
    decl = re.sub(r"\s*=\s*[^,)]+", "", cython)       # default arguments
    decl = re.sub(r"\bconst\s+char\*", "const char *", decl)
    decl = re.sub(r"(\w)\*\s*", r"\1 *", decl)
    return decl


def _read_api(path):
    """The declarations of api.pxd, in order: (kind, name, C declaration, comment lines); its `# --- title`
    lines become ("section", title, "", [])."""
    items, comment, after_declaration = [], [], False
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith("# ---"):
            items.append(("section", line.strip("#- "), "", []))
            comment, after_declaration = [], False
            continue
        if line.startswith("#"):
            if after_declaration:  # a comment after a declaration starts the next one's
                comment, after_declaration = [], False
            comment.append(line.lstrip("#").strip())
            continue
        m = _DECL.match(lines[i - 1])
        if m:
            text = line
            while text.count("(") > text.count(")") and i < len(lines):  # continued on the next lines
                text += " " + lines[i].strip()
                i += 1
            depth, end = 0, len(text) - 1
            for k, ch in enumerate(text):
                depth += (ch == "(") - (ch == ")")
                if ch == ")" and depth == 0:
                    end = k
                    break
            decl, tail = text[m.end(1) if m.group(1) else len("cdef "):end + 1].strip(), text[end + 1:]
            note = tail.split("#", 1)[1].strip() if "#" in tail else ""
            name = re.search(r"(\w+)\s*\(", decl).group(1)
            doc = list(comment) + ([note] if note else [])
            if m.group(1):  # an inline function: its docstring says what it does
                doc_line = lines[i].strip()
                if doc_line.startswith('"""'):
                    doc.append(doc_line.strip('"'))
            items.append(("function", name, _c_declaration(decl), doc))
            comment, after_declaration = [], False
            continue
        struct = re.match(r"cdef struct (\w+)$", line)
        status = re.match(r"(OVFAST_\w+) = \d+,?\s*(?:/\*\s*(.*?)\s*\*/)?$", line)
        if line.startswith("ctypedef") and "(*" in line:
            items.append(("type", re.search(r"\(\*(\w+)\)", line).group(1), line, list(comment)))
            comment, after_declaration = [], False
        elif re.match(r"OVFAST_API_VERSION\s*=", line):
            items.append(("macro", "OVFAST_API_VERSION", line, ["The C-level API's version this code is built "
                                                                "against (check_version compares it)."]))
        elif struct:
            items.append(("struct", struct.group(1), line, list(comment)))
            after_declaration = True   # consecutive structs share the comment above them
        elif status:
            items.append(("enumerator", status.group(1), line, [status.group(2) or "success"]))
        elif line and not line.startswith(('"""', "struct ", "enum ", "};", "cdef extern", "cdef enum")):
            comment, after_declaration = [], False
    return items


def _rst_text(words):
    """api.pxd's comments as reST text: `*` and a word's trailing `_` mean nothing there."""
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", " ".join(words).replace("*", r"\*"))


class CApi(_Generated):
    def lines(self):
        import ovfast

        path = os.path.join(os.path.dirname(ovfast.__file__), "api.pxd")
        self.env.note_dependency(path)
        out = []
        enum_open = False
        for kind, name, decl, doc in _read_api(path):
            if kind == "enumerator" and not enum_open:
                out += [".. c:enum:: ovfast_status", "", "   What every job-pool function returns.", ""]
                enum_open = True
            if kind == "enumerator":
                out += [f"   .. c:enumerator:: {name}", ""] + _indent(_rst_text(doc), "      ") + [""]
                continue
            if kind == "section":
                out += [f".. rubric:: {name[0].upper() + name[1:]}", ""]
                continue
            directive = {"function": "c:function", "type": "c:type", "macro": "c:macro", "struct": "c:struct"}[kind]
            target = decl if kind == "function" else name
            out += [f".. {directive}:: {target}", ""]
            if kind == "type":
                out += ["   ``" + decl.replace("ctypedef ", "").replace(" noexcept nogil", "") + "``", ""]
            out += _indent(_rst_text(doc)) + [""]
        return out


def setup(app):
    app.add_object_type("gst-element", "gst-element", "pair: %s; GStreamer element")
    app.add_object_type("gst-property", "gst-property", "pair: %s; GStreamer element property")
    app.add_directive("ovfast-elements", GstElements)
    app.add_directive("ovfast-c-api", CApi)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
