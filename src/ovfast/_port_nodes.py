"""The graph node behind a compiled model's port, as an openvino node.

openvino's compiled model gives its ports nodes of its own: a copy of each Parameter, and a copy of each
Result fed by a stand-in Parameter named after the node that fed it in the model. The C API reaches those
nodes only as C++ objects, so ovfast rebuilds each one, once and on first use, from what _bridge.hpp reads
off them: type, friendly names, tensor names, shape, element type and runtime info (values as text).
"""

import openvino as _ov
import openvino.opset1 as _ops

from ovfast import exceptions as _exc


def _fill(rt_map, pairs):
    for key, value in pairs:
        rt_map[key] = value


def rebuild(kind, friendly_name, source, element_type, partial_shape, names, port_rt, node_rt):
    """An openvino node like the compiled model's: kind is the C++ node's type name ("Parameter" or
    "Result"), source the friendly name then the tensor names of the output feeding it (empty for a
    Parameter), the rt arguments (key, text) pairs of the port's and the node's runtime info."""
    shape = _ov.PartialShape(partial_shape)
    if kind == "Parameter":
        node = _ops.parameter(shape, element_type, name=friendly_name)
    elif kind == "Result" and source:
        feed = _ops.parameter(shape, element_type, name=source[0])
        feed.output(0).get_tensor().set_names(set(source[1:]))
        node = _ops.result(feed)
        node.set_friendly_name(friendly_name)
    else:
        what = f"a {kind} node" + (" with no input" if kind == "Result" else "")
        raise _exc.NotImplementedOVError(
            f"get_node: this compiled model's port is backed by {what}; ovfast rebuilds the nodes openvino's "
            f"compiled models have: Parameters, and Results fed by one output")
    node.output(0).get_tensor().set_names(set(names))
    _fill(node.output(0).get_rt_info(), port_rt)
    _fill(node.get_rt_info(), node_rt)
    return node
