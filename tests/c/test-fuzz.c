/* test-fuzz.c: random operations on GbridgeIOLoop, checked against a model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Each scenario runs a few hundred random operations on one to six loops
 * spread over a few GMainContexts: handlers on pipes, socket pairs, /dev/null
 * (which epoll refuses, so the loop polls it) and dup'd descriptors, writes
 * and reads, callbacks, timers on the virtual clock, iterations, close and
 * unref, from the test's body and from inside callbacks, handlers, timers
 * and destroy-notifies. A small model says what may happen:
 *
 *  - a handler is called only while registered, for its own fd, with events
 *    it asked for (plus ERROR) that its file had at some point of the
 *    current GLib iteration;
 *  - a handler whose number was closed behind the loop's back (an orphan)
 *    is never called for the file that reuses the number;
 *  - callbacks run once, in the order they were added; timers run once, in
 *    (deadline, insertion) order, never before the virtual clock reaches
 *    their deadline, and no later than the next iterations;
 *  - nothing removed, closed or finalized is called afterwards, and every
 *    destroy-notify runs exactly once, after any call that is on the stack;
 *  - every byte written is read back exactly, and no descriptor leaks.
 *
 * The budget is small by default (DEFAULT_STEPS operations or
 * DEFAULT_SECONDS, whichever comes first) so the test also runs under
 * valgrind and ASan. Environment:
 *
 *  GBRIDGE_FUZZ_SECONDS   run for this long instead (no step limit)
 *  GBRIDGE_FUZZ_SEED      the first scenario's seed; a failure prints it
 *                         (default: from g_test_rand_int(), so --seed works)
 *  GBRIDGE_FUZZ_FD_REUSE  0 to leave out closing a watched number and
 *                         reusing it (default 1)
 *  GBRIDGE_FUZZ_CLOSED_OPS 0 to leave out remove_handler() and
 *                         update_handler() on a closed loop (default 1)
 */

#define _GNU_SOURCE  /* pipe2 (), dup3 () */

#include "config.h"

#include <gbridge/gbridge.h>

#include <glib/gstdio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_STEPS     4000
#define DEFAULT_SECONDS   3.0
#define SCENARIO_STEPS    250
#define MAX_CONTEXTS      3
#define MAX_LOOPS         6
#define MAX_NUMBERS       24    /* our open descriptors at once */
#define FD_TABLE          4096
#define MAX_QUEUED        24    /* pending callbacks, and timers, per loop */
#define MAX_DEPTH         3     /* callbacks added by callbacks... */
#define MAX_PENDING_BYTES 2048
#define TRACE_LEN         4096

/* Random numbers: splitmix64. Operations of the test's body draw from the
 * scenario's stream; a callback draws from a stream of its own, seeded by
 * the scenario, its id and its number of calls, so what it does does not
 * depend on the order GLib happens to dispatch sources in. */
typedef struct
{
  guint64 state;
} Prng;

