/* test-resolver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The c-ares resolver is tested against a real DNS server: dnsmasq, started
 * by this program as the user running it, on 127.0.0.1 and a free port, as
 * the authority of the zone "test". When dnsmasq is missing or cannot start,
 * the tests that need it are skipped and say why. In a gbridge built without
 * c-ares (-Dares=disabled) the c-ares tests skip, saying so, and
 * ares/unavailable checks what such a build does instead.
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test-i18n.h"

#include "gbridge-test-tsan.h"

#include <dirent.h>
#include <locale.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#ifdef HAVE_CARES
# define BUILT_WITH_CARES TRUE
#else
# define BUILT_WITH_CARES FALSE
#endif

#define N_MANY    24
#define N_NAMES   1000

/* The one dnsmasq of the whole program. */
static struct
{
  GPid         pid;
  GSocket     *silent;      /* a UDP socket that never answers */
  char        *servers;     /* "127.0.0.1:<port>" */
  char        *hosts_file;
  char        *skip_reason;
} dns;

typedef struct
{
  GbridgeIOLoop *loop;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  gbridge_io_loop_make_current (f->loop);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gbridge_io_loop_clear_current ();
  g_assert_finalize_object (f->loop);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/Resolver/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

/* dnsmasq */

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_nonnull (socket);
  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* dnsmasq is up once it accepts TCP connections on its port. No GLib
 * helper thread is involved (GSubprocess would watch the child from one),
 * so that ThreadSanitizer sees only gbridge's threads. */
static gboolean
wait_for_dnsmasq (guint16 port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);

  for (int i = 0; i < 100; i++)
    {
      g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL);
      int status;

      if (waitpid (dns.pid, &status, WNOHANG) == dns.pid)
        {
          dns.pid = 0;
          return FALSE;
        }
      if (g_socket_connect (socket, address, NULL, NULL))
        return TRUE;
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  return FALSE;
}

static void
kill_dnsmasq (void)
{
  if (dns.pid > 0)
    {
      kill (dns.pid, SIGTERM);
      waitpid (dns.pid, NULL, 0);
      g_spawn_close_pid (dns.pid);
      dns.pid = 0;
    }
}

static void
start_dnsmasq (void)
{
  g_autofree char *dnsmasq = NULL;
  g_autoptr(GString) hosts = g_string_new (NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) silent_address = NULL;
  g_autoptr(GError) error = NULL;
  guint16 silent_port;
  int fd;

  dnsmasq = g_find_program_in_path ("dnsmasq");
  if (dnsmasq == NULL && g_file_test ("/usr/sbin/dnsmasq", G_FILE_TEST_IS_EXECUTABLE))
    dnsmasq = g_strdup ("/usr/sbin/dnsmasq");
  if (dnsmasq == NULL)
    {
      dns.skip_reason = g_strdup ("dnsmasq is not installed (Debian package dnsmasq-base)");
      return;
    }

  dns.silent = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                             G_SOCKET_PROTOCOL_UDP, NULL);
  g_assert_true (g_socket_bind (dns.silent, any, FALSE, NULL));
  silent_address = g_socket_get_local_address (dns.silent, NULL);
  silent_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (silent_address));

  for (int i = 0; i < N_MANY; i++)
    g_string_append_printf (hosts, "198.51.100.%d many.test\n", i + 1);
  for (int i = 0; i < N_NAMES; i++)
    g_string_append_printf (hosts, "10.1.%d.%d n%04d.test\n", i / 256, i % 256, i);
  fd = g_file_open_tmp ("gbridge-test-hosts-XXXXXX", &dns.hosts_file, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (dns.hosts_file, hosts->str, -1, &error);
  g_assert_no_error (error);

  /* A port found free may be taken before dnsmasq binds it: try a few. */
  for (int attempt = 0; attempt < 5; attempt++)
    {
      guint16 port = free_port ();
      g_autofree char *port_arg = g_strdup_printf ("--port=%u", port);
      g_autofree char *hosts_arg = g_strdup_printf ("--addn-hosts=%s", dns.hosts_file);
      g_autofree char *slow_arg = g_strdup_printf ("--server=/slow.test/127.0.0.1#%u", silent_port);
      const char *argv[] = {
        /* Empty --user and --group: dnsmasq keeps the test's user and
         * groups, instead of switching to nobody:dip when run as root. */
        dnsmasq, port_arg, "--user=", "--group=", "--listen-address=127.0.0.1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--keep-in-foreground",
        "--pid-file=", "--log-facility=-", "--quiet-dhcp",
        "--local=/test/", slow_arg, hosts_arg,
        "--host-record=a.test,192.0.2.1",
        "--host-record=aaaa.test,2001:db8::1",
        "--host-record=both.test,192.0.2.2,2001:db8::2",
        "--cname=alias1.test,alias2.test",
        "--cname=alias2.test,alias3.test",
        "--cname=alias3.test,a.test",
        NULL
      };

      if (!g_spawn_async (NULL, (char **) argv, NULL,
                          G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                          G_SPAWN_STDERR_TO_DEV_NULL,
                          NULL, NULL, &dns.pid, &error))
        {
          dns.skip_reason = g_strdup_printf ("dnsmasq cannot start: %s", error->message);
          return;
        }
      if (wait_for_dnsmasq (port))
        {
          dns.servers = g_strdup_printf ("127.0.0.1:%u", port);
          return;
        }
      kill_dnsmasq ();
    }

  dns.skip_reason = g_strdup ("dnsmasq exited at start five times (run it by hand to see why)");
}

