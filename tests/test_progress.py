"""The time left of `all`: measured per chapter as it runs, checked against a fake clock."""
import pytest

from d2l_gluon.progress import Progress


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_course(plan, actual, check):
    """Run plan {chapter: (prior, epochs)} taking actual {chapter: seconds per epoch} on a fake clock.

    check(progress, chapter, epochs_done, true_left) runs as each chapter begins and after every epoch.
    """
    clock = FakeClock()
    progress = Progress(plan, clock)
    total = sum(actual[name] * epochs for name, (_, epochs) in plan.items())
    for name, (_, epochs) in plan.items():
        progress.begin(name)
        check(progress, name, 0, total - clock.now)
        for epoch in range(1, epochs + 1):
            clock.now += actual[name]
            progress.tick(name)
            check(progress, name, epoch, total - clock.now)


PLAN = {'linreg': (0.1, 6), 'softmax': (0.4, 10), 'logreg': (0.003, 2000), 'dropout': (2.0, 10)}


def test_a_machine_three_times_slower_than_the_priors_is_estimated_exactly_after_the_first_chapter():
    actual = {name: 3 * prior for name, (prior, _) in PLAN.items()}

    def check(progress, name, done, true_left):
        if name != 'linreg':
            assert progress.left() == pytest.approx(true_left, rel=1e-9)
    run_course(PLAN, actual, check)


def test_a_chapter_slower_than_its_prior_is_estimated_at_its_own_pace_once_an_epoch_is_done():
    # dropout takes 5.5 s an epoch against a prior of 2: the old estimate said "0 s left" for
    # most of it; from its first epoch on, the estimate follows dropout's own pace
    actual = {'linreg': 0.1, 'softmax': 0.4, 'logreg': 0.003, 'dropout': 5.5}
    lefts = []

    def check(progress, name, done, true_left):
        if name == 'dropout' and done >= 1:
            assert progress.left() == pytest.approx(true_left, rel=1e-9)
            lefts.append(progress.left())
    run_course(PLAN, actual, check)
    assert lefts[0] == pytest.approx(9 * 5.5) and lefts[-1] == 0


def test_the_estimate_is_within_a_fifth_after_the_first_chapter_when_priors_compare_chapters_within_8_percent():
    # a machine twice as slow as the priors, each chapter up to 8 % faster or slower than that
    actual = {'linreg': 0.2 * 1.08, 'softmax': 0.8 * 0.92, 'logreg': 0.006 * 1.05, 'dropout': 4.0 * 1.08}

    def check(progress, name, done, true_left):
        if name != "linreg" and true_left > 1e-9:
            assert abs(progress.left() - true_left) <= 0.2 * true_left, (name, done)
    run_course(PLAN, actual, check)


def test_before_anything_is_measured_the_priors_give_the_estimate():
    clock = FakeClock()
    progress = Progress(PLAN, clock)
    progress.begin('linreg')
    assert progress.left() == pytest.approx(sum(p * e for p, e in PLAN.values()))
    assert progress.status() == '  [0 s elapsed, about %.0f s left]' % progress.left()


def test_a_chapter_without_a_plan_shows_no_time():
    progress = Progress()
    progress.tick('linreg')
    assert progress.status() == ''
