# conftest.py of the guide's chapter "Testing asyncio code": this one line
# runs every pytest-asyncio test, and anyio's asyncio backend, on gbridge.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

pytest_plugins = ['gbridge.pytest_plugin']
