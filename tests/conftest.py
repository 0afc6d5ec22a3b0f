"""Shared models and the openvino/ovfast parametrisation: openvino is the oracle."""

import openvino
import pytest

import ovfast
from models import add_model


@pytest.fixture(params=["openvino", "ovfast"])
def ov(request):
    """Each test using this runs once on openvino and once on ovfast."""
    return openvino if request.param == "openvino" else ovfast


@pytest.fixture
def ir_path(tmp_path):
    path = tmp_path / "add.xml"
    openvino.save_model(add_model(), str(path), compress_to_fp16=False)
    return path
