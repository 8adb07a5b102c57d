"""Progress lines: the book's epoch line, and the time left of `all` (a plan of chapters) and of a sweep."""
import time


def format_epoch(record):
    """Return the book's epoch line: 'epoch 1, loss 0.7878, train acc 0.748, test acc 0.802'."""
    line = 'epoch %d, loss %.6f' % (record['epoch'], record['loss'])
    if 'train_acc' in record:
        line = 'epoch %d, loss %.4f, train acc %.3f' % (record['epoch'], record['loss'],
                                                         record['train_acc'])
    if 'test_acc' in record:
        line += ', test acc %.3f' % record['test_acc']
    return line + ' (%.2f s)' % record['seconds']


class Progress:
    """Elapsed time and an estimate of the time left over a plan of chapters.

    plan: {chapter: (expected seconds per epoch, number of epochs)}; the
    estimate rescales the plan by the speed actually seen.
    """

    def __init__(self, plan=None):
        self.plan, self.start, self.done = plan or {}, time.perf_counter(), 0.0

    def tick(self, chapter):
        if chapter in self.plan:
            self.done += self.plan[chapter][0]

    def status(self):
        if not self.plan:
            return ''
        elapsed = time.perf_counter() - self.start
        total = sum(per_epoch * epochs for per_epoch, epochs in self.plan.values())
        # the plan's own guess until an epoch has shown how fast this machine is
        left = (total - self.done) * elapsed / self.done if self.done else total
        return '  [%.0f s elapsed, about %.0f s left]' % (elapsed, max(left, 0.0))


class Clock:
    """Elapsed time and an estimate of the time left over a number of equal runs."""

    def __init__(self, total):
        self.total, self.start = total, time.perf_counter()

    def status(self, finished):
        elapsed = time.perf_counter() - self.start
        left = elapsed / finished * (self.total - finished) if finished else float('nan')
        return '%.0f s elapsed, about %.0f s left' % (elapsed, left)


def printed(epoch, every, last):
    """Return whether a chapter command prints epoch: the first, every every-th and the last."""
    every = every or 1
    return every == 1 or epoch == 1 or epoch % every == 0 or epoch == last
