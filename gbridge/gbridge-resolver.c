/* gbridge-resolver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-resolver-private.h"
#include "gbridge-io-loop-private.h"
#include "gbridge-threaded-resolver.h"

#include <glib/gi18n-lib.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

/**
 * SECTION:gbridge-resolver
 * @title: GbridgeResolver
 * @short_description: Asynchronous name resolution on a loop
 *
 * A #GbridgeResolver turns a host name and a port into every address the
 * name has: gbridge_resolver_resolve() returns a #GbridgeFuture that resolves
 * to a #GListStore of #GInetSocketAddress, in the order the system prefers
 * them (RFC 6724), so a client tries them first to last.
 *
 * IP literals such as `127.0.0.1`, `::1` or `[::1]` answer at once, without a
 * lookup; so do scoped IPv6 literals such as `fe80::1%eth0` or
 * `[fe80::1%2]`, whose #GInetSocketAddress:scope-id is the interface's
 * index. Every implementation answers `localhost` and `localhost.` (in any
 * case) with the loopback addresses, `::1` then `127.0.0.1`, without asking
 * the system or a server, as RFC 6761 says resolvers should. The empty
 * host fails with %GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT. A family of %G_SOCKET_FAMILY_IPV4 or %G_SOCKET_FAMILY_IPV6 keeps
 * only the addresses of that family; %G_SOCKET_FAMILY_INVALID keeps all.
 * Cancelling the future (or its #GCancellable) stops the lookup; a timeout
 * fails it with %GBRIDGE_RESOLVER_ERROR_TIMED_OUT. Every failure is a
 * #GError in the %GBRIDGE_RESOLVER_ERROR domain whose message names the
 * host.
 *
 * gbridge ships three implementations: #GbridgeThreadedResolver (GLib's
 * #GResolver, getaddrinfo() in worker threads; the default),
 * #GbridgeAresResolver (c-ares, no threads: its sockets and retry timers live
 * on the loop; in a gbridge built without c-ares it fails to construct with
 * %GBRIDGE_RESOLVER_ERROR_UNAVAILABLE) and #GbridgeOverrideResolver (fixed answers for some names,
 * for tests and split-horizon setups, in front of another resolver).
 *
 * |[<!-- language="C" -->
 * static void
 * on_resolved (GbridgeFuture *future,
 *              gpointer       user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   GListModel *addresses = gbridge_future_get_object (future, &error);
 *
 *   if (addresses != NULL)
 *     g_print ("%u addresses\n", g_list_model_get_n_items (addresses));
 * }
 *
 * GbridgeFuture *future =
 *   gbridge_resolver_resolve (gbridge_resolver_get_default (), "gnome.org",
 *                             443, G_SOCKET_FAMILY_INVALID, 10.0);
 * gbridge_future_add_done_callback (future, on_resolved, NULL, NULL);
 * ]|
 */

/**
 * GbridgeResolver:
 *
 * An object that resolves host names; see gbridge_resolver_resolve().
 *
 * Since: 1.0
 */

/**
 * gbridge_resolver_error_quark:
 *
 * The error domain of #GbridgeResolver, see %GBRIDGE_RESOLVER_ERROR.
 *
 * Returns: the error quark
 *
 * Since: 1.0
 */
G_DEFINE_QUARK (gbridge-resolver-error-quark, gbridge_resolver_error)

G_DEFINE_INTERFACE (GbridgeResolver, gbridge_resolver, G_TYPE_OBJECT)

static void
gbridge_resolver_default_init (GbridgeResolverInterface *iface)
{
  /**
   * GbridgeResolver:loop:
   *
   * The loop the resolver's futures and timers belong to; %NULL means the
   * calling thread's current loop (or the default loop) at each call.
   *
   * Since: 1.0
   */
  g_object_interface_install_property (iface,
    g_param_spec_object ("loop", NULL, NULL,
                         GBRIDGE_TYPE_IO_LOOP,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));
}

