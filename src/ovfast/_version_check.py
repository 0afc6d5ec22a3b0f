"""ovfast links one openvino release's C library; refuse to load beside another one."""

import importlib.metadata

from ovfast.exceptions import VersionMismatch


def check_openvino_version():
    try:
        from ovfast._build_info import OPENVINO_C_LIBRARY, OPENVINO_VERSION
    except ImportError:
        raise ImportError("ovfast is not built: install it with `pip install .` from its source folder") from None
    try:
        installed = importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        raise VersionMismatch(f"ovfast was built against openvino {OPENVINO_VERSION}, which is not installed: "
                              f"pip install openvino=={OPENVINO_VERSION}") from None
    if installed != OPENVINO_VERSION:
        raise VersionMismatch(
            f"ovfast was built against openvino {OPENVINO_VERSION} ({OPENVINO_C_LIBRARY}) but openvino "
            f"{installed} is installed: pip install openvino=={OPENVINO_VERSION}, or rebuild ovfast against "
            f"this openvino with `pip install --no-build-isolation --force-reinstall .`")
