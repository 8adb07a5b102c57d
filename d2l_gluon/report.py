"""The summary of ``d2l-gluon all``: a table, summary.json and one self-contained report.html."""
import base64
import html
import json
import os

import numpy as np

from .files import atomic_write


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


def _rows(summary):
    for chapter, entry in summary['chapters'].items():
        for impl, row in entry['impls'].items():
            cells = [(fmt % row[key]) if key in row else '' for key, _, fmt in COLUMNS]
            diff = entry['max_abs_diff']
            yield [chapter, impl] + cells + ['' if diff is None else '%.2g' % diff]


HEADER = ['chapter', 'impl'] + [title for _, title, _ in COLUMNS] + ['|scratch - gluon|']


def summary_table(summary):
    """Return the summary as aligned text: chapter x implementation."""
    rows = [HEADER] + list(_rows(summary))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def _table(header, rows):
    head = ''.join('<th>%s</th>' % html.escape(str(h)) for h in header)
    body = ''.join('<tr>%s</tr>' % ''.join('<td>%s</td>' % html.escape(str(c)) for c in row)
                   for row in rows)
    return '<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (head, body)


def _epoch_table(run, most=25):
    """Return the per-epoch table; of a long run (logreg: 1000 epochs) every k-th epoch and the last."""
    epochs = run['epochs']
    if not epochs:
        return ''
    if len(epochs) > most:
        step = -(-len(epochs) // (most - 1))
        epochs = [e for e in epochs if e['epoch'] == 1 or e['epoch'] % step == 0] + (
            [epochs[-1]] if epochs[-1]['epoch'] % step else [])
    keys = [k for k in epochs[-1] if k != 'epoch']  # epoch 1 alone adds reference_loss
    rows = [[e['epoch']] + ['%.6g' % e[k] for k in keys] for e in epochs]
    return _table(['epoch'] + keys, rows)


def write_html(path, folder, summary):
    """Write one self-contained HTML page: every table and figure, images embedded as data URIs."""
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>d2l-gluon report</title>',
             '<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}'
             'table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;'
             'padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>',
             '<h1>d2l-gluon: every chapter, scratch and Gluon</h1>',
             '<h2>Summary</h2>', _table(HEADER, list(_rows(summary)))]
    for chapter in summary['chapters']:
        with open(os.path.join(folder, chapter, 'metrics.json')) as f:
            metrics = json.load(f)
        parts.append('<h2 id="%s">%s</h2>' % (chapter, chapter))
        parts.append('<h3>Configuration</h3>')
        parts.append(_table(['option', 'value'], sorted(metrics['config'].items())))
        for impl, run in metrics['runs'].items():
            parts.append('<h3>%s: per epoch</h3>' % impl)
            parts.append(_epoch_table(run))
        if 'reference' in metrics:
            parts.append('<h3>Reference</h3>')
            parts.append(_table(['', 'value'], sorted((k, v) for k, v in metrics['reference'].items())))
        for name in sorted(os.listdir(os.path.join(folder, chapter))):
            if name.endswith('.png'):
                with open(os.path.join(folder, chapter, name), 'rb') as f:
                    data = base64.b64encode(f.read()).decode('ascii')
                parts.append('<figure><img alt="%s %s" src="data:image/png;base64,%s">'
                             '<figcaption>%s</figcaption></figure>' % (chapter, name, data, name))
    parts.append('</body></html>\n')

    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write('\n'.join(parts))
    atomic_write(path, write)
