"""A launched job's worker: check the DMLC environment, join the parameter server, leave it.

``d2l-gluon launch`` (launch.py) starts the scheduler, the servers and the
workers; each worker runs a chapter with ``--kvstore dist_sync``, and
distributed.setup brings it into the job through these functions.
"""
import gc
import os
import socket
import sys

import mxnet as mx

from .errors import D2LError

SCHEDULER_SECONDS = 10  # for the scheduler to accept a connection
JOB_VARIABLES = ('DMLC_PS_ROOT_URI', 'DMLC_PS_ROOT_PORT', 'DMLC_NUM_WORKER', 'DMLC_NUM_SERVER')

# the parameter-server kvstore this process joined, if any (see exit_code)
_joined = None


def check_job(kvstore):
    """Return the number of workers of the job this worker is to join; raise D2LError if it cannot.

    A DMLC_ROLE=worker left in the environment makes MXNet fail with a
    traceback when the other variables are missing, and wait forever when
    no scheduler answers at their address.
    """
    fix = ('unset DMLC_ROLE (and the other DMLC_* variables) to train in this process alone, or '
           'start the workers with d2l-gluon launch -n WORKERS -- CHAPTER ...')
    missing = [name for name in JOB_VARIABLES if not os.environ.get(name)]
    if missing:
        raise D2LError('DMLC_ROLE=worker is in the environment but %s %s not, so --kvstore %s has no '
                       'job to join; %s' % (', '.join(missing), 'is' if len(missing) == 1 else 'are',
                                            kvstore, fix))
    for name in JOB_VARIABLES[1:]:
        value = os.environ[name]
        if not (value.isdigit() and value.isascii() and 0 < int(value) < 65536):
            raise D2LError('DMLC_ROLE=worker is in the environment with %s=%r, which is not a '
                           'positive whole number; %s' % (name, value, fix))
    host, port = os.environ['DMLC_PS_ROOT_URI'], int(os.environ['DMLC_PS_ROOT_PORT'])
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_SECONDS).close()
    except OSError as e:
        raise D2LError('DMLC_ROLE=worker is in the environment but no scheduler answers at %s:%d '
                       '(DMLC_PS_ROOT_URI, DMLC_PS_ROOT_PORT: %s); start the scheduler first, or %s'
                       % (host, port, e.strerror or e, fix)) from None
    return int(os.environ['DMLC_NUM_WORKER'])


def join(kvstore):
    """Create the dist kvstore, which joins the scheduler and blocks until every node has joined.

    From here on a failing worker must end at once (see exit_code), so an
    uncaught exception prints its traceback and ends the process too.
    """
    global _joined
    _joined = mx.kv.create(kvstore)
    hook = sys.excepthook

    def excepthook(kind, value, traceback):
        hook(kind, value, traceback)
        exit_code(1)
    sys.excepthook = excepthook
    return _joined


def exit_code(code):
    """Leave the parameter server, if this process joined one; return code.

    Leaving means the kvstore's destructor: it waits at a barrier for every
    worker, then worker 0 stops the servers.  After a success that happens
    here, not during interpreter shutdown, when MXNet's engine may already
    be gone (the process then aborts).  A failed worker ends at once with
    os._exit instead: the barrier would wait for workers that are waiting for
    this one's gradients, and the job would hang rather than fail.  The
    launcher, seeing the failure, stops the others.
    """
    global _joined
    if _joined is None:
        return code
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _joined = None
    gc.collect()  # the Trainer holding the kvstore sits in a reference cycle with its Parameters
    return code
