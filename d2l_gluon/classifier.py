"""The two versions of a Fashion-MNIST classifier (softmax regression, MLP), built one way for every caller."""
import functools
import types

import mxnet as mx
from mxnet import gluon

from . import mlp, softmax_regression
from .errors import D2LError
from .params import copy_to_gluon
from .softmax_regression import cross_entropy
from .train import sgd


def classifier_model(chapter, num_hiddens=256, activation='relu', **_):
    """Return the chapter's model: init_params(ctx), scratch_net(params), gluon_net(ctx)."""
    if chapter == 'softmax':
        return softmax_regression
    if chapter == 'mlp':
        return types.SimpleNamespace(
            init_params=functools.partial(mlp.init_params, num_hiddens=num_hiddens),
            scratch_net=functools.partial(mlp.scratch_net, activation=activation),
            gluon_net=functools.partial(mlp.gluon_net, num_hiddens=num_hiddens,
                                        activation=activation))
    raise D2LError('%s is not a classification chapter (softmax or mlp)' % chapter)


def build_classifier(impl, model, lr, ctx, kvstore='device', update_on_kvstore=None,
                     dtype='float32'):
    """Return (net, params, loss, updater) of one implementation; params is the net for Gluon.

    Scratch: our params, net, cross_entropy and sgd.  Gluon: the net hybridized
    with static memory and shapes, SoftmaxCrossEntropyLoss and Trainer('sgd');
    ctx may be a list of devices, and kvstore and update_on_kvstore go to the
    Trainer (see d2l_gluon.distributed).  dtype='float64' is for comparisons.

    From the same random state both versions start from the same values: the
    Gluon net is initialised with init.Normal(0.01) as the book does, then
    given the parameters the scratch version draws, so that their results
    differ only by the implementations (Dense stores its weight transposed, so
    its own draw would be a different matrix).
    """
    if impl == 'scratch':
        params = model.init_params(ctx=ctx)
        if dtype != 'float32':
            params = [p.astype(dtype) for p in params]
            for p in params:
                p.attach_grad()
        return model.scratch_net(params), params, cross_entropy, lambda n: sgd(params, lr, n)
    start = model.init_params(ctx=ctx[0] if isinstance(ctx, (list, tuple)) else ctx)
    net = model.gluon_net(ctx=ctx)
    copy_to_gluon(start, net)
    net.cast(dtype)
    net.hybridize(static_alloc=True, static_shape=True)
    optimizer = mx.optimizer.SGD(learning_rate=lr)
    # one update kernel per parameter: mxnet 1.9.1's multi_sgd_update over the four
    # parameters together takes twice as long as four separate updates on CPU
    optimizer.aggregate_num = 1
    trainer = gluon.Trainer(net.collect_params(), optimizer, kvstore=kvstore,
                            update_on_kvstore=update_on_kvstore)
    return net, net, softmax_regression.gluon_loss(), trainer.step


MODEL_FILES = {'scratch': 'scratch.params', 'gluon': 'gluon.params'}


def load_classifier(path, ctx=None):
    """Return (net, description) of a classifier saved in a run folder.

    path is the run folder (the Gluon model is preferred) or one of its
    parameter files (scratch.params, gluon.params); model.json beside it names
    the chapter and its sizes.
    """
    import json
    import os

    from .params import load_gluon, load_scratch
    folder, name = (path, None) if os.path.isdir(path) else os.path.split(path)
    if not os.path.exists(path):
        raise D2LError('no model at %s; pass a classification run folder or its .params file' % path)
    try:
        with open(os.path.join(folder or '.', 'model.json')) as f:
            description = json.load(f)
        chapter = description['chapter']
        num_hiddens = description.get('num_hiddens', 1)
        if not (isinstance(num_hiddens, int) and num_hiddens > 0
                and description.get('activation', 'relu') in ('relu', 'sigmoid', 'tanh')):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise D2LError('%s is not in the run folder of a softmax or mlp run (no readable model.json '
                       'beside it); pass such a folder or its .params file' % path) from None
    if chapter not in ('softmax', 'mlp'):
        raise D2LError('%s holds a %s model; predict needs a softmax or mlp run' % (path, chapter))
    files = {file: impl for impl, file in MODEL_FILES.items()}
    if name is None:
        impl = next((i for i in ('gluon', 'scratch')
                     if os.path.exists(os.path.join(folder, MODEL_FILES[i]))), None)
        if impl is None:
            raise D2LError('%s holds no trained model yet (no gluon.params or scratch.params); '
                           'finish the run with --resume %s' % (path, path))
    elif name in files:
        impl = files[name]
    else:
        raise D2LError('%s is not a model file: pass scratch.params, gluon.params or the run folder'
                       % path)
    model = classifier_model(**description)
    net, params, _, _ = build_classifier(impl, model, lr=0.0, ctx=ctx)
    params_path = os.path.join(folder, MODEL_FILES[impl])
    if impl == 'scratch':
        load_scratch(params_path, params)
    else:
        load_gluon(params_path, net, ctx)
    return net, dict(description, impl=impl, path=params_path)
