"""Ship the teaching notebooks inside the package, where `flowgraph notebooks DIR` finds them.

Everything else is in pyproject.toml. The notebooks stay in the repository's notebooks/ folder
(next to their sources and notebooks/build.py); building a wheel copies the committed
``notebooks/*.ipynb`` into ``flowgraph/notebooks/``. An editable install needs no copy: the
command reads the checkout's notebooks/ folder then.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_notebooks(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "flowgraph" / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        for notebook in sorted((here / "notebooks").glob("*.ipynb")):
            shutil.copyfile(notebook, target / notebook.name)


setup(cmdclass={"build_py": build_py_with_notebooks})
