"""Side-by-side benchmarks of flowgraph against hand-written NumPy, PyTorch and micrograd.

Run ``python -m benchmarks`` (see ``benchmarks/run.py``); results go to benchmarks/RESULTS.md.
"""
