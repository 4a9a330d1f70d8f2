/* gbridge-test-tsan.h: skipping what ThreadSanitizer cannot judge
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

/* GLib's thread pool (behind GIO's async calls, g_task_run_in_thread() and
 * GResolver) hands work over with futexes that ThreadSanitizer cannot see in
 * an uninstrumented GLib, so it reports races inside GLib that are not
 * there. Tests that go through that pool skip in the TSan build, saying why,
 * and run in every other build. Returns TRUE when the test was skipped. */
static inline gboolean
gbridge_test_skip_under_tsan (void)
{
#if defined (__SANITIZE_THREAD__)
  g_test_skip ("GLib's thread pool synchronizes invisibly to ThreadSanitizer");
  return TRUE;
#else
  return FALSE;
#endif
}
