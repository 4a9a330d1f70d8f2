/* gbridge-override-resolver.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "gbridge-override-resolver.h"
#include "gbridge-io-loop-private.h"
#include "gbridge-resolver-private.h"

/**
 * SECTION:gbridge-override-resolver
 * @title: GbridgeOverrideResolver
 * @short_description: Fixed answers for some names, in front of another
 *   resolver
 *
 * #GbridgeOverrideResolver answers some names itself and passes every other
 * lookup to the resolver it wraps: Tornado's `OverrideResolver`. Tests use
 * it to send a real host name to a local server; split-horizon setups use it
 * to give internal names internal addresses.
 *
 * gbridge_override_resolver_add_host() maps a name, on any port, to IP
 * literals (called again, it adds more addresses) or to one other name,
 * which the wrapped resolver looks up. gbridge_override_resolver_add_host_port()
 * maps a (name, port) pair, and the port too; it comes before a mapping of
 * the name alone. Names match without regard to case.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GbridgeOverrideResolver) resolver = gbridge_override_resolver_new (NULL);
 *
 * gbridge_override_resolver_add_host (resolver, "example.com", "127.0.0.1");
 * gbridge_override_resolver_add_host_port (resolver, "example.com", 443,
 *                                          "::1", 8443);
 * ]|
 */

/**
 * GbridgeOverrideResolver:
 *
 * A #GbridgeResolver with fixed answers for some names. Its fields are
 * private.
 *
 * Since: 1.0
 */

struct _GbridgeOverrideResolver
{
  GObject parent_instance;

  GbridgeIOLoop   *loop;
  GbridgeResolver *resolver;
  /* "name" or "name:port" → Target */
  GHashTable      *targets;
};

typedef struct
{
  GPtrArray *literals;   /* of GInetAddress */
  char      *name;       /* or another name to look up */
  int        port;       /* the new port, or -1 to keep the one asked for */
} Target;

enum {
  PROP_0,
  PROP_RESOLVER,
  N_PROPS,
  /* overridden from the interface, not in properties[] */
  PROP_LOOP = N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void resolver_iface_init (GbridgeResolverInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GbridgeOverrideResolver, gbridge_override_resolver, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GBRIDGE_TYPE_RESOLVER, resolver_iface_init))

static void
target_free (gpointer data)
{
  Target *target = data;

  g_clear_pointer (&target->literals, g_ptr_array_unref);
  g_free (target->name);
  g_free (target);
}

static void
gbridge_override_resolver_finalize (GObject *object)
{
  GbridgeOverrideResolver *self = (GbridgeOverrideResolver *) object;

  g_clear_pointer (&self->targets, g_hash_table_unref);
  g_clear_object (&self->resolver);
  g_clear_object (&self->loop);

  G_OBJECT_CLASS (gbridge_override_resolver_parent_class)->finalize (object);
}

