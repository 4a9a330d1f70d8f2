/* gbridge-ares-resolver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-ares-resolver.h"
#include "gbridge-io-loop-private.h"
#include "gbridge-resolver-private.h"

#include <glib/gi18n-lib.h>

#ifdef HAVE_CARES
# include <ares.h>
# include <netinet/in.h>
# include <sys/socket.h>
#endif

/**
 * SECTION:gbridge-ares-resolver
 * @title: GbridgeAresResolver
 * @short_description: Name resolution with c-ares, on the loop, without
 *   threads
 *
 * #GbridgeAresResolver asks DNS servers directly with c-ares: its sockets are
 * watched in the loop's fd set and c-ares' retry timeouts run on the loop's
 * timers, so a thousand lookups in flight cost a few sockets and no thread.
 * (Tornado's c-ares resolver never polled c-ares' timeouts, so a lost UDP
 * packet stalled its lookup until some other socket woke the channel up.)
 *
 * It looks in `/etc/hosts` first, then asks the servers of
 * `/etc/resolv.conf`, with its search domains; or, when
 * #GbridgeAresResolver:servers names servers (for example
 * `"127.0.0.1:5353"`), those, without search domains. c-ares does not
 * consult NSS (mDNS, LDAP...): use #GbridgeThreadedResolver for those names.
 *
 * At most #GbridgeAresResolver:max-queries lookups are in flight at once;
 * the others wait their turn, so a burst of thousands does not overflow the
 * servers' socket buffers (each lost datagram would cost a retry timeout).
 *
 * Like its loop, the resolver belongs to one thread: call
 * gbridge_resolver_resolve() from the thread that runs the loop (or before
 * any thread runs it).
 *
 * c-ares cannot stop a single query: a cancelled or timed out lookup
 * finishes at once for its caller, while c-ares forgets the query when its
 * answer or its own last retry comes. The resolver lives until then.
 *
 * gbridge can be built without c-ares (`-Dares=disabled`). The type and its
 * functions stay, so the ABI is the same: gbridge_ares_resolver_new() and
 * g_initable_init() then fail with %GBRIDGE_RESOLVER_ERROR_UNAVAILABLE, and
 * every lookup of a resolver made with g_object_new() fails the same way.
 * gbridge_resolver_get_default() is a #GbridgeThreadedResolver in every
 * build.
 */

/**
 * GbridgeAresResolver:
 *
 * A #GbridgeResolver on c-ares. Its fields are private.
 *
 * Since: 1.0
 */

struct _GbridgeAresResolver
{
  GObject parent_instance;

  GbridgeIOLoop *loop;
  char          *servers;
  double         attempt_timeout;
  guint          tries;
  guint          max_queries;

#ifdef HAVE_CARES
  ares_channel   channel;
#endif
  gboolean       have_channel;
  GHashTable    *sockets;
  guint64        timer;

  /* Queries beyond max_queries wait here, oldest first. */
  GQueue         waiting;
  guint          n_active;
};

enum {
  PROP_0,
  PROP_SERVERS,
  PROP_ATTEMPT_TIMEOUT,
  PROP_TRIES,
  PROP_MAX_QUERIES,
  N_PROPS,
  /* overridden from the interface, not in properties[] */
  PROP_LOOP = N_PROPS,
};

static GParamSpec *properties[N_PROPS];

typedef struct
{
  GbridgeAresResolver *resolver;
  GbridgeFuture       *future;
  char                *host;
  guint16              port;
  int                  ai_family;
} Query;

static void resolver_iface_init (GbridgeResolverInterface *iface);
static void initable_iface_init (GInitableIface *iface);
static void query_free (Query *query);

G_DEFINE_FINAL_TYPE_WITH_CODE (GbridgeAresResolver, gbridge_ares_resolver, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, initable_iface_init)
                               G_IMPLEMENT_INTERFACE (GBRIDGE_TYPE_RESOLVER, resolver_iface_init))

