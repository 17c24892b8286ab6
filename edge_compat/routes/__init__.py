"""HTTP routes of the edge service."""

from __future__ import annotations
