/* gbridge-test-i18n.h: switching a test process to a real locale
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <locale.h>

#include <glib.h>
#include <glib/gi18n-lib.h>

/* Puts this process in @locale (e.g. "de_DE.UTF-8"), compiled by the build
 * into $GBRIDGE_TEST_LOCPATH, with the gbridge-1 domain's catalogues taken
 * from the build tree.  A real locale, not LANGUAGE under "C": glibc 2.41
 * and later ignore LANGUAGE in the C and C.UTF-8 locales.  Call it in a test
 * subprocess: the locale is process-wide. */
static inline void
gbridge_test_use_locale (const char *locale)
{
  const char *locpath = g_getenv ("GBRIDGE_TEST_LOCPATH");
  const char *localedir = g_getenv ("GBRIDGE_BUILD_LOCALEDIR");

  g_assert_nonnull (locpath);
  g_assert_nonnull (localedir);
  g_setenv ("LOCPATH", locpath, TRUE);
  g_unsetenv ("LANGUAGE");
  g_unsetenv ("LC_ALL");
  g_unsetenv ("LC_MESSAGES");
  if (setlocale (LC_ALL, locale) == NULL)
    g_error ("locale %s is not in %s: the build generates it with localedef "
             "(Debian package 'locales')", locale, locpath);
  bindtextdomain (GETTEXT_PACKAGE, localedir);
}

/* Skips the calling test, and returns FALSE, when it does not run under meson
 * test, which sets the variables above. */
static inline gboolean
gbridge_test_have_locales (void)
{
  if (g_getenv ("GBRIDGE_TEST_LOCPATH") != NULL &&
      g_getenv ("GBRIDGE_BUILD_LOCALEDIR") != NULL)
    return TRUE;
  g_test_skip ("GBRIDGE_TEST_LOCPATH or GBRIDGE_BUILD_LOCALEDIR is not set: run under meson test");
  return FALSE;
}