static void
stop_timer (GbridgeAresResolver *self)
{
  _gbridge_io_loop_clear_timeout (self->loop, &self->timer);
}

static void
gbridge_ares_resolver_dispose (GObject *object)
{
  GbridgeAresResolver *self = (GbridgeAresResolver *) object;

#ifdef HAVE_CARES
  if (self->have_channel)
    {
      GHashTableIter iter;
      gpointer key;

      /* Ends every query (their callbacks see ARES_EDESTRUCTION) and closes
       * the sockets, telling sock_state_cb about each. */
      self->have_channel = FALSE;
      ares_destroy (self->channel);

      g_hash_table_iter_init (&iter, self->sockets);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        gbridge_io_loop_remove_handler (self->loop, GPOINTER_TO_INT (key));
      g_hash_table_remove_all (self->sockets);
    }
#endif
  stop_timer (self);

  while (!g_queue_is_empty (&self->waiting))
    {
      Query *query = g_queue_pop_head (&self->waiting);

      gbridge_future_cancel (query->future);
      query_free (query);
    }

  G_OBJECT_CLASS (gbridge_ares_resolver_parent_class)->dispose (object);
}

static void
gbridge_ares_resolver_finalize (GObject *object)
{
  GbridgeAresResolver *self = (GbridgeAresResolver *) object;

  g_clear_pointer (&self->sockets, g_hash_table_unref);
  g_clear_pointer (&self->servers, g_free);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (gbridge_ares_resolver_parent_class)->finalize (object);
}