static void
stop_dnsmasq (void)
{
  kill_dnsmasq ();
  if (dns.hosts_file != NULL)
    g_unlink (dns.hosts_file);
  g_clear_object (&dns.silent);
  g_clear_pointer (&dns.servers, g_free);
  g_clear_pointer (&dns.hosts_file, g_free);
  g_clear_pointer (&dns.skip_reason, g_free);
}

/* Skips the calling test, and returns FALSE, in a build without c-ares. */
static gboolean
need_ares (void)
{
  if (BUILT_WITH_CARES)
    return TRUE;
  g_test_skip ("gbridge was built without c-ares (-Dares=disabled)");
  return FALSE;
}

/* dnsmasq serves the c-ares tests only. */
static gboolean
need_dnsmasq (void)
{
  if (!need_ares ())
    return FALSE;
  if (dns.servers != NULL)
    return TRUE;
  g_test_skip (dns.skip_reason);
  return FALSE;
}

static GbridgeResolver *
ares_resolver (Fixture *f,
               double   attempt_timeout,
               guint    tries)
{
  g_autoptr(GError) error = NULL;
  GbridgeResolver *resolver;

  resolver = g_initable_new (GBRIDGE_TYPE_ARES_RESOLVER, NULL, &error,
                             "loop", f->loop,
                             "servers", dns.servers,
                             "attempt-timeout", attempt_timeout,
                             "tries", tries,
                             NULL);
  g_assert_no_error (error);
  return resolver;
}

/* Helpers */

static void
on_done_stop (GbridgeFuture *future,
              gpointer       user_data)
{
  gbridge_io_loop_stop (user_data);
}

static void
wait_future (Fixture       *f,
             GbridgeFuture *future)
{
  g_autoptr(GError) error = NULL;

  if (gbridge_future_is_done (future))
    return;
  gbridge_future_add_done_callback (future, on_done_stop, f->loop, NULL);
  g_assert_true (gbridge_io_loop_start (f->loop, &error));
  g_assert_no_error (error);
  g_assert_true (gbridge_future_is_done (future));
}

/* Resolves and waits; returns the addresses as "address:port" strings in the
 * order given, or NULL with @error set. */
static GStrv
resolve (Fixture          *f,
         GbridgeResolver  *resolver,
         const char       *host,
         guint16           port,
         GSocketFamily     family,
         double            timeout,
         GError          **error)
{
  g_autoptr(GbridgeFuture) future = gbridge_resolver_resolve (resolver, host, port, family, timeout);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  GListModel *addresses;

  g_assert_nonnull (future);
  wait_future (f, future);
  if (gbridge_future_get_state (future) == GBRIDGE_FUTURE_STATE_FAILED)
    {
      g_propagate_error (error, g_error_copy (gbridge_future_get_failure (future)));
      return NULL;
    }
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);

  addresses = gbridge_future_get_object (future, NULL);
  g_assert_true (G_IS_LIST_MODEL (addresses));
  g_assert_true (g_list_model_get_item_type (addresses) == G_TYPE_INET_SOCKET_ADDRESS);
  g_assert_cmpuint (g_list_model_get_n_items (addresses), >, 0);

  for (guint i = 0; i < g_list_model_get_n_items (addresses); i++)
    {
      g_autoptr(GInetSocketAddress) address = g_list_model_get_item (addresses, i);
      g_autofree char *text =
        g_inet_address_to_string (g_inet_socket_address_get_address (address));
      g_autofree char *entry =
        g_strdup_printf ("%s:%u", text, g_inet_socket_address_get_port (address));

      g_strv_builder_add (builder, entry);
    }
  return g_strv_builder_end (builder);
}

/* Asserts that @host resolves, without error, to exactly the addresses
 * given ("address:port", NULL-terminated) in any order; a failure names the
 * caller's line. */
#define assert_resolves(f, resolver, host, port, family, timeout, ...) \
  assert_resolves_at (__FILE__, __LINE__, G_STRFUNC, f, resolver, host, port, family, \
                      timeout, __VA_ARGS__)

static void G_GNUC_NULL_TERMINATED
assert_resolves_at (const char      *file,
                    int              line,
                    const char      *func,
                    Fixture         *f,
                    GbridgeResolver *resolver,
                    const char      *host,
                    guint16          port,
                    GSocketFamily    family,
                    double           timeout,
                    ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;
  g_auto(GStrv) expected = NULL;
  gboolean same;
  va_list args;

  va_start (args, timeout);
  for (const char *a = va_arg (args, const char *); a != NULL; a = va_arg (args, const char *))
    g_strv_builder_add (builder, a);
  va_end (args);
  expected = g_strv_builder_end (builder);

  found = resolve (f, resolver, host, port, family, timeout, &error);
  if (error != NULL)
    {
      g_assertion_message_error (G_LOG_DOMAIN, file, line, func, "error", error, 0, 0);
      return;
    }

  same = g_strv_length (found) == g_strv_length (expected);
  for (guint i = 0; same && expected[i] != NULL; i++)
    same = g_strv_contains ((const char * const *) found, expected[i]);
  if (!same)
    {
      g_autofree char *found_text = g_strjoinv (" ", found);
      g_autofree char *expected_text = g_strjoinv (" ", expected);
      g_autofree char *message =
        g_strdup_printf ("%s resolved to [%s], not [%s]", host, found_text, expected_text);

      g_assertion_message (G_LOG_DOMAIN, file, line, func, message);
    }
}