GError *
_gbridge_resolver_error_new (GbridgeResolverError  code,
                             const char           *host,
                             const char           *detail)
{
  switch (code)
    {
    case GBRIDGE_RESOLVER_ERROR_NOT_FOUND:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, code,
                          _("No address found for “%s”"), host);

    case GBRIDGE_RESOLVER_ERROR_TEMPORARY_FAILURE:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, code,
                          _("Temporary failure resolving “%s”"), host);

    case GBRIDGE_RESOLVER_ERROR_TIMED_OUT:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, code,
                          _("Timed out resolving “%s”"), host);

    case GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, code,
                          _("Invalid host name “%s”"), host);

    case GBRIDGE_RESOLVER_ERROR_UNAVAILABLE:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, code,
                          _("Cannot resolve “%s”: %s"), host, detail);

    case GBRIDGE_RESOLVER_ERROR_FAILED:
    default:
      return g_error_new (GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_FAILED,
                          _("Error resolving “%s”: %s"), host,
                          detail != NULL ? detail : "");
    }
}

/* Appends @address with @port, unless @family (%G_SOCKET_FAMILY_INVALID for
 * any) excludes it. */
void
_gbridge_resolver_append (GListStore    *store,
                          GInetAddress  *address,
                          guint16        port,
                          GSocketFamily  family)
{
  g_autoptr(GSocketAddress) sockaddr = NULL;

  if (family != G_SOCKET_FAMILY_INVALID && family != g_inet_address_get_family (address))
    return;

  sockaddr = g_inet_socket_address_new (address, port);
  g_list_store_append (store, sockaddr);
}

/* Resolves @future with @store, or fails it with
 * %GBRIDGE_RESOLVER_ERROR_NOT_FOUND when @store is empty: an answer is never
 * an empty list. */
void
_gbridge_resolver_answer (GbridgeFuture *future,
                          GListStore    *store,
                          const char    *host)
{
  if (g_list_model_get_n_items (G_LIST_MODEL (store)) > 0)
    gbridge_future_resolve_object (future, store, NULL);
  else
    gbridge_future_take_failure (future,
                                 _gbridge_resolver_error_new (GBRIDGE_RESOLVER_ERROR_NOT_FOUND,
                                                              host, NULL),
                                 NULL);
}

void
_gbridge_resolver_install_loop_property (GObjectClass *klass,
                                         guint         prop_id)
{
  g_object_class_override_property (klass, prop_id, "loop");
}

/* Parses an interface, by name or number, as the zone of a scoped IPv6
 * literal. Returns 0 when no interface has that name. */
static guint32
parse_zone (const char *zone)
{
  char *end = NULL;
  guint64 index;

  if (g_ascii_isdigit (zone[0]))
    {
      index = g_ascii_strtoull (zone, &end, 10);
      if (*end == '\0' && index > 0 && index <= G_MAXUINT32)
        return (guint32) index;
      return 0;
    }
  return if_nametoindex (zone);
}

typedef enum
{
  NOT_A_LITERAL,
  LITERAL,
  INVALID_HOST,  /* empty, or a scoped literal whose interface does not exist */
} LiteralKind;

/* Parses an IP literal, bare or in brackets, IPv6 ones with or without a
 * zone ("fe80::1%lo", "[fe80::1%2]"); *@scope_id is the zone's interface
 * index, or 0. */
static LiteralKind
parse_literal (const char    *host,
               GInetAddress **address,
               guint32       *scope_id)
{
  g_autofree char *inner = NULL;
  g_autofree char *bare = NULL;
  const char *text = host;
  const char *percent;
  gboolean bracketed = FALSE;
  gsize len = strlen (host);

  *address = NULL;
  *scope_id = 0;

  if (len > 2 && host[0] == '[' && host[len - 1] == ']')
    {
      inner = g_strndup (host + 1, len - 2);
      text = inner;
      bracketed = TRUE;
    }

  percent = strchr (text, '%');
  if (percent == NULL)
    {
      *address = g_inet_address_new_from_string (text);
    }
  else
    {
      bare = g_strndup (text, percent - text);
      *address = g_inet_address_new_from_string (bare);
    }

  if (*address == NULL)
    return NOT_A_LITERAL;
  if ((bracketed || percent != NULL) &&
      g_inet_address_get_family (*address) != G_SOCKET_FAMILY_IPV6)
    {
      g_clear_object (address);
      return NOT_A_LITERAL;
    }
  if (percent == NULL)
    return LITERAL;

  *scope_id = parse_zone (percent + 1);
  if (*scope_id == 0)
    {
      g_clear_object (address);
      return INVALID_HOST;
    }
  return LITERAL;
}