static void
gbridge_ares_resolver_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  GbridgeAresResolver *self = GBRIDGE_ARES_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop);
      break;

    case PROP_SERVERS:
      g_value_set_string (value, self->servers);
      break;

    case PROP_ATTEMPT_TIMEOUT:
      g_value_set_double (value, self->attempt_timeout);
      break;

    case PROP_TRIES:
      g_value_set_uint (value, self->tries);
      break;

    case PROP_MAX_QUERIES:
      g_value_set_uint (value, self->max_queries);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_ares_resolver_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  GbridgeAresResolver *self = GBRIDGE_ARES_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    case PROP_SERVERS:
      self->servers = g_value_dup_string (value);
      break;

    case PROP_ATTEMPT_TIMEOUT:
      self->attempt_timeout = g_value_get_double (value);
      break;

    case PROP_TRIES:
      self->tries = g_value_get_uint (value);
      break;

    case PROP_MAX_QUERIES:
      self->max_queries = g_value_get_uint (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_ares_resolver_constructed (GObject *object)
{
  GbridgeAresResolver *self = (GbridgeAresResolver *) object;

  G_OBJECT_CLASS (gbridge_ares_resolver_parent_class)->constructed (object);

  /* The channel's sockets and timers belong to one loop for its life. */
  if (self->loop == NULL)
    self->loop = g_object_ref (_gbridge_io_loop_pick (NULL));
}

static void
gbridge_ares_resolver_class_init (GbridgeAresResolverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gbridge_ares_resolver_dispose;
  object_class->finalize = gbridge_ares_resolver_finalize;
  object_class->get_property = gbridge_ares_resolver_get_property;
  object_class->set_property = gbridge_ares_resolver_set_property;
  object_class->constructed = gbridge_ares_resolver_constructed;

  /**
   * GbridgeAresResolver:servers:
   *
   * The DNS servers to ask, as c-ares' comma-separated list of `host[:port]`
   * (`"127.0.0.1:5353,[::1]:53"`), or %NULL for those of
   * `/etc/resolv.conf`.
   *
   * Since: 1.0
   */
  properties[PROP_SERVERS] =
    g_param_spec_string ("servers", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GbridgeAresResolver:attempt-timeout:
   *
   * Seconds c-ares waits for an answer before it retries a query (it
   * lengthens the wait on later rounds), or 0 for c-ares' default of 5.
   *
   * Since: 1.0
   */
  properties[PROP_ATTEMPT_TIMEOUT] =
    g_param_spec_double ("attempt-timeout", NULL, NULL,
                         0, G_MAXINT / 1000, 0,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GbridgeAresResolver:tries:
   *
   * How many times c-ares sends a query to each server before it gives up
   * with %GBRIDGE_RESOLVER_ERROR_TIMED_OUT, or 0 for c-ares' default of 4.
   *
   * Since: 1.0
   */
  properties[PROP_TRIES] =
    g_param_spec_uint ("tries", NULL, NULL,
                       0, 100, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GbridgeAresResolver:max-queries:
   *
   * How many lookups c-ares works on at once; the others wait their turn, in
   * order. A burst of thousands of UDP queries overflows the socket buffers
   * of the server or of the resolver itself, and every datagram lost costs
   * a retry timeout: a bounded window is faster. 0 means no bound.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_QUERIES] =
    g_param_spec_uint ("max-queries", NULL, NULL,
                       0, G_MAXUINT, 64,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
  _gbridge_resolver_install_loop_property (object_class, PROP_LOOP);
}

static void
gbridge_ares_resolver_init (GbridgeAresResolver *self)
{
  self->sockets = g_hash_table_new (NULL, NULL);
  self->max_queries = 64;
  g_queue_init (&self->waiting);
}

#ifdef HAVE_CARES

static void schedule_timer (GbridgeAresResolver *self);

static void
on_socket_ready (int             fd,
                 GbridgeIOEvents events,
                 gpointer        user_data)
{
  g_autoptr(GbridgeAresResolver) self = g_object_ref (user_data);

  if (!self->have_channel)
    return;

  /* An error or hang-up is noticed by reading. */
  ares_process_fd (self->channel,
                   (events & (GBRIDGE_IO_EVENTS_READ | GBRIDGE_IO_EVENTS_ERROR)) ? fd : ARES_SOCKET_BAD,
                   (events & GBRIDGE_IO_EVENTS_WRITE) ? fd : ARES_SOCKET_BAD);
  schedule_timer (self);
}

static void
on_timer (gpointer user_data)
{
  g_autoptr(GbridgeAresResolver) self = g_object_ref (user_data);

  self->timer = 0;
  if (!self->have_channel)
    return;

  /* No socket is ready: c-ares only handles the queries whose wait is
   * over, retrying or failing them. */
  ares_process_fd (self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  schedule_timer (self);
}

/* Keeps one loop timer at c-ares' next deadline, if it has one. */
static void
schedule_timer (GbridgeAresResolver *self)
{
  struct timeval tv;
  struct timeval *next;

  stop_timer (self);
  if (!self->have_channel)
    return;

  next = ares_timeout (self->channel, NULL, &tv);
  if (next != NULL)
    self->timer = gbridge_io_loop_call_later (self->loop,
                                              next->tv_sec + next->tv_usec / 1e6,
                                              on_timer, self, NULL);
}

static void
on_socket_state (void          *data,
                 ares_socket_t  fd,
                 int            readable,
                 int            writable)
{
  GbridgeAresResolver *self = data;
  GbridgeIOEvents events = GBRIDGE_IO_EVENTS_NONE;
  g_autoptr(GError) error = NULL;

  if (readable)
    events |= GBRIDGE_IO_EVENTS_READ;
  if (writable)
    events |= GBRIDGE_IO_EVENTS_WRITE;

  if (events == GBRIDGE_IO_EVENTS_NONE)
    {
      if (g_hash_table_remove (self->sockets, GINT_TO_POINTER (fd)))
        gbridge_io_loop_remove_handler (self->loop, fd);
    }
  else if (g_hash_table_contains (self->sockets, GINT_TO_POINTER (fd)))
    {
      if (!gbridge_io_loop_update_handler (self->loop, fd, events, &error))
        g_warning ("Cannot watch a c-ares socket: %s", error->message);
    }
  else if (gbridge_io_loop_add_handler (self->loop, fd, events,
                                        on_socket_ready, self, NULL, &error))
    {
      g_hash_table_add (self->sockets, GINT_TO_POINTER (fd));
    }
  else
    {
      g_warning ("Cannot watch a c-ares socket: %s", error->message);
    }
}

static gboolean
gbridge_ares_resolver_initable_init (GInitable     *initable,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  GbridgeAresResolver *self = GBRIDGE_ARES_RESOLVER (initable);
  static gsize library_initialized;
  struct ares_options options = { 0 };
  char *no_domains[] = { NULL };
  int optmask = ARES_OPT_SOCK_STATE_CB;
  int status;

  if (self->have_channel)
    return TRUE;

  if (g_once_init_enter (&library_initialized))
    {
      status = ares_library_init (ARES_LIB_INIT_ALL);
      g_once_init_leave (&library_initialized, status == ARES_SUCCESS ? 1 : 2);
    }
  if (library_initialized != 1)
    {
      g_set_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_FAILED,
                   _("Cannot initialize c-ares"));
      return FALSE;
    }

  options.sock_state_cb = on_socket_state;
  options.sock_state_cb_data = self;
  if (self->attempt_timeout > 0)
    {
      options.timeout = MAX (1, (int) (self->attempt_timeout * 1000));
      optmask |= ARES_OPT_TIMEOUTMS;
    }
  if (self->tries > 0)
    {
      options.tries = self->tries;
      optmask |= ARES_OPT_TRIES;
    }
  if (self->servers != NULL)
    {
      /* Given servers stand alone: no search domains from resolv.conf. */
      options.domains = no_domains;
      options.ndomains = 0;
      optmask |= ARES_OPT_DOMAINS;
    }

  status = ares_init_options (&self->channel, &options, optmask);
  if (status != ARES_SUCCESS)
    {
      g_set_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_FAILED,
                   _("Cannot initialize c-ares: %s"), ares_strerror (status));
      return FALSE;
    }

  if (self->servers != NULL)
    {
      status = ares_set_servers_ports_csv (self->channel, self->servers);
      if (status != ARES_SUCCESS)
        {
          ares_destroy (self->channel);
          g_set_error (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_FAILED,
                       _("Invalid DNS server list “%s”: %s"),
                       self->servers, ares_strerror (status));
          return FALSE;
        }
    }

  self->have_channel = TRUE;
  return TRUE;
}

#else /* !HAVE_CARES */

static gboolean
gbridge_ares_resolver_initable_init (GInitable     *initable,
                                     GCancellable  *cancellable,
                                     GError       **error)
{
  g_set_error_literal (error, GBRIDGE_RESOLVER_ERROR, GBRIDGE_RESOLVER_ERROR_UNAVAILABLE,
                       _("gbridge was built without c-ares"));
  return FALSE;
}

#endif /* HAVE_CARES */

static void
initable_iface_init (GInitableIface *iface)
{
  iface->init = gbridge_ares_resolver_initable_init;
}

static void
query_free (Query *query)
{
  g_clear_object (&query->future);
  g_clear_object (&query->resolver);
  g_free (query->host);
  g_free (query);
}

#ifdef HAVE_CARES

static GInetAddress *
address_from_sockaddr (const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) (const void *) sa;

      return g_inet_address_new_from_bytes ((const guint8 *) &sin->sin_addr,
                                            G_SOCKET_FAMILY_IPV4);
    }
  if (sa->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) (const void *) sa;

      return g_inet_address_new_from_bytes ((const guint8 *) &sin6->sin6_addr,
                                            G_SOCKET_FAMILY_IPV6);
    }
  return NULL;
}

