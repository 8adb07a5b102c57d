"""Predict: a trained classifier loaded back from its run folder, and the top classes of images.

A softmax or mlp run folder holds model.json (the chapter and its sizes)
beside scratch.params and gluon.params; ``load_model`` rebuilds the net from
them and ``classify`` returns each image's most likely classes.
"""
import json
import os

import numpy as np
from mxnet import nd

from .errors import D2LError
from .params import load_version
from .runs import MODEL_FILES


def load_model(path, ctx=None):
    """Return (net, description) of a classifier saved in a run folder.

    path is the run folder (the Gluon model is preferred) or one of its
    parameter files (scratch.params, gluon.params); model.json beside it names
    the chapter and its sizes.
    """
    from .chapters import chapter as find_chapter
    from .config import make_config
    folder, name = (path, None) if os.path.isdir(path) else os.path.split(path)
    if not os.path.exists(path):
        raise D2LError('no model at %s; pass a classification run folder or its .params file' % path)
    try:
        with open(os.path.join(folder or '.', 'model.json')) as f:
            description = json.load(f)
        chapter = find_chapter(description['chapter'])
        config = make_config(chapter.options, lr=1.0, **{k: description[k] for k in chapter.model_keys})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, D2LError):
        raise D2LError('%s is not in the run folder of a softmax or mlp run (no readable model.json '
                       'beside it); pass such a folder or its .params file' % path) from None
    files = {file: impl for impl, file in MODEL_FILES.items()}
    if name is None:
        impl = next((i for i in ('gluon', 'scratch', 'pytorch')
                     if os.path.exists(os.path.join(folder, MODEL_FILES[i]))), None)
        if impl is None:
            raise D2LError('%s holds no trained model yet (no gluon, scratch or pytorch .params); '
                           'finish the run with --resume %s' % (path, path))
    elif name in files:
        impl = files[name]
    else:
        raise D2LError('%s is not a model file: pass scratch.params, gluon.params, pytorch.params '
                       'or the run folder' % path)
    # pytorch.params holds the PyTorch version's parameters in scratch layout: the scratch net reads them
    version = chapter.setup('scratch' if impl == 'pytorch' else impl, config, ctx)
    params_path = os.path.join(folder, MODEL_FILES[impl])
    load_version(params_path, version, ctx)
    return version.net, dict(description, impl=impl, path=params_path)


def classify(model, ctx, images=(), from_test=None, data_dir=None, top=3):
    """Return (description, [(name, [(label, probability), ...]), ...]): each image's top classes.

    ctx: a list of one device; images: PNG paths, or from_test: the first N test-set images.
    """
    from .chapters.softmax_regression import predict
    from .data import TEXT_LABELS
    from .images import images_to_classify
    if bool(images) == bool(from_test):
        raise D2LError('give IMAGE files or --from-test N%s' % (', not both' if images else ''))
    if len(ctx) > 1:
        raise D2LError('predict runs on one device; pass a single --ctx')
    net, description = load_model(model, ctx[0])
    names, pictures = images_to_classify(images, from_test, data_dir)
    probabilities = predict(net, nd.array(pictures, ctx=ctx[0]))
    return description, [(name, [(TEXT_LABELS[k], p[k]) for k in np.argsort(-p)[:top]])
                         for name, p in zip(names, probabilities)]
