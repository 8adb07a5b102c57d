"""Allow ``python -m d2l_gluon``; what stops it outside the CLI's own handling is one line.

Exit codes: 2 for a broken installation or environment, 130 for Ctrl-C,
1 when the reader of stdout went away (``d2l-gluon linreg | head -1``).
"""
import os
import sys

from . import _startup_error

# module -> what to pip install for the dependencies the CLI imports after the package
_DEPENDENCIES = {'matplotlib': 'matplotlib', 'PIL': 'pillow'}


def _error(message, exit_code):
    print('d2l-gluon: error: %s' % message, file=sys.stderr)
    return exit_code


def _interrupted():
    print('\ninterrupted', file=sys.stderr)
    return 130


def run(argv=None):
    """Start the CLI and return its exit code, reporting what stops it from starting in one line."""
    if isinstance(_startup_error, KeyboardInterrupt):
        return _interrupted()
    if _startup_error is not None:
        return _error(_startup_error, 2)
    try:
        from .cli import main
        exit_code = main(argv)
        # stdout to a pipe is block-buffered: flush here, where a closed pipe can still be handled
        sys.stdout.flush()
        return exit_code
    except KeyboardInterrupt:
        return _interrupted()
    except ModuleNotFoundError as e:
        package = _DEPENDENCIES.get((e.name or '').split('.')[0])
        if package is None:
            raise
        return _error('%s; install it: pip install %s' % (e, package), 2)
    except BrokenPipeError:
        # point stdout at devnull so that the interpreter's final flush of what is still
        # buffered cannot raise the same error again on the way out
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1


if __name__ == '__main__':
    sys.exit(run())
