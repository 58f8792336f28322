"""Tested helper functions behind the local generative AI course.

One subpackage per part of the course, one module per topic (see helpers/README.md).
Notebooks import from here; tests in ``tests/`` (same layout) check every number.
"""
