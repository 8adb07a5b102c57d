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
    """Elapsed time and an estimate of the time left over a plan of chapters, from the pace measured.

    plan: {chapter: (prior seconds per epoch, number of epochs)}, in the order
    they run.  A chapter that has begun is estimated from its own measured
    seconds per epoch; one still to come from its prior times how much slower
    than their priors the chapters so far ran (the priors say only how the
    chapters compare with one another).  clock: seconds, e.g. time.perf_counter.
    """

    def __init__(self, plan=None, clock=time.perf_counter):
        self.plan, self.clock, self.start = plan or {}, clock, clock()
        self.done = {name: 0 for name in self.plan}  # epochs done per chapter
        self.began = {}  # chapter -> the clock when it began

    def begin(self, chapter):
        """Note that chapter begins now (its data loading counts towards its epochs)."""
        self.began[chapter] = self.clock()

    def tick(self, chapter):
        """Note one more epoch of chapter done."""
        if chapter in self.plan:
            self.began.setdefault(chapter, self.start)
            self.done[chapter] += 1

    def left(self):
        """Return the estimated seconds left: the chapter running at its own pace, those to come at theirs."""
        now, names = self.clock(), list(self.began)
        ends = [self.began[name] for name in names[1:]] + [now]
        spent = {name: end - self.began[name] for name, end in zip(names, ends)}
        measured = [name for name in names if self.done[name]]
        prior_seconds = sum(self.plan[name][0] * self.done[name] for name in measured)
        # until an epoch has shown how fast this machine is, the priors as they are
        slower = sum(spent[name] for name in measured) / prior_seconds if prior_seconds else 1.0
        left = 0.0
        for name, (prior, epochs) in self.plan.items():
            if name in spent and name != names[-1]:
                continue  # finished
            pace = spent[name] / self.done[name] if name in measured else prior * slower
            left += pace * max(epochs - self.done[name], 0)
        return left

    def status(self):
        if not self.plan:
            return ''
        return '  [%s]' % elapsed_and_left(self.clock() - self.start, self.left())


def elapsed_and_left(elapsed, left):
    """Return '12 s elapsed, about 30 s left'."""
    return '%.0f s elapsed, about %.0f s left' % (elapsed, left)


def left_in_parallel(priors, ended, began, processes, now):
    """Return the seconds left of chapters run processes at once (`all --processes`).

    priors: {chapter: (prior seconds per epoch, epochs)}; ended: {chapter:
    seconds it took}; began: {chapter: the clock when it began} of those
    running.  The chapters not ended take their prior times how much slower
    than their priors the ended ones ran, a running one less what it has run,
    shared among the processes.
    """
    prior = {name: seconds * epochs for name, (seconds, epochs) in priors.items()}
    measured = sum(prior[name] for name in ended)
    slower = sum(ended.values()) / measured if measured else 1.0
    left = sum(max(prior[name] * slower - (now - began[name] if name in began else 0.0), 0.0)
               for name in prior if name not in ended)
    return left / processes


class Clock:
    """Elapsed time and an estimate of the time left over a number of equal runs."""

    def __init__(self, total):
        self.total, self.start = total, time.perf_counter()

    def status(self, finished):
        elapsed = time.perf_counter() - self.start
        left = elapsed / finished * (self.total - finished) if finished else float('nan')
        return elapsed_and_left(elapsed, left)


def printed(epoch, every, last):
    """Return whether a chapter command prints epoch: the first, every every-th and the last."""
    every = every or 1
    return every == 1 or epoch == 1 or epoch % every == 0 or epoch == last