static void
assert_error_names_host (const GError         *error,
                         GbridgeResolverError  code,
                         const char           *host)
{
  g_assert_error (error, GBRIDGE_RESOLVER_ERROR, code);
  g_assert_nonnull (strstr (error->message, host));
}

/* Asserts that resolving @host fails with @code, in a message that names
 * @host; a failure names the caller's line. */
#define assert_resolve_fails(f, resolver, host, port, family, timeout, code) \
  assert_resolve_fails_at (__FILE__, __LINE__, G_STRFUNC, f, resolver, host, port, family, \
                           timeout, code)

static void
assert_resolve_fails_at (const char           *file,
                         int                   line,
                         const char           *func,
                         Fixture              *f,
                         GbridgeResolver      *resolver,
                         const char           *host,
                         guint16               port,
                         GSocketFamily         family,
                         double                timeout,
                         GbridgeResolverError  code)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = resolve (f, resolver, host, port, family, timeout, &error);

  if (found != NULL)
    {
      g_autofree char *found_text = g_strjoinv (" ", found);
      g_autofree char *message =
        g_strdup_printf ("%s resolved to [%s], not to an error", host, found_text);

      g_assertion_message (G_LOG_DOMAIN, file, line, func, message);
    }
  else if (!g_error_matches (error, GBRIDGE_RESOLVER_ERROR, code))
    {
      g_assertion_message_error (G_LOG_DOMAIN, file, line, func, "error", error,
                                 GBRIDGE_RESOLVER_ERROR, code);
    }
  else if (strstr (error->message, host) == NULL)
    {
      g_autofree char *message =
        g_strdup_printf ("the error \"%s\" does not name %s", error->message, host);

      g_assertion_message (G_LOG_DOMAIN, file, line, func, message);
    }
}

static guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n;
}

static void
on_tick (gpointer user_data)
{
  gbridge_io_loop_stop (user_data);
}

/* Runs the loop until *@pointer (a weak pointer) is cleared. */
static void
wait_finalized (Fixture  *f,
                gpointer *pointer)
{
  while (*pointer != NULL)
    {
      gbridge_io_loop_call_later (f->loop, 0.05, on_tick, f->loop, NULL);
      g_assert_true (gbridge_io_loop_start (f->loop, NULL));
    }
}

/* Literals */

static void
test_literal (Fixture       *f,
              gconstpointer  data)
{
  GbridgeResolver *resolver = gbridge_resolver_get_default ();
  g_autoptr(GbridgeFuture) future = NULL;

  /* Answered at once: no lookup, no loop iteration. */
  future = gbridge_resolver_resolve (resolver, "192.0.2.7", 80, G_SOCKET_FAMILY_INVALID, 0);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);

  assert_resolves (f, resolver, "192.0.2.7", 80, G_SOCKET_FAMILY_INVALID, 0,
                   "192.0.2.7:80", NULL);

  assert_resolves (f, resolver, "2001:db8::5", 443, G_SOCKET_FAMILY_IPV6, 0,
                   "2001:db8::5:443", NULL);

  assert_resolves (f, resolver, "[::1]", 8080, G_SOCKET_FAMILY_INVALID, 0,
                   "::1:8080", NULL);
}

static void
test_literal_family (Fixture       *f,
                     gconstpointer  data)
{

  assert_resolve_fails (f, gbridge_resolver_get_default (), "192.0.2.7", 80,
                        G_SOCKET_FAMILY_IPV6, 0, GBRIDGE_RESOLVER_ERROR_NOT_FOUND);
}

/* The same table for every implementation */

/* A resolver of each kind that never reaches a working server: what it
 * answers, it answers without the network. NULL, the test skipped, for
 * c-ares in a build without it. */
static GbridgeResolver *
offline_resolver (Fixture    *f,
                  const char *kind)
{
  g_autoptr(GError) error = NULL;
  GbridgeResolver *resolver;

  if (g_str_equal (kind, "threaded"))
    return GBRIDGE_RESOLVER (gbridge_threaded_resolver_new (f->loop));
  if (!need_ares ())
    return NULL;

  /* Port 9 (discard): nothing answers, and c-ares gives up quickly. */
  resolver = g_initable_new (GBRIDGE_TYPE_ARES_RESOLVER, NULL, &error,
                             "loop", f->loop,
                             "servers", "127.0.0.1:9",
                             "attempt-timeout", 0.2,
                             "tries", 1,
                             NULL);
  g_assert_no_error (error);
  return resolver;
}

/* RFC 6761: localhost and localhost. are loopback, both families unless
 * filtered, in any case; the empty host is an invalid argument. */