static gboolean
is_localhost (const char *host)
{
  return g_ascii_strcasecmp (host, "localhost") == 0 ||
         g_ascii_strcasecmp (host, "localhost.") == 0;
}

/* RFC 6761, 6.3: localhost names resolve to the loopback addresses, in
 * RFC 6724's order (::1 first), without asking anyone. The resolvers call
 * this from their lookup, so that a #GbridgeOverrideResolver may still
 * override "localhost". Returns %NULL when @host is not localhost. */
GbridgeFuture *
_gbridge_resolver_lookup_localhost (GbridgeIOLoop *loop,
                                    const char    *host,
                                    guint16        port,
                                    GSocketFamily  family)
{
  g_autoptr(GListStore) store = NULL;
  g_autoptr(GInetAddress) v6 = NULL;
  g_autoptr(GInetAddress) v4 = NULL;
  GbridgeFuture *future;

  if (!is_localhost (host))
    return NULL;

  store = g_list_store_new (G_TYPE_INET_SOCKET_ADDRESS);
  v6 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  v4 = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  _gbridge_resolver_append (store, v6, port, family);
  _gbridge_resolver_append (store, v4, port, family);

  future = gbridge_future_new_for_loop (loop);
  _gbridge_resolver_answer (future, store, host);
  return future;
}

/**
 * gbridge_resolver_get_default:
 *
 * Gets the process-wide default resolver: a #GbridgeThreadedResolver whose
 * futures belong to the calling thread's current loop (or the default loop)
 * at each call, in every build of gbridge (with or without c-ares). It is
 * never finalized.
 *
 * Returns: (transfer none): the default #GbridgeResolver
 *
 * Since: 1.0
 */
GbridgeResolver *
gbridge_resolver_get_default (void)
{
  static GbridgeResolver *default_resolver;

  if (g_once_init_enter (&default_resolver))
    g_once_init_leave (&default_resolver,
                       GBRIDGE_RESOLVER (gbridge_threaded_resolver_new (NULL)));

  return default_resolver;
}

/**
 * gbridge_resolver_get_loop:
 * @self: a #GbridgeResolver
 *
 * Gets the loop of @self, see #GbridgeResolver:loop.
 *
 * Returns: (transfer none) (nullable): the loop, or %NULL when the resolver
 *   uses the calling thread's current loop
 *
 * Since: 1.0
 */
GbridgeIOLoop *
gbridge_resolver_get_loop (GbridgeResolver *self)
{
  GbridgeIOLoop *loop = NULL;

  g_return_val_if_fail (GBRIDGE_IS_RESOLVER (self), NULL);

  g_object_get (self, "loop", &loop, NULL);
  /* The resolver holds the loop for its whole life. */
  if (loop != NULL)
    g_object_unref (loop);
  return loop;
}

/* One call of gbridge_resolver_resolve(): the future handed out (outer) and
 * the implementation's future (inner), tied together until both are done. */
typedef struct
{
  gint             ref_count;  /* g_atomic_int_*: inline, visible to TSan */
  GbridgeIOLoop   *loop;
  GbridgeFuture   *outer;
  GbridgeFuture   *inner;
  char            *host;
  guint64          timeout;
} Resolve;

static Resolve *
resolve_ref (Resolve *r)
{
  g_atomic_int_inc (&r->ref_count);
  return r;
}

static void
resolve_unref (gpointer data)
{
  Resolve *r = data;

  if (g_atomic_int_dec_and_test (&r->ref_count))
    {
      g_clear_object (&r->loop);
      g_clear_object (&r->outer);
      g_clear_object (&r->inner);
      g_free (r->host);
      g_free (r);
    }
}

static void
resolve_stop_timer (Resolve *r)
{
  _gbridge_io_loop_clear_timeout (r->loop, &r->timeout);
}

static void
on_inner_done (GbridgeFuture *inner,
               gpointer       user_data)
{
  Resolve *r = user_data;

  resolve_stop_timer (r);
  if (gbridge_future_is_done (r->outer))
    return;

  switch (gbridge_future_get_state (inner))
    {
    case GBRIDGE_FUTURE_STATE_RESOLVED:
      gbridge_future_resolve_object (r->outer,
                                     gbridge_future_get_object (inner, NULL),
                                     NULL);
      break;

    case GBRIDGE_FUTURE_STATE_FAILED:
      gbridge_future_fail (r->outer, gbridge_future_get_failure (inner), NULL);
      break;

    case GBRIDGE_FUTURE_STATE_CANCELLED:
    case GBRIDGE_FUTURE_STATE_PENDING:
    default:
      gbridge_future_cancel (r->outer);
      break;
    }
}

