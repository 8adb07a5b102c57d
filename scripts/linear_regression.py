# %% [markdown]
# # Linear regression (book 3.2 and 3.3), with the course notes' configurations
#
# Each cell calls `d2l_gluon`; where the code matters, a cell prints the library function's own
# source, so what you read is what runs.  Notes: 000 (scratch, 10,000 examples), 002 (the normal
# equation, full-batch gradient descent, learning-rate tries), 004 (straight-dope, then Gluon).
# Run headless with `python scripts/linear_regression.py [--quick] [--out DIR]`.

# %%
import importlib.util
import os

import numpy as np

import d2l_gluon
from d2l_gluon import d2l, plot
from d2l_gluon.chapters import linear_regression
from d2l_gluon.config import make_config
from d2l_gluon.walkthrough import (merge, print_epoch, show_figure, show_source, translation_table,
                                   walkthrough_args, watching)

QUICK, OUT = walkthrough_args('linear_regression')
print('quick mode' if QUICK else 'full run', '- figures go to', OUT)

# %% [markdown]
# ## 3.2.1 Generating the data set
# The book's configuration: 1000 examples, w = [2, -3.4], b = 4.2, label noise N(0, 0.01²),
# batch 10, lr 0.03, 3 epochs.  The chapter's `load_data` seeds the generator and calls
# `d2l.synthetic_data`, so every run draws the same set.

# %%
config = make_config(linear_regression.OPTIONS, **linear_regression.PRESETS['book'])
print({name: config[name] for name in ('num_examples', 'true_w', 'true_b', 'noise', 'batch_size',
                                       'lr', 'num_epochs')})
show_source(d2l.synthetic_data)
data = linear_regression.load_data(config)
features, labels = data.features, data.labels
print('features[0]:', features[0].asnumpy(), 'labels[0]:', labels[0].asscalar())
path = os.path.join(OUT, 'data.png')
plot.scatter(features[:, 1].asnumpy(), labels.asnumpy(), path, 'feature 1', 'label',
             'synthetic data')
show_figure(path)

# %% [markdown]
# ## 3.2.2 Reading the data
# `d2l.data_iter` yields random minibatches of `batch_size` examples; here is the first one.
# (Training draws the same batches from the `ArrayLoader` that `load_data` returns.)

# %%
show_source(d2l.data_iter)
for X, y in d2l.data_iter(config['batch_size'], features, labels):
    print('X', X.shape, 'y', y.shape)
    print(X.asnumpy(), y.asnumpy())
    break

# %% [markdown]
# ## 3.2.3-3.2.6 Parameters, model, loss and optimisation algorithm
# w ~ N(0, 0.01²), b = 0; the model X w + b; the squared loss (y_hat - y)² / 2; minibatch SGD,
# the book's `d2l.sgd`.

# %%
show_source(linear_regression.init_params, linear_regression.linreg,
            linear_regression.squared_loss, d2l.sgd)
w, b = linear_regression.init_params(config['num_inputs'])
print('w', w.asnumpy().ravel(), 'b', b.asnumpy())

# %% [markdown]
# ## 3.2.7 Training
# `scratch_setup` puts the model, the loss and `sgd` together.  The chapter's `train` is the
# book's loop: each epoch is one pass of `d2l.train_epoch_ch3` (forward, per-example losses,
# backward, one `sgd` step per batch), then `evaluate` gives the mean loss on the whole training
# set, which we print.  (`monitor` is how the command-line tool times and checks the epochs; the
# loop works without it.)

# %%
show_source(linear_regression.scratch_setup, linear_regression.train, d2l.train_epoch_ch3,
            linear_regression.evaluate)
scratch = linear_regression.fit(dict(config, impl='scratch'), watch=watching(print_epoch))
w, b = linear_regression.fitted_params(scratch.trained['scratch'].version)
print('error in estimating w', np.array(config['true_w']) - w.ravel())
print('error in estimating b', config['true_b'] - b)

# %% [markdown]
# ## 3.3 Concise implementation (Gluon)
# `nn.Dense(1)` initialised with `init.Normal(sigma=0.01)`, `gluon.loss.L2Loss()` and a
# `gluon.Trainer` with 'sgd', trained by the same loop; then the learned against the true
# parameters.

# %%
show_source(linear_regression.gluon_net, linear_regression.gluon_setup)
concise = linear_regression.fit(dict(config, impl='gluon'), watch=watching(print_epoch))
dense = concise.trained['gluon'].version.net[0]
print('true w', config['true_w'], 'learned', dense.weight.data().asnumpy().ravel())
print('true b', config['true_b'], 'learned', dense.bias.data().asnumpy())
both = merge(scratch, concise)
print('\n'.join(linear_regression.summary(config, both.metrics)))
path = os.path.join(OUT, 'loss.png')
plot.run_curves(both.metrics['runs'], path, [('loss on the training set', ('loss',))])
show_figure(path)

# %% [markdown]
# ## Note 000: 10,000 examples, w = [2, -3.5], b = 3.7, lr 0.01, 5 epochs
# The note's configuration is `PRESETS['note-000']`; quick mode trains 1 of its 5 epochs.