static void
test_special_names (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = offline_resolver (f, data);
  g_autoptr(GbridgeFuture) future = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;

  if (resolver == NULL)
    return;

  /* ::1 first, as RFC 6724 orders them. */
  found = resolve (f, resolver, "localhost", 80, G_SOCKET_FAMILY_INVALID, 5, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (found, ((const char * const []) { "::1:80", "127.0.0.1:80", NULL }));

  assert_resolves (f, resolver, "localhost.", 80, G_SOCKET_FAMILY_INVALID, 5,
                   "::1:80", "127.0.0.1:80", NULL);
  assert_resolves (f, resolver, "LocalHost", 81, G_SOCKET_FAMILY_IPV4, 5,
                   "127.0.0.1:81", NULL);
  assert_resolves (f, resolver, "localhost.", 82, G_SOCKET_FAMILY_IPV6, 5,
                   "::1:82", NULL);

  future = gbridge_resolver_resolve (resolver, "", 80, G_SOCKET_FAMILY_INVALID, 5);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  g_assert_error (gbridge_future_get_failure (future), GBRIDGE_RESOLVER_ERROR,
                  GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT);
  g_clear_object (&future);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

/* Resolves the scoped literal @host and returns its one address' scope id. */
static guint32
resolve_scope_id (Fixture         *f,
                  GbridgeResolver *resolver,
                  const char      *host,
                  const char      *expected_address)
{
  g_autoptr(GbridgeFuture) future =
    gbridge_resolver_resolve (resolver, host, 443, G_SOCKET_FAMILY_INVALID, 0);
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autofree char *text = NULL;
  GListModel *addresses;

  /* A literal: answered at once. */
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  addresses = gbridge_future_get_object (future, NULL);
  g_assert_cmpuint (g_list_model_get_n_items (addresses), ==, 1);
  address = g_list_model_get_item (addresses, 0);
  text = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  g_assert_cmpstr (text, ==, expected_address);
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, 443);
  return g_inet_socket_address_get_scope_id (address);
}

/* A scoped IPv6 literal is a literal, and keeps its interface: without the
 * scope id, connect() to a link-local address fails. */
static void
test_scoped_literal (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = offline_resolver (f, data);
  guint lo = if_nametoindex ("lo");
  g_autoptr(GbridgeFuture) future = NULL;

  if (resolver == NULL)
    return;
  g_assert_cmpuint (lo, >, 0);
  g_assert_cmpuint (resolve_scope_id (f, resolver, "fe80::1%lo", "fe80::1"), ==, lo);
  g_assert_cmpuint (resolve_scope_id (f, resolver, "[fe80::1%lo]", "fe80::1"), ==, lo);
  g_assert_cmpuint (resolve_scope_id (f, resolver, "fe80::1%1", "fe80::1"), ==, 1);
  g_assert_cmpuint (resolve_scope_id (f, resolver, "fe80::2", "fe80::2"), ==, 0);

  assert_resolve_fails (f, resolver, "fe80::1%lo", 80, G_SOCKET_FAMILY_IPV4, 0,
                        GBRIDGE_RESOLVER_ERROR_NOT_FOUND);

  future = gbridge_resolver_resolve (resolver, "fe80::1%no-such-if0", 80,
                                     G_SOCKET_FAMILY_INVALID, 0);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_FAILED);
  assert_error_names_host (gbridge_future_get_failure (future),
                           GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT, "fe80::1%no-such-if0");
  g_clear_object (&future);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

/* Threaded */

static void
test_threaded_localhost (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GbridgeThreadedResolver) resolver = gbridge_threaded_resolver_new (f->loop);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;

  if (gbridge_test_skip_under_tsan ())
    return;

  g_assert_true (gbridge_resolver_get_loop (GBRIDGE_RESOLVER (resolver)) == f->loop);

  assert_resolves (f, GBRIDGE_RESOLVER (resolver), "localhost", 8000,
                   G_SOCKET_FAMILY_IPV4, 10, "127.0.0.1:8000", NULL);

  /* Whatever the system has for localhost, all of it is loopback. */
  found = resolve (f, GBRIDGE_RESOLVER (resolver), "localhost", 8000,
                   G_SOCKET_FAMILY_INVALID, 10, &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_contains ((const char * const *) found, "127.0.0.1:8000"));
  for (guint i = 0; found[i] != NULL; i++)
    g_assert_true (g_str_has_prefix (found[i], "127.") || g_str_has_prefix (found[i], "::1:"));

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_threaded_default_uses_current_loop (Fixture       *f,
                                         gconstpointer  data)
{
  g_autoptr(GbridgeFuture) future = NULL;

  if (gbridge_test_skip_under_tsan ())
    return;

  g_assert_null (gbridge_resolver_get_loop (gbridge_resolver_get_default ()));
  future = gbridge_resolver_resolve (gbridge_resolver_get_default (), "localhost", 1,
                                     G_SOCKET_FAMILY_IPV4, 10);
  g_assert_true (gbridge_future_get_loop (future) == f->loop);
  wait_future (f, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
}

static void
test_threaded_not_found (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GbridgeThreadedResolver) resolver = gbridge_threaded_resolver_new (f->loop);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;

  if (gbridge_test_skip_under_tsan ())
    return;

  /* RFC 6761: .invalid never resolves; offline, the failure may be a
   * temporary one, but it is a resolver error naming the host. */
  found = resolve (f, GBRIDGE_RESOLVER (resolver), "no-such-host.invalid", 80,
                   G_SOCKET_FAMILY_INVALID, 30, &error);
  g_assert_null (found);
  g_assert_true (error->domain == GBRIDGE_RESOLVER_ERROR);
  g_assert_nonnull (strstr (error->message, "no-such-host.invalid"));

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_threaded_cancel (Fixture       *f,
                      gconstpointer  data)
{
  GbridgeThreadedResolver *resolver;
  g_autoptr(GbridgeFuture) future = NULL;

  if (gbridge_test_skip_under_tsan ())
    return;

  resolver = gbridge_threaded_resolver_new (f->loop);
  g_object_add_weak_pointer (G_OBJECT (resolver), (gpointer *) &resolver);
  /* Not "localhost", which never reaches GResolver: the machine's name,
   * which /etc/hosts usually has. */
  future = gbridge_resolver_resolve (GBRIDGE_RESOLVER (resolver), g_get_host_name (), 80,
                                     G_SOCKET_FAMILY_INVALID, 0);
  g_cancellable_cancel (gbridge_future_get_cancellable (future));
  wait_future (f, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_CANCELLED);

  /* The lookup lets the resolver go once GResolver has answered. */
  g_object_unref (resolver);
  wait_finalized (f, (gpointer *) &resolver);
}

/* c-ares against dnsmasq */

static void
test_ares_records (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0, 0);
  g_assert_true (gbridge_resolver_get_loop (resolver) == f->loop);

  assert_resolves (f, resolver, "a.test", 80, G_SOCKET_FAMILY_INVALID, 10,
                   "192.0.2.1:80", NULL);

  assert_resolves (f, resolver, "aaaa.test", 443, G_SOCKET_FAMILY_INVALID, 10,
                   "2001:db8::1:443", NULL);

  assert_resolves (f, resolver, "both.test", 53, G_SOCKET_FAMILY_INVALID, 10,
                   "192.0.2.2:53", "2001:db8::2:53", NULL);

  assert_resolves (f, resolver, "both.test", 53, G_SOCKET_FAMILY_IPV4, 10,
                   "192.0.2.2:53", NULL);

  assert_resolves (f, resolver, "both.test", 53, G_SOCKET_FAMILY_IPV6, 10,
                   "2001:db8::2:53", NULL);

  /* Names are not case-sensitive. */
  assert_resolves (f, resolver, "A.Test", 80, G_SOCKET_FAMILY_INVALID, 10,
                   "192.0.2.1:80", NULL);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_cname_chain (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0, 0);

  /* alias1 → alias2 → alias3 → a.test */
  assert_resolves (f, resolver, "alias1.test", 8080, G_SOCKET_FAMILY_IPV4, 10,
                   "192.0.2.1:8080", NULL);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_not_found (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0, 0);

  /* NXDOMAIN */
  assert_resolve_fails (f, resolver, "nowhere.test", 80, G_SOCKET_FAMILY_INVALID, 10,
                        GBRIDGE_RESOLVER_ERROR_NOT_FOUND);

  /* The name exists, but has no address of that family. */
  assert_resolve_fails (f, resolver, "aaaa.test", 80, G_SOCKET_FAMILY_IPV4, 10,
                        GBRIDGE_RESOLVER_ERROR_NOT_FOUND);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_many (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) found = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0, 0);

  found = resolve (f, resolver, "many.test", 25, G_SOCKET_FAMILY_INVALID, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (found), ==, N_MANY);
  for (int i = 0; i < N_MANY; i++)
    {
      g_autofree char *expected = g_strdup_printf ("198.51.100.%d:25", i + 1);

      g_assert_true (g_strv_contains ((const char * const *) found, expected));
    }

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_literal_no_query (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GbridgeAresResolver) resolver = NULL;
  g_autoptr(GbridgeFuture) future = NULL;
  g_autoptr(GError) error = NULL;

  if (!need_ares ())
    return;
  /* A server where nothing listens: a literal never asks it. */
  resolver = gbridge_ares_resolver_new (f->loop, "127.0.0.1:9", &error);
  g_assert_no_error (error);
  future = gbridge_resolver_resolve (GBRIDGE_RESOLVER (resolver), "10.0.0.1", 7,
                                     G_SOCKET_FAMILY_INVALID, 0);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_RESOLVED);
  g_assert_cmpuint (gbridge_ares_resolver_get_n_sockets (resolver), ==, 0);
  g_assert_cmpstr (gbridge_ares_resolver_get_servers (resolver), ==, "127.0.0.1:9");

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_bad_servers (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GbridgeAresResolver) resolver = NULL;
  g_autoptr(GError) error = NULL;

  if (!need_ares ())
    return;
  resolver = gbridge_ares_resolver_new (f->loop, "not a server", &error);
  g_assert_null (resolver);
  g_assert_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "not a server"));
}

