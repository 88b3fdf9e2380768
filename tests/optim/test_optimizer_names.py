"""Optimisers by name (the one table, REGISTRY, and make_optimizer) and the checks of their
arguments: every bad option is a clear error naming it."""

from __future__ import annotations

import pytest

import flowgraph as fg
from flowgraph import optim
from flowgraph.cli import UsageError, build_parser
from flowgraph.playground.settings import SettingsError, parse
from flowgraph.select import space


def _model():
    return fg.mlp([5, 7, 6, 3], "tanh", dtype="float64", seed=3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: fg.SGD(ps, 0.1, nesterov=True), "Nesterov momentum needs momentum"),
        (lambda ps: fg.SGD(ps, 0.1, momentum=0.9, nesterov=True, dampening=0.1), "dampening"),
        (lambda ps: fg.SGD(ps, 0.1, dampening=1.5), r"dampening must lie in \[0, 1\]"),
        (lambda ps: fg.Adam(ps, betas=(0.9, 1.0)), r"beta2 must lie in \[0, 1\)"),
        (lambda ps: fg.Adam(ps, betas=0.9), "two numbers"),
        (lambda ps: fg.Adam(ps, eps=-1.0), "eps must be >= 0"),
        (lambda ps: fg.RMSProp(ps, rho=1.5), "rho must lie"),
        (lambda ps: fg.RMSProp(ps, momentum=1.0), "momentum beta must lie"),
        (lambda ps: fg.AdaGrad(ps, initial_accumulator_value=-1.0), "initial_accumulator"),
        (lambda ps: fg.AdamW(ps, weight_decay=-0.1), "weight_decay must be >= 0"),
        (lambda ps: fg.Adam([]), "Adam got no parameters"),
    ],
)
def test_bad_options_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make(_model().parameters)


def test_step_before_bprop_names_the_parameter():
    with pytest.raises(ValueError, match="parameter 'W1' has no gradient"):
        fg.Adam(_model().parameters).step()


def test_make_optimizer_by_name():
    ps = _model().parameters
    assert isinstance(optim.make_optimizer("adam", ps), fg.Adam)
    assert optim.make_optimizer("Adam", ps).lr == 1e-3  # torch's default rate
    nest = optim.make_optimizer("nesterov", ps, 0.1)
    assert isinstance(nest, fg.SGD) and nest.nesterov and nest.momentum == 0.9
    w = optim.make_optimizer("adamw", ps, 0.01, "inverse", decay=0.1, beta2=0.99,
                             weight_decay=0.05, momentum=None)  # fmt: skip
    assert isinstance(w, fg.AdamW) and w.betas == (0.9, 0.99) and w.weight_decay == 0.05
    assert w.schedule == optim.inverse(0.01, 0.1)
    r = optim.make_optimizer("rmsprop", ps, rho=0.9, momentum=0.5, centered=True)
    assert (r.rho, r.momentum, r.centered) == (0.9, 0.5, True)
    assert "momentum=0.5" in repr(r) and "RMSProp(alpha = 0.01" in repr(r)
    with pytest.raises(ValueError, match="adam does not take momentum; it takes beta1"):
        optim.make_optimizer("adam", ps, momentum=0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim.make_optimizer("lbfgs", ps)
    with pytest.raises(ValueError, match="SGD needs a learning rate"):
        optim.make_optimizer("sgd", ps)


# -- the one table of each registry ----------------------------------------------------------

# a valid value of each option of make_optimizer, different from the optimiser's default
VALUES = {"momentum": 0.5, "dampening": 0.1, "weight_decay": 0.01, "eps": 1e-7,
          "initial_accumulator_value": 0.1, "rho": 0.9, "centered": True, "beta1": 0.8,
          "beta2": 0.99, "amsgrad": True}  # fmt: skip


@pytest.mark.parametrize("name", list(optim.REGISTRY))
def test_every_name_builds_its_class_with_every_option_it_takes(name):
    named = optim.REGISTRY[name]
    opt = optim.make_optimizer(name, _model().parameters, 0.01, **{
        k: VALUES[k] for k in named.options})  # fmt: skip
    assert type(opt) is named.cls
    for k in named.options:
        expected = VALUES[k]
        got = opt.betas[("beta1", "beta2").index(k)] if k.startswith("beta") else getattr(opt, k)
        assert got == expected, (name, k)
    for k, v in named.fixed.items():
        assert getattr(opt, k) == v
    if name == "nesterov":
        assert optim.make_optimizer(name, _model().parameters, 0.01).momentum == 0.9


def test_the_views_of_the_table_agree_with_it():
    assert optim.OPTIMIZERS == tuple(optim.REGISTRY)
    assert optim.OPTIONS == {k: n.options for k, n in optim.REGISTRY.items()}
    assert optim.DEFAULT_LR["adam"] == fg.Adam.default_lr == 1e-3
    assert optim.DEFAULT_LR["sgd"] is None


def test_a_new_row_is_all_an_optimiser_name_needs(monkeypatch):
    row = optim.Named(fg.SGD, ("weight_decay",), defaults={"momentum": 0.99})
    monkeypatch.setitem(optim.REGISTRY, "heavy-ball", row)
    opt = optim.make_optimizer("heavy-ball", _model().parameters, 0.1, weight_decay=0.5)
    assert isinstance(opt, fg.SGD) and opt.momentum == 0.99 and opt.weight_decay == 0.5
    with pytest.raises(ValueError, match="heavy-ball does not take rho; it takes weight_decay"):
        optim.make_optimizer("heavy-ball", _model().parameters, 0.1, rho=0.9)


def test_the_command_line_the_search_and_the_playground_offer_the_tables_names():
    parser = build_parser()
    for name in optim.OPTIMIZERS:
        assert parser.parse_args(["train", "--optimizer", name]).optimizer == name
    for name in optim.SCHEDULES:
        assert parser.parse_args(["train", "--schedule", name]).schedule == name
        space.check_value("schedule", name)
        assert parse({"schedule": name, "decay": 0.75}).schedule == name
    for option in ("--optimizer", "--schedule"):
        with pytest.raises(UsageError, match=f"argument {option}: invalid choice: 'cosine'"):
            parser.parse_args(["train", option, "cosine"])
    with pytest.raises(fg.FlowgraphError, match="schedule must be None or one of constant"):
        space.check_value("schedule", "cosine")
    with pytest.raises(SettingsError, match="unknown schedule 'cosine'"):
        parse({"schedule": "cosine"})


@pytest.mark.parametrize("name", list(optim.SCHEDULES))
def test_each_schedule_is_drawn_by_its_formula(name):
    s = optim.make_schedule(name, 0.2, 0.75)
    formula = optim.SCHEDULES[name]
    assert formula in str(s) or (name == "constant" and str(s) == "alpha = 0.2")
    t = 4
    expected = {"constant": 0.2, "inverse": 0.2 / (1 + 0.75 * t), "power": 0.2 / t**0.75}
    assert s(t) == pytest.approx(expected[name], rel=1e-15)