static guint64
prng_next (Prng *p)
{
  guint64 z = (p->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static guint
prng_below (Prng  *p,
            guint  n)
{
  return n == 0 ? 0 : (guint) (prng_next (p) % n);
}

static gboolean
prng_chance (Prng  *p,
             guint  percent)
{
  return prng_below (p, 100) < percent;
}

/* The model */

typedef enum
{
  KIND_SOCK,
  KIND_PIPE_R,
  KIND_PIPE_W,
  KIND_FILE,      /* an empty regular file of its own: epoll refuses it, so
                   * the loop polls it; always ready */
} Kind;

typedef struct _File File;

struct _File
{
  guint    id;
  Kind     kind;
  File    *peer;
  guint    n_numbers;     /* descriptors that name it */
  gsize    pending;       /* bytes to read from it */
  gboolean peer_gone;
  gboolean reset;         /* the peer closed with data unread: ECONNRESET */
  gboolean was_readable;  /* at some point of the current iteration */
  gboolean was_error;
};

typedef struct
{
  guint         id;
  GMainContext *context;
} Ctx;

typedef enum
{
  REG_HANDLER,
  REG_TIMER,
  REG_CALLBACK,
} RegType;

typedef struct _Loop Loop;

typedef struct
{
  RegType          type;
  guint            id;
  Loop            *loop;
  guint            depth;
  guint            n_calls;
  guint            n_destroy;
  guint            in_call;
  /* Timers and callbacks */
  guint64          seq;
  gint64           deadline;
  guint64          handle;
  gboolean         removing;
  /* Handlers */
  int              fd;
  File            *file;
  GbridgeIOEvents  events;
  gboolean         registered;
  gboolean         orphaned;
  guint            orphan_iteration;
  gboolean         nval_seen;
} Reg;

struct _Loop
{
  guint          id;
  GbridgeIOLoop *loop;      /* NULL once finalized */
  Ctx           *ctx;
  gboolean       held;      /* the test holds a reference */
  gboolean       closed;    /* gbridge_io_loop_close() was called */
  gboolean       finalized;
  gint64         now_us;
  guint64        next_seq;
  GPtrArray     *callbacks; /* queued, in order */
  GPtrArray     *timers;    /* pending */
  GPtrArray     *handlers;  /* registered */
};

typedef struct
{
  guint32    seed;
  guint      scenario;
  guint      step;
  Prng       rand;
  gboolean   fd_reuse;
  gboolean   closed_ops;
  Ctx        ctxs[MAX_CONTEXTS];
  guint      n_ctxs;
  Loop       loops[MAX_LOOPS];
  guint      n_loops;
  File      *numbers[FD_TABLE];   /* our descriptors */
  guint      n_numbers;
  GPtrArray *files;
  GPtrArray *regs;
  guint      next_id;
  Ctx       *iterating;           /* in g_main_context_iteration() */
  guint      iteration;
  guint      destroy_depth;
  char      *trace[TRACE_LEN];
  guint      trace_pos;
} Fuzz;

static Fuzz *fz;

/* What the runs covered, over all scenarios. */
static struct
{
  guint64 handler_calls;
  guint64 orphan_calls;
  guint64 timer_calls;
  guint64 callback_calls;
  guint64 destroys;
  guint64 closes;
  guint64 iterations;
  guint64 reuses;
} stats;

/* Failures: say which seed and what led there, then fail as g_assert does. */

G_GNUC_PRINTF (1, 2) static void
trace (const char *format,
       ...)
{
  va_list args;

  va_start (args, format);
  g_free (fz->trace[fz->trace_pos % TRACE_LEN]);
  fz->trace[fz->trace_pos % TRACE_LEN] = g_strdup_vprintf (format, args);
  fz->trace_pos++;
  va_end (args);
}

static void
fuzz_fail (const char *expr,
           int         line,
           const char *func)
{
  guint first = fz->trace_pos > TRACE_LEN ? fz->trace_pos - TRACE_LEN : 0;

  g_test_message ("fuzz failure: scenario seed %u (replay with GBRIDGE_FUZZ_SEED=%u), "
                  "step %u, iteration %u, fd_reuse %d, closed_ops %d; last operations:",
                  fz->seed, fz->seed, fz->step, fz->iteration,
                  fz->fd_reuse, fz->closed_ops);
  for (guint i = first; i < fz->trace_pos; i++)
    g_test_message ("  %s", fz->trace[i % TRACE_LEN]);
  g_assertion_message_expr (G_LOG_DOMAIN, __FILE__, line, func, expr);
}

#define check(expr) \
  G_STMT_START { \
    if (G_LIKELY (expr)) ; else fuzz_fail (#expr, __LINE__, G_STRFUNC); \
  } G_STMT_END

/* What gbridge does to seconds, so the model's deadlines are exact. */
static gint64
to_us (double seconds)
{
  return (gint64) llround (seconds * G_USEC_PER_SEC);
}

/* Files */

static gboolean
file_readable (File *f)
{
  switch (f->kind)
    {
    case KIND_SOCK:
      return f->pending > 0 || f->peer_gone;
    case KIND_PIPE_R:
      return f->pending > 0;
    case KIND_PIPE_W:
      return FALSE;
    case KIND_FILE:
    default:
      return TRUE;
    }
}

static gboolean
file_error (File *f)
{
  return f->kind != KIND_FILE && f->peer_gone;
}

static gboolean
file_writable (File *f)
{
  return f->kind != KIND_PIPE_R;
}

static File *
file_new (Kind kind)
{
  File *f = g_new0 (File, 1);

  f->id = ++fz->next_id;
  f->kind = kind;
  f->was_readable = file_readable (f);
  g_ptr_array_add (fz->files, f);
  return f;
}

static void
number_add (int   fd,
            File *f)
{
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fd, <, FD_TABLE);
  g_assert_null (fz->numbers[fd]);
  fz->numbers[fd] = f;
  f->n_numbers++;
  fz->n_numbers++;
}

static int
random_number (Prng *p)
{
  guint n;

  if (fz->n_numbers == 0)
    return -1;
  n = prng_below (p, fz->n_numbers);
  for (int fd = 0; fd < FD_TABLE; fd++)
    if (fz->numbers[fd] != NULL && n-- == 0)
      return fd;
  g_assert_not_reached ();
}

/* Loops */

static gboolean
loop_usable (Loop *l)
{
  return l != NULL && l->held && !l->finalized;
}

static Loop *
random_loop (Prng     *p,
             gboolean  open_only)
{
  Loop *candidates[MAX_LOOPS];
  guint n = 0;

  for (guint i = 0; i < fz->n_loops; i++)
    if (loop_usable (&fz->loops[i]) && (!open_only || !fz->loops[i].closed))
      candidates[n++] = &fz->loops[i];
  return n > 0 ? candidates[prng_below (p, n)] : NULL;
}

static Reg *
loop_handler_on (Loop *l,
                 int   fd)
{
  for (guint i = 0; i < l->handlers->len; i++)
    {
      Reg *r = g_ptr_array_index (l->handlers, i);

      if (r->fd == fd)
        return r;
    }
  return NULL;
}

/* The descriptor @fd is closed, by us or by close (all_fds): handlers still
 * registered on it become orphans. */
static void
number_closed (int fd)
{
  File *f = fz->numbers[fd];

  g_assert_nonnull (f);
  for (guint i = 0; i < fz->n_loops; i++)
    {
      Loop *l = &fz->loops[i];
      Reg *r;

      if (l->finalized || l->closed || (r = loop_handler_on (l, fd)) == NULL)
        continue;
      if (!r->orphaned)
        {
          r->orphaned = TRUE;
          r->orphan_iteration = fz->iterating != NULL ? fz->iteration : 0;
        }
    }
  fz->numbers[fd] = NULL;
  fz->n_numbers--;
  if (--f->n_numbers == 0 && f->peer != NULL)
    {
      File *peer = f->peer;

      peer->peer_gone = TRUE;
      peer->reset = f->kind == KIND_SOCK && f->pending > 0;
      peer->was_error = TRUE;
      if (file_readable (peer))
        peer->was_readable = TRUE;
    }
}

static gboolean remove_handler (Reg *r);

/* Closes @fd. Without fd reuse, removes its handlers first. Returns FALSE,
 * doing nothing, when that is not possible. */
static gboolean
close_number (int fd)
{
  for (guint i = 0; i < fz->n_loops; i++)
    {
      Loop *l = &fz->loops[i];
      Reg *r;

      if (l->finalized || l->closed || (r = loop_handler_on (l, fd)) == NULL)
        continue;
      if (fz->fd_reuse)
        continue;
      if (!l->held)
        return FALSE;
      remove_handler (r);
    }
  trace ("close fd %d (file %u)", fd, fz->numbers[fd]->id);
  g_assert_no_errno (close (fd));
  number_closed (fd);
  return TRUE;
}

/* Data */

static void
write_file (File *f,
            Prng *p)
{
  char buf[64];
  gsize n = 1 + prng_below (p, sizeof buf);
  int fd = -1;
  gssize written;

  /* Regular files stay empty: their offset is shared by every dup. */
  if (f->kind == KIND_PIPE_R || f->kind == KIND_FILE || f->peer_gone ||
      (f->peer != NULL && f->peer->pending > MAX_PENDING_BYTES))
    return;
  for (int i = 0; i < FD_TABLE && fd < 0; i++)
    if (fz->numbers[i] == f)
      fd = i;
  g_assert_cmpint (fd, >=, 0);
  memset (buf, 'a' + f->id % 26, n);
  if (f->kind == KIND_SOCK)
    written = send (fd, buf, n, MSG_NOSIGNAL);
  else
    written = write (fd, buf, n);
  trace ("write %zu to fd %d (file %u)", n, fd, f->id);
  check (written == (gssize) n);
  if (f->peer != NULL)
    {
      f->peer->pending += n;
      f->peer->was_readable = TRUE;
    }
}

/* Reads from @fd and checks that exactly what the model expects comes. */
static void
read_number (int   fd,
             Prng *p)
{
  File *f = fz->numbers[fd];
  char buf[256];
  gsize want = 1 + prng_below (p, sizeof buf);
  gsize expect;
  gssize got;

  if (f->kind == KIND_PIPE_W)
    return;
  expect = f->kind == KIND_FILE ? 0 : MIN (want, f->pending);
  got = read (fd, buf, want);
  trace ("read %zu from fd %d (file %u, pending %zu): %zd", want, fd, f->id,
         f->pending, got);
  if (f->reset && expect == 0)
    {
      /* Once, then end of file. */
      check (got == -1 && errno == ECONNRESET);
      f->reset = FALSE;
    }
  else if (expect > 0 || f->kind == KIND_FILE || f->peer_gone)
    check (got == (gssize) expect);
  else
    check (got == -1 && errno == EAGAIN);
  if (got > 0)
    {
      for (gssize i = 0; i < got; i++)
        check (buf[i] == 'a' + f->peer->id % 26);
      f->pending -= got;
    }
}

/* Destroy-notifies */

static void act_from_destroy (Reg *r);

static void
reg_destroy (gpointer data)
{
  Reg *r = data;
  Loop *l = r->loop;
  gboolean closing;

  trace ("destroy reg %u (type %d, loop %u)", r->id, r->type, l->id);
  check (r->n_destroy == 0);
  check (r->in_call == 0);
  check (!l->finalized);
  r->n_destroy++;
  stats.destroys++;

  /* Closed explicitly, or being disposed after the last unref. */
  closing = l->closed || (!l->held && gbridge_io_loop_is_closed (l->loop));
  switch (r->type)
    {
    case REG_CALLBACK:
      check (r->n_calls == 1 || closing);
      g_ptr_array_remove (l->callbacks, r);
      break;
    case REG_TIMER:
      check (r->n_calls == 1 || r->removing || closing);
      g_ptr_array_remove (l->timers, r);
      break;
    case REG_HANDLER:
      if (r->registered && r->nval_seen)
        {
          /* The loop removes a polled handler whose fd it found closed. */
          r->registered = FALSE;
          g_ptr_array_remove (l->handlers, r);
        }
      check (!r->registered || closing);
      r->registered = FALSE;
      g_ptr_array_remove (l->handlers, r);
      break;
    default:
      g_assert_not_reached ();
    }

  act_from_destroy (r);
}

static Reg *
reg_new (RegType  type,
         Loop    *l,
         guint    depth)
{
  Reg *r = g_new0 (Reg, 1);

  r->type = type;
  r->id = ++fz->next_id;
  r->loop = l;
  r->depth = depth;
  r->fd = -1;
  g_ptr_array_add (fz->regs, r);
  return r;
}

static void
loop_finalized (gpointer  data,
                GObject  *where)
{
  Loop *l = data;

  trace ("loop %u finalized", l->id);
  l->finalized = TRUE;
  l->loop = NULL;
  for (guint i = 0; i < fz->regs->len; i++)
    {
      Reg *r = g_ptr_array_index (fz->regs, i);

      if (r->loop == l)
        check (r->n_destroy == 1);
    }
  check (l->callbacks->len == 0);
  check (l->timers->len == 0);
  check (l->handlers->len == 0);
}

static void
check_all_destroyed (Loop *l)
{
  for (guint i = 0; i < fz->regs->len; i++)
    {
      Reg *r = g_ptr_array_index (fz->regs, i);

      if (r->loop == l)
        check (r->n_destroy == 1);
    }
}

/* Operations, from the test's body or from callbacks */

static void on_callback (gpointer data);
static void on_timer (gpointer data);
static void on_handler (int fd, GbridgeIOEvents events, gpointer data);

static void
add_callback (Loop  *l,
              guint  depth)
{
  Reg *r;
  gboolean ok;

  if (l->callbacks->len >= MAX_QUEUED)
    return;
  r = reg_new (REG_CALLBACK, l, depth);
  r->seq = l->next_seq++;
  if (!l->closed)
    g_ptr_array_add (l->callbacks, r);
  trace ("add_callback reg %u on loop %u", r->id, l->id);
  ok = gbridge_io_loop_add_callback (l->loop, on_callback, r, reg_destroy);
  check (ok == !l->closed);
  if (!ok)
    check (r->n_destroy == 1);
}

/* Timers added while a loop may be dispatching never have a deadline in the
 * past: one would run after the due timers the iteration already took,
 * which is Tornado's order too, not a defect. */
static void
add_timer (Loop     *l,
           guint     depth,
           gboolean  past_ok,
           Prng     *p)
{
  Reg *r;
  double when;

  if (l->timers->len >= MAX_QUEUED)
    return;
  r = reg_new (REG_TIMER, l, depth);
  r->seq = l->next_seq++;
  if (!l->closed)
    g_ptr_array_add (l->timers, r);
  if (prng_chance (p, 50))
    {
      /* Delays in whole milliseconds, often equal ones. */
      double delay = (double) prng_below (p, 6) / 1000.0;

      if (past_ok && prng_chance (p, 15))
        delay = -delay;
      r->deadline = l->now_us + to_us (delay);
      trace ("call_later %g reg %u on loop %u", delay, r->id, l->id);
      r->handle = gbridge_io_loop_call_later (l->loop, delay, on_timer, r, reg_destroy);
    }
  else
    {
      gint64 offset = (gint64) prng_below (p, 6) * 1000;

      if (past_ok && prng_chance (p, 15))
        offset = -offset;
      when = (l->now_us + offset) / (double) G_USEC_PER_SEC;
      r->deadline = to_us (when);
      trace ("call_at %.6f reg %u on loop %u", when, r->id, l->id);
      r->handle = gbridge_io_loop_call_at (l->loop, when, on_timer, r, reg_destroy);
    }
  check ((r->handle != 0) == !l->closed);
  if (r->handle == 0)
    check (r->n_destroy == 1);
}

static void
remove_timer (Reg *r)
{
  Loop *l = r->loop;
  gboolean pending = !l->closed && r->n_calls == 0 && r->n_destroy == 0;
  gboolean ok;

  trace ("remove_timeout reg %u on loop %u (pending %d)", r->id, l->id, pending);
  r->removing = pending;
  ok = gbridge_io_loop_remove_timeout (l->loop, r->handle);
  r->removing = FALSE;
  check (ok == pending);
  if (pending)
    check (r->n_destroy == 1);
}

static Reg *
random_reg (Prng    *p,
            RegType  type,
            Loop    *only)
{
  Reg *candidates[64];
  guint n = 0;

  for (guint i = fz->regs->len; i-- > 0 && n < G_N_ELEMENTS (candidates);)
    {
      Reg *r = g_ptr_array_index (fz->regs, i);

      if (r->type == type && loop_usable (r->loop) && (only == NULL || r->loop == only) &&
          (type != REG_TIMER || r->handle != 0))
        candidates[n++] = r;
    }
  return n > 0 ? candidates[prng_below (p, n)] : NULL;
}

static GbridgeIOEvents
random_events (Prng *p)
{
  static const GbridgeIOEvents choice[] = {
    GBRIDGE_IO_EVENTS_READ,
    GBRIDGE_IO_EVENTS_READ,
    GBRIDGE_IO_EVENTS_WRITE,
    GBRIDGE_IO_EVENTS_READ | GBRIDGE_IO_EVENTS_WRITE,
    GBRIDGE_IO_EVENTS_NONE,
    GBRIDGE_IO_EVENTS_ERROR,
  };

  return choice[prng_below (p, G_N_ELEMENTS (choice))];
}

static void
add_handler (Loop *l,
             int   fd,
             Prng *p)
{
  g_autoptr (GError) error = NULL;
  Reg *r = reg_new (REG_HANDLER, l, 0);
  gboolean closed = l->closed;
  Reg *existing = closed ? NULL : loop_handler_on (l, fd);
  gboolean ok;

  r->fd = fd;
  r->file = fz->numbers[fd];
  r->events = random_events (p);
  trace ("add_handler reg %u fd %d (file %u) events %u on loop %u%s",
         r->id, fd, r->file->id, r->events, l->id, existing ? " (exists)" : "");
  ok = gbridge_io_loop_add_handler (l->loop, fd, r->events, on_handler, r, reg_destroy, &error);
  if (error != NULL)
    trace ("error: %s", error->message);
  /* A refused handler's destroy-notify may close the loop: expect what
   * held when it was added. */
  if (closed)
    check (error != NULL && error->code == GBRIDGE_IO_LOOP_ERROR_CLOSED);
  else if (existing != NULL)
    check (error != NULL && error->code == GBRIDGE_IO_LOOP_ERROR_EXISTS);
  else
    check (error == NULL);
  check (ok == (error == NULL));
  if (ok)
    {
      r->registered = TRUE;
      g_ptr_array_add (l->handlers, r);
    }
  else
    check (r->n_destroy == 1);
}

/* Returns whether @r was registered. */
static gboolean
remove_handler (Reg *r)
{
  Loop *l = r->loop;
  gboolean expect = !l->closed && r->registered;
  gboolean ok;

  if (l->closed && !fz->closed_ops)
    return FALSE;
  trace ("remove_handler reg %u fd %d on loop %u (registered %d)",
         r->id, r->fd, l->id, expect);
  if (!expect && !l->closed && loop_handler_on (l, r->fd) != NULL)
    return FALSE;   /* another handler owns the number now */
  if (expect)
    {
      r->registered = FALSE;
      g_ptr_array_remove (l->handlers, r);
    }
  ok = gbridge_io_loop_remove_handler (l->loop, r->fd);
  check (ok == expect);
  /* Outside an iteration nothing holds on to it: destroyed at once. */
  if (expect && fz->iterating == NULL && r->in_call == 0)
    check (r->n_destroy == 1);
  return ok;
}

static void
update_handler (Reg  *r,
                Prng *p)
{
  g_autoptr (GError) error = NULL;
  Loop *l = r->loop;
  GbridgeIOEvents events = random_events (p);
  gboolean ok;

  /* An orphan's number names another file, or none: what epoll makes of
   * that is not the model's business. */
  if (r->orphaned && r->registered)
    return;
  if (l->closed && !fz->closed_ops)
    return;
  if (!r->registered && !l->closed && loop_handler_on (l, r->fd) != NULL)
    return;
  trace ("update_handler reg %u fd %d events %u on loop %u (registered %d)",
         r->id, r->fd, events, l->id, r->registered);
  ok = gbridge_io_loop_update_handler (l->loop, r->fd, events, &error);
  if (r->registered && !l->closed)
    {
      g_assert_no_error (error);
      check (ok);
      r->events = events;
    }
  else
    {
      check (!ok);
      g_assert_nonnull (error);
      check (error->domain == GBRIDGE_IO_LOOP_ERROR);
      check (error->code == GBRIDGE_IO_LOOP_ERROR_NOT_FOUND ||
             error->code == GBRIDGE_IO_LOOP_ERROR_CLOSED);
    }
}

static void
set_clock (Loop *l,
           Prng *p,
           gboolean backwards_ok)
{
  if (backwards_ok && prng_chance (p, 10))
    {
      double now = (l->now_us - (gint64) prng_below (p, 3) * 1000) / (double) G_USEC_PER_SEC;

      trace ("use_virtual_clock %.6f on loop %u", now, l->id);
      gbridge_io_loop_use_virtual_clock (l->loop, now);
      l->now_us = to_us (now);
    }
  else
    {
      double seconds = prng_below (p, 4) / 1000.0;

      trace ("advance_clock %g on loop %u", seconds, l->id);
      gbridge_io_loop_advance_clock (l->loop, seconds);
      l->now_us += to_us (seconds);
    }
  check (to_us (gbridge_io_loop_time (l->loop)) == l->now_us);
}

static gboolean
loop_has_orphans (Loop *l)
{
  for (guint i = 0; i < l->handlers->len; i++)
    if (((Reg *) g_ptr_array_index (l->handlers, i))->orphaned)
      return TRUE;
  return FALSE;
}

/* Closes @l, which must not be dispatching; @all_fds closes its handlers'
 * numbers too. */
static void
close_loop (Loop     *l,
            gboolean  all_fds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) numbers = g_array_new (FALSE, FALSE, sizeof (int));

  /* An orphan's number may name someone else's file by now. */
  if (all_fds && loop_has_orphans (l))
    all_fds = FALSE;
  if (all_fds && !l->closed && !fz->fd_reuse)
    {
      /* Without fd reuse, nobody else may be watching those numbers. The
       * destroy-notifies of what this removes may change @l's handlers. */
      for (guint i = 0; i < fz->n_loops && all_fds; i++)
        {
          Loop *other = &fz->loops[i];

          if (other == l || other->finalized || other->closed)
            continue;
          for (guint j = 0; j < other->handlers->len;)
            {
              Reg *o = g_ptr_array_index (other->handlers, j);

              if (loop_handler_on (l, o->fd) == NULL)
                j++;
              else if (!other->held)
                {
                  all_fds = FALSE;
                  break;
                }
              else
                {
                  remove_handler (o);
                  j = 0;
                }
            }
        }
    }

  /* Closing a closed loop does nothing, all_fds or not; the destroy-notify
   * of a handler removed above may have closed it. */
  if (l->closed)
    all_fds = FALSE;
  for (guint i = 0; all_fds && i < l->handlers->len; i++)
    g_array_append_val (numbers, ((Reg *) g_ptr_array_index (l->handlers, i))->fd);
  trace ("close loop %u all_fds %d", l->id, all_fds);
  l->closed = TRUE;
  stats.closes++;
  check (gbridge_io_loop_close (l->loop, all_fds, &error));
  g_assert_no_error (error);
  check (gbridge_io_loop_is_closed (l->loop));
  check_all_destroyed (l);
  check (l->callbacks->len == 0 && l->timers->len == 0 && l->handlers->len == 0);
  if (all_fds)
    for (guint i = 0; i < numbers->len; i++)
      number_closed (g_array_index (numbers, int, i));
}

static void
drop_loop (Loop *l)
{
  trace ("unref loop %u", l->id);
  l->held = FALSE;
  g_object_unref (l->loop);
}

/* Actions of callbacks, timers and handlers. @r's loop is dispatching. */

static void
act_in_dispatch (Reg  *r,
                 Prng *p)
{
  Loop *l = r->loop;
  Loop *other = random_loop (p, FALSE);
  Reg *victim;

  if (!prng_chance (p, 60))
    return;

  switch (prng_below (p, 13))
    {
    case 0:
    case 1:
      if (r->depth < MAX_DEPTH && loop_usable (l))
        add_callback (l, r->depth + 1);
      break;
    case 2:
      if (r->depth < MAX_DEPTH && other != NULL)
        add_callback (other, r->depth + 1);
      break;
    case 3:
      if (r->depth < MAX_DEPTH && other != NULL)
        add_timer (other, r->depth + 1, FALSE, p);
      break;
    case 4:
      if ((victim = random_reg (p, REG_TIMER, NULL)) != NULL)
        remove_timer (victim);
      break;
    case 5:
      if ((victim = random_reg (p, REG_HANDLER, NULL)) != NULL &&
          (victim->registered || fz->closed_ops))
        remove_handler (victim);
      break;
    case 6:
      {
        int fd = random_number (p);

        if (fd >= 0)
          write_file (fz->numbers[fd], p);
      }
      break;
    case 7:
      if (loop_usable (l) && !l->closed)
        {
          g_autoptr (GError) error = NULL;

          trace ("close own loop %u from its dispatch", l->id);
          check (!gbridge_io_loop_close (l->loop, FALSE, &error));
          g_assert_error (error, GBRIDGE_IO_LOOP_ERROR, GBRIDGE_IO_LOOP_ERROR_RUNNING);
          check (!gbridge_io_loop_is_closed (l->loop));
        }
      break;
    case 8:
      /* No other loop dispatches while @l does. */
      if (other != NULL && other != l && prng_chance (p, 25))
        close_loop (other, prng_chance (p, 50));
      break;
    case 9:
      if (loop_usable (l) && prng_chance (p, 30))
        drop_loop (l);   /* finalized once the dispatch is over */
      break;
    case 10:
      if (other != NULL && other != l && prng_chance (p, 30))
        {
          Loop *o = other;

          drop_loop (o);
          check (o->finalized);
        }
      break;
    case 11:
      if (loop_usable (l))
        set_clock (l, p, FALSE);
      break;
    case 12:
      if (r->depth < MAX_DEPTH && loop_usable (l))
        add_timer (l, r->depth + 1, FALSE, p);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Destroy-notifies run from anywhere, closing loops included: they only add,
 * remove and close, and close only loops that cannot be dispatching. */
static void
act_from_destroy (Reg *r)
{
  Prng p = { fz->seed ^ ((guint64) r->id << 32) ^ G_GUINT64_CONSTANT (0xd1b54a32d192ed03) };
  Loop *l = r->loop;
  Loop *other;
  Reg *victim;

  if (fz->destroy_depth > 1 || !prng_chance (&p, 20))
    return;
  fz->destroy_depth++;
  switch (prng_below (&p, 5))
    {
    case 0:
      if (loop_usable (l))
        add_callback (l, MAX_DEPTH);
      break;
    case 1:
      if (loop_usable (l))
        add_timer (l, MAX_DEPTH, FALSE, &p);
      break;
    case 2:
      if ((victim = random_reg (&p, REG_TIMER, NULL)) != NULL)
        remove_timer (victim);
      break;
    case 3:
      if ((victim = random_reg (&p, REG_HANDLER, NULL)) != NULL &&
          (victim->registered || fz->closed_ops) && victim->in_call == 0)
        remove_handler (victim);
      break;
    case 4:
      other = random_loop (&p, TRUE);
      if (other != NULL && (fz->iterating == NULL || other->ctx != fz->iterating))
        close_loop (other, FALSE);
      break;
    default:
      g_assert_not_reached ();
    }
  fz->destroy_depth--;
}

static void
prng_for_call (Prng *p,
               Reg  *r)
{
  p->state = fz->seed ^ ((guint64) r->id << 20) ^ r->n_calls;
  prng_next (p);
}

static void
on_callback (gpointer data)
{
  Reg *r = data;
  Loop *l = r->loop;
  Prng p;

  trace ("callback reg %u on loop %u", r->id, l->id);
  check (fz->iterating == l->ctx);
  check (!l->finalized && !l->closed);
  check (r->n_calls == 0 && r->n_destroy == 0);
  /* FIFO */
  check (l->callbacks->len > 0 && g_ptr_array_index (l->callbacks, 0) == r);
  g_ptr_array_remove_index (l->callbacks, 0);
  stats.callback_calls++;

  r->n_calls++;
  r->in_call++;
  prng_for_call (&p, r);
  act_in_dispatch (r, &p);
  r->in_call--;
}

static void
on_timer (gpointer data)
{
  Reg *r = data;
  Loop *l = r->loop;
  Prng p;

  trace ("timer reg %u on loop %u deadline %" G_GINT64_FORMAT " now %" G_GINT64_FORMAT,
         r->id, l->id, r->deadline, l->now_us);
  check (fz->iterating == l->ctx);
  check (!l->finalized && !l->closed);
  check (r->n_calls == 0 && r->n_destroy == 0);
  check (g_ptr_array_find (l->timers, r, NULL));
  /* Never early, and in (deadline, insertion) order. */
  check (r->deadline <= l->now_us);
  check (to_us (gbridge_io_loop_time (l->loop)) == l->now_us);
  for (guint i = 0; i < l->timers->len; i++)
    {
      Reg *o = g_ptr_array_index (l->timers, i);

      check (o == r || o->deadline > r->deadline ||
             (o->deadline == r->deadline && o->seq > r->seq));
    }
  g_ptr_array_remove (l->timers, r);
  stats.timer_calls++;

  r->n_calls++;
  r->in_call++;
  prng_for_call (&p, r);
  act_in_dispatch (r, &p);
  r->in_call--;
}

/* What the file the handler was added for had during this iteration. */
static void
check_events_of_file (Reg             *r,
                      GbridgeIOEvents  events)
{
  if (events & GBRIDGE_IO_EVENTS_READ)
    check (r->file->was_readable);
  if (events & GBRIDGE_IO_EVENTS_WRITE)
    check (file_writable (r->file));
  if (events & GBRIDGE_IO_EVENTS_ERROR)
    check (r->file->was_error);
}

static void
check_handler_call (Reg             *r,
                    int              fd,
                    GbridgeIOEvents  events)
{
  Loop *l = r->loop;
  File *f = r->file;

  static const char *kinds[] = { "socket", "pipe read end", "pipe write end", "file" };

  trace ("handler reg %u fd %d (file %u, %s%s%s) events %u on loop %u", r->id, fd, f->id,
         kinds[f->kind], r->orphaned ? ", orphan" : "", f->n_numbers == 0 ? ", closed" : "",
         events, l->id);
  check (fz->iterating == l->ctx);
  check (!l->finalized && !l->closed);
  check (r->n_destroy == 0);
  check (r->registered);
  check (fd == r->fd);
  check (events != 0);
  check ((events & ~(r->events | GBRIDGE_IO_EVENTS_ERROR)) == 0);
  stats.handler_calls++;
  stats.orphan_calls += r->orphaned;

  /* A polled number closed, or naming another file by now, is reported
   * once as ERROR; then the loop removes the handler. */
  if (r->orphaned && f->kind == KIND_FILE && events == GBRIDGE_IO_EVENTS_ERROR)
    {
      r->nval_seen = TRUE;
      return;
    }

  if (!r->orphaned || r->orphan_iteration == fz->iteration)
    {
      /* Registered, or closed during this iteration after the loop found
       * it ready: what its file had. */
      check_events_of_file (r, events);
      return;
    }

  if (f->kind == KIND_FILE)
    {
      /* Still open under another number, the file is always ready; if not,
       * these are the events of the file that reuses the number. */
      check (f->n_numbers > 0);
      return;
    }

  /* epoll follows the file: once closed, it is never reported again; while
   * open under another number, only its own events are. */
  check (f->n_numbers > 0);
  check_events_of_file (r, events);
}

static void
on_handler (int             fd,
            GbridgeIOEvents events,
            gpointer        data)
{
  Reg *r = data;
  Loop *l = r->loop;
  Prng p;

  check_handler_call (r, fd, events);
  r->n_calls++;
  r->in_call++;
  prng_for_call (&p, r);

  switch (prng_below (&p, 8))
    {
    case 0:
    case 1:
      if (!r->orphaned)
        read_number (fd, &p);
      break;
    case 2:
      if (loop_usable (l))
        {
          check (remove_handler (r));
          check (r->n_destroy == 0);   /* not while it runs */
        }
      break;
    case 3:
      if (loop_usable (l) && !r->orphaned && fz->numbers[fd] == r->file)
        {
          check (remove_handler (r));
          check (r->n_destroy == 0);
          close_number (fd);
        }
      break;
    case 4:
      if (loop_usable (l))
        update_handler (r, &p);
      break;
    default:
      act_in_dispatch (r, &p);
    }

  r->in_call--;
}

/* Iterations */

static gboolean
iterate (Ctx *c)
{
  gboolean dispatched;

  for (guint i = 0; i < fz->files->len; i++)
    {
      File *f = g_ptr_array_index (fz->files, i);

      f->was_readable = file_readable (f);
      f->was_error = file_error (f);
    }
  fz->iteration++;
  stats.iterations++;
  trace ("iteration %u of context %u", fz->iteration, c->id);
  fz->iterating = c;
  dispatched = g_main_context_iteration (c->context, FALSE);
  fz->iterating = NULL;
  return dispatched;
}

/* Iterates @c until it is idle or for a while, then checks that whatever
 * was queued or due on its open loops before has run. */
static void
drain (Ctx *c)
{
  guint64 before = fz->next_id;
  gint64 now[MAX_LOOPS];

  for (guint i = 0; i < fz->n_loops; i++)
    now[i] = fz->loops[i].now_us;
  for (guint i = 0; i < 16 && iterate (c); i++)
    ;
  for (guint i = 0; i < fz->n_loops; i++)
    {
      Loop *l = &fz->loops[i];

      if (l->ctx != c || l->finalized || l->closed)
        continue;
      for (guint j = 0; j < l->callbacks->len; j++)
        check (((Reg *) g_ptr_array_index (l->callbacks, j))->id > before);
      for (guint j = 0; j < l->timers->len; j++)
        {
          Reg *r = g_ptr_array_index (l->timers, j);

          check (r->id > before || r->deadline > now[i]);
        }
    }
}

/* Scenario set-up and operations of the test's body */

static Ctx *
ctx_new (GMainContext *context)
{
  Ctx *c = &fz->ctxs[fz->n_ctxs];

  g_assert_cmpuint (fz->n_ctxs, <, MAX_CONTEXTS);
  c->id = fz->n_ctxs++;
  c->context = context;
  return c;
}

static void
op_new_loop (Prng *p)
{
  Loop *l;
  double start = 1000.0 + prng_below (p, 1000);

  if (fz->n_loops >= MAX_LOOPS)
    return;
  l = &fz->loops[fz->n_loops];
  l->id = fz->n_loops++;
  if (fz->n_ctxs < MAX_CONTEXTS && (fz->n_ctxs == 0 || prng_chance (p, 30)))
    {
      l->loop = gbridge_io_loop_new ();
      l->ctx = ctx_new (g_main_context_ref (gbridge_io_loop_get_context (l->loop)));
    }
  else
    {
      l->ctx = &fz->ctxs[prng_below (p, fz->n_ctxs)];
      l->loop = gbridge_io_loop_new_for_context (l->ctx->context);
    }
  trace ("new loop %u on context %u", l->id, l->ctx->id);
  l->held = TRUE;
  l->callbacks = g_ptr_array_new ();
  l->timers = g_ptr_array_new ();
  l->handlers = g_ptr_array_new ();
  g_object_weak_ref (G_OBJECT (l->loop), loop_finalized, l);
  gbridge_io_loop_use_virtual_clock (l->loop, start);
  l->now_us = to_us (start);
}

static void
op_open (Prng *p)
{
  int sv[2];
  File *a, *b;

  if (fz->n_numbers + 2 > MAX_NUMBERS)
    return;
  switch (prng_below (p, 4))
    {
    case 0:
    case 1:
      g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
      a = file_new (KIND_SOCK);
      b = file_new (KIND_SOCK);
      break;
    case 2:
      g_assert_no_errno (pipe2 (sv, O_NONBLOCK | O_CLOEXEC));
      a = file_new (KIND_PIPE_R);
      b = file_new (KIND_PIPE_W);
      break;
    default:
      /* Not /dev/null: every open of it has the same inode, and a loop may
       * tell files apart by inode. */
      sv[0] = open (g_get_tmp_dir (), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (sv[0] < 0)
        {
          g_autofree char *path = NULL;

          sv[0] = g_file_open_tmp ("gbridge-fuzz-XXXXXX", &path, NULL);
          g_assert_cmpint (sv[0], >=, 0);
          g_unlink (path);
        }
      number_add (sv[0], file_new (KIND_FILE));
      trace ("open regular file fd %d", sv[0]);
      return;
    }
  a->peer = b;
  b->peer = a;
  number_add (sv[0], a);
  number_add (sv[1], b);
  trace ("open %s fds %d (file %u) %d (file %u)", a->kind == KIND_SOCK ? "socketpair" : "pipe",
         sv[0], a->id, sv[1], b->id);
}

static void
op_dup (Prng *p)
{
  int fd = random_number (p);
  int copy;

  if (fd < 0 || fz->n_numbers >= MAX_NUMBERS)
    return;
  copy = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  g_assert_cmpint (copy, >=, 0);
  trace ("dup fd %d to %d", fd, copy);
  number_add (copy, fz->numbers[fd]);
}

/* The documented guarantee: dup a watched fd, close the original number,
 * make a new socket take the number and give it data. The old handler must
 * never hear of the new file. */
static void
op_reuse (Prng *p)
{
  Reg *r = random_reg (p, REG_HANDLER, NULL);
  int fd, sv[2], fresh;
  File *a, *b;

  if (r == NULL || !r->registered || r->orphaned || r->loop->closed ||
      fz->numbers[r->fd] != r->file || fz->n_numbers + 3 > MAX_NUMBERS)
    return;
  fd = r->fd;
  /* Quiet the old file, so that any event for the old handler from now on
   * can only be the new file's. */
  if (r->file->kind == KIND_SOCK && r->file->peer_gone)
    return;
  while (r->file->pending > 0)
    read_number (fd, p);
  if (prng_chance (p, 70))
    op_dup (p);
  if (fz->numbers[fd] == NULL)
    return;
  trace ("reuse fd %d of reg %u", fd, r->id);
  stats.reuses++;
  close_number (fd);

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  a = file_new (KIND_SOCK);
  b = file_new (KIND_SOCK);
  a->peer = b;
  b->peer = a;
  if (sv[1] == fd)
    {
      int t = sv[0];

      sv[0] = sv[1];
      sv[1] = t;
    }
  if (sv[0] != fd)
    {
      fresh = dup3 (sv[0], fd, O_CLOEXEC);
      g_assert_cmpint (fresh, ==, fd);
      g_assert_no_errno (close (sv[0]));
      sv[0] = fd;
    }
  number_add (sv[0], a);
  number_add (sv[1], b);
  trace ("new socketpair fds %d (file %u) %d (file %u)", sv[0], a->id, sv[1], b->id);
  write_file (b, p);
}

static void
op_closed_loop_ops (Loop *l,
                    Prng *p)
{
  int fd = random_number (p);
  Reg *r;

  /* Everything is refused, with its destroy-notify called. */
  add_callback (l, MAX_DEPTH);
  add_timer (l, MAX_DEPTH, TRUE, p);
  if (fd >= 0)
    add_handler (l, fd, p);
  if ((r = random_reg (p, REG_TIMER, l)) != NULL)
    remove_timer (r);
  if (fz->closed_ops && (r = random_reg (p, REG_HANDLER, l)) != NULL)
    {
      remove_handler (r);
      update_handler (r, p);
    }
}

static void
step (Prng *p)
{
  Loop *l = random_loop (p, FALSE);
  Reg *r;
  int fd;
  guint op = prng_below (p, 100);

  if (l == NULL || op < 3)
    {
      op_new_loop (p);
      return;
    }

  if (op < 28)
    iterate (&fz->ctxs[prng_below (p, fz->n_ctxs)]);
  else if (op < 31)
    drain (&fz->ctxs[prng_below (p, fz->n_ctxs)]);
  else if (op < 36)
    op_open (p);
  else if (op < 38)
    op_dup (p);
  else if (op < 41)
    {
      if ((fd = random_number (p)) >= 0)
        close_number (fd);
    }
  else if (op < 44)
    {
      if (fz->fd_reuse)
        op_reuse (p);
    }
  else if (op < 52)
    {
      if ((fd = random_number (p)) >= 0 && !l->closed)
        add_handler (l, fd, p);
    }
  else if (op < 55)
    {
      if ((r = random_reg (p, REG_HANDLER, NULL)) != NULL)
        update_handler (r, p);
    }
  else if (op < 59)
    {
      if ((r = random_reg (p, REG_HANDLER, NULL)) != NULL)
        remove_handler (r);
    }
  else if (op < 67)
    {
      if ((fd = random_number (p)) >= 0)
        write_file (fz->numbers[fd], p);
    }
  else if (op < 70)
    {
      if ((fd = random_number (p)) >= 0)
        read_number (fd, p);
    }
  else if (op < 77)
    add_callback (l, 0);
  else if (op < 85)
    add_timer (l, 0, TRUE, p);
  else if (op < 88)
    {
      if ((r = random_reg (p, REG_TIMER, NULL)) != NULL)
        remove_timer (r);
    }
  else if (op < 95)
    set_clock (l, p, TRUE);
  else if (op < 96)
    {
      if (!l->closed)
        close_loop (l, prng_chance (p, 50));
      else
        op_closed_loop_ops (l, p);
    }
  else if (op < 97)
    {
      drop_loop (l);
      check (l->finalized);
    }
  else
    {
      if (l->closed)
        op_closed_loop_ops (l, p);
      else if ((fd = random_number (p)) >= 0)
        add_handler (l, fd, p);
    }
}

static int
compare_ints (gconstpointer a,
              gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* The descriptors open in this process, as a sorted list. */
static GArray *
open_fds (void)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *d;

  g_assert_nonnull (dir);
  while ((d = readdir (dir)) != NULL)
    {
      int fd;

      if (d->d_name[0] == '.' || (fd = atoi (d->d_name)) == dirfd (dir))
        continue;
      g_array_append_val (fds, fd);
    }
  closedir (dir);
  g_array_sort (fds, compare_ints);
  return fds;
}

static gboolean
fd_listed (GArray *fds,
           int     fd)
{
  for (guint i = 0; i < fds->len; i++)
    if (g_array_index (fds, int, i) == fd)
      return TRUE;
  return FALSE;
}

/* Every descriptor is ours, as the model knows them, or was open before. */
static void
check_fds (GArray *before)
{
  g_autoptr (GArray) now = open_fds ();

  for (guint i = 0; i < now->len; i++)
    {
      int fd = g_array_index (now, int, i);

      if (!fd_listed (before, fd) && (fd >= FD_TABLE || fz->numbers[fd] == NULL))
        {
          trace ("fd %d is open, neither ours nor open before", fd);
          check (FALSE);
        }
    }
  for (int fd = 0; fd < FD_TABLE; fd++)
    if (fz->numbers[fd] != NULL && !fd_listed (now, fd))
      {
        trace ("our fd %d (file %u) is closed", fd, fz->numbers[fd]->id);
        check (FALSE);
      }
}

static void
run_scenario (guint32   seed,
              guint     n_steps,
              gboolean  fd_reuse,
              gboolean  closed_ops)
{
  Fuzz state = { 0, };
  g_autoptr (GArray) fds_before = open_fds ();

  fz = &state;
  fz->seed = seed;
  fz->rand.state = seed;
  fz->fd_reuse = fd_reuse;
  fz->closed_ops = closed_ops;
  fz->files = g_ptr_array_new_with_free_func (g_free);
  fz->regs = g_ptr_array_new_with_free_func (g_free);

  op_new_loop (&fz->rand);
  for (fz->step = 0; fz->step < n_steps; fz->step++)
    {
      step (&fz->rand);
      /* Nobody closed our descriptors behind the model's back. */
      for (int fd = 0; fd < FD_TABLE; fd++)
        if (fz->numbers[fd] != NULL && fcntl (fd, F_GETFD) < 0)
          {
            trace ("our fd %d (file %u) is closed", fd, fz->numbers[fd]->id);
            check (FALSE);
          }
    }

  /* The end of every loop's life: closed or not, then the last unref. */
  for (guint i = 0; i < fz->n_loops; i++)
    {
      Loop *l = &fz->loops[i];

      if (!loop_usable (l))
        continue;
      if (!l->closed && prng_chance (&fz->rand, 50))
        close_loop (l, prng_chance (&fz->rand, 50));
      drop_loop (l);
      check (l->finalized);
    }
  for (guint i = 0; i < fz->n_loops; i++)
    {
      check (fz->loops[i].finalized);
      g_ptr_array_unref (fz->loops[i].callbacks);
      g_ptr_array_unref (fz->loops[i].timers);
      g_ptr_array_unref (fz->loops[i].handlers);
    }
  for (guint i = 0; i < fz->regs->len; i++)
    check (((Reg *) g_ptr_array_index (fz->regs, i))->n_destroy == 1);

  for (int fd = 0; fd < FD_TABLE; fd++)
    if (fz->numbers[fd] != NULL)
      {
        g_assert_no_errno (close (fd));
        number_closed (fd);
      }
  for (guint i = 0; i < fz->n_ctxs; i++)
    g_main_context_unref (fz->ctxs[i].context);
  check_fds (fds_before);

  g_ptr_array_unref (fz->files);
  g_ptr_array_unref (fz->regs);
  for (guint i = 0; i < TRACE_LEN; i++)
    g_free (fz->trace[i]);
  fz = NULL;
}

static gboolean
env_flag (const char *name,
          gboolean    fallback)
{
  const char *value = g_getenv (name);

  if (value == NULL || *value == '\0')
    return fallback;
  return g_ascii_strtoll (value, NULL, 10) != 0;
}

static void
test_fuzz_random (void)
{
  const char *seconds_env = g_getenv ("GBRIDGE_FUZZ_SECONDS");
  const char *seed_env = g_getenv ("GBRIDGE_FUZZ_SEED");
  double seconds = seconds_env != NULL ? g_ascii_strtod (seconds_env, NULL) : DEFAULT_SECONDS;
  guint64 max_steps = seconds_env != NULL ? G_MAXUINT64 : DEFAULT_STEPS;
  gboolean fd_reuse = env_flag ("GBRIDGE_FUZZ_FD_REUSE", TRUE);
  gboolean closed_ops = env_flag ("GBRIDGE_FUZZ_CLOSED_OPS", TRUE);
  guint32 seed = seed_env != NULL
    ? (guint32) g_ascii_strtoull (seed_env, NULL, 10)
    : (guint32) g_test_rand_int ();
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  Prng seeds = { seed };
  guint64 steps = 0;
  guint scenarios = 0;

  g_test_message ("seed %u (GBRIDGE_FUZZ_SEED=%u replays it), fd_reuse %d, closed_ops %d",
                  seed, seed, fd_reuse, closed_ops);
  while (steps < max_steps && (scenarios == 0 || g_get_monotonic_time () < end))
    {
      guint32 scenario_seed = scenarios == 0 ? seed : (guint32) prng_next (&seeds);

      run_scenario (scenario_seed, SCENARIO_STEPS, fd_reuse, closed_ops);
      steps += SCENARIO_STEPS;
      scenarios++;
    }
  g_test_message ("%u scenarios, %" G_GUINT64_FORMAT " steps: %" G_GUINT64_FORMAT
                  " iterations, %" G_GUINT64_FORMAT " handler calls (%" G_GUINT64_FORMAT
                  " of orphans), %" G_GUINT64_FORMAT " timers, %" G_GUINT64_FORMAT
                  " callbacks, %" G_GUINT64_FORMAT " destroy-notifies, %" G_GUINT64_FORMAT
                  " closes, %" G_GUINT64_FORMAT " fd reuses",
                  scenarios, steps, stats.iterations, stats.handler_calls,
                  stats.orphan_calls, stats.timer_calls, stats.callback_calls,
                  stats.destroys, stats.closes, stats.reuses);
  g_assert_cmpuint (scenarios, >, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/Gbridge/Fuzz/random", test_fuzz_random);

  return g_test_run ();
}