/* The caller's timeout fails the lookup; c-ares' own query lives on until
 * its retries end, on the loop's timers, and then lets the resolver go. */
static void
test_ares_timeout (Fixture       *f,
                   gconstpointer  data)
{
  GbridgeResolver *resolver;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0.3, 2);
  g_object_add_weak_pointer (G_OBJECT (resolver), (gpointer *) &resolver);

  assert_resolve_fails (f, resolver, "never.slow.test", 80, G_SOCKET_FAMILY_INVALID, 0.05,
                        GBRIDGE_RESOLVER_ERROR_TIMED_OUT);

  g_object_unref (resolver);
  wait_finalized (f, (gpointer *) &resolver);
}

/* No caller timeout: only c-ares' retry timeouts, which run on the loop's
 * timers (no socket ever becomes ready), end the lookup. */
static void
test_ares_retry_timeouts (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0.1, 2);

  assert_resolve_fails (f, resolver, "never.slow.test", 80, G_SOCKET_FAMILY_IPV4, 0,
                        GBRIDGE_RESOLVER_ERROR_TIMED_OUT);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_ares_cancel (Fixture       *f,
                  gconstpointer  data)
{
  GbridgeResolver *resolver;
  g_autoptr(GbridgeFuture) future = NULL;

  if (!need_dnsmasq ())
    return;
  resolver = ares_resolver (f, 0.2, 1);
  g_object_add_weak_pointer (G_OBJECT (resolver), (gpointer *) &resolver);

  future = gbridge_resolver_resolve (resolver, "never.slow.test", 80,
                                     G_SOCKET_FAMILY_INVALID, 0);
  g_assert_true (gbridge_future_cancel (future));
  wait_future (f, future);
  g_assert_cmpint (gbridge_future_get_state (future), ==, GBRIDGE_FUTURE_STATE_CANCELLED);

  g_object_unref (resolver);
  wait_finalized (f, (gpointer *) &resolver);
}