static void
on_outer_done (GbridgeFuture *outer,
               gpointer       user_data)
{
  Resolve *r = user_data;

  resolve_stop_timer (r);
  /* Cancelled or timed out: the implementation stops its work. */
  if (!gbridge_future_is_done (r->inner))
    gbridge_future_cancel (r->inner);
}

static void
on_timeout (gpointer user_data)
{
  Resolve *r = user_data;

  r->timeout = 0;
  if (!gbridge_future_is_done (r->outer))
    gbridge_future_take_failure (r->outer,
                                 _gbridge_resolver_error_new (GBRIDGE_RESOLVER_ERROR_TIMED_OUT,
                                                              r->host, NULL),
                                 NULL);
  if (!gbridge_future_is_done (r->inner))
    gbridge_future_cancel (r->inner);
}

/**
 * gbridge_resolver_resolve:
 * @self: a #GbridgeResolver
 * @host: a host name or an IP literal (`[::1]` and `fe80::1%eth0` work too)
 * @port: the port to put in every address
 * @family: %G_SOCKET_FAMILY_IPV4 or %G_SOCKET_FAMILY_IPV6 to keep only the
 *   addresses of that family, %G_SOCKET_FAMILY_INVALID for all
 * @timeout: seconds after which the lookup fails with
 *   %GBRIDGE_RESOLVER_ERROR_TIMED_OUT, or 0 for none
 *
 * Looks up every address of @host. The future resolves to a #GListStore of
 * #GInetSocketAddress, never empty, in the system's order of preference, or
 * fails with a #GError in the %GBRIDGE_RESOLVER_ERROR domain that names
 * @host. Cancel the future, or its #GCancellable, to stop the lookup.
 *
 * An IP literal resolves the future at once, without a lookup; a scoped
 * IPv6 literal (`fe80::1%eth0`, `fe80::1%2`) gets its interface's index as
 * #GInetSocketAddress:scope-id, or fails at once with
 * %GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT when there is no such interface.
 * The empty host fails at once with %GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT.
 * `localhost` and `localhost.` resolve to `::1` and `127.0.0.1` (RFC 6761),
 * whatever the implementation.
 *
 * Returns: (transfer full): a future of a #GListStore of #GInetSocketAddress
 *
 * Since: 1.0
 */
GbridgeFuture *
gbridge_resolver_resolve (GbridgeResolver *self,
                          const char      *host,
                          guint16          port,
                          GSocketFamily    family,
                          double           timeout)
{
  GbridgeResolverInterface *iface;
  g_autoptr(GInetAddress) literal = NULL;
  g_autoptr(GbridgeFuture) outer = NULL;
  GbridgeFuture *inner;
  GbridgeIOLoop *loop;
  guint32 scope_id;
  Resolve *r;

  g_return_val_if_fail (GBRIDGE_IS_RESOLVER (self), NULL);
  g_return_val_if_fail (host != NULL, NULL);
  g_return_val_if_fail (family == G_SOCKET_FAMILY_INVALID ||
                        family == G_SOCKET_FAMILY_IPV4 ||
                        family == G_SOCKET_FAMILY_IPV6, NULL);
  g_return_val_if_fail (timeout >= 0, NULL);

  loop = _gbridge_io_loop_pick (gbridge_resolver_get_loop (self));
  outer = gbridge_future_new_for_loop (loop);

  switch (host[0] == '\0' ? INVALID_HOST : parse_literal (host, &literal, &scope_id))
    {
    case LITERAL:
      {
        g_autoptr(GListStore) store = g_list_store_new (G_TYPE_INET_SOCKET_ADDRESS);

        if (scope_id == 0)
          {
            _gbridge_resolver_append (store, literal, port, family);
          }
        else if (family != G_SOCKET_FAMILY_IPV4)
          {
            g_autoptr(GSocketAddress) sockaddr =
              g_object_new (G_TYPE_INET_SOCKET_ADDRESS,
                            "address", literal,
                            "port", (guint) port,
                            "scope-id", scope_id,
                            NULL);

            g_list_store_append (store, sockaddr);
          }
        _gbridge_resolver_answer (outer, store, host);
        return g_steal_pointer (&outer);
      }

    case INVALID_HOST:
      gbridge_future_take_failure (outer,
                                   _gbridge_resolver_error_new (GBRIDGE_RESOLVER_ERROR_INVALID_ARGUMENT,
                                                                host, NULL),
                                   NULL);
      return g_steal_pointer (&outer);

    case NOT_A_LITERAL:
    default:
      break;
    }

  iface = GBRIDGE_RESOLVER_GET_IFACE (self);
  g_return_val_if_fail (iface->lookup != NULL, NULL);
  inner = iface->lookup (self, host, port, family);
  g_return_val_if_fail (GBRIDGE_IS_FUTURE (inner), NULL);

  r = g_new0 (Resolve, 1);
  r->ref_count = 1;
  r->loop = g_object_ref (loop);
  r->outer = g_object_ref (outer);
  r->inner = inner;
  r->host = g_strdup (host);

  gbridge_future_add_done_callback (inner, on_inner_done, resolve_ref (r), resolve_unref);
  gbridge_future_add_done_callback (outer, on_outer_done, resolve_ref (r), resolve_unref);
  if (timeout > 0)
    r->timeout = gbridge_io_loop_call_later (loop, timeout, on_timeout,
                                             resolve_ref (r), resolve_unref);
  resolve_unref (r);

  return g_steal_pointer (&outer);
}

