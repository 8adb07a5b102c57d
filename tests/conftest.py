import pytest

import d2l_gluon


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from d2l_gluon.seed(0)."""
    d2l_gluon.seed(0)
