"""Checkpoints of a run folder: a version's parameters after every epoch, for resume.

A checkpoint is two files: checkpoint-<impl>-epoch<N>.params, the version's
parameters, and checkpoint-<impl>.json, written last, which names them and
holds numpy's random state and the run's identity (chapter and a hash of its
settings).  A resumed run refuses a checkpoint that is not its own.
"""
import json
import os
import re

import numpy as np

from .errors import D2LError
from .files import write_json
from .params import load_version, save_version

# the names of every checkpoint file, of any version
PATTERN = re.compile(r'checkpoint-(?:scratch|gluon|pytorch)(?:\.json|-epoch[1-9][0-9]*\.params)$')


def version_ctx(version):
    """Return the devices a Gluon version's parameters live on (None for scratch and PyTorch)."""
    if version.impl != 'gluon':
        return None
    return next(iter(version.params.values())).list_ctx()


def paths(folder, impl, epoch=None):
    """Return the path of impl's checkpoint JSON, or (JSON, parameters of epoch) when epoch is given."""
    state = os.path.join(folder, 'checkpoint-%s.json' % impl)
    if epoch is None:
        return state
    return state, os.path.join(folder, 'checkpoint-%s-epoch%d.params' % (impl, epoch))


def save(folder, identity, impl, epoch, version):
    """Save version's parameters, then the JSON that names them, with numpy's random state.

    The JSON, written last, marks the checkpoint complete, so a run killed
    in between resumes from the previous epoch; numpy's random state fixes
    the batch order of the epochs to come.
    """
    state_path, params_path = paths(folder, impl, epoch)
    save_version(params_path, version)  # itself atomic
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    write_json(state_path, {'identity': identity, 'epoch': epoch,
                            'params': os.path.basename(params_path),
                            'numpy_random_state': [kind, keys.tolist(), pos, has_gauss, cached]})
    for old in range(1, epoch):
        old_path = paths(folder, impl, old)[1]
        if os.path.exists(old_path):
            os.remove(old_path)


def load(folder, identity, impl, version, metrics_path):
    """Restore impl's last checkpoint into version; return its epoch (0 if there is none).

    metrics_path names the run's metrics.json in the message on a checkpoint of another run.
    """
    state_path = paths(folder, impl)
    if not os.path.exists(state_path):
        return 0
    try:
        with open(state_path) as f:
            state = json.load(f)
        kind, keys, pos, has_gauss, cached = state['numpy_random_state']
        random_state = (str(kind), np.array(keys, dtype=np.uint32), int(pos), int(has_gauss),
                        float(cached))
        if len(random_state[1]) != 624:
            raise ValueError
        epoch, own = int(state['epoch']), state.get('identity')
        params_path = os.path.join(folder, os.path.basename(str(state['params'])))
    except (OSError, ValueError, KeyError, TypeError, OverflowError):
        raise D2LError('%s is damaged; delete it (and its checkpoint-*.params) to resume from '
                       'the start of that version' % state_path) from None
    if own != identity:
        raise D2LError('%s belongs to another run (other settings or chapter) than the one in '
                       '%s; delete it to resume from the start of that version'
                       % (state_path, metrics_path))
    load_version(params_path, version, version_ctx(version))
    np.random.set_state(random_state)
    return epoch


def remove(folder, impl):
    """Remove impl's checkpoint: its parameter files, then its JSON."""
    state_path = paths(folder, impl)
    params = re.compile(r'checkpoint-%s-epoch[1-9][0-9]*\.params$' % impl)
    for name in os.listdir(folder):
        if params.match(name):
            os.remove(os.path.join(folder, name))
    if os.path.exists(state_path):
        os.remove(state_path)