/* With room for one query, lookups run one after the other, in order; one
 * cancelled while it waits finishes at once. */
static void
test_ares_max_queries (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GbridgeResolver) resolver = NULL;
  g_autoptr(GbridgeFuture) slow = NULL;
  g_autoptr(GbridgeFuture) first = NULL;
  g_autoptr(GbridgeFuture) cancelled = NULL;
  g_autoptr(GError) error = NULL;
  GListModel *addresses;

  if (!need_dnsmasq ())
    return;
  resolver = g_initable_new (GBRIDGE_TYPE_ARES_RESOLVER, NULL, &error,
                             "loop", f->loop,
                             "servers", dns.servers,
                             "attempt-timeout", 0.2,
                             "tries", 1,
                             "max-queries", 1,
                             NULL);
  g_assert_no_error (error);

  slow = gbridge_resolver_resolve (resolver, "never.slow.test", 80, G_SOCKET_FAMILY_IPV4, 0);
  first = gbridge_resolver_resolve (resolver, "a.test", 80, G_SOCKET_FAMILY_IPV4, 0);
  cancelled = gbridge_resolver_resolve (resolver, "both.test", 80, G_SOCKET_FAMILY_IPV4, 0);
  g_assert_true (gbridge_future_cancel (cancelled));

  wait_future (f, first);
  g_assert_true (gbridge_future_is_done (slow));
  assert_error_names_host (gbridge_future_get_failure (slow),
                           GBRIDGE_RESOLVER_ERROR_TIMED_OUT, "never.slow.test");
  addresses = gbridge_future_get_object (first, NULL);
  g_assert_nonnull (addresses);
  g_assert_cmpuint (g_list_model_get_n_items (addresses), ==, 1);
  g_assert_cmpint (gbridge_future_get_state (cancelled), ==, GBRIDGE_FUTURE_STATE_CANCELLED);

  wait_future (f, cancelled);
  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
on_one_done (GbridgeFuture *future,
             gpointer       user_data)
{
  Fixture *f = user_data;
  guint *pending = g_object_get_data (G_OBJECT (f->loop), "pending");

  if (--(*pending) == 0)
    gbridge_io_loop_stop (f->loop);
}

static void
test_ares_thousand (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GPtrArray) futures = g_ptr_array_new_with_free_func (g_object_unref);
  GbridgeResolver *resolver;
  guint fds_before, pending = N_NAMES;

  if (!need_dnsmasq ())
    return;

  /* The loop opens its epoll and timer fds on first use: use them once. */
  resolver = ares_resolver (f, 0, 0);
  g_strfreev (resolve (f, resolver, "a.test", 80, G_SOCKET_FAMILY_INVALID, 10, NULL));
  g_assert_finalize_object (resolver);

  /* Retries, in case a datagram is lost all the same: a thousand answers
   * at once can overflow a socket's buffer on a loaded machine (CI runs
   * two suites side by side on two cores). */
  fds_before = count_fds ();
  resolver = ares_resolver (f, 1.0, 12);
  g_object_set_data (G_OBJECT (f->loop), "pending", &pending);

  for (int i = 0; i < N_NAMES; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%04d.test", i);
      GbridgeFuture *future = gbridge_resolver_resolve (resolver, name, 80,
                                                        G_SOCKET_FAMILY_IPV4, 60);

      gbridge_future_add_done_callback (future, on_one_done, f, NULL);
      g_ptr_array_add (futures, future);
    }
  /* All in flight at once, over a few sockets. */
  g_assert_cmpuint (gbridge_ares_resolver_get_n_sockets (GBRIDGE_ARES_RESOLVER (resolver)), >, 0);
  g_assert_true (gbridge_io_loop_start (f->loop, NULL));
  g_assert_cmpuint (pending, ==, 0);

  for (int i = 0; i < N_NAMES; i++)
    {
      GListModel *addresses = gbridge_future_get_object (futures->pdata[i], NULL);
      g_autoptr(GInetSocketAddress) address = NULL;
      g_autofree char *text = NULL;
      g_autofree char *expected = g_strdup_printf ("10.1.%d.%d", i / 256, i % 256);

      if (addresses == NULL)
        {
          const GError *failure = gbridge_future_get_failure (futures->pdata[i]);

          g_error ("n%04d.test: %s", i, failure != NULL ? failure->message : "cancelled");
        }
      g_assert_cmpuint (g_list_model_get_n_items (addresses), ==, 1);
      address = g_list_model_get_item (addresses, 0);
      text = g_inet_address_to_string (g_inet_socket_address_get_address (address));
      g_assert_cmpstr (text, ==, expected);
    }

  g_object_set_data (G_OBJECT (f->loop), "pending", NULL);
  g_ptr_array_set_size (futures, 0);
  g_assert_finalize_object (resolver);
  g_assert_cmpuint (count_fds (), ==, fds_before);
}

/* Override */

