"""Optimisers: the lecture's SGD with momentum, and the methods of Deep Learning, chapter 8.

Every optimiser performs, at update t = 1, 2, ..., with grad = grad_theta of the loss the last
``Graph.bprop`` left in ``p.grad`` (the L2 penalty lambda Omega(theta), when the graph has one,
is already in it):

    theta <- theta - alpha_t * (a direction computed from grad and running averages)

then the shared steps (:mod:`flowgraph.optim.base`): the proximal L1 step ``l1_prox`` and the
masks. One optimiser per file, its ``update`` written as its docstring's formula::

    SGD        grad_bar(t) = grad + beta grad_bar(t-1);  theta -= alpha_t grad_bar(t)
    Nesterov   the same, but theta -= alpha_t (grad + beta grad_bar(t))          (look-ahead)
    AdaGrad    r += grad^2;                             theta -= alpha_t grad / (sqrt(r) + eps)
    RMSProp    r = rho r + (1 - rho) grad^2;            theta -= alpha_t grad / (sqrt(r) + eps)
    Adam       m = beta1 m + (1 - beta1) grad,  v = beta2 v + (1 - beta2) grad^2
               theta -= alpha_t m_hat / (sqrt(v_hat) + eps),  m_hat, v_hat bias-corrected
    AdamW      Adam, and theta *= 1 - alpha_t lambda_w before it (decoupled weight decay)

alpha_t comes from a schedule (:mod:`flowgraph.optim.schedules`: ``constant``, ``inverse``
alpha / (1 + delta t), ``power`` alpha / t^delta, each with an optional warm-up). The names a
command line or a search gives live in one table per registry: :data:`REGISTRY` (optimisers,
:mod:`flowgraph.optim.by_name`) and :data:`SCHEDULES`.

The update rules are those of ``torch.optim`` (``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``,
``AdamW``) with the same arguments, so that the same weights, gradients and options give the
same numbers (the tests check 100 steps of each, float64, to 1e-10). Names that differ:

    flowgraph                       torch.optim
    lr (alpha), or a Schedule       lr, and a torch.optim.lr_scheduler for alpha_t
    momentum (beta)                 momentum
    RMSProp(rho=)                   RMSprop(alpha=)   (torch's alpha is the smoothing constant)
    AdaGrad                         Adagrad           (lr_decay: use schedule="inverse")
    betas, eps, weight_decay, dampening, nesterov, centered, amsgrad, maximize: the same

``weight_decay`` adds weight_decay * theta to grad for every parameter given (biases too), as
torch does; the lecture's L2 penalty lambda ||W||^2 lives in the graph instead (on the weights
only) and contributes 2 lambda W to grad. AdamW's weight_decay is the decoupled decay.

Resuming: ``state()`` returns every number an optimiser keeps between updates (the update
count t and its running averages, copied); ``load_state(state)`` on an optimiser built with the
same arguments over the same parameters continues bit for bit where the saved one stopped.
"""

from .adagrad import AdaGrad
from .adam import Adam
from .adamw import AdamW
from .base import Optimizer, check_fraction, check_nonnegative
from .by_name import DEFAULT_LR, OPTIMIZERS, OPTIONS, REGISTRY, Named, make_optimizer
from .rmsprop import RMSProp
from .schedules import SCHEDULES, Schedule, as_schedule, constant, inverse, make_schedule, power
from .sgd import SGD

__all__ = [
    "Schedule",
    "constant",
    "inverse",
    "power",
    "make_schedule",
    "as_schedule",
    "SCHEDULES",
    "Optimizer",
    "check_fraction",
    "check_nonnegative",
    "SGD",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "REGISTRY",
    "Named",
    "OPTIMIZERS",
    "DEFAULT_LR",
    "OPTIONS",
    "make_optimizer",
]
