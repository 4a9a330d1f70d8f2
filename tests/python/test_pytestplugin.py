# SPDX-License-Identifier: LGPL-2.1-or-later
#
# gbridge.pytest_plugin: with one line in conftest.py (or -p), pytest-asyncio
# tests and fixtures, and anyio's, run on gbridge's GLib-backed loop, on
# whichever pytest-asyncio the distribution ships (0.20 in Debian 12: the
# event_loop fixture; 0.25 in Debian 13: the event_loop_policy fixture; 1.4
# in Debian testing: the pytest_asyncio_loop_factories hook), with no
# deprecation warning.
#
# Each case runs an inner pytest in a subprocess on test files written here,
# and reads what happened to each test from its JUnit XML report.

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version

import pytest

pytest_asyncio = pytest.importorskip(
    'pytest_asyncio',
    reason='pytest-asyncio is not installed (Debian: python3-pytest-asyncio)')

from gbridge import pytest_plugin  # noqa: E402


def version_tuple(name):
    parts = []
    for part in version(name).split('.')[:2]:
        digits = ''.join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


PYTEST_ASYNCIO = version_tuple('pytest-asyncio')
MECHANISM = pytest_plugin.loop_mechanism(pytest_asyncio.plugin)
# The loop_scope marker argument (0.24) and asyncio_default_fixture_loop_scope,
# whose absence 0.24 and later warn about.
HAS_LOOP_SCOPE = PYTEST_ASYNCIO >= (0, 24)

CONFTEST = "pytest_plugins = ['gbridge.pytest_plugin']\n"

# What the plugin promises: the loop, GLib sources on its context, fixtures,
# a loop per test, GIO.
TEST_LOOP = '''
import asyncio

import gi
import pytest
import pytest_asyncio

gi.require_version('Gio', '2.0')
gi.require_version('GLib', '2.0')
from gi.repository import Gio, GLib

import gbridge.asyncio as gba

LOOPS = []
TEARDOWNS = []


@pytest_asyncio.fixture
async def resource():
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    yield loop
    await asyncio.sleep(0)
    TEARDOWNS.append(asyncio.get_running_loop() is loop)


@pytest.mark.asyncio
async def test_runs_on_gbridge():
    loop = asyncio.get_running_loop()
    assert isinstance(loop, gba.EventLoop), loop
    assert loop.is_running()


@pytest.mark.asyncio
async def test_glib_sources_fire_while_awaiting(glib_context, gbridge_loop):
    loop = asyncio.get_running_loop()
    assert gbridge_loop is loop
    assert glib_context == loop.get_context()
    # The test's loop runs the default context: GLib.timeout_add, GTK.
    assert glib_context == GLib.MainContext.default()
    fired = []
    done = asyncio.Event()

    def on_timeout():
        fired.append('timeout')
        done.set()
        return GLib.SOURCE_REMOVE

    def on_idle():
        fired.append('idle')
        return GLib.SOURCE_REMOVE

    GLib.idle_add(on_idle)
    GLib.timeout_add(20, on_timeout)
    await asyncio.wait_for(done.wait(), 30)
    assert fired == ['idle', 'timeout']


@pytest.mark.asyncio
async def test_async_fixture_on_the_same_loop(resource):
    assert resource is asyncio.get_running_loop()
    assert isinstance(resource, gba.EventLoop)


def test_async_fixture_teardown_ran_on_its_loop():
    assert TEARDOWNS == [True]


@pytest.mark.parametrize('i', range(3))
@pytest.mark.asyncio
async def test_each_test_has_a_new_loop(i):
    loop = asyncio.get_running_loop()
    assert isinstance(loop, gba.EventLoop)
    assert all(previous is not loop for previous in LOOPS)
    assert all(previous.is_closed() for previous in LOOPS)
    # Closing the previous test's loop let this one take the default context.
    assert loop.get_context() == GLib.MainContext.default()
    LOOPS.append(loop)
    await asyncio.sleep(0.001)


@pytest.mark.asyncio
async def test_gio_async_call(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'through GIO')
    gfile = Gio.File.new_for_path(str(path))
    if gi.version_info >= (3, 50):
        # PyGObject 3.50+: *_async without a callback is awaitable.
        ok, contents, etag = await asyncio.wait_for(
            gfile.load_contents_async(None), 60)
    else:
        future = asyncio.get_running_loop().create_future()

        def done(source, result):
            future.set_result(source.load_contents_finish(result))

        gfile.load_contents_async(None, done)
        ok, contents, etag = await asyncio.wait_for(future, 60)
    assert ok and contents == b'through GIO'


@pytest.mark.asyncio
async def test_call_soon_threadsafe_from_a_thread():
    import threading
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    threading.Thread(
        target=loop.call_soon_threadsafe, args=(future.set_result, 'woken')).start()
    assert await asyncio.wait_for(future, 30) == 'woken'
'''

