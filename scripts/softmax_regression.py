# %% [markdown]
# # Softmax regression on Fashion-MNIST (book 3.6 and 3.7, note 001)
#
# Each cell calls `d2l_gluon`; where the code matters, it prints the library function's own
# source, so what you read is what runs.  The book trains 5 epochs with batch 256 and lr 0.1;
# `--quick` trains 1 epoch on the first 6,000 training and 2,000 test images.
# Run headless with `python scripts/softmax_regression.py [--quick] [--out DIR]`.

# %%
import os

from mxnet import nd

import d2l_gluon
from d2l_gluon import d2l
from d2l_gluon.chapters import softmax_regression
from d2l_gluon.config import make_config
from d2l_gluon.walkthrough import (fashion_mnist, merge, print_epoch, show_figure, show_source,
                                   translation_table, walkthrough_args, watching)

QUICK, OUT = walkthrough_args('softmax_regression')
print('quick mode' if QUICK else 'full run', '- figures go to', OUT)

# %% [markdown]
# ## 3.6.1 Reading the data and initialising the parameters
# Minibatches of 256 images (scripts/fashion_mnist.py walks through the data set itself);
# W (784, 10) ~ N(0, 0.01²) and b (10,) = 0.

# %%
config = make_config(softmax_regression.OPTIONS, **({'num_epochs': 1} if QUICK else {}))
print({name: config[name] for name in ('batch_size', 'lr', 'num_epochs')})
data = fashion_mnist(softmax_regression, config, QUICK)  # softmax_regression.load_data(config), in quick mode a part
print('training examples', len(data.train_iter.features), 'test examples',
      len(data.test_iter.features))
show_source(softmax_regression.init_params)
W, b = softmax_regression.init_params()
print('W', W.shape, 'b', b.shape)

# %% [markdown]
# ## 3.6.2 Implementing the softmax operation
# Summing over an axis first, then softmax: exponentiate each entry and divide by its row's sum,
# so every row of a random matrix becomes a probability distribution.

# %%
X = nd.array([[1, 2, 3], [4, 5, 6]])
print('X.sum(axis=0, keepdims=True)', X.sum(axis=0, keepdims=True).asnumpy())
print('X.sum(axis=1, keepdims=True)', X.sum(axis=1, keepdims=True).asnumpy().ravel())
show_source(softmax_regression.softmax)
X = nd.random.normal(shape=(2, 5))
X_prob = softmax_regression.softmax(X)
print(X_prob.asnumpy())
print('row sums', ' '.join('%.6f' % s for s in X_prob.sum(axis=1).asnumpy()))

# %% [markdown]
# ## 3.6.3 Defining the model
# The net returns the logits O = XW + b of each flattened image; softmax(O) gives probabilities.

# %%
show_source(softmax_regression.affine, softmax_regression.softmax_regression)

# %% [markdown]
# ## 3.6.4 Defining the loss function
# `pick` takes each row's entry at the label: the predicted probability of the true class.
# The cross-entropy is -log of it; ours takes logits and uses log-softmax, which never takes
# the log of 0, so for probabilities y_hat we pass log(y_hat).

# %%
y_hat = nd.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = nd.array([0, 2], dtype='int32')
print('pick(y_hat, y)', nd.pick(y_hat, y).asnumpy())
show_source(softmax_regression.log_softmax, softmax_regression.cross_entropy)
print('cross_entropy(log y_hat, y)', softmax_regression.cross_entropy(nd.log(y_hat), y).asnumpy())

# %% [markdown]
# ## 3.6.5 Classification accuracy
# The fraction of rows whose largest entry is at the label: the first row predicts class 2
# (label 0), the second class 2 (label 2).  An untrained net guesses: about 0.1 on ten classes.

# %%
show_source(d2l.accuracy, d2l.evaluate_accuracy)
print('accuracy(y_hat, y) =', d2l.accuracy(y_hat, y).asscalar() / len(y))
d2l_gluon.seed(config['seed'] + 1)  # fit() sets each version up from this random state
untrained = softmax_regression.setup('scratch', config)
print('untrained net: test accuracy %.4f' % d2l.evaluate_accuracy(data.test_iter, untrained.net))

# %% [markdown]
# ## 3.6.6 Training
# `scratch_setup` puts the model, `cross_entropy` and `sgd` together; the chapter's `train`
# calls the book's `d2l.train_ch3`.  Each epoch, `d2l.train_epoch_ch3` takes one `sgd` step per
# minibatch and sums the losses and the correct predictions; then `train_ch3` measures the test
# accuracy.  (`monitor` is how the command-line tool times and checks the epochs; the loop works
# without it.)

# %%
show_source(softmax_regression.scratch_setup, softmax_regression.train, d2l.train_ch3,
            d2l.train_epoch_ch3)
scratch = softmax_regression.fit(dict(config, impl='scratch'), data=data, watch=watching(print_epoch))

# %% [markdown]
# ## 3.6.7 Prediction
# The first ten test images: true label, then predicted label.

# %%
net = scratch.trained['scratch'].version.net
X, y = data.test_iter.features[:10], data.test_iter.labels[:10].asnumpy()
predicted = softmax_regression.predict(net, X).argmax(axis=1)
for true, guess in zip(d2l.get_fashion_mnist_labels(y),
                       d2l.get_fashion_mnist_labels(predicted)):
    print('%-12s %s' % (true, guess))

# %% [markdown]
# ## 3.7 Concise implementation (Gluon)
# `nn.Dense(10)` with `init.Normal(sigma=0.01)`, `SoftmaxCrossEntropyLoss` (log-softmax inside)
# and a Trainer with 'sgd', trained by the same `d2l.train_ch3` with `trainer.step` as its
# update; it starts from the scratch version's draw, so the two can be compared.

# %%
show_source(softmax_regression.gluon_net, softmax_regression.gluon_loss,
            softmax_regression.gluon_classifier)
concise = softmax_regression.fit(dict(config, impl='gluon'), data=data, watch=watching(print_epoch))
both = merge(scratch, concise)
print('\n'.join(softmax_regression.summary(config, both.metrics)))

# %% [markdown]
# ## Figures
# Loss and accuracy per epoch, 20 test predictions of both versions, and each class's weights.

# %%
softmax_regression.figures(config, both, OUT)
for name in ('curves.png', 'predictions.png', 'weights.png'):
    show_figure(os.path.join(OUT, name))

# %% [markdown]
# ## The notes' PyTorch, line by line
# Note 001 writes softmax regression with `torch.nn`; this chapter's `--impl pytorch` version is that code.  Each step is
# the line of this project's Gluon code beside the PyTorch line that does the same, both read
# from the running source (`d2l-gluon compare softmax --impl scratch,gluon,pytorch` shows they agree).

# %%
print('\n'.join(translation_table('a dense layer', 'cross-entropy', 'the optimizer', 'one step')))
