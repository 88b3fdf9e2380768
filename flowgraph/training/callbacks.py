"""The Callback protocol: how the training loop lets other code watch and steer it.

:func:`flowgraph.train` calls, in this order,

    on_train_begin(model)                      once, before the first epoch
    on_step_end(model, step)                   after every update theta <- theta - alpha_t grad
    on_epoch_end(model, history) -> stop?      after every epoch (History holds its figures)
    on_train_end(model, history)               once, after the last epoch

Early stopping, the progress bar, the metrics CSV and the resume file are callbacks; so is
anything a user writes. A callback that returns True from ``on_epoch_end`` stops training.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Callback", "overrides"]


class Callback:
    """Hooks into ``train``. Override what you need; return True from ``on_epoch_end`` to stop.

    ``on_step_end`` runs after every update (keep it cheap); it is only called for callbacks
    that override it.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, model, history):
    ...         return len(history) >= 2  # stop after two epochs
    >>> overrides(Count(), "on_epoch_end"), overrides(Count(), "on_step_end")
    (True, False)
    """

    def on_train_begin(self, model: Any) -> None:  # noqa: B027
        pass

    def on_step_end(self, model: Any, step: int) -> None:  # noqa: B027
        pass

    def on_epoch_end(self, model: Any, history: Any) -> bool | None:  # noqa: B027
        return None

    def on_train_end(self, model: Any, history: Any) -> None:  # noqa: B027
        pass


def overrides(callback: Any, hook: str) -> bool:
    """Whether ``callback`` defines ``hook`` itself rather than inheriting Callback's no-op (the
    loop calls ``on_step_end`` only where it does something: it runs after every update)."""
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)