static void
test_override (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GbridgeOverrideResolver) resolver = gbridge_override_resolver_new (NULL);
  GbridgeResolver *r = GBRIDGE_RESOLVER (resolver);

  if (gbridge_test_skip_under_tsan ())
    return;

  g_assert_true (gbridge_override_resolver_get_resolver (resolver) == gbridge_resolver_get_default ());
  gbridge_override_resolver_add_host (resolver, "example.com", "192.0.2.10");
  gbridge_override_resolver_add_host (resolver, "example.com", "2001:db8::10");
  gbridge_override_resolver_add_host_port (resolver, "example.com", 443, "127.0.0.1", 8443);

  assert_resolves (f, r, "example.com", 80, G_SOCKET_FAMILY_INVALID, 0,
                   "192.0.2.10:80", "2001:db8::10:80", NULL);

  assert_resolves (f, r, "EXAMPLE.com", 80, G_SOCKET_FAMILY_IPV6, 0,
                   "2001:db8::10:80", NULL);

  /* (name, port) comes first, and changes the port. */
  assert_resolves (f, r, "example.com", 443, G_SOCKET_FAMILY_INVALID, 0,
                   "127.0.0.1:8443", NULL);

  assert_resolve_fails (f, r, "example.com", 443, G_SOCKET_FAMILY_IPV6, 0,
                        GBRIDGE_RESOLVER_ERROR_NOT_FOUND);

  /* A name without mapping goes to the wrapped resolver; so does one whose
   * mapping was removed. */
  assert_resolves (f, r, "localhost", 1, G_SOCKET_FAMILY_IPV4, 10,
                   "127.0.0.1:1", NULL);

  gbridge_override_resolver_add_host (resolver, "other.example", "localhost");
  assert_resolves (f, r, "other.example", 2, G_SOCKET_FAMILY_IPV4, 10,
                   "127.0.0.1:2", NULL);

  gbridge_override_resolver_remove_host (resolver, "example.com");
  assert_resolves (f, r, "example.com", 443, G_SOCKET_FAMILY_INVALID, 0,
                   "127.0.0.1:8443", NULL);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

static void
test_override_ares (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GbridgeResolver) ares = NULL;
  g_autoptr(GbridgeOverrideResolver) resolver = NULL;

  if (!need_dnsmasq ())
    return;
  ares = ares_resolver (f, 0, 0);
  resolver = gbridge_override_resolver_new (ares);
  g_assert_true (gbridge_resolver_get_loop (GBRIDGE_RESOLVER (resolver)) == f->loop);

  /* Split horizon: www.example.org is the internal a.test. */
  gbridge_override_resolver_add_host (resolver, "www.example.org", "a.test");
  assert_resolves (f, GBRIDGE_RESOLVER (resolver), "www.example.org", 80,
                   G_SOCKET_FAMILY_INVALID, 10, "192.0.2.1:80", NULL);

  assert_resolves (f, GBRIDGE_RESOLVER (resolver), "aaaa.test", 80,
                   G_SOCKET_FAMILY_INVALID, 10, "2001:db8::1:80", NULL);

  g_assert_finalize_object (g_steal_pointer (&resolver));
  g_assert_finalize_object (g_steal_pointer (&ares));
}

/* The GIO pair */

typedef struct
{
  Fixture      *f;
  GAsyncResult *result;
} AsyncWait;

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncWait *wait = user_data;

  wait->result = g_object_ref (result);
  gbridge_io_loop_stop (wait->f->loop);
}

static GListModel *
resolve_async (Fixture          *f,
               GbridgeResolver  *resolver,
               const char       *host,
               GSocketFamily     family,
               GCancellable     *cancellable,
               GError          **error)
{
  GMainContext *context = gbridge_io_loop_get_context (f->loop);
  AsyncWait wait = { f, NULL };
  GListModel *addresses;

  /* The task answers on the caller's thread-default context: the loop's. */
  g_main_context_push_thread_default (context);
  gbridge_resolver_resolve_async (resolver, host, 80, family, 10,
                                  cancellable, on_async_done, &wait);
  g_assert_true (gbridge_io_loop_start (f->loop, NULL));
  g_main_context_pop_thread_default (context);

  g_assert_nonnull (wait.result);
  addresses = gbridge_resolver_resolve_finish (resolver, wait.result, error);
  g_object_unref (wait.result);
  return addresses;
}

static void
test_resolve_async (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GbridgeOverrideResolver) resolver = gbridge_override_resolver_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GListModel) addresses = NULL;
  g_autoptr(GInetSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  gbridge_override_resolver_add_host (resolver, "example.com", "192.0.2.10");

  addresses = resolve_async (f, GBRIDGE_RESOLVER (resolver), "example.com",
                             G_SOCKET_FAMILY_INVALID, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (addresses), ==, 1);
  address = g_list_model_get_item (addresses, 0);
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, 80);
  g_clear_object (&addresses);

  addresses = resolve_async (f, GBRIDGE_RESOLVER (resolver), "example.com",
                             G_SOCKET_FAMILY_IPV6, NULL, &error);
  g_assert_null (addresses);
  assert_error_names_host (error, GBRIDGE_RESOLVER_ERROR_NOT_FOUND, "example.com");
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  addresses = resolve_async (f, GBRIDGE_RESOLVER (resolver), "example.com",
                             G_SOCKET_FAMILY_INVALID, cancellable, &error);
  g_assert_null (addresses);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_assert_finalize_object (g_steal_pointer (&resolver));
}

/* Built without c-ares: the type is there and its construction fails saying
 * why; one made with g_object_new(), as bindings do, fails every lookup the
 * same way (literals need no resolver); the default resolver works. */
