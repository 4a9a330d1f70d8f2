/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native.AsyncioCore: what gbridge.asyncio.EventLoop runs on.
 *
 * One core per asyncio loop. It owns the gbridge side of the loop: the
 * repeating callback that runs asyncio's ready deque, one gbridge handler
 * per watched descriptor, one gbridge timeout per asyncio timer, and the
 * thread-safe wake-up. The hot paths (a batch of ready handles, a ready
 * descriptor's reader and writer, a due timer) run here, doing asyncio's
 * Handle._run() for asyncio's handles (call_handle()); the rare ones (debug
 * mode, a slow-callback threshold, KeyboardInterrupt or SystemExit out of a
 * callback) go back to the EventLoop's Python methods, so there is one
 * definition of what they do.
 *
 * Nothing handed to gbridge holds the core or the loop: gbridge's callbacks
 * hold a GbnLink, which the core cuts when it is closed or freed, and the
 * core holds the loop through a weak reference. (A timeout holds a timer
 * entry of the core instead, which the core frees only after it removed
 * all its timeouts.) A closed loop is freed by reference counting alone,
 * as asyncio's own loops are.
 *
 * Timers as BaseEventLoop keeps them: outside debug mode call_later() and
 * call_at() make the TimerHandle here; cancel() only counts the timer as
 * cancelled, and the cancelled ones leave gbridge's heap when due (never
 * run) or all at once, when they outnumber the live ones.
 */
#include "gbridge-native-private.h"

#include <structmember.h>

#define EVENT_READ  1   /* selectors.EVENT_READ */
#define EVENT_WRITE 2   /* selectors.EVENT_WRITE */

/* Extra batches one drain runs while only callbacks are ready (see
 * _INLINE_BATCHES in gbridge/asyncio.py, which owns the number). */
static int inline_batches = 1;

typedef struct _Core Core;

/* A pending timer of the core: what its gbridge timeout is given (nothing
 * else: no allocation of its own, no reference count), its id, and its
 * handle (a strong reference; NULL while the entry is free, on the free
 * list through @next_free). The entries are allocated in chunks that never
 * move, and they outlive their timeouts: the core removes every timeout it
 * has before it lets go of them. */
typedef struct TimerEntry TimerEntry;
struct TimerEntry
{
  Core       *core;
  guint64     id;
  PyObject   *handle;
  TimerEntry *next_free;
};

#define TIMER_CHUNK 512

struct _Core
{
  PyObject_HEAD
  GbridgeIOLoop *io_loop;
  GbnLink *link;
  PyObject *loop_ref;      /* weak reference to the asyncio loop */
  PyObject *fd_to_key;     /* the selector's dict: fd -> SelectorKey */
  PyObject *ready;         /* the loop's ready deque */
  TimerEntry **chunks;     /* the timer entries, TIMER_CHUNK a chunk */
  gsize n_entries;         /* entries handed out, in use or free */
  TimerEntry *free_timer;  /* the free list */
  Py_ssize_t n_timers;     /* pending timers */
  Py_ssize_t n_cancelled;  /* of those, the cancelled ones not removed yet */
  PyObject *weakreflist;
  char fast;               /* no debug mode, no slow-callback threshold */
  char driving;            /* run_forever() is running the loop */
  char drain_pending;      /* the drain callback is queued */
  char closed;
};

static PyObject *str_run, *str_cancelled, *str_scheduled, *str_stopping,
                *str_closed, *str_exit_requested, *str_leave, *str_drain,
                *str_drain_remote, *str_remove_reader,
                *str_remove_writer, *str_request_exit, *str_append,
                *str_popleft;
static PyObject *get_running_loop, *set_running_loop;

static PyObject *
core_loop (Core *self)
{
  return gbn_weakref_get (self->loop_ref);
}

/* The truth of loop.@name; -1 with an exception set. */
static int
attr_true (PyObject *object,
           PyObject *name)
{
  PyObject *value = PyObject_GetAttr (object, name);
  int truth;

  if (value == NULL)
    return -1;
  truth = PyObject_IsTrue (value);
  Py_DECREF (value);
  return truth;
}

static void
report (void)
{
  if (PyErr_Occurred ())
    PyErr_WriteUnraisable (NULL);
}

/* gbridge.asyncio.TimerHandle, made here without running Handle.__init__()
 * and TimerHandle.__init__() in Python: what they set outside debug mode,
 * through the slots' member descriptors (set_timer_type() checks that the
 * slots are these; gbridge.asyncio checks that asyncio's __slots__ are
 * these and nothing more). */
enum
{
  TIMER_CONTEXT,
  TIMER_LOOP,
  TIMER_CALLBACK,
  TIMER_ARGS,
  TIMER_CANCELLED,
  TIMER_REPR,
  TIMER_SOURCE_TRACEBACK,
  TIMER_WHEN,
  TIMER_SCHEDULED,
  N_TIMER_SLOTS
};

static const char *const timer_slot_names[N_TIMER_SLOTS] = {
  "_context", "_loop", "_callback", "_args", "_cancelled", "_repr",
  "_source_traceback", "_when", "_scheduled",
};

static PyTypeObject *timer_type;
static PyObject *timer_slots[N_TIMER_SLOTS];
static PyObject *monotonic;

/* @handle's slot @slot (a new reference), or NULL with an exception set;
 * through its member descriptor when @handle is a timer_type (the timers
 * the core keeps are). */
static PyTypeObject *handle_type;

static PyObject *
timer_get (PyObject *handle,
           int       slot,
           PyObject *name)
{
  if (Py_TYPE (handle) == timer_type
      || (Py_TYPE (handle) == handle_type && handle_type != NULL && slot < TIMER_WHEN))
    {
      PyObject *d = timer_slots[slot];

      return Py_TYPE (d)->tp_descr_get (d, handle, (PyObject *) timer_type);
    }
  return PyObject_GetAttr (handle, name);
}

