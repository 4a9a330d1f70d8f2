# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject overrides for Gbridge."""

from ..module import get_introspection_module
from ..overrides import override  # noqa: F401

Gbridge = get_introspection_module('Gbridge')

__all__ = []
