/* bench-tcp-client.c: the load generator of the TCP echo benchmarks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   bench-tcp-client PORT CONNECTIONS SECONDS [SIZE | http]
 *
 * Opens CONNECTIONS connections to 127.0.0.1:PORT (TCP_NODELAY) and keeps
 * one request of SIZE bytes (default 64) in flight on each: send it, wait
 * until the whole echo came back, send the next.  With "http", the request
 * is "GET / HTTP/1.1" (keep-alive) and the reply an HTTP/1.1 response that
 * must be "200" with a Content-Length and the body HTTP_BODY.  One thread, one epoll
 * set, nothing else, so that the server under test, in another process,
 * is what limits the rate.  After a warm-up of 0.2 s it counts the echoes
 * completed during SECONDS of wall time, then sends no more requests, waits
 * for the echoes of those in flight and closes every connection (the
 * server under test stops once all are closed), and prints
 *
 *   per_second=R requests=N connections=C seconds=S total=T
 *
 * where T counts every echo, the warm-up's and the last ones too.
 *
 * Every echo (or HTTP response body) is checked byte for byte.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARM_UP_NS 200000000LL
#define MAX_SIZE 65536

/* What the HTTP servers under test answer to GET /. */
#define HTTP_BODY "Hello, World!"
#define HTTP_REQUEST "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
#define HTTP_MAX_REPLY 4096

typedef struct
{
  int    fd;
  size_t sent;
  size_t received;
  unsigned char *buffer;  /* HTTP only: the response so far */
} Conn;

static void
fail (const char *what)
{
  fprintf (stderr, "bench-tcp-client: %s: %s\n", what, strerror (errno));
  exit (1);
}

static void
fail_reply (const char *why)
{
  fprintf (stderr, "bench-tcp-client: %s\n", why);
  exit (1);
}

/* Whether the @len bytes of @reply hold a whole HTTP response: 0 while the
 * headers or the body are incomplete, else 1 once it is checked (status
 * 200, a Content-Length, the body HTTP_BODY); exits on a wrong one. */
static int
http_reply_complete (const unsigned char *reply,
                     size_t               len)
{
  const char *text = (const char *) reply;
  const char *end = memmem (text, len, "\r\n\r\n", 4);
  const char *line;
  size_t header_len;
  long length = -1;

  if (end == NULL)
    {
      if (len == HTTP_MAX_REPLY)
        fail_reply ("the HTTP response headers are too long");
      return 0;
    }
  header_len = end + 4 - text;
  if (len < 12 || memcmp (text, "HTTP/1.1 200", 12) != 0)
    fail_reply ("the HTTP response is not \"HTTP/1.1 200\"");
  for (line = text; line < end; )
    {
      const char *eol = memmem (line, end - line, "\r\n", 2);

      if (eol == NULL)
        eol = end;
      if (eol - line > 15 && strncasecmp (line, "Content-Length:", 15) == 0)
        length = strtol (line + 15, NULL, 10);
      line = eol + 2;
    }
  if (length != (long) strlen (HTTP_BODY))
    fail_reply ("the HTTP response has no Content-Length of the expected body");
  if (len < header_len + length)
    return 0;
  if (len > header_len + length ||
      memcmp (text + header_len, HTTP_BODY, length) != 0)
    fail_reply ("the HTTP response's body differs from the expected one");
  return 1;
}

static long long
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Writes the request; the sockets block, and a request fits in the
 * socket buffer, so this does not wait. */
static void
send_rest (Conn                *c,
           const unsigned char *request,
           size_t               size)
{
  while (c->sent < size)
    {
      ssize_t n = write (c->fd, request + c->sent, size - c->sent);

      if (n < 0)
        fail ("write");
      c->sent += n;
    }
}