static int
timer_set (PyObject *handle,
           int       slot,
           PyObject *name,
           PyObject *value)
{
  if (Py_TYPE (handle) == timer_type)
    {
      PyObject *d = timer_slots[slot];

      return Py_TYPE (d)->tp_descr_set (d, handle, value);
    }
  return PyObject_SetAttr (handle, name, value);
}

/* The truth of a timer's slot; -1 with an exception set. */
static int
timer_true (PyObject *handle,
            int       slot,
            PyObject *name)
{
  PyObject *value = timer_get (handle, slot, name);
  int truth;

  if (value == NULL)
    return -1;
  truth = value == Py_True ? 1 : value == Py_False ? 0 : PyObject_IsTrue (value);
  Py_DECREF (value);
  return truth;
}


static gboolean on_drain (gpointer data);

static gboolean
schedule_drain (Core *self)
{
  if (self->drain_pending || self->closed)
    return TRUE;
  self->drain_pending = TRUE;
  if (!gbridge_io_loop_add_repeating_callback (self->io_loop, on_drain,
                                               gbn_link_ref (self->link),
                                               gbn_link_unref))
    {
      self->drain_pending = FALSE;
      return FALSE;
    }
  return TRUE;
}

/* The loop becomes the running one for a callback GLib dispatched outside
 * run_forever (GLib.MainLoop, GTK): returns the one it replaces (a new
 * reference), or NULL when run_forever drives the loop. */
static int
enter (Core      *self,
       PyObject  *loop,
       PyObject **previous)
{
  PyObject *r;

  *previous = NULL;
  if (self->driving)
    return 0;
  *previous = PyObject_CallNoArgs (get_running_loop);
  if (*previous == NULL)
    return -1;
  r = PyObject_CallOneArg (set_running_loop, loop);
  if (r == NULL)
    {
      Py_CLEAR (*previous);
      return -1;
    }
  Py_DECREF (r);
  return 0;
}

/* Undoes enter(). @exc (stolen), a BaseException that left a callback, goes
 * to EventLoop._leave(), which decides between leaving run_forever and
 * reporting it as PyGObject reports its own callbacks' exceptions. */
static void
leave (Core     *self,
       PyObject *loop,
       PyObject *previous,
       PyObject *exc)
{
  PyObject *r;

  if (exc != NULL)
    {
      r = PyObject_CallMethodObjArgs (loop, str_leave,
                                      previous != NULL ? previous : Py_None,
                                      exc, NULL);
      Py_DECREF (exc);
    }
  else if (self->driving)
    {
      int stopping = attr_true (loop, str_stopping);

      r = stopping > 0 ? PyObject_CallMethodNoArgs (loop, str_request_exit)
                       : Py_NewRef (Py_None);
      if (stopping < 0)
        Py_CLEAR (r);
    }
  else
    r = PyObject_CallOneArg (set_running_loop,
                             previous != NULL ? previous : Py_None);
  Py_XDECREF (previous);
  if (r == NULL)
    report ();
  Py_XDECREF (r);
}

/* asyncio.events.Handle (handle_type, above), its _run() as it was when
 * set_handle_runner() was called, and what runs its except block
 * (gbridge.asyncio's _handle_run_failed): set_handle_runner() sets them
 * where Handle._run() is known to be what call_handle() does. */
static PyObject *handle_run;
static PyObject *handle_run_failed;
static PyObject *handle_fatal;   /* (SystemExit, KeyboardInterrupt) */

/* Handle._run() for a handle of exactly asyncio's Handle or of
 * gbridge.asyncio.TimerHandle whose class still has asyncio's _run():
 * the callback runs in the handle's context, and an exception other than
 * SystemExit and KeyboardInterrupt goes to _handle_run_failed(), which does
 * what _run()'s except block does. Returns 1 when it ran the handle (0 or
 * -1 in *@failed, with the exception to propagate set), 0 when the handle
 * is not one of those (nothing done). */
static int
call_handle (PyObject *handle,
             int      *failed)
{
  PyTypeObject *type = Py_TYPE (handle);
  PyObject *run, *context, *callback = NULL, *args = NULL, *r = NULL, *exc;

  if (handle_run == NULL
      || ((type != handle_type || handle_type == NULL)
          && (type != timer_type || timer_type == NULL)))
    return 0;
  /* Someone may have replaced Handle._run() (to time callbacks, say). */
  run = PyObject_GetAttr ((PyObject *) type, str_run);
  if (run == NULL)
    {
      PyErr_Clear ();
      return 0;
    }
  Py_DECREF (run);
  if (run != handle_run)
    return 0;
  context = timer_get (handle, TIMER_CONTEXT, NULL);
  if (context == NULL)
    goto fall_back;
  if (!PyContext_CheckExact (context))
    {
      Py_DECREF (context);
      return 0;
    }
  callback = timer_get (handle, TIMER_CALLBACK, NULL);
  if (callback != NULL)
    args = timer_get (handle, TIMER_ARGS, NULL);
  if (args == NULL || !PyTuple_Check (args))
    {
      Py_DECREF (context);
      Py_XDECREF (callback);
      Py_XDECREF (args);
      goto fall_back;
    }
  /* self._context.run(self._callback, *self._args) */
  if (PyContext_Enter (context) == 0)
    {
      r = PyObject_Call (callback, args, NULL);
      if (PyContext_Exit (context) < 0)
        Py_CLEAR (r);
    }
  Py_DECREF (context);
  Py_DECREF (callback);
  Py_DECREF (args);
  *failed = 0;
  if (r != NULL)
    {
      Py_DECREF (r);
      return 1;
    }
  exc = gbn_fetch_exception ();
  if (PyErr_GivenExceptionMatches (exc, handle_fatal))
    {
      gbn_restore_exception (exc);
      *failed = -1;
      return 1;
    }
  r = PyObject_CallFunctionObjArgs (handle_run_failed, handle, exc, NULL);
  Py_DECREF (exc);
  if (r == NULL)
    *failed = -1;
  Py_XDECREF (r);
  return 1;

fall_back:
  /* A slot that is not set: _run() raises what it raises. */
  PyErr_Clear ();
  return 0;
}

