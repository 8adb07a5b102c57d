"""The project's exceptions: errors a user can cause, each naming its fix."""


class D2LError(Exception):
    """A problem with the user's input, data or settings; the message names the fix.

    The CLI prints it as one line on stderr and exits with ``exit_code``.
    """
    exit_code = 2


class DivergenceError(D2LError):
    """Training produced a NaN or infinite loss."""
    exit_code = 3
    folder = None  # the run folder holding the epochs recorded before, if any

    def __init__(self, epoch, batch, history, impl=None, fix='try a smaller --lr'):
        self.epoch, self.batch, self.history, self.impl = epoch, batch, history, impl
        self.fix = fix  # whoever knows the settings may name the likely causes beside --lr
        super().__init__(epoch, batch)

    def __str__(self):
        return ('training diverged: the loss became NaN, infinite or over 100 times its value at the '
                'start in epoch %d, batch %d; %s' % (self.epoch, self.batch, self.fix))


class OutputError(D2LError):
    """Standard output refused a write (a full disk, an I/O error)."""
    exit_code = 1
