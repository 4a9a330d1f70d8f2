/* gbridge-threaded-resolver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-threaded-resolver.h"
#include "gbridge-io-loop-private.h"
#include "gbridge-resolver-private.h"

/**
 * SECTION:gbridge-threaded-resolver
 * @title: GbridgeThreadedResolver
 * @short_description: Name resolution with GLib's GResolver
 *
 * #GbridgeThreadedResolver looks names up with the system's #GResolver,
 * which calls getaddrinfo() in GLib's worker threads: it sees everything
 * the C library sees (`/etc/hosts`, NSS modules such as mDNS), at the cost
 * of one blocked thread per lookup in flight. It is the default resolver,
 * see gbridge_resolver_get_default().
 *
 * Call gbridge_resolver_resolve() from the thread that runs the loop (or
 * before any thread runs it).
 *
 * getaddrinfo() cannot be interrupted: a lookup that is cancelled or times
 * out finishes at once for its caller, while its worker thread stays busy
 * until the C library answers.
 */

/**
 * GbridgeThreadedResolver:
 *
 * A #GbridgeResolver on GLib's #GResolver. Its fields are private.
 *
 * Since: 1.0
 */

struct _GbridgeThreadedResolver
{
  GObject parent_instance;

  GbridgeIOLoop *loop;
  GResolver     *resolver;
};

enum {
  PROP_0,
  PROP_LOOP,
  N_PROPS
};

static void resolver_iface_init (GbridgeResolverInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GbridgeThreadedResolver, gbridge_threaded_resolver, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GBRIDGE_TYPE_RESOLVER, resolver_iface_init))

static void
gbridge_threaded_resolver_finalize (GObject *object)
{
  GbridgeThreadedResolver *self = (GbridgeThreadedResolver *) object;

  g_clear_object (&self->loop);
  g_clear_object (&self->resolver);

  G_OBJECT_CLASS (gbridge_threaded_resolver_parent_class)->finalize (object);
}

static void
gbridge_threaded_resolver_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  GbridgeThreadedResolver *self = GBRIDGE_THREADED_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_threaded_resolver_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  GbridgeThreadedResolver *self = GBRIDGE_THREADED_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_threaded_resolver_class_init (GbridgeThreadedResolverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = gbridge_threaded_resolver_finalize;
  object_class->get_property = gbridge_threaded_resolver_get_property;
  object_class->set_property = gbridge_threaded_resolver_set_property;

  _gbridge_resolver_install_loop_property (object_class, PROP_LOOP);
}

static void
gbridge_threaded_resolver_init (GbridgeThreadedResolver *self)
{
  self->resolver = g_resolver_get_default ();
}

typedef struct
{
  GbridgeThreadedResolver *resolver;
  GbridgeFuture *future;
  char          *host;
  guint16        port;
  GSocketFamily  family;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  g_clear_object (&lookup->future);
  g_clear_object (&lookup->resolver);
  g_free (lookup->host);
  g_free (lookup);
}

static GbridgeResolverError
error_code (const GError *error)
{
  if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    return GBRIDGE_RESOLVER_ERROR_NOT_FOUND;
  if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE))
    return GBRIDGE_RESOLVER_ERROR_TEMPORARY_FAILURE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return GBRIDGE_RESOLVER_ERROR_TIMED_OUT;
  return GBRIDGE_RESOLVER_ERROR_FAILED;
}

static void
on_lookup_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Lookup *lookup = user_data;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      gbridge_future_cancel (lookup->future);
    }
  else if (error != NULL)
    {
      gbridge_future_take_failure (lookup->future,
                                   _gbridge_resolver_error_new (error_code (error),
                                                                lookup->host, error->message),
                                   NULL);
    }
  else
    {
      g_autoptr(GListStore) store = g_list_store_new (G_TYPE_INET_SOCKET_ADDRESS);

      for (GList *l = addresses; l != NULL; l = l->next)
        _gbridge_resolver_append (store, l->data, lookup->port, lookup->family);
      g_resolver_free_addresses (addresses);
      _gbridge_resolver_answer (lookup->future, store, lookup->host);
    }

  lookup_free (lookup);
}

static GbridgeFuture *
gbridge_threaded_resolver_lookup (GbridgeResolver *resolver,
                                  const char      *host,
                                  guint16          port,
                                  GSocketFamily    family)
{
  GbridgeThreadedResolver *self = GBRIDGE_THREADED_RESOLVER (resolver);
  GbridgeIOLoop *loop = _gbridge_io_loop_pick (self->loop);
  GMainContext *context = gbridge_io_loop_get_context (loop);
  GResolverNameLookupFlags flags = G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT;
  GbridgeFuture *future;
  Lookup *lookup;
  gboolean pushed;

  /* getaddrinfo() answers only what /etc/hosts says (often IPv4 only). */
  future = _gbridge_resolver_lookup_localhost (loop, host, port, family);
  if (future != NULL)
    return future;
  future = gbridge_future_new_for_loop (loop);

  if (family == G_SOCKET_FAMILY_IPV4)
    flags = G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY;
  else if (family == G_SOCKET_FAMILY_IPV6)
    flags = G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY;

  /* Each lookup keeps the resolver alive until GResolver answers. */
  lookup = g_new0 (Lookup, 1);
  lookup->resolver = g_object_ref (self);
  lookup->future = g_object_ref (future);
  lookup->host = g_strdup (host);
  lookup->port = port;
  lookup->family = family;

  /* GResolver answers on the thread-default context of the caller: make
   * that the loop's context, unless another thread is running it. */
  pushed = g_main_context_acquire (context);
  if (pushed)
    g_main_context_push_thread_default (context);
  g_resolver_lookup_by_name_with_flags_async (self->resolver, host, flags,
                                              gbridge_future_get_cancellable (future),
                                              on_lookup_done, lookup);
  if (pushed)
    {
      g_main_context_pop_thread_default (context);
      g_main_context_release (context);
    }

  return future;
}

static void
resolver_iface_init (GbridgeResolverInterface *iface)
{
  iface->lookup = gbridge_threaded_resolver_lookup;
}

/**
 * gbridge_threaded_resolver_new:
 * @loop: (nullable): the loop of the futures, or %NULL for the calling
 *   thread's current loop at each call
 *
 * Creates a resolver that uses GLib's #GResolver.
 *
 * Returns: (transfer full): a new #GbridgeThreadedResolver
 *
 * Since: 1.0
 */
GbridgeThreadedResolver *
gbridge_threaded_resolver_new (GbridgeIOLoop *loop)
{
  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);

  return g_object_new (GBRIDGE_TYPE_THREADED_RESOLVER, "loop", loop, NULL);
}