/* Runs @handle (its _run(), or call_handle()): 0, or -1 with the exception
 * (a BaseException: Handle._run() reports the others) set. */
static int
call_run (PyObject *handle)
{
  PyObject *r;
  int failed;

  if (call_handle (handle, &failed))
    return failed;
  r = PyObject_CallMethodNoArgs (handle, str_run);
  if (r == NULL)
    return -1;
  Py_DECREF (r);
  return 0;
}

/* Runs @handle unless it was cancelled: 0, or -1 with the exception (a
 * BaseException: Handle._run() reports the others) set. */
static int
run_handle (PyObject *handle)
{
  int cancelled = timer_true (handle, TIMER_CANCELLED, str_cancelled);

  if (cancelled != 0)
    return cancelled < 0 ? -1 : 0;
  return call_run (handle);
}

/* One batch of the ready deque: the handles that were ready when it began.
 * Returns the exception that stopped it, if any (a new reference). */
static PyObject *
run_batch (Core *self)
{
  Py_ssize_t n = PyObject_Length (self->ready);

  for (; n > 0; n--)
    {
      PyObject *handle;
      int failed;

      if (PyObject_Length (self->ready) <= 0)
        break;
      handle = PyObject_CallMethodNoArgs (self->ready, str_popleft);
      if (handle == NULL)
        return gbn_fetch_exception ();
      failed = run_handle (handle);
      Py_DECREF (handle);
      if (failed)
        return gbn_fetch_exception ();
    }
  return NULL;
}

/* Whether another batch may run before GLib is polled again. */
static int
may_run_again (Core     *self,
               PyObject *loop)
{
  int r;

  if (self->closed || PyObject_Length (self->ready) <= 0)
    return 0;
  if ((r = attr_true (loop, str_stopping)) != 0)
    return r < 0 ? -1 : 0;
  if ((r = attr_true (loop, str_closed)) != 0)
    return r < 0 ? -1 : 0;
  if ((r = attr_true (loop, str_exit_requested)) != 0)
    return r < 0 ? -1 : 0;
  return 1;
}

static gboolean
drain_fast (Core     *self,
            PyObject *loop)
{
  PyObject *previous, *exc = NULL;
  int batches = inline_batches, again;

  if (attr_true (loop, str_closed) != 0)
    {
      report ();
      return FALSE;
    }
  if (enter (self, loop, &previous) < 0)
    {
      report ();
      return FALSE;
    }
  exc = run_batch (self);
  while (exc == NULL && batches-- > 0 && (again = may_run_again (self, loop)) != 0)
    {
      if (again < 0)
        {
          exc = gbn_fetch_exception ();
          break;
        }
      exc = run_batch (self);
    }
  leave (self, loop, previous, exc);
  return !self->closed && PyObject_Length (self->ready) > 0
         && attr_true (loop, str_closed) == 0;
}

static gboolean
on_drain (gpointer data)
{
  GbnLink *link = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *loop;
  gboolean repeat = FALSE;

  if (!gbn_enter (&state))
    return FALSE;
  self = (Core *) link->owner;
  if (self == NULL)
    goto out;
  Py_INCREF (self);
  loop = core_loop (self);
  if (loop != NULL)
    {
      if (self->fast)
        repeat = drain_fast (self, loop);
      else
        {
          PyObject *r = PyObject_CallMethodNoArgs (loop, str_drain);

          if (r != NULL)
            repeat = PyObject_IsTrue (r) > 0;
          Py_XDECREF (r);
        }
      report ();
      Py_DECREF (loop);
    }
  if (!repeat)
    self->drain_pending = FALSE;
  Py_DECREF (self);
out:
  gbn_leave (state);
  return repeat;
}

static void
on_remote (gpointer data)
{
  GbnLink *link = data;
  PyGILState_STATE state;
  PyObject *loop;

  if (!gbn_enter (&state))
    return;
  if (link->owner != NULL && (loop = core_loop ((Core *) link->owner)) != NULL)
    {
      PyObject *r = PyObject_CallMethodNoArgs (loop, str_drain_remote);

      if (r == NULL)
        report ();
      Py_XDECREF (r);
      Py_DECREF (loop);
    }
  gbn_leave (state);
}

/* Runs the reader or the writer of a ready descriptor's key. @slot: 0 for
 * the reader, 1 for the writer. Returns -1 with an exception set. */
static int
run_fd_side (Core     *self,
             PyObject *loop,
             PyObject *key,
             int       slot)
{
  PyObject *data = PyTuple_GET_ITEM (key, 3);
  PyObject *handle, *r;
  int cancelled, failed;

  handle = PyTuple_GET_ITEM (data, slot);
  if (handle == Py_None)
    return 0;
  Py_INCREF (handle);
  cancelled = timer_true (handle, TIMER_CANCELLED, str_cancelled);
  if (cancelled < 0)
    failed = -1;
  else if (cancelled)
    {
      r = PyObject_CallMethodObjArgs (loop,
                                      slot == 0 ? str_remove_reader : str_remove_writer,
                                      PyTuple_GET_ITEM (key, 1), NULL);
      failed = r == NULL ? -1 : 0;
      Py_XDECREF (r);
    }
  else
    failed = call_run (handle);
  Py_DECREF (handle);
  return failed;
}

