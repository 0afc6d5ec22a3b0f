"""Which models a server serves: model files, model repository folders or a {name: path} dict, turned into
(name, version, file) entries."""

import os
from dataclasses import dataclass

# what openvino's read_model reads; an IR's .bin is its .xml's weights, not a model
MODEL_SUFFIXES = (".xml", ".onnx", ".pdmodel", ".pb", ".tflite")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    version: int
    path: str


def _model_files(folder):
    return sorted(f for f in os.listdir(folder)
                  if f.endswith(MODEL_SUFFIXES) and os.path.isfile(os.path.join(folder, f)))


def _one_model_file(folder):
    """The single model file in a version (or model) folder, or None if it has none."""
    files = _model_files(folder)
    if len(files) > 1:
        raise ValueError(f"ovfast serve: the folder '{folder}' holds several model files ({', '.join(files)}); "
                         f"expected one per version folder")
    return os.path.join(folder, files[0]) if files else None


def _model_folder(name, folder):
    """REPO/<name>/: numeric version folders, each with one model file, or one model file (version 1)."""
    versions = [d for d in os.listdir(folder) if d.isdigit() and os.path.isdir(os.path.join(folder, d))]
    entries = []
    for v in sorted(versions, key=int):
        path = _one_model_file(os.path.join(folder, v))
        if path is not None:
            entries.append(ModelEntry(name, int(v), path))
    if not entries:
        path = _one_model_file(folder)
        if path is not None:
            entries.append(ModelEntry(name, 1, path))
    return entries


def _from_path(path, name=None):
    if not os.path.exists(path):
        raise FileNotFoundError(f"ovfast serve: the model path '{path}' does not exist (expected a model file "
                                f"such as model.xml or model.onnx, or a model repository folder)")
    if os.path.isfile(path):
        stem = os.path.splitext(os.path.basename(path))[0]
        return [ModelEntry(name or stem, 1, path)]
    if name is not None:   # a folder under a given name: that model's own folder
        entries = _model_folder(name, path)
    else:                  # a repository: model files (each under its stem) and model folders
        entries = [ModelEntry(os.path.splitext(f)[0], 1, os.path.join(path, f)) for f in _model_files(path)]
        for d in sorted(os.listdir(path)):
            if os.path.isdir(os.path.join(path, d)):
                entries += _model_folder(d, os.path.join(path, d))
    if not entries:
        raise ValueError(f"ovfast serve: the folder '{path}' holds no model (expected <name>/<version>/model.xml, "
                         f"<name>/model.xml or model files with one of {', '.join(MODEL_SUFFIXES)})")
    return entries


def resolve(models, name=None):
    """[ModelEntry], sorted by name and version. models: a path, a list of paths, or a dict {name: path};
    name: the name for a single path. Two entries with the same name and version are an error."""
    if isinstance(models, dict):
        entries = [e for n, p in models.items() for e in _from_path(os.fspath(p), str(n))]
    elif isinstance(models, (str, os.PathLike)):
        entries = _from_path(os.fspath(models), name)
    elif isinstance(models, (list, tuple)) and models:
        if name is not None and len(models) > 1:
            raise ValueError(f"ovfast serve: one name ({name!r}) for {len(models)} models; expected one model "
                             f"with a name, or a dict {{name: path}}")
        entries = [e for p in models for e in _from_path(os.fspath(p), name)]
    else:
        raise TypeError(f"ovfast serve: models must be a path, a list of paths or a dict {{name: path}}, got "
                        f"{models!r}")
    seen = {}
    for e in entries:
        if (e.name, e.version) in seen:
            raise ValueError(f"ovfast serve: model '{e.name}' version {e.version} comes from both "
                             f"'{seen[e.name, e.version]}' and '{e.path}'; give them different names")
        seen[e.name, e.version] = e.path
    return sorted(entries, key=lambda e: (e.name, e.version))
