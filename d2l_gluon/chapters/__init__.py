"""The book's chapters, one module each, in the book's order.

Each module reads top to bottom like its section: data, the scratch model
and loss, the training, "# ---- concise (Gluon)", the Gluon twin, the
independent reference and the chapter's figures.
"""
import dataclasses
from typing import Any, Callable, Optional

from .. import d2l


@dataclasses.dataclass(frozen=True)
class Version:
    """One version of a chapter's model, as the book trains it: net, loss, and sgd or a trainer.

    impl is 'scratch' or 'gluon'.  A scratch version steps with
    sgd(params, lr, batch_size) on its list of parameters; a Gluon version
    with trainer.step(batch_size) (anything with such a step), and its
    params are the net's ParameterDict.
    """
    impl: str
    net: Callable
    loss: Callable
    params: Any
    lr: Optional[float] = None
    trainer: Any = None

    @property
    def scratch(self):
        return self.impl == 'scratch'

    @property
    def updater(self):
        """Return the step the book's loop takes: trainer.step, or sgd on params with lr."""
        if self.trainer is not None:
            return self.trainer.step
        return lambda batch_size: d2l.sgd(self.params, self.lr, batch_size)


class Step:
    """A trainer whose step(batch_size) is a given function: several trainers, or another divisor."""

    def __init__(self, step):
        self.step = step
