# SPDX-License-Identifier: LGPL-2.1-or-later
#
# How a gbridge.asyncio loop is started: loop_factory (asyncio.run,
# asyncio.Runner), gbridge.asyncio.run() (uvloop.run()'s shape) and
# new_event_loop(); the policy entry points, deprecated from Python 3.14 with
# asyncio's policies, say so in a DeprecationWarning of their own, and
# nothing else of gbridge triggers asyncio's policy deprecations.

import asyncio
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import gbridge.asyncio as gba

POLICIES_DEPRECATED = sys.version_info >= (3, 14)


async def loop_type(value='done'):
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()), value


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason='asyncio.run() takes loop_factory from Python 3.12')
def test_asyncio_run_with_loop_factory():
    assert asyncio.run(loop_type(), loop_factory=gba.EventLoop) == \
        (gba.EventLoop, 'done')


def test_runner_with_loop_factory():
    with asyncio.Runner(loop_factory=gba.EventLoop) as runner:
        assert runner.run(loop_type()) == (gba.EventLoop, 'done')
        loop = runner.get_loop()
    assert loop.is_closed()


def test_gbridge_run():
    assert gba.run(loop_type('x')) == (gba.EventLoop, 'x')

    async def debug():
        return asyncio.get_running_loop().get_debug()
    assert gba.run(debug(), debug=True) is True
    made = []

    def factory():
        made.append(gba.EventLoop())
        return made[-1]
    assert gba.run(loop_type(), loop_factory=factory) == (gba.EventLoop, 'done')
    assert made and made[0].is_closed()


def test_gbridge_run_passes_run_kwargs_on():
    # 3.12+: asyncio.run() refuses the keyword it does not know (the call
    # reached it); 3.11: asyncio.Runner takes none, gbridge says so.
    coro = loop_type()
    with pytest.raises(TypeError, match='no_such_keyword'):
        gba.run(coro, no_such_keyword=1)
    coro.close()


def test_gbridge_run_propagates_exceptions():
    async def fail():
        raise LookupError('from main')
    with pytest.raises(LookupError, match='from main'):
        gba.run(fail())


@pytest.mark.skipif(POLICIES_DEPRECATED, reason='policies are deprecated from Python 3.14')
def test_policy_entry_points_do_not_warn_before_3_14():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        old = asyncio.get_event_loop_policy()
        try:
            gba.install()
            assert isinstance(asyncio.get_event_loop_policy(), gba.EventLoopPolicy)
            assert asyncio.run(loop_type()) == (gba.EventLoop, 'done')
        finally:
            asyncio.set_event_loop_policy(old)


@pytest.mark.skipif(not POLICIES_DEPRECATED, reason='policies are deprecated from Python 3.14')
def test_policy_entry_points_warn_from_3_14():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        old = asyncio.events._get_event_loop_policy()
        try:
            gba.install()
            policy = asyncio.events._get_event_loop_policy()
        finally:
            asyncio.events._set_event_loop_policy(old)
        gba.EventLoopPolicy()
    # One warning each, gbridge's, blaming the caller and saying what to use;
    # none of asyncio's own.
    assert [str(w.message).split(' is deprecated')[0] for w in caught] == \
        ['gbridge.asyncio.install()', 'gbridge.asyncio.EventLoopPolicy']
    for w in caught:
        assert w.category is DeprecationWarning
        assert w.filename == __file__
        assert 'gbridge.asyncio.run(main)' in str(w.message)
        assert 'loop_factory=gbridge.asyncio.EventLoop' in str(w.message)
    # Still working for code that uses it until Python 3.16.
    assert isinstance(policy, gba.EventLoopPolicy)


def test_entry_points_raise_no_deprecation_warning():
    """-W error::DeprecationWarning: every non-deprecated entry point runs
    (gbridge.asyncio with Tornado on it, the future conversions,
    gbridge.twisted) without one, on every Python."""
    code = textwrap.dedent('''
        import asyncio, sys
        import gi
        gi.require_version('Gbridge', '1')
        from gi.repository import Gbridge
        import gbridge, gbridge.asyncio as gba

        async def main():
            loop = asyncio.get_running_loop()
            assert isinstance(loop, gba.EventLoop), loop
            try:
                import tornado.ioloop, tornado.gen
            except ImportError:
                pass
            else:
                assert tornado.ioloop.IOLoop.current().asyncio_loop is loop
                await tornado.gen.sleep(0.001)
            future = Gbridge.Future.new_for_loop(loop.io_loop)
            loop.io_loop.call_later(0.001, lambda: future.resolve(7))
            assert await future == 7
            g = gbridge.to_gbridge_future(asyncio.sleep(0.001, 'x'))
            assert await gbridge.to_asyncio_future(g) == 'x'
            return 'ok'

        print(gba.run(main()))
        if sys.version_info >= (3, 12):
            print(asyncio.run(main(), loop_factory=gba.EventLoop))
        with asyncio.Runner(loop_factory=gba.EventLoop) as runner:
            print(runner.run(main()))
        loop = gba.new_event_loop()
        asyncio.set_event_loop(loop)
        print(loop.run_until_complete(main()))
        # The current loop, outside a running one (to_asyncio_future's default).
        g = Gbridge.Future.new_resolved(3)
        print(loop.run_until_complete(gbridge.to_asyncio_future(g)))
        asyncio.set_event_loop(None)
        loop.close()
        try:
            import twisted
        except ImportError:
            print('ok')
        else:
            from gbridge.twisted import GbridgeReactor
            reactor = GbridgeReactor()
            reactor.callLater(0.001, reactor.stop)
            reactor.run(installSignalHandlers=False)
            print('ok')
    ''')
    result = subprocess.run([sys.executable, '-W', 'error::DeprecationWarning', '-c', code],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONWARNINGS='error::DeprecationWarning'))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[-2:] == ['3', 'ok']
    assert set(lines[:-2]) == {'ok'}
