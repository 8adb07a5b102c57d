"""d2l_gluon.plot: the choices a figure makes for its reader (log axis, legend place, wrong predictions)."""
import matplotlib.colors
import numpy as np
import pytest

from d2l_gluon import plot


@pytest.fixture
def figures(monkeypatch):
    """The figures the primitives would save, kept open instead of written."""
    kept = []
    monkeypatch.setattr(plot, 'save', lambda fig, path: kept.append(fig))
    return kept


def run(losses):
    return {'epochs': [{'epoch': k + 1, 'loss': v} for k, v in enumerate(losses)]}


def test_loss_spanning_more_than_a_decade_is_drawn_on_a_log_axis(figures):
    # linear regression's three epochs, 0.04 down to 5e-5: on a linear axis a flat line after epoch 1
    losses = [0.0407, 0.000149, 5.06e-05]
    plot.run_curves({'scratch': run(losses), 'gluon': run(losses)}, 'loss.png')
    assert figures[0].axes[0].get_yscale() == 'log'


def test_loss_within_a_decade_keeps_a_linear_axis(figures):
    losses = [0.78, 0.57, 0.52, 0.50, 0.48]  # softmax regression's five epochs
    plot.run_curves({'scratch': run(losses)}, 'loss.png')
    assert figures[0].axes[0].get_yscale() == 'linear'


def test_case_panels_choose_their_axis_each(figures):
    runs = {'a scratch': {'epochs': [{'epoch': 1, 'loss': 20.0, 'test_loss': 58.0},
                                     {'epoch': 2, 'loss': 0.007, 'test_loss': 0.012}]},
            'b scratch': {'epochs': [{'epoch': 1, 'loss': 50.0, 'test_loss': 170.0},
                                     {'epoch': 2, 'loss': 44.0, 'test_loss': 160.0}]}}
    plot.case_loss_curves(runs, ['a', 'b'], 'loss.png')
    assert [ax.get_yscale() for ax in figures[0].axes] == ['log', 'linear']


def test_spans_decades_ignores_what_a_log_axis_cannot_show():
    assert plot.spans_decades([1.0, 0.05])
    assert not plot.spans_decades([1.0, 0.2])
    assert not plot.spans_decades([1.0, 0.0, 0.001])  # a zero: no log axis
    assert not plot.spans_decades([float('nan'), 1.0, 2.0])


def test_probability_legend_leaves_every_data_point_visible(figures):
    # the lecture's figure: hours 1, 2, 3, passed 0, 0, 1; P rises through 0.5 at 2.42 hours
    hours = np.linspace(0, 10, 201)
    p = 1 / (1 + np.exp(-1.3 * (hours - 2.42)))
    points = (np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0]))
    plot.probability_curves(hours, {'scratch': p, 'gluon': p}, points, 'probability.png')
    ax = figures[0].axes[0]
    figures[0].canvas.draw()
    box = ax.get_legend().get_window_extent().padded(4)  # the marker's radius around its centre
    for x, y in ax.transData.transform(np.column_stack(points)):
        assert not box.contains(x, y), 'the legend covers a data point at %s' % ((x, y),)


def test_predictions_mark_wrong_ones_in_red_and_title_explains_the_letters(figures):
    images = np.zeros((2, 28, 28))
    titles = [[('coat', 'black'), ('S: coat', 'black'), ('G: coat', 'black')],
              [('sandal', 'black'), ('S: sneaker', 'red'), ('G: sandal', 'black')]]
    plot.image_grid(images, titles, 'predictions.png', suptitle='S: scratch, G: Gluon')
    fig = figures[0]
    texts = [t for ax in fig.axes for t in ax.texts]
    red = [t.get_text() for t in texts if matplotlib.colors.to_hex(t.get_color()) == '#ff0000']
    assert red == ['S: sneaker']
    assert sorted(t.get_text() for t in texts) == sorted(line for title in titles for line, _ in title)
    assert 'S: scratch' in fig._suptitle.get_text()
