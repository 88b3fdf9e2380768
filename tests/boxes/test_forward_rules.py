
from __future__ import annotations

import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes

ISSUE_BOXES = {
    "Linear", "Identity", "Sigmoid", "Tanh", "ReLU", "Softmax", "CrossEntropy",
    "SoftmaxCrossEntropy", "L2Penalty", "L1Penalty", "Add", "Scale",
}  # fmt: skip
JVP_CLASSES = [c for c in all_box_classes() if c.has_jvp()]
JVP_IDS = [c.__name__ for c in JVP_CLASSES]


# -- every box's rules, found by themselves -----------------------------------------------------
def test_the_original_boxes_all_have_forward_rules():
    assert ISSUE_BOXES <= set(JVP_IDS)


@pytest.mark.parametrize("name", sorted(ISSUE_BOXES))
def test_the_forward_rules_state_their_math(name):
    cls = getattr(fg, name)
    for rule in (cls.fprop_jvp, cls.bprop_jvp):
        assert (rule.__doc__ or "").strip(), f"{cls.__name__}.{rule.__name__} has no docstring"


# -- fg.jvp on graphs -----------------------------------------------------------------------------