static void
test_ares_unavailable (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GbridgeAresResolver) ares = NULL;
  g_autoptr(GError) error = NULL;
  GbridgeResolver *resolver;
  GStrv found;

  ares = gbridge_ares_resolver_new (f->loop, "127.0.0.1:53", &error);
  g_assert_null (ares);
  g_assert_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "c-ares"));
  g_clear_error (&error);

  resolver = g_object_new (GBRIDGE_TYPE_ARES_RESOLVER, "loop", f->loop, NULL);
  g_assert_true (gbridge_resolver_get_loop (resolver) == f->loop);
  found = resolve (f, resolver, "localhost", 80, G_SOCKET_FAMILY_INVALID, 5, &error);
  g_assert_null (found);
  g_assert_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "“localhost”"));
  g_assert_nonnull (strstr (error->message, "c-ares"));
  g_clear_error (&error);
  assert_resolves (f, resolver, "192.0.2.1", 80, G_SOCKET_FAMILY_INVALID, 5,
                   "192.0.2.1:80", NULL);
  g_assert_finalize_object (resolver);

  g_assert_true (GBRIDGE_IS_THREADED_RESOLVER (gbridge_resolver_get_default ()));
  assert_resolves (f, gbridge_resolver_get_default (), "localhost", 80, G_SOCKET_FAMILY_IPV4, 10,
                   "127.0.0.1:80", NULL);
}

/* Translations: the language, its message for "no address" and, in a
 * build without c-ares, for that. */

typedef struct
{
  const char *locale;
  const char *not_found;
  const char *unavailable;
} Translation;

static const Translation german = { "de_DE.UTF-8", "Keine Adresse für „192.0.2.7“ gefunden",
                                    "gbridge wurde ohne c-ares gebaut" };
static const Translation french = { "fr_FR.UTF-8", "Aucune adresse trouvée pour « 192.0.2.7 »",
                                    "gbridge a été compilé sans c-ares" };

static void
test_translated_error (Fixture       *f,
                       gconstpointer  data)
{
  const Translation *t = data;
  g_autofree char *pattern = g_strdup_printf ("*%s*", t->not_found);
  g_autofree char *unavailable_pattern = g_strdup_printf ("*%s*", t->unavailable);

  if (!gbridge_test_have_locales ())
    return;

  if (g_test_subprocess ())
    {
      g_autoptr(GbridgeFuture) future = NULL;

      gbridge_test_use_locale (t->locale);

      future = gbridge_resolver_resolve (gbridge_resolver_get_default (), "192.0.2.7", 80,
                                         G_SOCKET_FAMILY_IPV6, 0);
      g_assert_error (gbridge_future_get_failure (future), GBRIDGE_RESOLVER_ERROR,
                      GBRIDGE_RESOLVER_ERROR_NOT_FOUND);
      g_print ("%s\n", gbridge_future_get_failure (future)->message);
      if (!BUILT_WITH_CARES)
        {
          g_autoptr(GError) error = NULL;

          g_assert_null (gbridge_ares_resolver_new (f->loop, NULL, &error));
          g_print ("%s\n", error->message);
        }
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*No address found*");
  g_test_trap_assert_stdout (pattern);
  if (!BUILT_WITH_CARES)
    {
      g_test_trap_assert_stdout_unmatched ("*built without*");
      g_test_trap_assert_stdout (unavailable_pattern);
    }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  TEST ("literal", test_literal);
  TEST ("literal/family", test_literal_family);
  g_test_add ("/Gbridge/Resolver/threaded/special-names", Fixture, "threaded",
              fixture_setup, test_special_names, fixture_teardown);
  g_test_add ("/Gbridge/Resolver/ares/special-names", Fixture, "ares",
              fixture_setup, test_special_names, fixture_teardown);
  g_test_add ("/Gbridge/Resolver/threaded/scoped-literal", Fixture, "threaded",
              fixture_setup, test_scoped_literal, fixture_teardown);
  g_test_add ("/Gbridge/Resolver/ares/scoped-literal", Fixture, "ares",
              fixture_setup, test_scoped_literal, fixture_teardown);
  TEST ("threaded/localhost", test_threaded_localhost);
  TEST ("threaded/default-uses-current-loop", test_threaded_default_uses_current_loop);
  TEST ("threaded/not-found", test_threaded_not_found);
  TEST ("threaded/cancel", test_threaded_cancel);
  TEST ("ares/records", test_ares_records);
  TEST ("ares/cname-chain", test_ares_cname_chain);
  TEST ("ares/not-found", test_ares_not_found);
  TEST ("ares/many", test_ares_many);
  TEST ("ares/literal-no-query", test_ares_literal_no_query);
  TEST ("ares/bad-servers", test_ares_bad_servers);
  TEST ("ares/timeout", test_ares_timeout);
  TEST ("ares/retry-timeouts", test_ares_retry_timeouts);
  TEST ("ares/cancel", test_ares_cancel);
  TEST ("ares/max-queries", test_ares_max_queries);
  TEST ("ares/thousand", test_ares_thousand);
  if (!BUILT_WITH_CARES)
    TEST ("ares/unavailable", test_ares_unavailable);
  TEST ("override", test_override);
  TEST ("override/ares", test_override_ares);
  TEST ("resolve-async", test_resolve_async);
  g_test_add ("/Gbridge/Resolver/translated-error/de", Fixture, &german,
              fixture_setup, test_translated_error, fixture_teardown);
  g_test_add ("/Gbridge/Resolver/translated-error/fr", Fixture, &french,
              fixture_setup, test_translated_error, fixture_teardown);

  if (BUILT_WITH_CARES && !g_test_subprocess ())
    start_dnsmasq ();
  ret = g_test_run ();
  stop_dnsmasq ();

  return ret;
}
