"""Test-wide settings for tests/ and notebooks/ (nbval): offline, quick mode, a private machine card."""
import os

import pytest

from helpers.offline import block_network, set_hub_offline

os.environ["COURSE_QUICK"] = "1"  # notebooks run by nbval inherit this: quick (CI) parameters
set_hub_offline()


@pytest.fixture(autouse=True, scope="session")
def offline_guard():
    """Any test (or helper it calls) that opens a non-local connection fails at once."""
    block_network()
    yield
