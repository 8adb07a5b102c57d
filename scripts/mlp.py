# %% [markdown]
# # The multilayer perceptron on Fashion-MNIST (book 3.8-3.10, note 001)
#
# Each cell calls `d2l_gluon`; where the code matters, it prints the library function's own
# source, so what you read is what runs.  The book trains 256 hidden ReLU units for 5 epochs
# with batch 256 and lr 0.5; `--quick` trains 1 epoch on the first 6,000 training and 2,000
# test images.  Run headless with `python scripts/mlp.py [--quick] [--out DIR]`.

# %%
import os

import numpy as np

import d2l_gluon
from d2l_gluon import d2l, plot
from d2l_gluon.chapters import mlp, softmax_regression
from d2l_gluon.config import make_config
from d2l_gluon.walkthrough import (fashion_mnist, merge, print_epoch, show_figure, show_source,
                                   translation_table, walkthrough_args, watching)

QUICK, OUT = walkthrough_args('mlp')
print('quick mode' if QUICK else 'full run', '- figures go to', OUT)

# %% [markdown]
# ## 3.8.2 Activation functions
# ReLU, sigmoid and tanh with their derivatives, which autograd computes.  The sigmoid and tanh
# here are written so that no exp can overflow, whatever the input.

# %%
show_source(mlp.relu, mlp.sigmoid, mlp.tanh, mlp.value_and_gradient)
x = np.array([-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0])
print('%-10s' % 'x' + ''.join('%9.3f' % v for v in x))
for name, f in mlp.ACTIVATIONS.items():
    _, value, gradient = mlp.value_and_gradient(f, x)
    print('%-10s' % name + ''.join('%9.4f' % v for v in value))
    print('%-10s' % ("d " + name) + ''.join('%9.4f' % v for v in gradient))
path = os.path.join(OUT, 'activations.png')
plot.activations({name: mlp.value_and_gradient(f, np.linspace(-8, 8, 321))
                  for name, f in mlp.ACTIVATIONS.items()}, path)
show_figure(path)

# %% [markdown]
# ## 3.9.1 Reading the data and initialising the parameters
# The data are softmax regression's.  One hidden layer: W1 (784, 256), b1 (256,), W2 (256, 10),
# b2 (10,), weights ~ N(0, 0.01²).

# %%
config = make_config(mlp.OPTIONS, **({'num_epochs': 1} if QUICK else {}))
print({name: config[name] for name in ('batch_size', 'lr', 'num_epochs', 'num_hiddens',
                                       'activation')})
data = fashion_mnist(mlp, config, QUICK)  # mlp.load_data(config), in quick mode a part
print('training examples', len(data.train_iter.features), 'test examples',
      len(data.test_iter.features))
show_source(mlp.init_params)
params = mlp.init_params(num_hiddens=config['num_hiddens'])
print(', '.join('%s %s' % (name, p.shape) for name, p in zip(('W1', 'b1', 'W2', 'b2'), params)))

# %% [markdown]
# ## 3.9.3-3.9.4 The model and the loss
# H = relu(X W1 + b1), O = H W2 + b2; the loss is softmax regression's cross-entropy on logits.
# An untrained net guesses: about 0.1 on ten classes.

# %%
show_source(mlp.mlp, softmax_regression.cross_entropy)
d2l_gluon.seed(config['seed'] + 1)  # fit() sets each version up from this random state
untrained = mlp.setup('scratch', config)
print('untrained net: test accuracy %.4f' % d2l.evaluate_accuracy(data.test_iter, untrained.net))

# %% [markdown]
# ## 3.9.5 Training
# Softmax regression's `train`, the book's `d2l.train_ch3` (scripts/softmax_regression.py shows
# its source), with this model and lr 0.5.

# %%
show_source(mlp.scratch_setup, softmax_regression.train)
scratch = mlp.fit(dict(config, impl='scratch'), data=data, watch=watching(print_epoch))
net = scratch.trained['scratch'].version.net
X, y = data.test_iter.features[:10], data.test_iter.labels[:10].asnumpy()
predicted = mlp.predict(net, X).argmax(axis=1)
for true, guess in zip(d2l.get_fashion_mnist_labels(y),
                       d2l.get_fashion_mnist_labels(predicted)):
    print('%-12s %s' % (true, guess))

# %% [markdown]
# ## 3.10 Concise implementation (Gluon)
# `Dense(256, activation='relu')` and `Dense(10)`, started from the scratch version's draw,
# trained with gluon's loss and Trainer.

# %%
show_source(mlp.gluon_net, mlp.gluon_setup)
concise = mlp.fit(dict(config, impl='gluon'), data=data, watch=watching(print_epoch))
both = merge(scratch, concise)
print('\n'.join(mlp.summary(config, both.metrics)))

# %% [markdown]
# ## Figures
# Loss and accuracy per epoch, and 20 test predictions of both versions.

# %%
softmax_regression.classifier_figures(config, both, OUT)
for name in ('curves.png', 'predictions.png'):
    show_figure(os.path.join(OUT, name))

# %% [markdown]
# ## The notes' PyTorch, line by line
# Note 001 writes the MLP with `torch.nn`; this chapter's `--impl pytorch` version is that code.  Each step is
# the line of this project's Gluon code beside the PyTorch line that does the same, both read
# from the running source (`d2l-gluon compare mlp --impl scratch,gluon,pytorch` shows they agree).

# %%
print('\n'.join(translation_table('a dense layer', 'cross-entropy', 'the optimizer', 'one step')))
