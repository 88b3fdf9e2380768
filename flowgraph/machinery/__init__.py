"""The machinery the core calls and a reader of the lecture may skip.

The core (:mod:`flowgraph.core`) is the lecture's algorithm: boxes, nodes, the Graph's two
loops, Blocks and the forward-mode sweep. What makes it a library rather than a slide lives
here, below it, each a named step the core calls in one line:

* :mod:`.names`: the names a Graph gives its unnamed nodes (``tanh1``, ``linear2``);
* :mod:`.messages`: the engine's error sentences (which node, which box, which shapes);
* :mod:`.static`: shapes known before fprop, from the shapes the Inputs declare;
* :mod:`.state`: the leaves of randomness, mode and state, filled before each fprop;
* :mod:`.uses`: what each use of a Block computed, kept for its bprop.

These modules import NumPy, the standard library and the errors only. They know nodes by
their attributes (``children``, ``kind``, ``box``, ``value``), never by their classes, so the
core imports them and not the other way round.
"""
