"""The summary of ``d2l-gluon all``: a table, summary.json and one self-contained report.html."""
import base64
import html
import json
import os

import numpy as np

from .chapters import chapter as find_chapter
from .files import atomic_write
from .progress import printed


def _final(metrics, impl):
    """Return the summary row of one implementation of one chapter run."""
    run = metrics['runs'][impl]
    if not run['epochs']:  # a chapter that measures rather than trains
        return {}
    last = run['epochs'][-1]
    row = {'loss': last['loss'], 'seconds': sum(e['seconds'] for e in run['epochs']),
           'epochs': last['epoch']}
    if 'test_loss' in last:
        row['test_loss'] = last['test_loss']
    if 'test_acc' in last:
        row['test_acc'] = last['test_acc']
    elif 'train_acc' in last:
        row['train_acc'] = last['train_acc']
    if 'params' in run:
        fitted = np.array(run['params']['w'] + run['params']['b'])
        if metrics['chapter'] == 'linreg':
            config = metrics['config']
            row['param_error'] = float(np.abs(fitted - (config['true_w'] + [config['true_b']])).max())
        elif metrics.get('reference', {}).get('converged'):
            reference = metrics['reference']
            row['param_error'] = float(np.abs(fitted - (reference['w'] + reference['b'])).max())
    return row


def summarize(folder, chapters):
    """Return {chapter: {'impls': {impl: row}, 'max_abs_diff': d}} from the chapters' metrics.json."""
    summary = {'chapters': {}}
    for chapter in chapters:
        with open(os.path.join(folder, chapter, 'metrics.json')) as f:
            metrics = json.load(f)
        summary['chapters'][chapter] = {
            'impls': {impl: _final(metrics, impl) for impl in metrics['runs']},
            'max_abs_diff': metrics.get('max_abs_diff')}
    return summary


COLUMNS = [('loss', 'final loss', '%.4g'), ('test_loss', 'test loss', '%.4g'), ('test_acc', 'test acc', '%.3f'),
           ('train_acc', 'train acc', '%.3f'), ('param_error', 'param error', '%.2g'),
           ('seconds', 'seconds', '%.1f')]


NOT_APPLICABLE = '-'  # a cell whose number the chapter does not have (no test set, no parameters)


def _rows(summary):
    for chapter, entry in summary['chapters'].items():
        if not any(entry['impls'].values()):  # a chapter that measures rather than trains
            continue
        for impl, row in entry['impls'].items():
            cells = [(fmt % row[key]) if key in row else NOT_APPLICABLE for key, _, fmt in COLUMNS]
            diff = entry['max_abs_diff']
            yield [chapter, impl] + cells + [NOT_APPLICABLE if diff is None else '%.2g' % diff]


def measured_only(summary):
    """Return the chapters that train nothing (initialization): they have no row in the table."""
    return [chapter for chapter, entry in summary['chapters'].items()
            if not any(entry['impls'].values())]


HEADER = ['chapter', 'impl'] + [title for _, title, _ in COLUMNS] + ['|scratch - gluon|']
MEASURED = '%s trains nothing: it measures gradients at initialisation (see its section)'


def summary_table(summary):
    """Return the summary as aligned text: chapter x implementation, then the chapters that train nothing."""
    rows = [HEADER] + list(_rows(summary))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return '\n'.join(lines + [MEASURED % chapter for chapter in measured_only(summary)])


def _table(header, rows):
    head = ''.join('<th>%s</th>' % html.escape(str(h)) for h in header)
    body = ''.join('<tr>%s</tr>' % ''.join('<td>%s</td>' % html.escape(str(c)) for c in row)
                   for row in rows)
    return '<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (head, body)


def _summary_html(summary):
    """Return the summary table and a line for each chapter that trains nothing."""
    return _table(HEADER, list(_rows(summary))) + ''.join(
        '<p>%s</p>' % html.escape(MEASURED % chapter) for chapter in measured_only(summary))


