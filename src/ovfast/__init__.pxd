# `cimport ovfast`: the C-level API of ovfast/api.pxd under the package name.
from ovfast.api cimport *