/* The SelectorKey of @fd, checked to be asyncio's shape (a new reference),
 * or NULL. */
static PyObject *
lookup_key (Core     *self,
            PyObject *fd_object)
{
  PyObject *key = PyDict_GetItemWithError (self->fd_to_key, fd_object);
  PyObject *data;

  if (key == NULL || !PyTuple_Check (key) || PyTuple_GET_SIZE (key) < 4)
    return NULL;
  data = PyTuple_GET_ITEM (key, 3);
  if (!PyTuple_Check (data) || PyTuple_GET_SIZE (data) != 2)
    return NULL;
  return Py_NewRef (key);
}

static void
fd_fast (Core            *self,
         PyObject        *loop,
         int              fd,
         GbridgeIOEvents  events)
{
  PyObject *fd_object = PyLong_FromLong (fd);
  PyObject *key, *previous, *exc = NULL;
  long key_events;

  if (fd_object == NULL)
    goto error;
  key = lookup_key (self, fd_object);
  if (key == NULL)
    goto done;
  if (enter (self, loop, &previous) < 0)
    {
      Py_DECREF (key);
      goto error;
    }
  key_events = PyLong_AsLong (PyTuple_GET_ITEM (key, 2));
  if ((events & (GBRIDGE_IO_EVENTS_READ | GBRIDGE_IO_EVENTS_ERROR))
      && (key_events & EVENT_READ))
    {
      if (run_fd_side (self, loop, key, 0) < 0)
        exc = gbn_fetch_exception ();
      else if (events & (GBRIDGE_IO_EVENTS_WRITE | GBRIDGE_IO_EVENTS_ERROR))
        {
          /* The reader may have changed or removed the writer. */
          Py_DECREF (key);
          key = lookup_key (self, fd_object);
          key_events = key != NULL ? PyLong_AsLong (PyTuple_GET_ITEM (key, 2)) : 0;
        }
    }
  if (exc == NULL && key != NULL
      && (events & (GBRIDGE_IO_EVENTS_WRITE | GBRIDGE_IO_EVENTS_ERROR))
      && (key_events & EVENT_WRITE))
    {
      if (run_fd_side (self, loop, key, 1) < 0)
        exc = gbn_fetch_exception ();
    }
  Py_XDECREF (key);
  leave (self, loop, previous, exc);
done:
  Py_DECREF (fd_object);
error:
  report ();
}

static void
on_fd (int             fd,
       GbridgeIOEvents events,
       gpointer        data)
{
  GbnLink *link = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *loop;

  if (!gbn_enter (&state))
    return;
  self = (Core *) link->owner;
  if (self != NULL && (loop = core_loop (self)) != NULL)
    {
      Py_INCREF (self);
      if (self->fast)
        fd_fast (self, loop, fd, events);
      else
        {
          PyObject *r = PyObject_CallMethod (loop, "_on_fd", "ii", fd, (int) events);

          if (r == NULL)
            report ();
          Py_XDECREF (r);
        }
      Py_DECREF (loop);
      Py_DECREF (self);
    }
  gbn_leave (state);
}

#define ENTRY(self, i) (&(self)->chunks[(i) / TIMER_CHUNK][(i) % TIMER_CHUNK])

/* Takes the handle out of @entry (the reference passes to the caller) and
 * frees the entry. */
static PyObject *
take_entry (Core       *self,
            TimerEntry *entry)
{
  PyObject *handle = entry->handle;

  entry->handle = NULL;
  entry->id = 0;
  entry->next_free = self->free_timer;
  self->free_timer = entry;
  self->n_timers--;
  return handle;
}

/* A due asyncio timer joins the ready deque, as BaseEventLoop's timers do,
 * behind the handles that were ready before it; a cancelled one is dropped
 * (it was only counted when cancelled). */
static void
on_timer (gpointer data)
{
  TimerEntry *entry = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *handle, *r;
  int cancelled;

  if (!gbn_enter (&state))
    return;
  self = entry->core;
  if (entry->handle == NULL)
    goto out;   /* cannot happen: an entry and its timeout go together */
  handle = take_entry (self, entry);
  if (timer_set (handle, TIMER_SCHEDULED, str_scheduled, Py_False) < 0)
    goto error;
  cancelled = timer_true (handle, TIMER_CANCELLED, str_cancelled);
  if (cancelled != 0)
    {
      if (cancelled > 0 && self->n_cancelled > 0)
        self->n_cancelled--;
      goto error;
    }
  r = PyObject_CallMethodOneArg (self->ready, str_append, handle);
  if (r == NULL)
    goto error;
  Py_DECREF (r);
  schedule_drain (self);
error:
  Py_DECREF (handle);
  report ();
out:
  gbn_leave (state);
}

/* Python methods */

static int
core_init (Core     *self,
           PyObject *args,
           PyObject *kwargs)
{
  PyObject *loop, *io_loop, *fd_to_key, *ready;
  if (kwargs != NULL && PyDict_GET_SIZE (kwargs) > 0)
    {
      PyErr_SetString (PyExc_TypeError, "AsyncioCore() takes no keyword arguments");
      return -1;
    }
  if (!PyArg_ParseTuple (args, "OOO!O:AsyncioCore", &loop, &io_loop,
                         &PyDict_Type, &fd_to_key, &ready))
    return -1;
  if (self->io_loop != NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "AsyncioCore is already initialized");
      return -1;
    }
  self->io_loop = gbn_io_loop_from_object (io_loop);
  if (self->io_loop == NULL)
    return -1;
  self->loop_ref = PyWeakref_NewRef (loop, NULL);
  if (self->loop_ref == NULL)
    return -1;
  self->fd_to_key = Py_NewRef (fd_to_key);
  self->ready = Py_NewRef (ready);
  self->link = gbn_link_new ((PyObject *) self);
  self->fast = TRUE;
  return 0;
}

