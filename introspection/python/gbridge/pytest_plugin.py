# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest plugin: asyncio tests run on gbridge's GLib-backed event loop.

Load it with one line, in the top ``conftest.py``::

    pytest_plugins = ['gbridge.pytest_plugin']

or on the command line (``pytest -p gbridge.pytest_plugin``).  Then:

- every pytest-asyncio test (``@pytest.mark.asyncio``, or any coroutine test
  in auto mode) and async fixture runs on a :class:`gbridge.asyncio.EventLoop`,
  a new one for each loop scope as pytest-asyncio makes them, through the
  mechanism the installed pytest-asyncio documents:

  - 1.4 and later: a ``pytest_asyncio_loop_factories`` hook returning
    ``{'gbridge': gbridge.asyncio.EventLoop}`` (tried last, so a
    ``conftest.py`` hook of one's own, for instance one that adds
    ``asyncio.new_event_loop`` beside it, wins);
  - 0.23 to 1.3: the ``event_loop_policy`` fixture returns
    :class:`gbridge.asyncio.EventLoopPolicy` (their only way; made without
    the deprecation warning that policy gives on Python 3.14);
  - up to 0.22: the ``event_loop`` fixture returns a new
    :class:`gbridge.asyncio.EventLoop`.

- anyio's tests (``@pytest.mark.anyio``) get an ``anyio_backend`` fixture
  that runs the asyncio backend on gbridge's loop (``loop_factory`` from
  anyio 4, the policy before), and trio too when it is installed, as
  anyio's own fixture does.  A ``conftest.py`` fixture of that name overrides it; use
  :func:`anyio_asyncio_backend` for its asyncio value.

- fixtures: ``gbridge_loop`` (async) is the running gbridge event loop of
  the test, ``glib_context`` the ``GLib.MainContext`` it runs (the default
  context, where ``GLib.timeout_add`` and GTK attach their sources, unless
  another gbridge loop holds it).  Both are for tests of the default
  (function) loop scope: an async fixture runs on the loop of its own loop
  scope.

The plugin does nothing to pytest-asyncio or anyio when they are not
installed, or are disabled (``-p no:asyncio``, ``-p no:anyio``).
"""

import asyncio
import sys
import types
import warnings

import pytest

from gbridge import asyncio as gbridge_asyncio

__all__ = ['anyio_asyncio_backend', 'loop_mechanism']


def _pytest_asyncio_plugin(config):
    """pytest-asyncio's plugin module when it is loaded, else None."""
    plugin = config.pluginmanager.get_plugin('asyncio')
    if plugin is None or not hasattr(plugin, 'pytest_pyfunc_call'):
        return None
    return plugin


def loop_mechanism(plugin):
    """How pytest-asyncio's @plugin module chooses its loops:
    ``'loop_factories'`` (1.4+), ``'event_loop_policy'`` (0.23 to 1.3) or
    ``'event_loop'`` (before 0.23)."""
    specs = getattr(plugin, 'PytestAsyncioSpecs', None)
    if specs is not None and hasattr(specs, 'pytest_asyncio_loop_factories'):
        return 'loop_factories'
    if hasattr(plugin, 'event_loop_policy'):
        return 'event_loop_policy'
    return 'event_loop'


def _new_policy():
    # pytest-asyncio 1.0 to 1.3 choose loops through a policy only, even on
    # Python 3.14 where policies are deprecated (pytest-asyncio silences
    # asyncio's own warnings around them): not the user's doing, so no
    # warning of ours either.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return gbridge_asyncio.EventLoopPolicy()


def _loop_factories(config, item):
    return {'gbridge': gbridge_asyncio.EventLoop}


def _event_loop_policy():
    return _new_policy()


def _event_loop():
    loop = gbridge_asyncio.new_event_loop()
    yield loop
    loop.close()


def _anyio_major():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return int(version('anyio').split('.')[0])
    except (PackageNotFoundError, ValueError):
        return 4    # not installed as a distribution: a source tree, recent