TEST_FAILS = '''
import asyncio

import pytest

from gi.repository import GLib


@pytest.mark.asyncio
async def test_assertion_fails():
    await asyncio.sleep(0)
    assert 1 + 1 == 3


@pytest.mark.asyncio
async def test_exception_from_a_glib_callback_fails():
    future = asyncio.get_running_loop().create_future()

    def fail():
        future.set_exception(ValueError('set from GLib'))
        return GLib.SOURCE_REMOVE

    GLib.idle_add(fail)
    await future


@pytest.mark.asyncio
async def test_timeout_fails():
    await asyncio.wait_for(asyncio.sleep(3600), 0.01)


@pytest.mark.asyncio
async def test_passes_after_the_failures():
    await asyncio.sleep(0)
'''

TEST_LOOP_SCOPE = '''
import asyncio

import pytest

import gbridge.asyncio as gba

SEEN = []


@pytest.mark.asyncio(loop_scope='module')
async def test_first():
    SEEN.append(asyncio.get_running_loop())


@pytest.mark.asyncio(loop_scope='module')
async def test_second_shares_the_loop():
    loop = asyncio.get_running_loop()
    assert isinstance(loop, gba.EventLoop)
    assert SEEN == [loop]
'''

TEST_ANYIO = '''
import asyncio

import pytest

import gbridge.asyncio as gba


@pytest.mark.anyio
async def test_anyio_asyncio_backend_on_gbridge(anyio_backend_name):
    if anyio_backend_name != 'asyncio':
        pytest.skip('not asyncio')
    assert isinstance(asyncio.get_running_loop(), gba.EventLoop)
'''

# The control: what fails without the plugin.
TEST_CONTROL = '''
import asyncio

import pytest

from gi.repository import GLib

import gbridge.asyncio as gba


@pytest.mark.asyncio
async def test_runs_on_gbridge():
    assert isinstance(asyncio.get_running_loop(), gba.EventLoop)


@pytest.mark.asyncio
async def test_glib_timeout_fires():
    done = asyncio.Event()
    GLib.timeout_add(10, lambda: done.set() or GLib.SOURCE_REMOVE)
    # Never on asyncio's own loop, which does not run the GLib context.
    await asyncio.wait_for(done.wait(), 2)
'''

TEST_AUTO_MODE = '''
import asyncio

import gbridge.asyncio as gba


async def test_unmarked_coroutine():
    assert isinstance(asyncio.get_running_loop(), gba.EventLoop)
'''


def write(directory, files, ini_lines=()):
    lines = ['[pytest]']
    if HAS_LOOP_SCOPE:
        lines.append('asyncio_default_fixture_loop_scope = function')
    lines.extend(ini_lines)
    (directory / 'pytest.ini').write_text('\n'.join(lines) + '\n')
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text))


def run_pytest(directory, *args, env=None):
    """Runs pytest in @directory; returns (exit code, {test id: outcome},
    output).  Any DeprecationWarning is an error there."""
    report = directory / 'report.xml'
    command = [sys.executable, '-B', '-m', 'pytest', '-p', 'no:cacheprovider',
               '-W', 'error::DeprecationWarning', '-rA',
               '--junitxml', str(report), *args]
    environment = dict(os.environ)
    environment.update(env or {})
    process = subprocess.run(command, cwd=str(directory), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=300, env=environment)
    output = process.stdout.decode('utf-8', 'replace')
    outcomes = {}
    if report.exists():
        for case in ElementTree.parse(str(report)).iter('testcase'):
            outcome = 'passed'
            for child in case:
                if child.tag in ('failure', 'error', 'skipped'):
                    outcome = 'failed' if child.tag == 'failure' else child.tag
            outcomes[case.get('name')] = outcome
    return process.returncode, outcomes, output


def test_mechanism_matches_the_installed_version():
    expected = ('event_loop' if PYTEST_ASYNCIO < (0, 23) else
                'event_loop_policy' if PYTEST_ASYNCIO < (1, 4) else
                'loop_factories')
    assert MECHANISM == expected


