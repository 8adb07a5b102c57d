# %% [markdown]
# # Logistic regression: hours studied and passing the exam (the lecture of note 003)
#
# Three students studied 1, 2 and 3 hours; only the third passed.  The lecture fits
# P(pass | x) = σ(x w + b) with the binary cross-entropy summed over the set, SGD with lr 0.01 for
# 1000 epochs, then asks for 4 hours and draws the probability over 0-10 hours.  Each cell calls
# `d2l_gluon`; where the code matters, it prints the library function's own source.
# Run headless with `python scripts/logistic_regression.py [--quick] [--out DIR]`.

# %%
import os

import numpy as np
from mxnet import nd

from d2l_gluon import plot
from d2l_gluon.chapters import logistic_regression, mlp
from d2l_gluon.config import make_config
from d2l_gluon.walkthrough import (print_every, show_figure, show_source, translation_table,
                                   walkthrough_args, watching)

QUICK, OUT = walkthrough_args('logistic_regression')
print('quick mode' if QUICK else 'full run', '- figures go to', OUT)

# %% [markdown]
# ## The data: hours studied and passed
# Classification, not regression: the label is 0 (failed) or 1 (passed), and the model outputs
# the probability of 1.

# %%
show_source(logistic_regression.hours_data)
x_data, y_data = logistic_regression.hours_data()
print('hours ', x_data.asnumpy().ravel(), '\npassed', y_data.asnumpy().ravel())

# %% [markdown]
# ## The logistic function
# σ(z) = 1 / (1 + exp(-z)) maps any real z into (0, 1), with σ(0) = 0.5; its derivative
# σ(z)(1 - σ(z)) is bell-shaped.  (The same stable sigmoid as the MLP chapter's.)

# %%
show_source(mlp.sigmoid)
z = np.array([-10.0, -2.0, 0.0, 2.0, 10.0])
print('z       ', z)
print('sigma(z)', mlp.sigmoid(nd.array(z)).asnumpy())
path = os.path.join(OUT, 'sigmoid.png')
plot.activations({'sigmoid': mlp.value_and_gradient(mlp.sigmoid, np.linspace(-10, 10, 201))}, path)
show_figure(path)

# %% [markdown]
# ## The model and the binary cross-entropy
# The model is linear regression's, z = x w + b (the logit), and P(pass) = σ(z).  The loss
# -[y log σ(z) + (1 - y) log(1 - σ(z))] is small when the probability of the true label is high.

# %%
show_source(logistic_regression.logreg, logistic_regression.binary_cross_entropy)
p = nd.array([0.9, 0.9, 0.1])
labels = nd.array([1, 0, 0])
logits = nd.log(p / (1 - p))
for prob, label, loss in zip(p.asnumpy(), labels.asnumpy(),
                             logistic_regression.binary_cross_entropy(logits, labels).asnumpy()):
    print('P(pass) %.1f, passed %d: loss %.4f' % (prob, label, loss))

# %% [markdown]
# ## Training with the lecture's settings
# BCELoss(size_average=False): each step follows the gradient of the summed loss, SGD lr 0.01,
# 1000 epochs of the whole set as one batch; every 100th epoch is printed.  Both versions train
# (scratch and Gluon's SigmoidBinaryCrossEntropyLoss); quick mode trains the scratch one only.
# The loop is linear regression's `train` (one `d2l.train_epoch_ch3` per epoch; the linear
# regression walk-through shows both), with this chapter's `evaluate` after each epoch.

# %%
show_source(logistic_regression.setup, logistic_regression.train, logistic_regression.evaluate)
config = logistic_regression.complete(make_config(
    logistic_regression.OPTIONS, impl='scratch' if QUICK else 'both'))
print({name: config[name] for name in ('num_epochs', 'lr', 'batch_size', 'loss')})


result = logistic_regression.fit(
    config, watch=watching(print_every(config['print_every'], config['num_epochs'])))
print('\n'.join(logistic_regression.summary(config, result.metrics)))

# %% [markdown]
# ## Prediction: 4 hours
# The lecture's question: the probability of passing after 4 hours of study.

# %%
show_source(logistic_regression.probability)
x_test = nd.array([[logistic_regression.PASS_HOURS]])
for impl, run in result.trained.items():
    p_pass = logistic_regression.probability(run.version, x_test)[0]
    print('%s: P(pass | %g hours) = %.4f' % (impl, logistic_regression.PASS_HOURS, p_pass))

# %% [markdown]
# ## The probability curve over 0-10 hours
# P(pass) rises through 0.5 at the decision boundary x = -b / w.  The grid has 201 points
# (the lecture's has 200), so that the whole hours lie on it.

# %%
hours = np.linspace(0, 10, 201, dtype=np.float32)
grid = nd.array(hours.reshape(-1, 1))
curves = {impl: logistic_regression.probability(run.version, grid)
          for impl, run in result.trained.items()}
for h in (0, 2, 4, 6, 8, 10):
    i = int(np.argmin(np.abs(hours - h)))
    print('%4.1f hours: ' % hours[i] + ', '.join('%s P = %.4f' % (impl, p[i])
                                                  for impl, p in curves.items()))
for impl, run in result.metrics['runs'].items():
    print('%s: P = 0.5 at %.4f hours' % (impl, run['boundary']))
path = os.path.join(OUT, 'probability.png')
plot.probability_curves(hours, curves, (x_data.asnumpy().ravel(), y_data.asnumpy().ravel()), path)
show_figure(path)
path = os.path.join(OUT, 'loss.png')
plot.run_curves(result.metrics['runs'], path, [('loss on the training set', ('loss',))])
show_figure(path)

# %% [markdown]
# ## The notes' PyTorch, line by line
# Note 003 writes logistic regression with `torch.nn`; this chapter's `--impl pytorch` version is that code.  Each step is
# the line of this project's Gluon code beside the PyTorch line that does the same, both read
# from the running source (`d2l-gluon compare logreg --impl scratch,gluon,pytorch` shows they agree).

# %%
print('\n'.join(translation_table('binary cross-entropy', 'the optimizer', 'one step')))
