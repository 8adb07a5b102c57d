"""Allow ``python -m d2l_gluon``; what stops it outside the CLI's own handling is one line.

Exit codes: 2 for a broken installation or environment, 130 for Ctrl-C,
1 when the reader of stdout went away (``d2l-gluon linreg | head -1``) or
stdout cannot be written (closed, or a full disk: one line on stderr).
"""
import os
import sys

from . import _startup_error
from .errors import OutputError

# module -> what to pip install for the dependencies the CLI imports after the package
_DEPENDENCIES = {'matplotlib': 'matplotlib', 'PIL': 'pillow'}


def _error(message, exit_code):
    print('d2l-gluon: error: %s' % message, file=sys.stderr)
    return exit_code


def _interrupted():
    print('\ninterrupted', file=sys.stderr)
    return 130


def _discard_stdout():
    """Point stdout at devnull, so that what is still buffered cannot fail again on the way out."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _Stdout:
    """sys.stdout whose first refused write raises OutputError; what follows is discarded."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text):
        return self._guard(self._stream.write, text)

    def flush(self):
        return self._guard(self._stream.flush)

    def _guard(self, method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise  # the reader went away: no message (see run)
        except OSError as e:
            _discard_stdout()
            raise OutputError('cannot write to standard output (%s); redirect it to a writable '
                              'file or to /dev/null' % (e.strerror or e)) from None


def run(argv=None):
    """Start the CLI and return its exit code, reporting what stops it from starting in one line."""
    if isinstance(_startup_error, KeyboardInterrupt):
        return _interrupted()
    if _startup_error is not None:
        return _error(_startup_error, 2)
    if sys.stdout is None:  # started with descriptor 1 closed, as by `d2l-gluon ... >&-`
        return _error('cannot write to standard output (it is closed); redirect it to a file or '
                      'to /dev/null', 1)
    sys.stdout = _Stdout(sys.stdout)
    try:
        from .cli import main
        exit_code = main(argv)
        # stdout to a pipe is block-buffered: flush here, where a closed pipe can still be handled
        sys.stdout.flush()
        return exit_code
    except OutputError as e:  # from the flush above; main reports those of its own prints
        return _error(e, e.exit_code)
    except KeyboardInterrupt:
        return _interrupted()
    except ModuleNotFoundError as e:
        package = _DEPENDENCIES.get((e.name or '').split('.')[0])
        if package is None:
            raise
        return _error('%s; install it: pip install %s' % (e, package), 2)
    except BrokenPipeError:
        _discard_stdout()
        return 1


if __name__ == '__main__':
    sys.exit(run())