def anyio_asyncio_backend():
    """The ``anyio_backend`` value that runs anyio's asyncio backend on a
    :class:`gbridge.asyncio.EventLoop`: ``('asyncio', {'loop_factory':
    gbridge.asyncio.EventLoop})`` on anyio 4 and later; on anyio 3, which
    has no loop factory, ``('asyncio', {'policy': EventLoopPolicy()})``
    (which anyio installs as the process's policy: the plugin's fixture
    puts the previous one back after each module)."""
    if _anyio_major() >= 4:
        return ('asyncio', {'loop_factory': gbridge_asyncio.EventLoop})
    return ('asyncio', {'policy': _new_policy()})


def _anyio_backends():
    """anyio's own ``anyio_backend`` parameters, asyncio on gbridge."""
    from anyio import pytest_plugin as anyio_plugin
    available = getattr(anyio_plugin, 'get_available_backends', None)
    if available is None:
        names = list(anyio_plugin.get_all_backends())
        # anyio 3 lists trio whether or not it is installed.
        try:
            import trio  # noqa: F401
        except ImportError:
            names = [n for n in names if n != 'trio']
    else:
        names = list(available())
    return names


def _anyio_backend(request):
    if request.param != 'asyncio':
        yield request.param
        return
    previous = None
    if _anyio_major() < 4:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            previous = asyncio.get_event_loop_policy()
    try:
        yield anyio_asyncio_backend()
    finally:
        if previous is not None:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)
                asyncio.set_event_loop_policy(previous)


async def _gbridge_loop():
    loop = asyncio.get_running_loop()
    if not isinstance(loop, gbridge_asyncio.EventLoop):
        pytest.fail('gbridge_loop: the test runs on %r, not on a gbridge '
                    'event loop (is pytest-asyncio set to another loop?)' % loop)
    return loop


def _glib_context(gbridge_loop):
    return gbridge_loop.get_context()


def _plugin(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # Registered now, after pytest-asyncio and anyio (whether those came from
    # their entry points or -p), so these fixtures override theirs.
    pm = config.pluginmanager
    plugin = _pytest_asyncio_plugin(config)
    if plugin is not None and not pm.has_plugin('gbridge-asyncio'):
        import pytest_asyncio
        mechanism = loop_mechanism(plugin)
        attributes = {}
        if mechanism == 'loop_factories':
            attributes['pytest_asyncio_loop_factories'] = \
                pytest.hookimpl(trylast=True)(_loop_factories)
        elif mechanism == 'event_loop_policy':
            attributes['event_loop_policy'] = \
                pytest.fixture(scope='session', name='event_loop_policy')(
                    _event_loop_policy)
        else:
            attributes['event_loop'] = pytest.fixture(name='event_loop')(_event_loop)
        attributes['gbridge_loop'] = pytest_asyncio.fixture(name='gbridge_loop')(
            _gbridge_loop)
        attributes['glib_context'] = pytest.fixture(name='glib_context')(_glib_context)
        pm.register(_plugin('gbridge.pytest_plugin.asyncio', **attributes),
                    'gbridge-asyncio')
    if pm.has_plugin('anyio') and not pm.has_plugin('gbridge-anyio'):
        backends = _anyio_backends()
        fixture = pytest.fixture(scope='module', params=backends, ids=backends,
                                 name='anyio_backend')(_anyio_backend)
        pm.register(_plugin('gbridge.pytest_plugin.anyio', anyio_backend=fixture),
                    'gbridge-anyio')


def pytest_report_header(config):
    plugin = _pytest_asyncio_plugin(config)
    parts = []
    if plugin is not None:
        parts.append('pytest-asyncio via %s' % loop_mechanism(plugin))
    if config.pluginmanager.has_plugin('gbridge-anyio'):
        parts.append('anyio asyncio backend')
    if parts:
        return 'gbridge event loop: %s (Python %d.%d)' % (
            ', '.join(parts), *sys.version_info[:2])
    return None