int
main (int    argc,
      char **argv)
{
  static unsigned char request[MAX_SIZE], reply[MAX_SIZE];
  struct sockaddr_in addr = { .sin_family = AF_INET };
  struct epoll_event events[256];
  long long start, timed_start = 0, end;
  unsigned long long counted = 0, total = 0;
  int port, n_conns, ep, timing = 0, in_flight, stopping = 0;
  double seconds;
  size_t size = 64;
  int http = 0;
  Conn *conns;

  if (argc < 4 || argc > 5)
    {
      fprintf (stderr, "usage: %s PORT CONNECTIONS SECONDS [SIZE | http]\n",
               argv[0]);
      return 2;
    }
  port = atoi (argv[1]);
  n_conns = atoi (argv[2]);
  seconds = atof (argv[3]);
  if (argc == 5 && strcmp (argv[4], "http") == 0)
    http = 1;
  else if (argc == 5)
    size = strtoul (argv[4], NULL, 10);
  if (port <= 0 || n_conns <= 0 || seconds <= 0 || size == 0 || size > MAX_SIZE)
    {
      fprintf (stderr, "bench-tcp-client: bad arguments\n");
      return 2;
    }
  if (http)
    {
      size = strlen (HTTP_REQUEST);
      memcpy (request, HTTP_REQUEST, size);
    }
  else
    for (size_t i = 0; i < size; i++)
      request[i] = 'a' + i % 26;

  addr.sin_port = htons (port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ep = epoll_create1 (EPOLL_CLOEXEC);
  if (ep < 0)
    fail ("epoll_create1");
  conns = calloc (n_conns, sizeof *conns);
  for (int i = 0; i < n_conns; i++)
    {
      int one = 1;
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };

      /* A blocking connect: the server's backlog takes them all. */
      if (http)
        conns[i].buffer = malloc (HTTP_MAX_REPLY);
      conns[i].fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (conns[i].fd < 0)
        fail ("socket");
      if (connect (conns[i].fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        fail ("connect");
      setsockopt (conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (epoll_ctl (ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
        fail ("epoll_ctl");
    }
  for (int i = 0; i < n_conns; i++)
    send_rest (&conns[i], request, size);
  in_flight = n_conns;

  start = now_ns ();
  end = start + WARM_UP_NS + (long long) (seconds * 1e9);
  while (in_flight > 0)
    {
      int n = epoll_wait (ep, events, 256, 10000);
      long long now;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          fail ("epoll_wait");
        }
      if (n == 0)
        {
          fprintf (stderr, "bench-tcp-client: no echo for 10 s\n");
          return 1;
        }
      for (int i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;
          /* An echo is checked as it comes, into the shared buffer; an
           * HTTP response is kept in the connection's own until whole. */
          unsigned char *into = http ? c->buffer : reply;
          size_t want = http ? HTTP_MAX_REPLY - c->received : size - c->received;
          ssize_t got = read (c->fd, into + c->received, want);

          if (got < 0 && errno == EAGAIN)
            continue;
          if (got <= 0)
            {
              if (got == 0)
                errno = ECONNRESET;
              fail ("read");
            }
          if (!http && memcmp (reply + c->received, request + c->received, got) != 0)
            {
              fprintf (stderr, "bench-tcp-client: the echo differs from the request\n");
              return 1;
            }
          c->received += got;
          if (http ? !http_reply_complete (c->buffer, c->received)
                   : c->received < size)
            continue;
          total++;
          if (timing && !stopping)
            counted++;
          c->received = 0;
          c->sent = 0;
          if (stopping)
            in_flight--;
          else
            send_rest (c, request, size);
        }
      now = now_ns ();
      if (!timing && now >= start + WARM_UP_NS)
        {
          timing = 1;
          timed_start = now;
        }
      if (!stopping && now >= end)
        {
          stopping = 1;
          end = now;
        }
    }
  for (int i = 0; i < n_conns; i++)
    {
      close (conns[i].fd);
      free (conns[i].buffer);
    }
  printf ("per_second=%.1f requests=%llu connections=%d seconds=%.3f total=%llu\n",
          counted / ((end - timed_start) / 1e9), counted, n_conns,
          (end - timed_start) / 1e9, total);
  free (conns);
  return 0;
}
