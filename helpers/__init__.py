"""Tested helper functions behind the local generative AI course.

One module per topic. Notebooks import from here; tests in ``tests/`` check every number.
"""