static void
gbridge_override_resolver_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  GbridgeOverrideResolver *self = GBRIDGE_OVERRIDE_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      g_value_set_object (value, self->loop != NULL ? self->loop
                                                    : gbridge_resolver_get_loop (self->resolver));
      break;

    case PROP_RESOLVER:
      g_value_set_object (value, self->resolver);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_override_resolver_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  GbridgeOverrideResolver *self = GBRIDGE_OVERRIDE_RESOLVER (object);

  switch (prop_id)
    {
    case PROP_LOOP:
      self->loop = g_value_dup_object (value);
      break;

    case PROP_RESOLVER:
      self->resolver = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gbridge_override_resolver_constructed (GObject *object)
{
  GbridgeOverrideResolver *self = (GbridgeOverrideResolver *) object;

  G_OBJECT_CLASS (gbridge_override_resolver_parent_class)->constructed (object);

  if (self->resolver == NULL)
    self->resolver = g_object_ref (gbridge_resolver_get_default ());
}

static void
gbridge_override_resolver_class_init (GbridgeOverrideResolverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = gbridge_override_resolver_finalize;
  object_class->get_property = gbridge_override_resolver_get_property;
  object_class->set_property = gbridge_override_resolver_set_property;
  object_class->constructed = gbridge_override_resolver_constructed;

  /**
   * GbridgeOverrideResolver:resolver:
   *
   * The resolver that looks up every name without a mapping; the default
   * resolver when constructed with %NULL.
   *
   * Since: 1.0
   */
  properties[PROP_RESOLVER] =
    g_param_spec_object ("resolver", NULL, NULL,
                         GBRIDGE_TYPE_RESOLVER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
  _gbridge_resolver_install_loop_property (object_class, PROP_LOOP);
}

static void
gbridge_override_resolver_init (GbridgeOverrideResolver *self)
{
  self->targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, target_free);
}

static char *
make_key (const char *host,
          int         port)
{
  g_autofree char *lower = g_ascii_strdown (host, -1);

  if (port < 0)
    return g_steal_pointer (&lower);
  return g_strdup_printf ("%s:%d", lower, port);
}

static void
add_target (GbridgeOverrideResolver *self,
            char                    *key,
            const char              *address,
            int                      new_port)
{
  g_autoptr(GInetAddress) literal = g_inet_address_new_from_string (address);
  Target *target = g_hash_table_lookup (self->targets, key);

  if (target == NULL || (literal == NULL) || target->name != NULL)
    {
      /* A name replaces what was there, and is replaced by anything. */
      target = g_new0 (Target, 1);
      target->literals = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_replace (self->targets, key, target);
    }
  else
    {
      g_free (key);
    }

  target->port = new_port;
  if (literal != NULL)
    g_ptr_array_add (target->literals, g_steal_pointer (&literal));
  else
    target->name = g_strdup (address);
}

static GbridgeFuture *
gbridge_override_resolver_lookup (GbridgeResolver *resolver,
                                  const char      *host,
                                  guint16          port,
                                  GSocketFamily    family)
{
  GbridgeOverrideResolver *self = GBRIDGE_OVERRIDE_RESOLVER (resolver);
  g_autofree char *host_port = make_key (host, port);
  g_autofree char *host_only = make_key (host, -1);
  g_autoptr(GListStore) store = NULL;
  GbridgeFuture *future;
  Target *target;

  target = g_hash_table_lookup (self->targets, host_port);
  if (target == NULL)
    target = g_hash_table_lookup (self->targets, host_only);
  if (target == NULL)
    return gbridge_resolver_resolve (self->resolver, host, port, family, 0);

  if (target->port >= 0)
    port = target->port;
  if (target->name != NULL)
    return gbridge_resolver_resolve (self->resolver, target->name, port, family, 0);

  store = g_list_store_new (G_TYPE_INET_SOCKET_ADDRESS);
  for (guint i = 0; i < target->literals->len; i++)
    _gbridge_resolver_append (store, g_ptr_array_index (target->literals, i), port, family);

  future = gbridge_future_new_for_loop (_gbridge_io_loop_pick (gbridge_resolver_get_loop (resolver)));
  _gbridge_resolver_answer (future, store, host);
  return future;
}

static void
resolver_iface_init (GbridgeResolverInterface *iface)
{
  iface->lookup = gbridge_override_resolver_lookup;
}

/**
 * gbridge_override_resolver_new:
 * @resolver: (nullable): the resolver for every name without a mapping, or
 *   %NULL for the default resolver
 *
 * Creates a resolver with no mapping yet, in front of @resolver.
 *
 * Returns: (transfer full): a new #GbridgeOverrideResolver
 *
 * Since: 1.0
 */
GbridgeOverrideResolver *
gbridge_override_resolver_new (GbridgeResolver *resolver)
{
  g_return_val_if_fail (resolver == NULL || GBRIDGE_IS_RESOLVER (resolver), NULL);

  return g_object_new (GBRIDGE_TYPE_OVERRIDE_RESOLVER, "resolver", resolver, NULL);
}

/**
 * gbridge_override_resolver_get_resolver:
 * @self: a #GbridgeOverrideResolver
 *
 * Gets #GbridgeOverrideResolver:resolver.
 *
 * Returns: (transfer none): the wrapped resolver
 *
 * Since: 1.0
 */
GbridgeResolver *
gbridge_override_resolver_get_resolver (GbridgeOverrideResolver *self)
{
  g_return_val_if_fail (GBRIDGE_IS_OVERRIDE_RESOLVER (self), NULL);

  return self->resolver;
}

/**
 * gbridge_override_resolver_add_host:
 * @self: a #GbridgeOverrideResolver
 * @host: the name to answer, on any port
 * @address: an IP literal to add to the answers for @host, or another name
 *   for the wrapped resolver to look up instead (it replaces any earlier
 *   mapping of @host)
 *
 * Maps @host to @address, keeping the port asked for.
 *
 * Since: 1.0
 */
void
gbridge_override_resolver_add_host (GbridgeOverrideResolver *self,
                                    const char              *host,
                                    const char              *address)
{
  g_return_if_fail (GBRIDGE_IS_OVERRIDE_RESOLVER (self));
  g_return_if_fail (host != NULL);
  g_return_if_fail (address != NULL);

  add_target (self, make_key (host, -1), address, -1);
}

/**
 * gbridge_override_resolver_add_host_port:
 * @self: a #GbridgeOverrideResolver
 * @host: the name to answer
 * @port: the port to answer it on
 * @address: an IP literal to add to the answers, or another name for the
 *   wrapped resolver to look up instead
 * @new_port: the port of the answers
 *
 * Maps (@host, @port) to (@address, @new_port). This mapping comes before
 * one of @host alone.
 *
 * Since: 1.0
 */
void
gbridge_override_resolver_add_host_port (GbridgeOverrideResolver *self,
                                         const char              *host,
                                         guint16                  port,
                                         const char              *address,
                                         guint16                  new_port)
{
  g_return_if_fail (GBRIDGE_IS_OVERRIDE_RESOLVER (self));
  g_return_if_fail (host != NULL);
  g_return_if_fail (address != NULL);

  add_target (self, make_key (host, port), address, new_port);
}

/**
 * gbridge_override_resolver_remove_host:
 * @self: a #GbridgeOverrideResolver
 * @host: a name
 *
 * Removes the mapping of @host alone; its (name, port) mappings stay.
 *
 * Since: 1.0
 */
void
gbridge_override_resolver_remove_host (GbridgeOverrideResolver *self,
                                       const char              *host)
{
  g_autofree char *key = NULL;

  g_return_if_fail (GBRIDGE_IS_OVERRIDE_RESOLVER (self));
  g_return_if_fail (host != NULL);

  key = make_key (host, -1);
  g_hash_table_remove (self->targets, key);
}
