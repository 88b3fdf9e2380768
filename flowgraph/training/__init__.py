"""Training: a short loop plus callbacks, and the one recipe from a configuration to a trained
model.

    loop.py            fg.train: epochs of fprop, bprop, optimizer step per mini-batch
    batches.py         one epoch's shuffled mini-batches and the running training error
    validation.py      the validation loss and error after each epoch
    callbacks.py       the Callback protocol
    early_stopping.py  the look-ahead rule, best parameters restored
    progress.py        a tqdm bar on a terminal, a few lines in a log
    metrics_csv.py     CSVLogger: one row per epoch, synced
    divergence.py      DivergenceError and the rollback to the last good parameters
    signals.py         Ctrl-C / SIGTERM as a stop flag read after each batch
    history.py         History: the per-epoch figures
    resume.py          TrainState: where a run stands; resume_file.py: resume.npz, checked
    resources.py       refuse before allocating what cannot fit in memory
    defaults.py        the defaults of a run
    recipe.py          configuration -> data -> preprocessing -> model -> optimiser -> train
    run.py, outputs.py a run in a folder, resumable at any moment, its outputs written whole
"""

from .callbacks import Callback
from .divergence import DivergenceError
from .early_stopping import EarlyStopping
from .history import History
from .loop import train
from .metrics_csv import CSVLogger
from .resume import TrainState

__all__ = ["train", "History", "EarlyStopping", "Callback", "DivergenceError", "TrainState",
           "CSVLogger"]  # fmt: skip
