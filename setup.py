"""Builds the optional compiled fast path of workers.meta.normalize (see pyproject.toml).

`optional=True`: without a C compiler or OpenSSL's headers the package still installs and the
pure-Python path (same results, slower) is used; `make test` requires the compiled one.
"""

from __future__ import annotations

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "workers.meta._native",
            sources=["workers/meta/native/module.c", "workers/meta/native/rules.c"],
            depends=["workers/meta/native/rules.h"],
            libraries=["crypto"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
