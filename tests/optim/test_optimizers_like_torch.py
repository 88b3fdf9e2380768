"""Every optimiser against torch.optim, resuming from state(), and the per-example fast path
(their names and argument checks: test_optimizer_names.py).

The torch side trains a twin of the same flowgraph network: its torch Parameters share memory
with the twin's parameter arrays, so both start from the same weights, see the gradients of
the same graph on the same batches, and only the update rules can tell them apart.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import optim

torch = pytest.importorskip("torch")

STEPS = 100
SIZES = [5, 7, 6, 3]


def _data(seed: int = 0, n: int = 64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, SIZES[0]))
    y = (X[:, :3] @ rng.normal(size=(3, SIZES[-1]))).argmax(axis=1)
    return X, y


def _batches(n: int, steps: int, batch_size: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.choice(n, size=batch_size, replace=False) for _ in range(steps)]


def _model(l2: float = 1e-3):
    return fg.mlp(SIZES, "tanh", l2=l2, dtype="float64", seed=3)


def _train_ours(opt_factory, steps=STEPS, *, l2=1e-3, batch_size=8):
    X, y = _data()
    model = _model(l2)
    opt = opt_factory(model)
    for idx in _batches(len(X), steps, batch_size):
        model.train_graph.fprop({model.x: X[idx], model.y: y[idx]})
        model.train_graph.bprop()
        opt.step()
    return model, opt


def _train_torch(torch_cls, kwargs, steps=STEPS, *, l2=1e-3, batch_size=8, lr_lambda=None,
                 after_step=None):  # fmt: skip
    """The same network trained by torch.optim; ``after_step(model)`` is applied after each
    step (the proximal L1 step, masks), ``lr_lambda`` is a LambdaLR factor of update k."""
    X, y = _data()
    model = _model(l2)
    tparams = [torch.nn.Parameter(torch.from_numpy(p.value)) for p in model.parameters]
    for p, tp in zip(model.parameters, tparams):  # one memory: torch's in-place steps move p
        assert tp.data_ptr() == p.value.ctypes.data
    opt = torch_cls(tparams, **kwargs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda) if lr_lambda else None
    for idx in _batches(len(X), steps, batch_size):
        model.train_graph.fprop({model.x: X[idx], model.y: y[idx]})
        model.train_graph.bprop()
        for p, tp in zip(model.parameters, tparams):
            tp.grad = torch.from_numpy(np.array(p.grad, copy=True))
        opt.step()
        if sched is not None:
            sched.step()
        if after_step is not None:
            after_step(model)
    return model


def _assert_same(ours, theirs, rtol=1e-10):
    for p, q in zip(ours.parameters, theirs.parameters):
        scale = np.abs(q.value).max()
        np.testing.assert_allclose(p.value, q.value, rtol=rtol, atol=rtol * scale, err_msg=p.name)
    # and the runs did move the parameters: a broken step would not pass by doing nothing
    start = _model()
    assert not np.allclose(ours.parameters[0].value, start.parameters[0].value)


def _combos(**options) -> list[dict]:
    names = list(options)
    return [dict(zip(names, values)) for values in itertools.product(*options.values())]


SGD_CASES = [
    c
    for c in _combos(
        momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
        weight_decay=[0.0, 0.01], maximize=[False, True],
    )  # fmt: skip
    if not (c["momentum"] == 0 and (c["dampening"] or c["nesterov"]))
    and not (c["nesterov"] and c["dampening"])
]
ADAGRAD_CASES = _combos(
    initial_accumulator_value=[0.0, 0.1], eps=[1e-10, 1e-3], weight_decay=[0.0, 0.01],
    maximize=[False, True],
)  # fmt: skip
RMSPROP_CASES = _combos(
    momentum=[0.0, 0.5], centered=[False, True], weight_decay=[0.0, 0.01],
    maximize=[False, True], rho=[0.99, 0.9],
)  # fmt: skip
ADAM_CASES = _combos(
    amsgrad=[False, True], weight_decay=[0.0, 0.01], maximize=[False, True],
    betas=[(0.9, 0.999), (0.8, 0.9)],
)  # fmt: skip


def _lr(base: float, case: dict) -> float:
    """Ascent (maximize) runs away from the optimum, and rounding differences grow with it:
    a tenth of the rate keeps 100 steps of it comparable at 1e-10."""
    return base * (0.1 if case.get("maximize") else 1.0)


def _id(case: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in case.items())


@pytest.mark.parametrize("case", SGD_CASES, ids=_id)
def test_sgd_matches_torch(case):
    lr = _lr(0.1, case)
    ours, _ = _train_ours(lambda m: fg.SGD(m.parameters, lr, **case))
    _assert_same(ours, _train_torch(torch.optim.SGD, {"lr": lr, **case}))


@pytest.mark.parametrize("case", ADAGRAD_CASES, ids=_id)
def test_adagrad_matches_torch(case):
    lr = _lr(0.05, case)
    ours, _ = _train_ours(lambda m: fg.AdaGrad(m.parameters, lr, **case))
    _assert_same(ours, _train_torch(torch.optim.Adagrad, {"lr": lr, **case}))


@pytest.mark.parametrize("case", RMSPROP_CASES, ids=_id)
def test_rmsprop_matches_torch(case):
    theirs = {("alpha" if k == "rho" else k): v for k, v in case.items()}  # torch's alpha = rho
    lr = _lr(1e-3, case)
    ours, _ = _train_ours(lambda m: fg.RMSProp(m.parameters, lr, **case))
    _assert_same(ours, _train_torch(torch.optim.RMSprop, {"lr": lr, **theirs}))


@pytest.mark.parametrize("case", ADAM_CASES, ids=_id)
@pytest.mark.parametrize("ours_cls, torch_name", [(fg.Adam, "Adam"), (fg.AdamW, "AdamW")])
def test_adam_and_adamw_match_torch(ours_cls, torch_name, case):
    lr = _lr(1e-2, case)
    ours, _ = _train_ours(lambda m: ours_cls(m.parameters, lr, **case))
    theirs = _train_torch(getattr(torch.optim, torch_name), {"lr": lr, **case})
    _assert_same(ours, theirs)


def test_defaults_are_torchs():
    params = _model().parameters
    tparams = [torch.nn.Parameter(torch.from_numpy(p.value.copy())) for p in params]
    pairs = [
        (fg.AdaGrad(params), torch.optim.Adagrad(tparams), {"lr": "lr", "eps": "eps"}),
        (fg.RMSProp(params), torch.optim.RMSprop(tparams),
         {"lr": "lr", "eps": "eps", "rho": "alpha", "momentum": "momentum"}),
        (fg.Adam(params), torch.optim.Adam(tparams),
         {"lr": "lr", "eps": "eps", "betas": "betas", "weight_decay": "weight_decay"}),
        (fg.AdamW(params), torch.optim.AdamW(tparams),
         {"lr": "lr", "eps": "eps", "betas": "betas", "weight_decay": "weight_decay"}),
    ]  # fmt: skip
    for ours, theirs, names in pairs:
        group = theirs.param_groups[0]
        for mine, their in names.items():
            assert getattr(ours, mine) == group[their], (type(ours).__name__, mine)


# -- schedules, the proximal L1 step and masks, with every optimiser -------------------------

OPTIMISERS = {
    "sgd": (lambda ps, lr, **kw: fg.SGD(ps, lr, **kw), torch.optim.SGD, {}, 0.1),
    "momentum": (
        lambda ps, lr, **kw: fg.SGD(ps, lr, momentum=0.9, **kw), torch.optim.SGD,
        {"momentum": 0.9}, 0.1,
    ),
    "nesterov": (
        lambda ps, lr, **kw: fg.SGD(ps, lr, momentum=0.9, nesterov=True, **kw),
        torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, 0.1,
    ),
    "adagrad": (lambda ps, lr, **kw: fg.AdaGrad(ps, lr, **kw), torch.optim.Adagrad, {}, 0.05),
    "rmsprop": (
        lambda ps, lr, **kw: fg.RMSProp(ps, lr, momentum=0.5, centered=True, **kw),
        torch.optim.RMSprop, {"momentum": 0.5, "centered": True}, 1e-3,
    ),
    "adam": (lambda ps, lr, **kw: fg.Adam(ps, lr, amsgrad=True, **kw), torch.optim.Adam,
             {"amsgrad": True}, 1e-2),
    "adamw": (lambda ps, lr, **kw: fg.AdamW(ps, lr, **kw), torch.optim.AdamW, {}, 1e-2),
}  # fmt: skip


@pytest.mark.parametrize("name", list(OPTIMISERS))
@pytest.mark.parametrize(
    "schedule",
    [
        lambda a: optim.inverse(a, 0.05, warmup=10),
        lambda a: optim.power(a, 0.75, warmup=5),
    ],
    ids=["inverse-warmup", "power-warmup"],
)
def test_schedules_with_warmup_match_torch_lambda_lr(name, schedule):
    make, torch_cls, kwargs, lr = OPTIMISERS[name]
    s = schedule(lr)
    ours, opt = _train_ours(lambda m: make(m.parameters, s))
    assert opt.lr == s(STEPS + 1) < lr
    # torch's LambdaLR gives update k + 1 the rate lr * factor(k)
    theirs = _train_torch(torch_cls, {"lr": lr, **kwargs}, lr_lambda=lambda k: s(k + 1) / lr)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_proximal_l1_step_and_masks_follow_every_optimiser(name):
    make, torch_cls, kwargs, lr = OPTIMISERS[name]
    lam = 0.005 / lr  # alpha lambda = 0.005 shrinks each weight by 0.5 in 100 steps
    masks_of = {}

    def factory(model):
        W1 = model.parameters[0]
        masks_of["W1"] = (np.arange(W1.value.size).reshape(W1.value.shape) % 3 != 0)
        return make(model.parameters, lr, l1_prox=lam, l1_params=model.weights,
                    masks={W1: masks_of["W1"]})  # fmt: skip

    ours, opt = _train_ours(factory)
    W1 = ours.parameters[0].value
    assert np.all(W1[~masks_of["W1"]] == 0)
    # soft-thresholding made zeros where no mask did
    zeros = np.count_nonzero(W1[masks_of["W1"]] == 0)
    assert zeros + sum(np.count_nonzero(W.value == 0) for W in ours.weights[1:]) > 0

    step = {"t": 0}

    def after_step(model):  # the same two steps by hand after each torch update
        step["t"] += 1
        shrink = lr * lam
        for W in model.weights:
            v = W.value
            v[...] = np.sign(v) * np.maximum(np.abs(v) - shrink, 0)
        model.parameters[0].value *= masks_of["W1"]

    def start_masked(model):
        model.parameters[0].value *= masks_of["W1"]

    X, y = _data()
    theirs = _model()
    start_masked(theirs)
    tparams = [torch.nn.Parameter(torch.from_numpy(p.value)) for p in theirs.parameters]
    topt = torch_cls(tparams, lr=lr, **kwargs)
    for idx in _batches(len(X), STEPS, 8):
        theirs.train_graph.fprop({theirs.x: X[idx], theirs.y: y[idx]})
        theirs.train_graph.bprop()
        for p, tp in zip(theirs.parameters, tparams):
            tp.grad = torch.from_numpy(np.array(p.grad, copy=True))
        topt.step()
        after_step(theirs)
    _assert_same(ours, theirs)


# -- resuming ---------------------------------------------------------------------------------


def _optimisers_for_resuming():
    return {
        "sgd-momentum-dampening": lambda ps: fg.SGD(ps, optim.inverse(0.1, 0.1, warmup=3),
                                                    momentum=0.9, dampening=0.1),
        "nesterov": lambda ps: fg.SGD(ps, 0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        "adagrad": lambda ps: fg.AdaGrad(ps, schedule="power", decay=0.6, warmup=2),
        "rmsprop": lambda ps: fg.RMSProp(ps, 1e-3, momentum=0.5, centered=True),
        "adam": lambda ps: fg.Adam(ps, optim.inverse(1e-2, 0.05, warmup=4), amsgrad=True),
        "adamw": lambda ps: fg.AdamW(ps, 1e-2, weight_decay=0.1),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_optimisers_for_resuming()))
def test_resuming_from_state_is_bit_for_bit(name):
    make = _optimisers_for_resuming()[name]
    X, y = _data()
    batches = _batches(len(X), 17, 8)

    def steps(model, opt, bs):
        for idx in bs:
            model.train_graph.fprop({model.x: X[idx], model.y: y[idx]})
            model.train_graph.bprop()
            opt.step()

    straight = _model()
    opt = make(straight.parameters)
    steps(straight, opt, batches)

    first = _model()
    opt1 = make(first.parameters)
    steps(first, opt1, batches[:7])
    saved_model, saved_opt = first.state(), opt1.state()
    steps(first, opt1, batches[7:9])  # the saved state is a copy: later steps leave it alone

    resumed = _model()  # a fresh process would rebuild both from their arguments
    resumed.load_state(saved_model)
    opt2 = make(resumed.parameters)
    opt2.load_state(saved_opt)
    assert opt2.t == 7 and opt2.lr == opt.schedule(8)
    steps(resumed, opt2, batches[7:])
    for p, q in zip(straight.parameters, resumed.parameters):
        np.testing.assert_array_equal(p.value, q.value)
    for key, value in opt.state().items():
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(value, opt2.state()[key]):
                np.testing.assert_array_equal(a, b)


def test_state_names_its_buffers_and_load_state_checks_them():
    model = _model()
    opt = fg.Adam(model.parameters, amsgrad=True)
    s = opt.state()
    assert s["optimizer"] == "Adam" and s["t"] == 0 and s["names"][0] == "W1"
    assert set(s) >= {"m", "v", "v_max"} and s["m"] == [None] * len(model.parameters)
    with pytest.raises(ValueError, match="state of 'Adam', not of AdamW"):
        fg.AdamW(model.parameters).load_state(s)
    bad = dict(s, m=[np.zeros((2, 2))] + s["m"][1:])
    with pytest.raises(ValueError, match=r"m of parameter 'W1' has shape \(2, 2\)"):
        opt.load_state(bad)
    with pytest.raises(ValueError, match="one array"):
        opt.load_state(dict(s, v=[None]))
    with pytest.raises(ValueError, match="t must be a whole number"):
        opt.load_state(dict(s, t=-1))
    sgd = fg.SGD(model.parameters, 0.1, momentum=0.9)
    assert sgd.state()["velocity"] == [None] * len(model.parameters)


# -- the per-example fast path ----------------------------------------------------------------


class _Materialising:
    """Reads every p.grad (building the array of a rank-1 gradient) before the step."""

    def __init__(self, opt):
        self.opt = opt

    def step(self):
        for p in self.opt.parameters:
            _ = p.grad
        self.opt.step()


PER_EXAMPLE = {
    **{name: (make, lr) for name, (make, _, _, lr) in OPTIMISERS.items()},
    # the factor paths of momentum with the options that change their signs and weights
    "momentum-dampening-maximize": (
        lambda ps, lr, **kw: fg.SGD(ps, lr, momentum=0.9, dampening=0.3, maximize=True, **kw),
        0.01,
    ),
    "nesterov-maximize": (
        lambda ps, lr, **kw: fg.SGD(ps, lr, momentum=0.9, nesterov=True, maximize=True, **kw),
        0.01,
    ),
    "plain-maximize": (lambda ps, lr, **kw: fg.SGD(ps, lr, maximize=True, **kw), 0.01),
}


@pytest.mark.parametrize("name", list(PER_EXAMPLE))
def test_per_example_training_is_the_same_with_rank_one_gradients(name):
    make, lr = PER_EXAMPLE[name]
    X, y = _data()
    runs = []
    for materialise in (False, True):
        model = _model(l2=0.0)  # L2 would add a second gradient to W: no factors left then
        opt = make(model.parameters, lr)
        outer_seen = 0
        for idx in _batches(len(X), 60, 1):
            model.train_graph.fprop({model.x: X[idx[0]][None], model.y: y[idx]})
            model.train_graph.bprop()
            outer_seen += sum(p.grad_outer is not None for p in model.parameters)
            (_Materialising(opt) if materialise else opt).step()
        runs.append((model, outer_seen))
    (fast, outer_fast), (slow, outer_slow) = runs
    assert outer_fast > 0 and outer_slow > 0  # the graph did hand over factors
    for p, q in zip(fast.parameters, slow.parameters):
        scale = np.abs(q.value).max()
        np.testing.assert_allclose(p.value, q.value, rtol=1e-10, atol=1e-10 * scale, err_msg=p.name)


def test_plain_and_momentum_sgd_never_build_the_rank_one_gradient():
    model = _model(l2=0.0)
    X, y = _data()
    for opt in (fg.SGD(model.parameters, 0.1), fg.SGD(model.parameters, 0.1, momentum=0.9)):
        for t in range(3):
            model.train_graph.fprop({model.x: X[t][None], model.y: y[t : t + 1]})
            model.train_graph.bprop()
            W = model.parameters[0]
            assert W.grad_outer is not None
            opt.step()
            assert W.grad_outer is not None  # still factors: nothing read the array


@pytest.mark.parametrize(
    "ours_cls, torch_name, kwargs",
    [(fg.Adam, "Adam", {"amsgrad": True}), (fg.SGD, "SGD", {"momentum": 0.9, "nesterov": True}),
     (fg.RMSProp, "RMSprop", {"centered": True})],
)  # fmt: skip
def test_the_same_network_written_in_torch_trains_to_the_same_weights(ours_cls, torch_name,
                                                                      kwargs):  # fmt: skip
    """End to end: torch's own network (nn.Linear, tanh, cross-entropy, the L2 term), its own
    autograd and optimiser, against flowgraph's graph and optimiser."""
    lr = 0.1 if ours_cls is fg.SGD else 1e-2
    l2 = 1e-3
    ours, _ = _train_ours(lambda m: ours_cls(m.parameters, lr, **kwargs), l2=l2)
    start = _model(l2)
    layers = []
    for k in range(len(SIZES) - 1):
        W, b = start.parameters[2 * k].value, start.parameters[2 * k + 1].value
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.Tanh()] if k < len(SIZES) - 2 else [lin]
    net = torch.nn.Sequential(*layers)
    opt = getattr(torch.optim, torch_name)(net.parameters(), lr=lr, **kwargs)
    X, y = _data()
    for idx in _batches(len(X), STEPS, 8):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X[idx])),
                                                 torch.from_numpy(y[idx]))  # fmt: skip
        loss = loss + l2 * sum((m.weight**2).sum() for m in net if hasattr(m, "weight"))
        loss.backward()
        opt.step()
    theirs = _model(l2)
    for p, t in zip(theirs.parameters, net.parameters()):
        p.value[...] = t.detach().numpy()
    _assert_same(ours, theirs)