static PyObject *
core_schedule_drain (Core     *self,
                     PyObject *unused)
{
  schedule_drain (self);
  Py_RETURN_NONE;
}

static PyObject *
core_schedule_remote (Core     *self,
                      PyObject *unused)
{
  if (!self->closed)
    gbridge_io_loop_add_callback (self->io_loop, on_remote,
                                  gbn_link_ref (self->link), gbn_link_unref);
  Py_RETURN_NONE;
}

static PyObject *
core_add_handler (Core     *self,
                  PyObject *args)
{
  int fd, events;
  GError *error = NULL;

  if (!PyArg_ParseTuple (args, "ii:add_handler", &fd, &events))
    return NULL;
  if (self->closed)
    {
      PyErr_SetString (PyExc_RuntimeError, "the loop is closed");
      return NULL;
    }
  /* Unchecked: asyncio removes a reader or writer before its transport
   * closes the socket, and asyncio's own loops check nothing either. */
  if (!gbridge_io_loop_add_handler_full (self->io_loop, fd, events,
                                         GBRIDGE_HANDLER_FLAGS_UNCHECKED, on_fd,
                                         gbn_link_ref (self->link), gbn_link_unref,
                                         &error))
    return gbn_raise_io_error (error);
  Py_RETURN_NONE;
}

static PyObject *
core_update_handler (Core     *self,
                     PyObject *args)
{
  int fd, events;
  GError *error = NULL;

  if (!PyArg_ParseTuple (args, "ii:update_handler", &fd, &events))
    return NULL;
  if (!gbridge_io_loop_update_handler (self->io_loop, fd, events, &error))
    return gbn_raise_io_error (error);
  Py_RETURN_NONE;
}

static PyObject *
core_remove_handler (Core     *self,
                     PyObject *arg)
{
  int fd;

  if (gbn_as_int (arg, &fd) < 0)
    return NULL;
  return PyBool_FromLong (gbridge_io_loop_remove_handler (self->io_loop, fd));
}

/* A free entry, the chunks grown if need be, or NULL with MemoryError
 * set. */
static TimerEntry *
new_entry (Core *self)
{
  TimerEntry *entry = self->free_timer;

  if (entry != NULL)
    {
      self->free_timer = entry->next_free;
      return entry;
    }
  if (self->n_entries % TIMER_CHUNK == 0)
    {
      gsize n_chunks = self->n_entries / TIMER_CHUNK;
      TimerEntry **chunks = PyMem_Realloc (self->chunks, (n_chunks + 1) * sizeof *chunks);

      if (chunks == NULL)
        {
          PyErr_NoMemory ();
          return NULL;
        }
      self->chunks = chunks;
      chunks[n_chunks] = PyMem_Malloc (TIMER_CHUNK * sizeof (TimerEntry));
      if (chunks[n_chunks] == NULL)
        {
          PyErr_NoMemory ();
          return NULL;
        }
    }
  entry = ENTRY (self, self->n_entries);
  self->n_entries++;
  entry->core = self;
  entry->handle = NULL;
  return entry;
}

/* Schedules @handle at @when_object (a number, as loop.time()): the
 * handle joins the ready deque then. Returns @handle (a new reference). */
static PyObject *
add_timer (Core     *self,
           PyObject *when_object,
           PyObject *handle)
{
  TimerEntry *entry;
  double when;
  guint64 id;

  when = PyFloat_AsDouble (when_object);
  if (when == -1.0 && PyErr_Occurred ())
    return NULL;
  if (isnan (when))
    when = 0.0;
  if (self->closed)
    {
      PyErr_SetString (PyExc_RuntimeError, "the loop is closed");
      return NULL;
    }
  entry = new_entry (self);
  if (entry == NULL)
    return NULL;
  /* Half a microsecond later: gbridge rounds to whole microseconds, and a
   * timer must never run before loop.time() reached its deadline. */
  id = gbridge_io_loop_call_at (self->io_loop, when + 0.5e-6, on_timer, entry, NULL);
  if (id == 0)
    {
      entry->next_free = self->free_timer;
      self->free_timer = entry;
      PyErr_SetString (PyExc_RuntimeError, "the loop is closed");
      return NULL;
    }
  entry->id = id;
  entry->handle = Py_NewRef (handle);
  self->n_timers++;
  if (timer_set (handle, TIMER_SCHEDULED, str_scheduled, Py_True) < 0)
    {
      Py_DECREF (take_entry (self, entry));
      gbridge_io_loop_remove_timeout (self->io_loop, id);
      return NULL;
    }
  return Py_NewRef (handle);
}

/* add_timer(when, handle): the handle joins the ready deque at @when; its
 * _scheduled becomes True. */
static PyObject *
core_add_timer (Core             *self,
                PyObject *const  *args,
                Py_ssize_t        nargs)
{
  PyObject *r;

  if (nargs != 2)
    {
      PyErr_SetString (PyExc_TypeError, "add_timer(when, handle)");
      return NULL;
    }
  r = add_timer (self, args[0], args[1]);
  if (r == NULL)
    return NULL;
  Py_DECREF (r);
  Py_RETURN_NONE;
}

/* A new handle for the loop, as TimerHandle(when, callback, args, loop,
 * context) makes it outside debug mode, scheduled. */