@pytest.mark.parametrize('how', ['conftest', 'command-line', 'debug'])
def test_tests_run_on_gbridge(tmp_path, how):
    files = {'test_loop.py': TEST_LOOP}
    args = []
    env = {}
    if how == 'command-line':
        args = ['-p', 'gbridge.pytest_plugin']
    else:
        files['conftest.py'] = CONFTEST
    if how == 'debug':
        # asyncio's debug mode (thread checks, slow callback reports) on
        # every loop, whatever the pytest-asyncio version's own option.
        env['PYTHONASYNCIODEBUG'] = '1'
    write(tmp_path, files)
    code, outcomes, output = run_pytest(tmp_path, *args, env=env)
    assert code == 0, output
    assert outcomes == {
        'test_runs_on_gbridge': 'passed',
        'test_glib_sources_fire_while_awaiting': 'passed',
        'test_async_fixture_on_the_same_loop': 'passed',
        'test_async_fixture_teardown_ran_on_its_loop': 'passed',
        'test_each_test_has_a_new_loop[0]': 'passed',
        'test_each_test_has_a_new_loop[1]': 'passed',
        'test_each_test_has_a_new_loop[2]': 'passed',
        'test_gio_async_call': 'passed',
        'test_call_soon_threadsafe_from_a_thread': 'passed',
    }, output
    assert 'gbridge event loop: pytest-asyncio via %s' % MECHANISM in output
    assert 'DeprecationWarning' not in output, output


def test_without_the_plugin_the_loop_is_asyncio_s(tmp_path):
    """The control: the same file without the plugin fails where it checks
    for gbridge's loop, so the passes above are the plugin's doing."""
    write(tmp_path, {'test_control.py': TEST_CONTROL})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 1, output
    assert outcomes == {'test_runs_on_gbridge': 'failed',
                        'test_glib_timeout_fires': 'failed'}, output
    write(tmp_path, {'conftest.py': CONFTEST})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 0, output
    assert outcomes == {'test_runs_on_gbridge': 'passed',
                        'test_glib_timeout_fires': 'passed'}, output


def test_failures_are_reported(tmp_path):
    write(tmp_path, {'conftest.py': CONFTEST, 'test_fails.py': TEST_FAILS})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 1, output
    assert outcomes == {
        'test_assertion_fails': 'failed',
        'test_exception_from_a_glib_callback_fails': 'failed',
        'test_timeout_fails': 'failed',
        'test_passes_after_the_failures': 'passed',
    }, output
    assert 'assert (1 + 1) == 3' in output or 'assert 2 == 3' in output, output
    assert 'ValueError: set from GLib' in output, output
    assert 'TimeoutError' in output, output


def test_auto_mode(tmp_path):
    write(tmp_path, {'conftest.py': CONFTEST, 'test_auto.py': TEST_AUTO_MODE},
          ['asyncio_mode = auto'])
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 0, output
    assert outcomes == {'test_unmarked_coroutine': 'passed'}, output


@pytest.mark.skipif(not HAS_LOOP_SCOPE,
                    reason='pytest-asyncio %s: loop_scope from 0.24' % version('pytest-asyncio'))
def test_module_loop_scope(tmp_path):
    write(tmp_path, {'conftest.py': CONFTEST, 'test_scope.py': TEST_LOOP_SCOPE})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 0, output
    assert outcomes == {'test_first': 'passed',
                        'test_second_shares_the_loop': 'passed'}, output


@pytest.mark.skipif(MECHANISM != 'loop_factories',
                    reason='pytest-asyncio %s has no loop factory hook (1.4+)'
                    % version('pytest-asyncio'))
def test_own_hook_wins_and_compares_loops(tmp_path):
    """A conftest.py hook of one's own wins over the plugin's: here one
    that runs each test on asyncio's default loop and on gbridge's."""
    conftest = CONFTEST + textwrap.dedent('''
        import asyncio
        import gbridge.asyncio

        def pytest_asyncio_loop_factories(config, item):
            return {'default': asyncio.SelectorEventLoop,
                    'gbridge': gbridge.asyncio.EventLoop}
        ''')
    test = textwrap.dedent('''
        import asyncio
        import pytest

        @pytest.mark.asyncio
        async def test_loop_type(request):
            name = type(asyncio.get_running_loop()).__module__
            expected = request.node.callspec.id
            assert name == ('gbridge.asyncio' if expected == 'gbridge'
                            else 'asyncio.unix_events'), name
        ''')
    write(tmp_path, {'conftest.py': conftest, 'test_compare.py': test})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 0, output
    assert outcomes == {'test_loop_type[default]': 'passed',
                        'test_loop_type[gbridge]': 'passed'}, output


def test_anyio_tests_through_the_plugin(tmp_path):
    pytest.importorskip('anyio', reason='anyio is not installed (Debian: python3-anyio)')
    write(tmp_path, {'conftest.py': CONFTEST, 'test_anyio.py': TEST_ANYIO})
    code, outcomes, output = run_pytest(tmp_path)
    assert code == 0, output
    assert outcomes['test_anyio_asyncio_backend_on_gbridge[asyncio]'] == 'passed', output
    assert 'anyio asyncio backend' in output
