#!/usr/bin/env python
"""Logistic regression, scratch and Gluon, with Newton's method: the same as ``d2l-gluon logreg``."""
import sys

from d2l_gluon.cli import main

if __name__ == '__main__':
    sys.exit(main(['logreg'] + sys.argv[1:]))
