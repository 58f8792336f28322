"""Test-wide settings for tests/ and notebooks/ (nbval): offline, quick mode, a private machine card."""
import os

import pytest

from helpers.course.offline import block_network, set_hub_offline
from helpers.course.paths import BUILD_DIR

os.environ["COURSE_QUICK"] = "1"  # notebooks run by nbval inherit this: quick (CI) parameters
# Notebook 00 under test writes its quick-mode card here, not over the learner's build/machine_card.json.
os.environ["COURSE_MACHINE_CARD"] = str(BUILD_DIR / "test" / "machine_card.json")
set_hub_offline()


@pytest.fixture(autouse=True, scope="session")
def offline_guard():
    """Any test (or helper it calls) that opens a non-local connection fails at once."""
    block_network()
    yield