static PyObject *
new_timer (Core     *self,
           PyObject *when,
           PyObject *callback,
           PyObject *args,
           PyObject *context)
{
  PyObject *values[N_TIMER_SLOTS];
  PyObject *handle, *loop, *r;

  if (timer_type == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "gbridge._native.set_timer_type() was not called");
      return NULL;
    }
  if (!PyTuple_Check (args))
    {
      PyErr_SetString (PyExc_TypeError, "args must be a tuple");
      return NULL;
    }
  loop = core_loop (self);
  if (loop == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "the loop is gone");
      return NULL;
    }
  context = context == Py_None ? PyContext_CopyCurrent () : Py_NewRef (context);
  if (context == NULL)
    {
      Py_DECREF (loop);
      return NULL;
    }
  handle = timer_type->tp_alloc (timer_type, 0);
  if (handle != NULL)
    {
      values[TIMER_CONTEXT] = context;
      values[TIMER_LOOP] = loop;
      values[TIMER_CALLBACK] = callback;
      values[TIMER_ARGS] = args;
      values[TIMER_CANCELLED] = Py_False;
      values[TIMER_REPR] = Py_None;
      values[TIMER_SOURCE_TRACEBACK] = Py_None;
      values[TIMER_WHEN] = when;
      values[TIMER_SCHEDULED] = Py_False;
      for (int i = 0; i < N_TIMER_SLOTS; i++)
        {
          PyObject *d = timer_slots[i];

          if (Py_TYPE (d)->tp_descr_set (d, handle, values[i]) < 0)
            {
              Py_CLEAR (handle);
              break;
            }
        }
    }
  Py_DECREF (context);
  Py_DECREF (loop);
  if (handle == NULL)
    return NULL;
  r = add_timer (self, when, handle);
  Py_DECREF (handle);
  return r;
}

/* call_at(when, callback, args, context): BaseEventLoop.call_at() outside
 * debug mode, the loop open; returns the handle. */
static PyObject *
core_call_at (Core             *self,
              PyObject *const  *args,
              Py_ssize_t        nargs)
{
  if (nargs != 4)
    {
      PyErr_SetString (PyExc_TypeError, "call_at(when, callback, args, context)");
      return NULL;
    }
  return new_timer (self, args[0], args[1], args[2], args[3]);
}

/* call_later(delay, callback, args, context): BaseEventLoop.call_later()
 * outside debug mode, the loop open, its time() BaseEventLoop's (which is
 * time.monotonic()); returns the handle. */
static PyObject *
core_call_later (Core             *self,
                 PyObject *const  *args,
                 Py_ssize_t        nargs)
{
  PyObject *now, *when, *r;

  if (nargs != 4)
    {
      PyErr_SetString (PyExc_TypeError, "call_later(delay, callback, args, context)");
      return NULL;
    }
  now = PyObject_CallNoArgs (monotonic);
  if (now == NULL)
    return NULL;
  when = PyNumber_Add (now, args[0]);
  Py_DECREF (now);
  if (when == NULL)
    return NULL;
  r = new_timer (self, when, args[1], args[2], args[3]);
  Py_DECREF (when);
  return r;
}

/* Removes the cancelled timers (and @cancelling, the handle being
 * cancelled, whose _cancelled is set only after the loop was told) from
 * gbridge's heap and from the slab, in one pass: as BaseEventLoop rebuilds
 * its heap without the cancelled handles. 0, or -1 with an exception set. */
static int
compact_timers (Core     *self,
                PyObject *cancelling)
{
  for (gsize i = 0; i < self->n_entries; i++)
    {
      TimerEntry *entry = ENTRY (self, i);
      PyObject *handle = entry->handle;
      int cancelled;

      if (handle == NULL)
        continue;
      cancelled = handle == cancelling ? 1 : timer_true (handle, TIMER_CANCELLED, str_cancelled);
      if (cancelled < 0)
        return -1;
      if (cancelled)
        {
          guint64 id = entry->id;

          handle = take_entry (self, entry);
          gbridge_io_loop_remove_timeout (self->io_loop, id);
          cancelled = timer_set (handle, TIMER_SCHEDULED, str_scheduled, Py_False);
          Py_DECREF (handle);
          if (cancelled < 0)
            return -1;
        }
    }
  self->n_cancelled = 0;
  return 0;
}

/* cancel_timer(handle): the loop's _timer_handle_cancelled(), which
 * TimerHandle.cancel() calls while the handle is scheduled, before it sets
 * the handle's _cancelled. As BaseEventLoop, the timer only counts as
 * cancelled: it stays in gbridge's heap, and is dropped when due (it never
 * runs) or when the cancelled ones outnumber the live ones, all at once. A
 * gbridge removal per cancel (the heap's, the dict's, the id's) costs more
 * than the cancelled timer ever does; and as the live timers are at least
 * as many as the cancelled ones left, only that many can wake the loop for
 * nothing. */
static PyObject *
core_cancel_timer (Core     *self,
                   PyObject *handle)
{
  int scheduled;

  if (self->closed)
    Py_RETURN_FALSE;
  scheduled = timer_true (handle, TIMER_SCHEDULED, str_scheduled);
  if (scheduled <= 0)
    {
      if (scheduled < 0)
        return NULL;
      Py_RETURN_FALSE;
    }
  self->n_cancelled++;
  if (self->n_cancelled * 2 > self->n_timers
      && compact_timers (self, handle) < 0)
    return NULL;
  Py_RETURN_TRUE;
}

/* Removes every timeout of the core and lets go of the handles and the
 * entries. */