static GListStore *
store_from_addrinfo (struct ares_addrinfo *result,
                     guint16               port)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GListStore *store = g_list_store_new (G_TYPE_INET_SOCKET_ADDRESS);

  for (struct ares_addrinfo_node *node = result->nodes; node != NULL; node = node->ai_next)
    {
      g_autoptr(GInetAddress) address = address_from_sockaddr (node->ai_addr);
      char *text;

      if (address == NULL)
        continue;
      text = g_inet_address_to_string (address);
      if (g_hash_table_add (seen, text))
        _gbridge_resolver_append (store, address, port, G_SOCKET_FAMILY_INVALID);
    }

  return store;
}

static void on_addrinfo (void                 *arg,
                         int                   status,
                         int                   timeouts,
                         struct ares_addrinfo *result);

static void
start_query (GbridgeAresResolver *self,
             Query               *query)
{
  struct ares_addrinfo_hints hints = { 0 };

  hints.ai_family = query->ai_family;
  self->n_active++;
  /* May answer at once (from /etc/hosts, or a bad name). */
  ares_getaddrinfo (self->channel, query->host, NULL, &hints, on_addrinfo, query);
}

/* Starts waiting queries while there is room; those whose future is done
 * already (cancelled, timed out) never reach the network. */
static void
start_waiting (GbridgeAresResolver *self)
{
  while (self->have_channel &&
         (self->max_queries == 0 || self->n_active < self->max_queries) &&
         !g_queue_is_empty (&self->waiting))
    {
      Query *query = g_queue_pop_head (&self->waiting);

      if (gbridge_future_is_done (query->future))
        query_free (query);
      else
        start_query (self, query);
    }
}

