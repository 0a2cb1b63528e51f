"""The compiled part of the build: the history buffer's hot path (engine/_native.c).

Everything else is in pyproject.toml. `optional=True`: without a C compiler the install still
succeeds and engine/buffer.py runs its pure-Python lane (and says so once).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("runlake.engine._native", ["engine/_native.c"], optional=True,
                             extra_compile_args=["-O2"])])