static void
core_clear_timers (Core *self)
{
  TimerEntry **chunks = self->chunks;
  gsize n = self->n_entries;

  /* First all the timeouts, which point at the entries; then the handles,
   * whose release may run code that schedules timers again (with new
   * entries). */
  self->chunks = NULL;
  self->n_entries = 0;
  self->free_timer = NULL;
  self->n_timers = self->n_cancelled = 0;
  for (gsize i = 0; i < n; i++)
    {
      TimerEntry *entry = &chunks[i / TIMER_CHUNK][i % TIMER_CHUNK];

      if (entry->handle != NULL && self->io_loop != NULL)
        gbridge_io_loop_remove_timeout (self->io_loop, entry->id);
    }
  for (gsize i = 0; i < n; i++)
    Py_XDECREF (chunks[i / TIMER_CHUNK][i % TIMER_CHUNK].handle);
  for (gsize i = 0; i < (n + TIMER_CHUNK - 1) / TIMER_CHUNK; i++)
    PyMem_Free (chunks[i]);
  PyMem_Free (chunks);
}

static PyObject *
core_close (Core     *self,
            PyObject *unused)
{
  if (self->closed || self->io_loop == NULL)
    Py_RETURN_NONE;
  self->closed = TRUE;
  core_clear_timers (self);
  gbn_link_cut (self->link);
  Py_RETURN_NONE;
}

static int
core_traverse (Core      *self,
               visitproc  visit,
               void      *arg)
{
  Py_VISIT (self->loop_ref);
  Py_VISIT (self->fd_to_key);
  Py_VISIT (self->ready);
  for (gsize i = 0; i < self->n_entries; i++)
    Py_VISIT (ENTRY (self, i)->handle);
  Py_VISIT (Py_TYPE (self));
  return 0;
}

static int
core_clear (Core *self)
{
  Py_CLEAR (self->loop_ref);
  Py_CLEAR (self->fd_to_key);
  Py_CLEAR (self->ready);
  core_clear_timers (self);
  return 0;
}

static void
core_dealloc (Core *self)
{
  PyObject_GC_UnTrack (self);
  if (self->weakreflist != NULL)
    PyObject_ClearWeakRefs ((PyObject *) self);
  core_clear_timers (self);
  if (self->link != NULL)
    {
      gbn_link_cut (self->link);
      gbn_link_unref (self->link);
    }
  core_clear (self);
  g_clear_object (&self->io_loop);
  Py_TYPE (self)->tp_free ((PyObject *) self);
}

static PyObject *
core_get_pending_timers (Core *self,
                         void *unused)
{
  return PyLong_FromSsize_t (self->n_timers);
}

static PyGetSetDef core_getset[] = {
  { "pending_timers", (getter) core_get_pending_timers, NULL,
    "How many gbridge timeouts the core holds (cancelled ones included).", NULL },
  { NULL, NULL, NULL, NULL, NULL }
};

static PyMethodDef core_methods[] = {
  { "schedule_drain", (PyCFunction) core_schedule_drain, METH_NOARGS,
    "Queues the drain callback unless it is queued (idempotent)." },
  { "schedule_remote", (PyCFunction) core_schedule_remote, METH_NOARGS,
    "Calls loop._drain_remote() on the loop's thread (thread-safe)." },
  { "add_handler", (PyCFunction) core_add_handler, METH_VARARGS,
    "add_handler(fd, gbridge_events): watches fd for the loop; OSError as epoll." },
  { "update_handler", (PyCFunction) core_update_handler, METH_VARARGS,
    "update_handler(fd, gbridge_events)" },
  { "remove_handler", (PyCFunction) core_remove_handler, METH_O,
    "remove_handler(fd) -> bool" },
  { "add_timer", (PyCFunction) (void (*) (void)) core_add_timer, METH_FASTCALL,
    "add_timer(when, handle): the handle joins the ready deque at when." },
  { "call_at", (PyCFunction) (void (*) (void)) core_call_at, METH_FASTCALL,
    "call_at(when, callback, args, context) -> TimerHandle (not in debug mode)." },
  { "call_later", (PyCFunction) (void (*) (void)) core_call_later, METH_FASTCALL,
    "call_later(delay, callback, args, context) -> TimerHandle (not in debug mode)." },
  { "cancel_timer", (PyCFunction) core_cancel_timer, METH_O,
    "cancel_timer(handle) -> bool: whether the handle's timer was pending." },
  { "close", (PyCFunction) core_close, METH_NOARGS,
    "Removes the timers and stops every callback from reaching the loop." },
  { NULL, NULL, 0, NULL }
};

static PyMemberDef core_members[] = {
  { "fast", T_BOOL, offsetof (Core, fast), 0,
    "Whether the hot paths run in C (no debug mode, no slow-callback threshold)." },
  { "driving", T_BOOL, offsetof (Core, driving), 0,
    "Whether run_forever() is running the loop." },
  { "drain_pending", T_BOOL, offsetof (Core, drain_pending), READONLY,
    "Whether the drain callback is queued." },
  { "cancelled_timers", T_PYSSIZET, offsetof (Core, n_cancelled), READONLY,
    "How many of the pending gbridge timeouts are of cancelled handles." },
  { NULL, 0, 0, 0, NULL }
};

static PyTypeObject core_type = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "gbridge._native.AsyncioCore",
  .tp_basicsize = sizeof (Core),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
  .tp_doc = "The gbridge side of one gbridge.asyncio.EventLoop (private).",
  .tp_new = PyType_GenericNew,
  .tp_init = (initproc) core_init,
  .tp_dealloc = (destructor) core_dealloc,
  .tp_traverse = (traverseproc) core_traverse,
  .tp_clear = (inquiry) core_clear,
  .tp_weaklistoffset = offsetof (Core, weakreflist),
  .tp_methods = core_methods,
  .tp_members = core_members,
  .tp_getset = core_getset,
};