static void
query_done (Query *query)
{
  g_autoptr(GbridgeAresResolver) self = g_object_ref (query->resolver);

  self->n_active--;
  query_free (query);
  start_waiting (self);
}

static void
on_addrinfo (void                 *arg,
             int                   status,
             int                   timeouts,
             struct ares_addrinfo *result)
{
  Query *query = arg;
  GbridgeResolverError code;

  switch (status)
    {
    case ARES_SUCCESS:
      {
        g_autoptr(GListStore) store = store_from_addrinfo (result, query->port);

        _gbridge_resolver_answer (query->future, store, query->host);
        ares_freeaddrinfo (result);
        query_done (query);
        return;
      }

    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      gbridge_future_cancel (query->future);
      query_done (query);
      return;

    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
      code = GBRIDGE_RESOLVER_ERROR_NOT_FOUND;
      break;

    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
      code = GBRIDGE_RESOLVER_ERROR_TEMPORARY_FAILURE;
      break;

    case ARES_ETIMEOUT:
      code = GBRIDGE_RESOLVER_ERROR_TIMED_OUT;
      break;

    default:
      code = GBRIDGE_RESOLVER_ERROR_FAILED;
      break;
    }

  gbridge_future_take_failure (query->future,
                               _gbridge_resolver_error_new (code, query->host,
                                                            ares_strerror (status)),
                               NULL);
  if (result != NULL)
    ares_freeaddrinfo (result);
  query_done (query);
}

static GbridgeFuture *
gbridge_ares_resolver_lookup (GbridgeResolver *resolver,
                              const char      *host,
                              guint16          port,
                              GSocketFamily    family)
{
  GbridgeAresResolver *self = GBRIDGE_ARES_RESOLVER (resolver);
  GbridgeFuture *future;
  Query *query;
  g_autoptr(GError) error = NULL;

  /* c-ares answers "localhost" from /etc/hosts only, or asks the servers
   * for "localhost.": the same answer as every other resolver instead. */
  future = _gbridge_resolver_lookup_localhost (self->loop, host, port, family);
  if (future != NULL)
    return future;
  future = gbridge_future_new_for_loop (self->loop);

  /* Built with g_object_new(), as bindings do, and never initialized. */
  if (!self->have_channel &&
      !g_initable_init (G_INITABLE (self), NULL, &error))
    {
      gbridge_future_take_failure (future,
                                   _gbridge_resolver_error_new (GBRIDGE_RESOLVER_ERROR_FAILED, host,
                                                                error->message),
                                   NULL);
      return future;
    }

  query = g_new0 (Query, 1);
  query->resolver = g_object_ref (self);
  query->future = g_object_ref (future);
  query->host = g_strdup (host);
  query->port = port;
  query->ai_family = family == G_SOCKET_FAMILY_IPV4 ? AF_INET :
                     family == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_UNSPEC;

  g_queue_push_tail (&self->waiting, query);
  start_waiting (self);
  schedule_timer (self);

  return future;
}

