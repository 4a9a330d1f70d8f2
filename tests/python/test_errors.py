# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runtime errors are GLib.Error in Gbridge's documented domain, with messages
# translated through the 'gbridge-1' gettext domain.

import gettext
import os
import re
import subprocess
import sys

import pytest

import gi

gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge  # noqa: E402

GETTEXT_DOMAIN = 'gbridge-1'
ERROR_DOMAIN = 'gbridge-io-loop-error-quark'


def test_add_handler_twice_raises_exists(loop):
    r, w = os.pipe()
    try:
        loop.add_handler(r, Gbridge.IOEvents.READ, lambda fd, ev: None)
        with pytest.raises(GLib.Error) as info:
            loop.add_handler(r, Gbridge.IOEvents.WRITE, lambda fd, ev: None)
        err = info.value
        assert err.domain == ERROR_DOMAIN
        assert err.code == Gbridge.IOLoopError.EXISTS
        assert err.matches(Gbridge.io_loop_error_quark(), Gbridge.IOLoopError.EXISTS)
        assert err.message
        # The first registration is untouched.
        assert loop.remove_handler(r) is True
    finally:
        os.close(r)
        os.close(w)


def test_update_handler_of_unknown_fd_raises_not_found(loop):
    r, w = os.pipe()
    try:
        with pytest.raises(GLib.Error) as info:
            loop.update_handler(r, Gbridge.IOEvents.READ)
        assert info.value.matches(Gbridge.io_loop_error_quark(),
                                  Gbridge.IOLoopError.NOT_FOUND)
    finally:
        os.close(r)
        os.close(w)


def test_remove_handler_of_unknown_fd_is_no_error(loop):
    assert loop.remove_handler(12345) is False


def test_add_handler_on_closed_loop_raises_closed():
    loop = Gbridge.IOLoop.new()
    loop.close(False)
    r, w = os.pipe()
    try:
        with pytest.raises(GLib.Error) as info:
            loop.add_handler(r, Gbridge.IOEvents.READ, lambda fd, ev: None)
        assert info.value.matches(Gbridge.io_loop_error_quark(),
                                  Gbridge.IOLoopError.CLOSED)
    finally:
        os.close(r)
        os.close(w)


# Translations.  The messages are read in a child process, because the locale
# is process-wide.  Python's locale.bindtextdomain() is libc's
# bindtextdomain(), which the C library's gettext calls share, so it points the
# 'gbridge-1' domain at the .mo files compiled in the build tree.
CHILD = r'''
import locale, os, sys
# Fails (locale.Error) unless the locale really exists: no silent English.
locale.setlocale(locale.LC_ALL, '')
import gi
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge
# Create a loop first: loading the library runs its own bindtextdomain(),
# which must not override ours.
loop = Gbridge.IOLoop.new()
locale.bindtextdomain(sys.argv[1], os.environ['GBRIDGE_BUILD_LOCALEDIR'])
r, w = os.pipe()
loop.add_handler(r, Gbridge.IOEvents.READ, lambda fd, ev: None)
try:
    loop.add_handler(r, Gbridge.IOEvents.READ, lambda fd, ev: None)
except GLib.Error as e:
    assert e.code == Gbridge.IOLoopError.EXISTS, e.code
    sys.stdout.write(e.message)
else:
    sys.exit('no error raised')
'''


def _localedir():
    localedir = os.environ.get('GBRIDGE_BUILD_LOCALEDIR')
    assert localedir, 'GBRIDGE_BUILD_LOCALEDIR is not set; run the tests with meson test'
    return localedir


# The real locale each language is tested in (LANGUAGE under the C locale is
# ignored by glibc 2.41 and later); the build compiles them into
# $GBRIDGE_TEST_LOCPATH.
LOCALES = {'de': 'de_DE.UTF-8', 'fr': 'fr_FR.UTF-8'}


def _exists_message(language):
    env = dict(os.environ)
    for var in ('LANG', 'LC_MESSAGES', 'LANGUAGE'):
        env.pop(var, None)
    env['LC_ALL'] = 'C.UTF-8'
    if language is not None:
        env['LOCPATH'] = os.environ['GBRIDGE_TEST_LOCPATH']
        env['LC_ALL'] = LOCALES[language]
    result = subprocess.run([sys.executable, '-c', CHILD, GETTEXT_DOMAIN],
                            env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode('utf-8', 'replace')
    return result.stdout.decode('utf-8')


def _printf_regex(fmt):
    """A regex matching what printf(@fmt, ...) can produce."""
    conversion = re.compile(r'%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?'
                            r'(?:hh|h|ll|l|L|q|j|z|t)?([diouxXeEfgGcsp%])')
    out, pos = [], 0
    for m in conversion.finditer(fmt):
        out.append(re.escape(fmt[pos:m.start()]))
        out.append('%' if m.group(1) == '%' else '.+?')
        pos = m.end()
    out.append(re.escape(fmt[pos:]))
    return re.compile(''.join(out), re.DOTALL)


@pytest.mark.parametrize('language', ['de', 'fr'])
def test_error_message_is_translated(language):
    mo = os.path.join(_localedir(), language, 'LC_MESSAGES', GETTEXT_DOMAIN + '.mo')
    assert os.path.exists(mo), '%s was not built' % mo
    catalog = gettext.GNUTranslations(open(mo, 'rb'))

    english = _exists_message(None)
    translated = _exists_message(language)
    assert english
    assert translated != english, 'the %s message was not translated' % language

    # Some msgid of the catalog produced the English message and its msgstr
    # produced the translated one.
    pairs = [(msgid, msgstr) for msgid, msgstr in catalog._catalog.items()
             if isinstance(msgid, str) and msgid]
    assert any(_printf_regex(msgid).fullmatch(english) and
               _printf_regex(msgstr).fullmatch(translated)
               for msgid, msgstr in pairs), \
        'no %s catalog entry maps %r to %r' % (language, english, translated)


NEW_FULL_AT_EMFILE = r'''
import errno, os, resource, sys
import gi
gi.require_version('Gbridge', '1')
from gi.repository import GLib, Gbridge

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 256), hard))
held = []
try:
    while True:
        held.append(os.open('/dev/null', os.O_RDONLY))
except OSError as e:
    assert e.errno == errno.EMFILE, e
try:
    Gbridge.IOLoop.new_full(None)
except GLib.Error as e:
    assert e.matches(Gbridge.io_loop_error_quark(), Gbridge.IOLoopError.FAILED), e
    print(e.message)
else:
    sys.exit('new_full() did not fail')
os.close(held.pop())
Gbridge.IOLoop.new_full(None).close(False)
'''


def test_new_full_raises_when_no_descriptor_is_left():
    # Where Gbridge.IOLoop.new() would abort the process in GLib, new_full()
    # raises. In a child: it takes every file descriptor it may open.
    env = dict(os.environ, LC_ALL='C', LANGUAGE='')
    result = subprocess.run([sys.executable, '-c', NEW_FULL_AT_EMFILE],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'Cannot create a main context for the loop' in result.stdout
    assert os.strerror(24) in result.stdout  # EMFILE