# %%
note_000 = make_config(linear_regression.OPTIONS, impl='scratch',
                       **dict(linear_regression.PRESETS['note-000'],
                              **({'num_epochs': 1} if QUICK else {})))
print('note-000:', linear_regression.PRESETS['note-000'], '- epochs run:', note_000['num_epochs'])
result = linear_regression.fit(note_000, watch=watching(print_epoch))
print('\n'.join(linear_regression.summary(note_000, result.metrics)))

# %% [markdown]
# ## Note 004: straight-dope's loop (book 3.2 as first published)
# Weights start from N(0, 1), the loss is (y_hat - y)² without the ½, and SGD steps on the summed
# gradient (lr 0.001, not divided by the batch).  Every 100 batches the note prints the moving
# average of the batch loss (0.99 old + 0.01 new); its own line prints the total `epochs`, 5, where
# we print the current epoch.  The note's second half, Gluon with the book's settings, is 3.3 above.

# %%
show_source(linear_regression.full_squared_loss)
dope = make_config(linear_regression.OPTIONS, impl='scratch',
                   **linear_regression.PRESETS['straight-dope'])
print('straight-dope:', linear_regression.PRESETS['straight-dope'])


def print_moving(impl, record, version):
    for batch, moving_loss in record['moving_losses']:
        print('Epoch %d, batch %d. Average loss: %f' % (record['epoch'], batch, moving_loss))


result = linear_regression.fit(dope, watch=watching(print_moving))
print('\n'.join(linear_regression.summary(dope, result.metrics)))
print('the note printed: w [1.9995, -3.3997], b 4.1995')

# %% [markdown]
# ## Note 002: the normal equation
# Least squares has a closed form, θ = (XᵀX)⁻¹Xᵀy with a column of ones for b;
# `closed_form` solves it with `lstsq` rather than forming the inverse.

# %%
show_source(linear_regression.closed_form)
w, b = linear_regression.closed_form(features, labels)
print('book data: normal equation w', w.ravel(), 'b', b,
      '(true', config['true_w'], config['true_b'], ')')
note_002 = make_config(linear_regression.OPTIONS, impl='scratch', true_w=[-1.0, 1.0], true_b=2.0,
                       noise=0.1, full_batch=True, lr=0.01, num_epochs=3)
data_002 = linear_regression.load_data(note_002)
w, b = linear_regression.closed_form(data_002.features, data_002.labels)
print("note 002's data (w = [-1, 1], b = 2, noise 0.1): normal equation w", w.ravel(), 'b', b)

# %% [markdown]
# ## Note 002: full-batch gradient descent
# One step per epoch on the mean loss over all 1000 examples (`full_batch=True`), lr 0.01,
# 3 epochs, as in the note: three small steps leave the parameters far from the truth.

# %%
result = linear_regression.fit(note_002, data=data_002, watch=watching(print_epoch))
w, b = linear_regression.fitted_params(result.trained['scratch'].version)
print('error in w', np.array(note_002['true_w']) - w.ravel(), 'error in b', note_002['true_b'] - b)

# %% [markdown]
# ## Note 002: trying learning rates
# The note suggests 0.01, 0.03, 0.1, 0.3 and 1.  Full-batch gradient descent on this loss
# converges for lr < 2 (the Hessian is close to the identity), so we add lr 3, beyond the note's
# tries, to show what divergence looks like.  A run that diverges raises `DivergenceError`,
# whose `.history` holds the epochs before.

# %%
tries = {}
for lr in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
    label = 'lr %g' % lr + ('' if lr <= 1 else ' (beyond the note)')
    try:
        history = linear_regression.fit(dict(note_002, lr=lr, num_epochs=20), data=data_002,
                                         watch=watching()).metrics['runs']['scratch']['epochs']
        diverged = None
        print('%-26s loss after 20 epochs %.6f' % (label, history[-1]['loss']))
    except d2l_gluon.DivergenceError as e:
        history, diverged = e.history, e.epoch
        print('%-26s diverged in epoch %d, batch %d' % (label, e.epoch, e.batch))
    tries[label] = ([r['epoch'] for r in history], [r['loss'] for r in history], diverged)
path = os.path.join(OUT, 'learning_rates.png')
plot.learning_rate_curves(tries, path)
show_figure(path)

# %% [markdown]
# ## The notes' PyTorch, line by line
# Note 002 writes this model in PyTorch.  Each step below is the line of this project's MXNet
# code beside the line of its PyTorch version (`--impl pytorch`) that does the same, both read
# from the running source.  With PyTorch installed, the two then train from the same start on
# the same batches, and agree to rounding.

# %%
print('\n'.join(translation_table('create a tensor', 'track its gradient', 'record / do not record',
                                  'backward', 'sgd by hand')))
if importlib.util.find_spec('torch'):
    config_002 = make_config(linear_regression.OPTIONS, **dict(linear_regression.PRESETS['note-002'],
                                                               impl='scratch,pytorch'))
    result = linear_regression.fit(config_002, watch=watching(print_epoch))
    print('\n'.join(linear_regression.summary(config_002, result.metrics)))