#else /* !HAVE_CARES */

/* A resolver made with g_object_new() fails every lookup as it fails
 * g_initable_init(), "localhost" too: nothing works without c-ares. */
static GbridgeFuture *
gbridge_ares_resolver_lookup (GbridgeResolver *resolver,
                              const char      *host,
                              guint16          port,
                              GSocketFamily    family)
{
  GbridgeAresResolver *self = GBRIDGE_ARES_RESOLVER (resolver);
  GbridgeFuture *future = gbridge_future_new_for_loop (self->loop);
  g_autoptr(GError) error = NULL;

  g_initable_init (G_INITABLE (self), NULL, &error);
  gbridge_future_take_failure (future,
                               _gbridge_resolver_error_new (GBRIDGE_RESOLVER_ERROR_UNAVAILABLE, host,
                                                            error->message),
                               NULL);
  return future;
}

#endif /* HAVE_CARES */

static void
resolver_iface_init (GbridgeResolverInterface *iface)
{
  iface->lookup = gbridge_ares_resolver_lookup;
}

/**
 * gbridge_ares_resolver_new:
 * @loop: (nullable): the loop whose fd set and timers the resolver uses, or
 *   %NULL for the calling thread's current loop (or the default loop)
 * @servers: (nullable): the DNS servers to ask, see
 *   #GbridgeAresResolver:servers, or %NULL for the system's
 * @error: return location for a #GError
 *
 * Creates a c-ares resolver. Use g_initable_new() to set
 * #GbridgeAresResolver:attempt-timeout and #GbridgeAresResolver:tries too.
 *
 * Returns: (transfer full): a new #GbridgeAresResolver, or %NULL when c-ares
 *   cannot start, @servers is not a valid list, or gbridge was built without
 *   c-ares (%GBRIDGE_RESOLVER_ERROR_UNAVAILABLE)
 *
 * Since: 1.0
 */
GbridgeAresResolver *
gbridge_ares_resolver_new (GbridgeIOLoop  *loop,
                           const char     *servers,
                           GError        **error)
{
  g_return_val_if_fail (loop == NULL || GBRIDGE_IS_IO_LOOP (loop), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (GBRIDGE_TYPE_ARES_RESOLVER, NULL, error,
                         "loop", loop,
                         "servers", servers,
                         NULL);
}

/**
 * gbridge_ares_resolver_get_servers:
 * @self: a #GbridgeAresResolver
 *
 * Gets #GbridgeAresResolver:servers.
 *
 * Returns: (nullable): the servers asked, or %NULL for the system's
 *
 * Since: 1.0
 */
const char *
gbridge_ares_resolver_get_servers (GbridgeAresResolver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_ARES_RESOLVER (self), NULL);

  return self->servers;
}

/**
 * gbridge_ares_resolver_get_n_sockets:
 * @self: a #GbridgeAresResolver
 *
 * Counts the sockets c-ares has open, all watched in the loop's fd set.
 *
 * Returns: the number of open sockets
 *
 * Since: 1.0
 */
guint
gbridge_ares_resolver_get_n_sockets (GbridgeAresResolver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_ARES_RESOLVER (self), 0);

  return g_hash_table_size (self->sockets);
}
