/* gbridge-init.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

/* Bind the translation domain once, when the library is loaded, so that
 * every GError message is translated without the application's help. */
static void __attribute__ ((constructor))
gbridge_init_i18n (void)
{
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
}