static void
on_resolved_for_task (GbridgeFuture *future,
                      gpointer       user_data)
{
  g_autoptr(GTask) task = user_data;

  switch (gbridge_future_get_state (future))
    {
    case GBRIDGE_FUTURE_STATE_RESOLVED:
      g_task_return_pointer (task,
                             g_object_ref (gbridge_future_get_object (future, NULL)),
                             g_object_unref);
      break;

    case GBRIDGE_FUTURE_STATE_FAILED:
      g_task_return_error (task, g_error_copy (gbridge_future_get_failure (future)));
      break;

    case GBRIDGE_FUTURE_STATE_CANCELLED:
    case GBRIDGE_FUTURE_STATE_PENDING:
    default:
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               _("Resolving “%s” was cancelled"),
                               (const char *) g_task_get_task_data (task));
      break;
    }
}

/**
 * gbridge_resolver_resolve_async:
 * @self: a #GbridgeResolver
 * @host: a host name or an IP literal
 * @port: the port to put in every address
 * @family: the family to keep, or %G_SOCKET_FAMILY_INVALID for all
 * @timeout: seconds before the lookup fails with
 *   %GBRIDGE_RESOLVER_ERROR_TIMED_OUT, or 0 for none
 * @cancellable: (nullable): a #GCancellable that stops the lookup
 * @callback: (scope async): called when the lookup is done
 * @user_data: data for @callback
 *
 * gbridge_resolver_resolve() as a GIO asynchronous operation, for Vala's
 * `yield`, GJS's `Gio._promisify()` and GIO-style C. @callback runs in the
 * thread-default main context of the calling thread; call
 * gbridge_resolver_resolve_finish() from it.
 *
 * Since: 1.0
 */
void
gbridge_resolver_resolve_async (GbridgeResolver     *self,
                                const char          *host,
                                guint16              port,
                                GSocketFamily        family,
                                double               timeout,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GbridgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (GBRIDGE_IS_RESOLVER (self));
  g_return_if_fail (host != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  /* NULL only after a programmer error, which it has reported. */
  future = gbridge_resolver_resolve (self, host, port, family, timeout);
  if (future == NULL)
    return;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gbridge_resolver_resolve_async);
  g_task_set_task_data (task, g_strdup (host), g_free);
  if (cancellable != NULL)
    gbridge_future_link_cancellable (future, cancellable);
  gbridge_future_add_done_callback (future, on_resolved_for_task, task, NULL);
}

/**
 * gbridge_resolver_resolve_finish:
 * @self: a #GbridgeResolver
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes gbridge_resolver_resolve_async().
 *
 * Returns: (transfer full): a #GListModel of #GInetSocketAddress, never
 *   empty, or %NULL with @error set
 *
 * Since: 1.0
 */
GListModel *
gbridge_resolver_resolve_finish (GbridgeResolver  *self,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  g_return_val_if_fail (GBRIDGE_IS_RESOLVER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gbridge_resolver_resolve_async,
                        NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
