"""zkmargin benchmarks and the stress simulation (not part of the installed package).

``bench.py`` and ``gas.py`` run as scripts (`make bench`); ``stress`` is a package run as
``python -m benchmarks.stress`` (`make stress`, `make audit`) and imported by its tests.
"""