static PyObject *
set_inline_batches (PyObject *module,
                    PyObject *arg)
{
  int n;

  if (gbn_as_int (arg, &n) < 0)
    return NULL;
  inline_batches = MAX (n, 0);
  Py_RETURN_NONE;
}

/* set_timer_type(type): the class call_at() and call_later() make, whose
 * slots must all be member descriptors. */
static PyObject *
set_timer_type (PyObject *module,
                PyObject *type)
{
  PyObject *slots[N_TIMER_SLOTS] = { NULL };

  if (!PyType_Check (type))
    {
      PyErr_SetString (PyExc_TypeError, "set_timer_type() needs a class");
      return NULL;
    }
  for (int i = 0; i < N_TIMER_SLOTS; i++)
    {
      slots[i] = PyObject_GetAttrString (type, timer_slot_names[i]);
      if (slots[i] == NULL || !PyObject_TypeCheck (slots[i], &PyMemberDescr_Type)
          || Py_TYPE (slots[i])->tp_descr_set == NULL)
        {
          if (slots[i] != NULL)
            PyErr_Format (PyExc_TypeError, "%s is not a slot", timer_slot_names[i]);
          for (int j = 0; j <= i; j++)
            Py_XDECREF (slots[j]);
          return NULL;
        }
    }
  for (int i = 0; i < N_TIMER_SLOTS; i++)
    Py_XSETREF (timer_slots[i], slots[i]);
  Py_XSETREF (timer_type, (PyTypeObject *) Py_NewRef (type));
  Py_RETURN_NONE;
}

/* set_handle_runner(Handle, run_failed): asyncio.events.Handle, whose
 * _run() the core may do itself, with @run_failed(handle, exc) for its
 * except block; or (None, None) to call each handle's _run(). Needs
 * set_timer_type() first (for the slots). */
static PyObject *
set_handle_runner (PyObject *module,
                   PyObject *args)
{
  PyObject *type, *run_failed, *run = NULL;

  if (!PyArg_ParseTuple (args, "OO:set_handle_runner", &type, &run_failed))
    return NULL;
  if (type != Py_None)
    {
      if (!PyType_Check (type) || timer_type == NULL
          || !PyType_IsSubtype (timer_type, (PyTypeObject *) type)
          || !PyCallable_Check (run_failed))
        {
          PyErr_SetString (PyExc_TypeError, "set_handle_runner(Handle, run_failed) after set_timer_type()");
          return NULL;
        }
      run = PyObject_GetAttr (type, str_run);
      if (run == NULL)
        return NULL;
      if (handle_fatal == NULL)
        {
          handle_fatal = PyTuple_Pack (2, PyExc_SystemExit, PyExc_KeyboardInterrupt);
          if (handle_fatal == NULL)
            {
              Py_DECREF (run);
              return NULL;
            }
        }
    }
  Py_XSETREF (handle_run, run);
  Py_XSETREF (handle_type, type != Py_None ? (PyTypeObject *) Py_NewRef (type) : NULL);
  Py_XSETREF (handle_run_failed, type != Py_None ? Py_NewRef (run_failed) : NULL);
  Py_RETURN_NONE;
}

static PyMethodDef asyncio_functions[] = {
  { "set_handle_runner", set_handle_runner, METH_VARARGS,
    "Lets the core run asyncio.events.Handle's _run() itself (see gbridge.asyncio)." },
  { "set_timer_type", set_timer_type, METH_O,
    "Sets the TimerHandle class AsyncioCore.call_at() and call_later() make." },
  { "set_inline_batches", set_inline_batches, METH_O,
    "Sets how many extra batches one drain may run (gbridge.asyncio's _INLINE_BATCHES)." },
  { NULL, NULL, 0, NULL }
};

#define INTERN(var, text) \
  if ((var = PyUnicode_InternFromString (text)) == NULL) return -1

int
gbn_asyncio_init (PyObject *module)
{
  PyObject *events;

  INTERN (str_run, "_run");
  INTERN (str_cancelled, "_cancelled");
  INTERN (str_scheduled, "_scheduled");
  INTERN (str_stopping, "_stopping");
  INTERN (str_closed, "_closed");
  INTERN (str_exit_requested, "_exit_requested");
  INTERN (str_leave, "_leave");
  INTERN (str_drain, "_drain");
  INTERN (str_drain_remote, "_drain_remote");
  INTERN (str_remove_reader, "_remove_reader");
  INTERN (str_remove_writer, "_remove_writer");
  INTERN (str_request_exit, "_request_exit");
  INTERN (str_append, "append");
  INTERN (str_popleft, "popleft");

  {
    PyObject *time_module = PyImport_ImportModule ("time");

    if (time_module == NULL)
      return -1;
    monotonic = PyObject_GetAttrString (time_module, "monotonic");
    Py_DECREF (time_module);
    if (monotonic == NULL)
      return -1;
  }
  events = PyImport_ImportModule ("asyncio.events");
  if (events == NULL)
    return -1;
  get_running_loop = PyObject_GetAttrString (events, "_get_running_loop");
  set_running_loop = PyObject_GetAttrString (events, "_set_running_loop");
  Py_DECREF (events);
  if (get_running_loop == NULL || set_running_loop == NULL)
    return -1;

  if (PyType_Ready (&core_type) < 0)
    return -1;
  Py_INCREF (&core_type);
  if (PyModule_AddObject (module, "AsyncioCore", (PyObject *) &core_type) < 0)
    {
      Py_DECREF (&core_type);
      return -1;
    }
  return PyModule_AddFunctions (module, asyncio_functions);
}
