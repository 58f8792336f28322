"""The course's machinery: paths, files written whole, offline guard, units, the data/ catalogs,
the first cell of every notebook, building notebooks from lessons and running them headless.
"""
