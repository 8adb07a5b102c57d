"""Parameters: copy scratch parameters into Gluon Dense layers, save, load and checkpoint them.

A scratch model's parameters are a list [W1, b1, W2, b2, ...] with each W of
shape (in, out); the Gluon twin is a Sequential of Dense layers whose
weight is (out, in).  Every file is written atomically.
"""
import os

from mxnet import nd
from mxnet.base import MXNetError
from mxnet.gluon import nn

from .errors import D2LError
from .files import atomic_write, mxnet_path, write_error


def dense_layers(net):
    """Return the Dense layers of a Sequential net, in order."""
    return [layer for layer in net if isinstance(layer, nn.Dense)]


def copy_to_gluon(params, net):
    """Set each Dense layer of net from a scratch pair (W (in, out), b)."""
    layers = dense_layers(net)
    if 2 * len(layers) != len(params):
        raise ValueError('%d scratch parameters for %d Dense layers' % (len(params), len(layers)))
    for layer, W, b in zip(layers, params[0::2], params[1::2]):
        layer.weight.set_data(W.T)  # Dense.weight is (units, in_units)
        layer.bias.set_data(b)


def gluon_as_scratch(net):
    """Return the Dense layers' parameters in scratch layout [W1 (in, out), b1, ...] as NDArrays.

    On a net held on several devices the copies are equal; this returns the first device's.
    """
    params = []
    for layer in dense_layers(net):
        params += [layer.weight.list_data()[0].T, layer.bias.list_data()[0]]
    return params


def as_scratch(version):
    """Return any version's parameters in scratch layout [W1 (in, out), b1, ...] as NDArrays."""
    if version.impl == 'pytorch':
        from .d2l_torch import as_scratch as torch_as_scratch
        return [nd.array(p, dtype=p.dtype) for p in torch_as_scratch(version.net, version.params)]
    return version.params if version.scratch else gluon_as_scratch(version.net)


def set_from_scratch(version, params):
    """Set any version's parameters from NDArrays in scratch layout, in place."""
    if version.impl == 'pytorch':
        from .d2l_torch import set_from_scratch as torch_set
        torch_set(version.net, version.params, [p.asnumpy() for p in params])
    elif version.scratch:
        for param, value in zip(version.params, params):
            param[:] = value.as_in_context(param.context)
    else:
        copy_to_gluon(params, version.net)


def save_scratch(path, params):
    """Save a list of scratch parameters with nd.save."""
    def write(tmp):
        with mxnet_path(tmp) as name:
            nd.save(name, list(params))
    atomic_write(path, write)


def load_scratch(path, params):
    """Load values saved by save_scratch into params (same shapes), in place."""
    try:
        with mxnet_path(path) as name:
            saved = nd.load(name)
    except MXNetError:
        raise D2LError('%s is not a parameter file saved by d2l-gluon (corrupt or of another '
                       'kind); train the model again' % path) from None
    shapes = [p.shape for p in params]
    if not isinstance(saved, list) or [s.shape for s in saved] != shapes:
        raise D2LError('%s holds parameters of shapes %s, not %s: it belongs to another model or '
                       'chapter' % (path, [s.shape for s in saved] if isinstance(saved, list)
                                    else sorted(saved), shapes))
    for param, value in zip(params, saved):
        param[:] = value.as_in_context(param.context)


def save_gluon(path, net):
    """Save a Gluon net's parameters with save_parameters."""
    def write(tmp):
        with mxnet_path(tmp) as name:
            net.save_parameters(name)
    atomic_write(path, write)


def load_gluon(path, net, ctx=None):
    """Load parameters saved by save_gluon into net."""
    try:
        with mxnet_path(path) as name:
            net.load_parameters(name, ctx=ctx)
    except (MXNetError, AssertionError, ValueError, KeyError):
        raise D2LError('%s does not hold the parameters of this Gluon model (corrupt, or of another '
                       'chapter or size); train the model again' % path) from None


def export_gluon(prefix, net):
    """Export a hybridized net as prefix-symbol.json and prefix-0000.params, each written atomically."""
    folder, name = os.path.split(prefix)
    tmp_prefix = os.path.join(folder, '.tmp-' + name)
    suffixes = ('-symbol.json', '-0000.params')
    try:
        # export needs the graph of a forward pass, which a net resumed after its last epoch
        # has not made in this process: one zero example, the parameters unchanged
        weight = next(iter(net.collect_params().values())).data()
        net(nd.zeros((1, weight.shape[1]), ctx=weight.context, dtype=weight.dtype))
        with mxnet_path(tmp_prefix) as name:
            net.export(name)
        for suffix in suffixes:
            os.replace(tmp_prefix + suffix, prefix + suffix)
    except BaseException as e:
        for suffix in suffixes:
            if os.path.exists(tmp_prefix + suffix):
                os.remove(tmp_prefix + suffix)
        refused = write_error(e, prefix + '-0000.params')  # net.export writes outside atomic_write
        if refused is not None:
            raise refused from None
        raise


def save_version(path, version):
    """Save a trained version's parameters: nd.save for a scratch list (PyTorch's in scratch
    layout), save_parameters for Gluon."""
    if version.impl == 'pytorch':
        save_scratch(path, as_scratch(version))
    elif version.scratch:
        save_scratch(path, version.params)
    else:
        save_gluon(path, version.net)


def load_version(path, version, ctx=None):
    """Load parameters saved by save_version into version, in place."""
    if version.impl == 'pytorch':
        params = as_scratch(version)
        load_scratch(path, params)
        set_from_scratch(version, params)
    elif version.scratch:
        load_scratch(path, version.params)
    else:
        load_gluon(path, version.net, ctx)
