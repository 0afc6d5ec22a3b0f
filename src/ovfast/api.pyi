# ovfast.api from Python: only its version; the API itself is C-level (api.pxd, `cimport ovfast`).
API_VERSION: int
