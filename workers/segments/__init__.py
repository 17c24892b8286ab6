"""The segment engine's process side: `gdp worker segments` and `gdp segments ...`."""
