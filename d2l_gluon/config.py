"""Chapter settings: each option's book default, kind and help, and the checks every value passes.

A chapter module declares ``OPTIONS = {name: Option(default, kind, help)}``;
``make_config(OPTIONS, **changes)`` returns the plain dict its ``fit`` takes,
and the CLI builds its arguments from the same table, so a default lives in
one place.  Kinds are the names in KINDS, or a tuple of choices.
"""
import collections

import numpy as np

from .errors import D2LError

Option = collections.namedtuple('Option', 'default kind help')

# the largest float32: a value beyond it cannot reach an NDArray in one piece
FLOAT32_MAX = float(np.finfo(np.float32).max)
# the smallest normal float32: a positive value below it becomes 0 or a subnormal number in float32
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _finite(value):
    return np.isfinite(value) and abs(value) <= FLOAT32_MAX


# the versions a chapter may train, in the order they are drawn and trained
IMPLS = ('scratch', 'gluon', 'pytorch')


def _impl_list(text):
    parts = text.split(',')
    return len(set(parts)) == len(parts) and all(part in IMPLS for part in parts)


# kind -> (python type, test, what a value must be)
KINDS = {
    'count': (int, lambda v: v > 0, 'a positive integer'),
    'natural': (int, lambda v: v >= 0, 'a non-negative integer'),
    # a layer of 784 x 65536 float32 weights is 205 MB; far more cannot be allocated
    'units': (int, lambda v: 0 < v <= 65536, 'a number of units from 1 to 65536'),
    # mx.random.seed takes 0 .. 2**32 - 1, and each version is seeded with seed + 1
    'seed': (int, lambda v: 0 <= v <= 2 ** 32 - 2, 'a seed from 0 to 4294967294'),
    'positive': (float, lambda v: _finite(v) and np.float32(v) >= FLOAT32_TINY,
                 'a positive float32 number from %.2g to %.2g' % (FLOAT32_TINY, FLOAT32_MAX)),
    'nonnegative': (float, lambda v: _finite(v) and v >= 0, 'a non-negative float32 number'),
    'probability': (float, lambda v: 0 <= v < 1, 'a probability from 0 to below 1'),
    'number': (float, _finite, 'a finite float32 number'),
    'numbers': (list, lambda v: len(v) > 0 and all(_finite(x) for x in v),
                'a comma-separated list of finite float32 numbers'),
    'flag': (bool, lambda v: True, 'true or false'),
    'impls': (str, lambda v: v == 'both' or _impl_list(v),
              'scratch, gluon, pytorch, both (scratch,gluon) or a comma-separated list of them'),
    'text': (str, lambda v: True, 'text'),
}

COMMON = {
    'impl': Option('both', 'impls', 'which versions to train: scratch, gluon, pytorch (the notes\' '
                   'PyTorch code, an optional extra), a comma-separated list of them, or both '
                   '(scratch,gluon)'),
    'seed': Option(0, 'seed', 'seeds mx.random, numpy and random, and so the batch order'),
    'step_divisor': Option('batch-size', ('batch-size', 'actual', 'none'),
                           'batch-size: every sgd step divides the summed gradient by the '
                           'configured batch size, as the book does, so a short last batch takes '
                           'a proportionally smaller step; actual: divide by the number of '
                           'examples in the batch, a full step for every batch; none: step on '
                           "the summed gradient itself, as straight-dope's SGD does"),
}


def parse(kind, text):
    """Return text (a command-line string) as a value of kind; raise ValueError naming the kind."""
    if isinstance(kind, tuple):
        if text not in kind:
            raise ValueError('%r is not one of %s' % (text, ', '.join(kind)))
        return text
    kind_type, _, requirement = KINDS[kind]
    try:
        if kind_type is list:
            value = [float(part) for part in text.split(',')]
        elif kind_type is bool:
            value = {'true': True, 'false': False}[text.lower()]
        else:
            value = kind_type(text)
    except (ValueError, KeyError, OverflowError):
        raise ValueError('%r is not %s' % (text, requirement)) from None
    return check(kind, value, text)


def check(kind, value, shown=None):
    """Return value when it is of kind; raise ValueError naming what it must be."""
    shown = repr(value) if shown is None else repr(shown)
    if isinstance(kind, tuple):
        if value not in kind:
            raise ValueError('%s is not one of %s' % (shown, ', '.join(kind)))
        return value
    kind_type, test, requirement = KINDS[kind]
    ok = type(value) is kind_type or (kind_type is float and type(value) is int)
    if kind_type is list:
        ok = isinstance(value, list) and all(type(x) in (int, float) for x in value)
    if not ok or not test(value):
        raise ValueError('%s is not %s' % (shown, requirement))
    return [float(x) for x in value] if kind_type is list else kind_type(value)


def make_config(options, **changes):
    """Return {name: value}: every option's default, with changes checked; raise D2LError."""
    options = dict(COMMON, **options)
    unknown = sorted(set(changes) - set(options))
    if unknown:
        raise D2LError('unknown setting %s; the settings are %s'
                       % (', '.join(unknown), ', '.join(sorted(options))))
    config = {}
    for name, option in options.items():
        value = changes.get(name, option.default)
        if value is None and option.default is None:
            config[name] = None
            continue
        try:
            config[name] = check(option.kind, value)
        except ValueError as e:
            raise D2LError('--%s: %s' % (name.replace('_', '-'), e)) from None
    return config


MAX_DEVICE_ID = 1023


def parse_devices(text):
    """Return 'cpu', 'cpu(0)', 'gpu(1)' or a comma-separated list of them as mx.Context objects."""
    import re

    import mxnet as mx
    contexts = []
    for part in text.replace(' ', '').split(','):
        match = re.fullmatch(r'(cpu|gpu)(?:\((\d{1,9})\))?', part)
        if not match or int(match.group(2) or 0) > MAX_DEVICE_ID:
            raise D2LError('%r is not a device: use cpu, cpu(0), gpu(0) (numbers up to %d) or a '
                           'comma-separated list' % (text, MAX_DEVICE_ID))
        contexts.append(mx.Context(match.group(1), int(match.group(2) or 0)))
        if contexts[-1].device_type == 'gpu' and contexts[-1].device_id >= mx.context.num_gpus():
            raise D2LError('%s: this mxnet sees %d GPUs; use cpu, or install a CUDA build of '
                           'mxnet 1.9.1 (e.g. mxnet-cu112)' % (contexts[-1], mx.context.num_gpus()))
    return contexts


def step_batch(config):
    """Return train()'s batch_size: the configured one (the book's rule), None for 'actual', 1 for 'none'."""
    return {'batch-size': config['batch_size'], 'actual': None, 'none': 1}[config['step_divisor']]


def impls(config):
    """Return the versions config['impl'] names, in IMPLS order: scratch, gluon, pytorch."""
    names = ('scratch', 'gluon') if config['impl'] == 'both' else config['impl'].split(',')
    return tuple(impl for impl in IMPLS if impl in names)