def _epoch_table(run, every=None, most=25):
    """Return the per-epoch table of the epochs the command printed (every print_every-th, the first
    and the last); of a long run printed whole, every k-th epoch and the last."""
    epochs = run['epochs']
    if not epochs:
        return ''
    last = epochs[-1]['epoch']
    if (every or 1) > 1:
        epochs = [e for e in epochs if printed(e['epoch'], every, last)]
    elif len(epochs) > most:
        step = -(-len(epochs) // (most - 1))
        epochs = [e for e in epochs if e['epoch'] == 1 or e['epoch'] % step == 0 or e['epoch'] == last]
    # epoch 1 alone adds reference_loss; straight-dope's moving_losses is a list per epoch
    keys = [k for k, v in epochs[-1].items() if k != 'epoch' and not isinstance(v, list)]
    rows = [[e['epoch']] + ['%.6g' % e[k] for k in keys] for e in epochs]
    return _table(['epoch'] + keys, rows)


def _setting(value):
    """Return a configuration value as the command line takes it: a list comma-separated."""
    return ','.join(map(str, value)) if isinstance(value, list) else value


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return '%.6g' % value


def _fit_rows(metrics, case=None):
    """Return [(name, w, b, final record)] of the truth, every run of case and the reference."""
    reference = metrics['reference'] if case is None else metrics['reference'][case]
    config, rows = metrics['config'], []
    truth = reference.get('true')
    if truth is None and 'true_w' in config:  # linear regression's truth is its configuration
        truth = {'w': config['true_w'], 'b': [config['true_b']]}
    if truth is not None:
        rows.append(('true', truth['w'], truth['b'], {}))
    for name, run in metrics['runs'].items():
        if 'params' in run and (case is None or name.split(' ', 1)[0] == case):
            rows.append((name, run['params']['w'], run['params']['b'], run['epochs'][-1]))
    rows.append((reference['method'], reference['w'], reference['b'], reference))
    return rows


def _fit_table(rows, most=6):
    """Return a table of fitted parameters beside the true and reference ones, with final losses.

    Up to most weights are shown one by one; more (weight decay's 200) as ||w||
    and the largest distance to the reference.
    """
    losses = [k for k in ('loss', 'test_loss') if any(k in extra for *_, extra in rows)]
    wide = len(rows[0][1]) > most
    header = ['', '||w||', 'b', 'max |θ - reference|'] if wide else (
        [''] + ['w[%d]' % i for i in range(len(rows[0][1]))] + ['b'])
    reference = np.array(rows[-1][1] + rows[-1][2])
    body = []
    for name, w, b, extra in rows:
        cells = ([np.linalg.norm(w), b[0], np.abs(np.array(w + b) - reference).max()] if wide
                 else list(w) + list(b))
        body.append([name] + ['%.6g' % c for c in cells]
                    + [('%.6g' % extra[k]) if k in extra else NOT_APPLICABLE for k in losses])
    return _table(header + [{'loss': 'train loss', 'test_loss': 'test loss'}[k] for k in losses], body)


def _reference_html(metrics):
    """Return the reference as small tables: fitted against true and reference parameters, scalars."""
    reference = metrics['reference']
    cases = [c for c, v in reference.items() if isinstance(v, dict) and 'w' in v]
    parts = []
    for case in cases:
        parts += ['<h4>%s</h4>' % html.escape(case), _fit_table(_fit_rows(metrics, case))]
    if 'w' in reference:
        parts.append(_fit_table(_fit_rows(metrics)))
    scalars = [(k, _number(v)) for k, v in reference.items()
               if k not in ('w', 'b', 'method', 'true') and not isinstance(v, (dict, list))]
    if scalars:
        parts.append(_table(['', 'value'], scalars))
    return ''.join(parts)


# the per-epoch keys each curve figure draws
CURVES = {'loss.png': ('loss', 'test_loss', 'train_acc', 'test_acc'),
          'curves.png': ('loss', 'train_acc', 'test_acc'), 'norm.png': ('w_norm',)}
OVERLAP = 0.01  # curves closer than this fraction of the plotted range lie on top of each other


def _caption(metrics, name):
    """Return a figure's caption: its name, and for curves how far scratch and Gluon lie apart."""
    if name not in CURVES:
        return name
    apart, spread = {}, {}
    for run_name, run in metrics['runs'].items():
        other = metrics['runs'].get(run_name[:-len('scratch')] + 'gluon') if run_name.endswith(
            'scratch') else None
        for key in CURVES[name] if other else ():
            ours = [e[key] for e in run['epochs'] if key in e]
            theirs = [e[key] for e in other['epochs'] if key in e]
            if ours and len(ours) == len(theirs):
                apart[key] = max(apart.get(key, 0.0), float(np.abs(np.subtract(ours, theirs)).max()))
                spread[key] = max(spread.get(key, 0.0), float(np.ptp(ours + theirs)))
    if not apart:
        return name
    gaps = ', '.join('%s %.2g' % (key.replace('_', ' '), gap) for key, gap in apart.items())
    if all(apart[k] <= OVERLAP * spread[k] for k in apart):
        return ('%s: Gluon (dashed) lies on scratch (solid); they differ by at most %s'
                % (name, gaps))
    return '%s: Gluon dashed, scratch solid; they differ by at most %s' % (name, gaps)


def _chapter_html(folder, chapter):
    """Return a chapter's section: configuration, per-epoch tables, reference, figures."""
    with open(os.path.join(folder, chapter, 'metrics.json')) as f:
        metrics = json.load(f)
    parts = ['<h2 id="%s">%s</h2>' % (chapter, chapter), '<h3>Configuration</h3>',
             _table(['option', 'value'], [(k, _setting(v)) for k, v in sorted(metrics['config'].items())])]
    every = metrics['config'].get('print_every')
    for impl, run in metrics['runs'].items():
        if run['epochs']:
            parts += ['<h3>%s: per epoch</h3>' % impl, _epoch_table(run, every)]
    if not any(run['epochs'] for run in metrics['runs'].values()):  # measured, not trained
        lines = find_chapter(chapter).summary(metrics['config'], metrics)
        parts += ['<h3>Measurements</h3>', '<pre>%s</pre>' % html.escape('\n'.join(lines))]
    if 'reference' in metrics:
        parts += ['<h3>Reference</h3>', _reference_html(metrics)]
    for name in sorted(os.listdir(os.path.join(folder, chapter))):
        if name.endswith('.png'):
            with open(os.path.join(folder, chapter, name), 'rb') as f:
                data = base64.b64encode(f.read()).decode('ascii')
            parts.append('<figure><img alt="%s %s" src="data:image/png;base64,%s">'
                         '<figcaption>%s</figcaption></figure>'
                         % (chapter, name, data, html.escape(_caption(metrics, name))))
    return parts


def write_html(path, folder, summary):
    """Write one self-contained HTML page: every table and figure, images embedded as data URIs."""
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>d2l-gluon report</title>',
             '<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}'
             'table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;'
             'padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>',
             '<h1>d2l-gluon: every chapter, scratch and Gluon</h1>',
             '<h2>Summary</h2>', _summary_html(summary)]
    for chapter in summary['chapters']:
        parts += _chapter_html(folder, chapter)
    parts.append('</body></html>\n')

    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write('\n'.join(parts))
    atomic_write(path, write)
