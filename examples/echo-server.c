/* echo-server.c: a TCP echo server on the default GbridgeIOLoop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of the demo in demo.py: this module is plain C code that registers
 * its sockets on gbridge_io_loop_get_default(), the loop of the default
 * GMainContext.  demo.py loads it with ctypes and runs a Python client on the
 * very same loop, so C and Python handlers are dispatched by one GSource on
 * one GMainContext.
 */

#define _GNU_SOURCE  /* accept4() */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gbridge/gbridge.h>

int      gbridge_demo_echo_start          (void);
void     gbridge_demo_echo_stop           (void);
int      gbridge_demo_echo_n_clients      (void);
guint64  gbridge_demo_echo_n_bytes        (void);

typedef struct
{
  int              fd;
  GbridgeIOEvents  events;    /* what the handler is registered for */
  GByteArray      *pending;   /* read but not yet written back */
} Client;

static int listen_fd = -1;
static GHashTable *clients;   /* fd → Client, owned by the handlers */
static guint64 n_bytes;

/* The demo's output interleaves with Python's; flush so that the order on
 * the terminal is the order in which the loop ran things. */
static void
say (const char *format,
     ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format,
     ...)
{
  va_list args;

  fputs ("[C]  ", stdout);
  va_start (args, format);
  vfprintf (stdout, format, args);
  va_end (args);
  fputc ('\n', stdout);
  fflush (stdout);
}

static void
client_free (gpointer data)
{
  Client *client = data;

  say ("client fd %d closed", client->fd);
  if (clients != NULL)
    g_hash_table_remove (clients, GINT_TO_POINTER (client->fd));
  close (client->fd);
  g_byte_array_unref (client->pending);
  g_free (client);
}

/* Writes what it can of the pending bytes; returns FALSE on a write error. */
static gboolean
client_flush (Client *client)
{
  while (client->pending->len > 0)
    {
      ssize_t n = send (client->fd, client->pending->data,
                        client->pending->len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && g_io_error_from_errno (errno) == G_IO_ERROR_WOULD_BLOCK)
        break;
      if (n < 0)
        return FALSE;
      g_byte_array_remove_range (client->pending, 0, n);
      n_bytes += n;
    }

  return TRUE;
}

static void
client_ready (int             fd,
              GbridgeIOEvents events,
              gpointer        user_data)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  Client *client = user_data;
  gboolean closed = FALSE;
  GbridgeIOEvents wanted;

  if (events & GBRIDGE_IO_EVENTS_READ)
    {
      guint8 buf[4096];
      ssize_t n = recv (fd, buf, sizeof buf, 0);

      if (n > 0)
        {
          say ("client fd %d: echoing %zd bytes: %.*s", fd, n,
               (int) (buf[n - 1] == '\n' ? n - 1 : n), (const char *) buf);
          g_byte_array_append (client->pending, buf, n);
        }
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        closed = TRUE;
    }
  else if (events & GBRIDGE_IO_EVENTS_ERROR)
    closed = TRUE;

  if (!closed && !client_flush (client))
    closed = TRUE;

  if (closed)
    {
      /* Frees the client, through client_free(). */
      gbridge_io_loop_remove_handler (loop, fd);
      return;
    }

  /* Level-triggered: ask for WRITE only while something is pending. */
  wanted = GBRIDGE_IO_EVENTS_READ;
  if (client->pending->len > 0)
    wanted |= GBRIDGE_IO_EVENTS_WRITE;
  if (wanted != client->events
      && gbridge_io_loop_update_handler (loop, fd, wanted, NULL))
    client->events = wanted;
}

static void
listener_ready (int             fd,
                GbridgeIOEvents events,
                gpointer        user_data)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  g_autoptr(GError) error = NULL;
  Client *client;
  int client_fd;

  client_fd = accept4 (fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (client_fd < 0)
    return;

  client = g_new0 (Client, 1);
  client->fd = client_fd;
  client->events = GBRIDGE_IO_EVENTS_READ;
  client->pending = g_byte_array_new ();
  if (!gbridge_io_loop_add_handler (loop, client_fd, GBRIDGE_IO_EVENTS_READ,
                                    client_ready, client, client_free,
                                    &error))
    {
      /* add_handler() has already freed the client, through
       * client_free(). */
      say ("cannot watch client fd %d: %s", client_fd, error->message);
      return;
    }
  g_hash_table_add (clients, GINT_TO_POINTER (client_fd));
  say ("accepted client fd %d", client_fd);
}

static void
listener_free (gpointer data)
{
  say ("listening socket closed");
  close (listen_fd);
  listen_fd = -1;
}

/* Listens on 127.0.0.1 on a free port and returns the port, or -1. */
int
gbridge_demo_echo_start (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  g_autoptr(GError) error = NULL;
  struct sockaddr_in addr = { 0 };
  socklen_t addr_len = sizeof addr;

  g_return_val_if_fail (listen_fd < 0, -1);

  if (gbridge_io_loop_get_context (loop) != g_main_context_default ())
    {
      say ("the default loop is not on the default GMainContext");
      return -1;
    }

  listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0)
    {
      say ("socket: %s", g_strerror (errno));
      return -1;
    }
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind (listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0
      || listen (listen_fd, 16) < 0
      || getsockname (listen_fd, (struct sockaddr *) &addr, &addr_len) < 0)
    {
      say ("cannot listen: %s", g_strerror (errno));
      close (listen_fd);
      listen_fd = -1;
      return -1;
    }

  if (!gbridge_io_loop_add_handler (loop, listen_fd, GBRIDGE_IO_EVENTS_READ,
                                    listener_ready, NULL, listener_free,
                                    &error))
    {
      /* add_handler() has already closed the socket, through
       * listener_free(). */
      say ("cannot watch the listening socket: %s", error->message);
      return -1;
    }

  clients = g_hash_table_new (NULL, NULL);
  n_bytes = 0;
  say ("echo server listening on 127.0.0.1:%d (loop %p, context %p)",
       ntohs (addr.sin_port), (void *) loop,
       (void *) gbridge_io_loop_get_context (loop));

  return ntohs (addr.sin_port);
}

/* Closes the listening socket and every client still connected. */
void
gbridge_demo_echo_stop (void)
{
  GbridgeIOLoop *loop = gbridge_io_loop_get_default ();
  g_autofree gpointer *fds = NULL;
  guint n_fds = 0;

  if (listen_fd >= 0)
    gbridge_io_loop_remove_handler (loop, listen_fd);

  if (clients == NULL)
    return;

  fds = g_hash_table_get_keys_as_array (clients, &n_fds);
  for (guint i = 0; i < n_fds; i++)
    gbridge_io_loop_remove_handler (loop, GPOINTER_TO_INT (fds[i]));
  g_clear_pointer (&clients, g_hash_table_unref);
  say ("echo server stopped after echoing %" G_GUINT64_FORMAT " bytes",
       n_bytes);
}

int
gbridge_demo_echo_n_clients (void)
{
  return clients != NULL ? (int) g_hash_table_size (clients) : 0;
}

guint64
gbridge_demo_echo_n_bytes (void)
{
  return n_bytes;
}
