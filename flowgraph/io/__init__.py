"""Model files: one ``.npz`` holding a model's arrays and a JSON description of its graph.

* :mod:`~flowgraph.io.format`: the file's layout, its limits and hashes, the checks of what
  is read (:class:`ModelFileError`);
* :mod:`~flowgraph.io.save`: :func:`save_model`, which writes one kind of file;
* :mod:`~flowgraph.io.load`: :func:`load_model`, which checks everything before trusting it;
* :mod:`~flowgraph.io.legacy`: the reader of the files older versions wrote.

io sits above :mod:`flowgraph.model`: it describes and rebuilds Models, and model/ never
imports it (``Model.save`` delegates here when it is called).
"""

from .format import FORMAT, MAX_BYTES, VERSION, MissingBoxError, ModelFileError, box_types
from .load import load_model
from .save import save_model

__all__ = [
    "save_model",
    "load_model",
    "box_types",
    "ModelFileError",
    "MissingBoxError",
    "FORMAT",
    "VERSION",
    "MAX_BYTES",
]
