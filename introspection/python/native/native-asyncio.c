/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native.AsyncioCore: what gbridge.asyncio.EventLoop runs on.
 *
 * One core per asyncio loop. It owns the gbridge side of the loop: the
 * repeating callback that runs asyncio's ready deque, one gbridge handler
 * per watched descriptor, one gbridge timeout per asyncio timer, and the
 * thread-safe wake-up. The hot paths (a batch of ready handles, a ready
 * descriptor's reader and writer, a due timer) run here, calling each
 * handle's own _run(); the rare ones (debug mode, a slow-callback threshold,
 * KeyboardInterrupt or SystemExit out of a callback) go back to the
 * EventLoop's Python methods, so there is one definition of what they do.
 *
 * Nothing handed to gbridge holds the core or the loop: gbridge's callbacks
 * hold a GbnLink, which the core cuts when it is closed or freed, and the
 * core holds the loop through a weak reference. A closed loop is freed by
 * reference counting alone, as asyncio's own loops are.
 */
#include "gbridge-native-private.h"

#include <structmember.h>

#define EVENT_READ  1   /* selectors.EVENT_READ */
#define EVENT_WRITE 2   /* selectors.EVENT_WRITE */

/* Extra batches one drain runs while only callbacks are ready (see
 * _INLINE_BATCHES in gbridge/asyncio.py, which owns the number). */
static int inline_batches = 1;

typedef struct
{
  PyObject_HEAD
  GbridgeIOLoop *io_loop;
  GbnLink *link;
  PyObject *loop_ref;      /* weak reference to the asyncio loop */
  PyObject *fd_to_key;     /* the selector's dict: fd -> SelectorKey */
  PyObject *ready;         /* the loop's ready deque */
  PyObject *timers;        /* gbridge timeout id -> TimerHandle */
  PyObject *weakreflist;
  char fast;               /* no debug mode, no slow-callback threshold */
  char driving;            /* run_forever() is running the loop */
  char drain_pending;      /* the drain callback is queued */
  char closed;
} Core;

static PyObject *str_gb_id;
static PyObject *str_run, *str_cancelled, *str_scheduled, *str_stopping,
                *str_closed, *str_exit_requested, *str_leave, *str_drain,
                *str_drain_remote, *str_on_fd, *str_remove_reader,
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

/* Runs @handle unless it was cancelled: 0, or -1 with the exception (a
 * BaseException: Handle._run() reports the others) set. */
static int
run_handle (PyObject *handle)
{
  int cancelled = attr_true (handle, str_cancelled);
  PyObject *r;

  if (cancelled != 0)
    return cancelled < 0 ? -1 : 0;
  r = PyObject_CallMethodNoArgs (handle, str_run);
  if (r == NULL)
    return -1;
  Py_DECREF (r);
  return 0;
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
             int       fd,
             int       slot)
{
  PyObject *data = PyTuple_GET_ITEM (key, 3);
  PyObject *handle, *r;
  int cancelled, failed;

  handle = PyTuple_GET_ITEM (data, slot);
  if (handle == Py_None)
    return 0;
  Py_INCREF (handle);
  cancelled = attr_true (handle, str_cancelled);
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
    {
      r = PyObject_CallMethodNoArgs (handle, str_run);
      failed = r == NULL ? -1 : 0;
      Py_XDECREF (r);
    }
  Py_DECREF (handle);
  (void) fd;
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
      if (run_fd_side (self, loop, key, fd, 0) < 0)
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
      if (run_fd_side (self, loop, key, fd, 1) < 0)
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

/* A due asyncio timer joins the ready deque, as BaseEventLoop's timers do,
 * behind the handles that were ready before it. */
static void
on_timer (gpointer data)
{
  GbnTimer *timer = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *id, *handle = NULL, *r;

  if (!gbn_enter (&state))
    return;
  self = (Core *) timer->link->owner;
  if (self == NULL)
    goto out;
  id = PyLong_FromUnsignedLongLong (timer->id);
  if (id == NULL)
    goto error;
#if PY_VERSION_HEX >= 0x030D0000
  if (PyDict_Pop (self->timers, id, &handle) < 0)
    handle = NULL;
#else
  handle = PyDict_GetItemWithError (self->timers, id);
  if (handle != NULL)
    {
      Py_INCREF (handle);
      if (PyDict_DelItem (self->timers, id) < 0)
        Py_CLEAR (handle);
    }
#endif
  Py_DECREF (id);
  if (handle == NULL)
    goto error;
  if (PyObject_SetAttr (handle, str_scheduled, Py_False) < 0)
    goto error;
  r = PyObject_CallMethodOneArg (self->ready, str_append, handle);
  if (r == NULL)
    goto error;
  Py_DECREF (r);
  schedule_drain (self);
error:
  Py_XDECREF (handle);
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
  self->timers = PyDict_New ();
  if (self->timers == NULL)
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

/* add_timer(when, handle): the handle joins the ready deque at @when; its
 * _gb_id names the gbridge timeout, its _scheduled becomes True. */
static PyObject *
core_add_timer (Core             *self,
                PyObject *const  *args,
                Py_ssize_t        nargs)
{
  GbnTimer *timer;
  double when;
  PyObject *id, *handle;

  if (nargs != 2)
    {
      PyErr_SetString (PyExc_TypeError, "add_timer(when, handle)");
      return NULL;
    }
  when = PyFloat_AsDouble (args[0]);
  if (when == -1.0 && PyErr_Occurred ())
    return NULL;
  handle = args[1];
  if (isnan (when))
    when = 0.0;
  if (self->closed)
    {
      PyErr_SetString (PyExc_RuntimeError, "the loop is closed");
      return NULL;
    }
  timer = gbn_timer_new (self->link, NULL);
  /* Half a microsecond later: gbridge rounds to whole microseconds, and a
   * timer must never run before loop.time() reached its deadline. */
  if (!gbn_timer_take_id (timer, gbridge_io_loop_call_at (self->io_loop, when + 0.5e-6,
                                                          on_timer, timer,
                                                          gbn_timer_free)))
    return NULL;
  id = PyLong_FromUnsignedLongLong (timer->id);
  if (id == NULL
      || PyDict_SetItem (self->timers, id, handle) < 0
      || PyObject_SetAttr (handle, str_gb_id, id) < 0
      || PyObject_SetAttr (handle, str_scheduled, Py_True) < 0)
    {
      if (id != NULL)
        PyDict_DelItem (self->timers, id);
      PyErr_Clear ();
      gbridge_io_loop_remove_timeout (self->io_loop, timer->id);
      Py_XDECREF (id);
      if (!PyErr_Occurred ())
        PyErr_SetString (PyExc_TypeError, "add_timer() needs a gbridge.asyncio.TimerHandle");
      return NULL;
    }
  Py_DECREF (id);
  Py_RETURN_NONE;
}

/* cancel_timer(handle): the loop's _timer_handle_cancelled(), which
 * TimerHandle.cancel() calls while the handle is scheduled. */
static PyObject *
core_cancel_timer (Core     *self,
                   PyObject *handle)
{
  PyObject *id = PyObject_GetAttr (handle, str_gb_id);
  unsigned long long value;
  int r;

  if (id == NULL)
    return NULL;
  value = PyLong_AsUnsignedLongLong (id);
  if (value == (unsigned long long) -1 && PyErr_Occurred ())
    {
      Py_DECREF (id);
      return NULL;
    }
  r = PyDict_DelItem (self->timers, id);
  Py_DECREF (id);
  if (r < 0)
    {
      if (!PyErr_ExceptionMatches (PyExc_KeyError))
        return NULL;
      PyErr_Clear ();
      Py_RETURN_FALSE;
    }
  gbridge_io_loop_remove_timeout (self->io_loop, value);
  Py_RETURN_TRUE;
}

static void
core_clear_timers (Core *self)
{
  PyObject *id, *handle;
  Py_ssize_t pos = 0;

  if (self->timers == NULL || self->io_loop == NULL)
    return;
  while (PyDict_Next (self->timers, &pos, &id, &handle))
    gbridge_io_loop_remove_timeout (self->io_loop, PyLong_AsUnsignedLongLong (id));
  PyDict_Clear (self->timers);
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
  Py_VISIT (self->timers);
  Py_VISIT (Py_TYPE (self));
  return 0;
}

static int
core_clear (Core *self)
{
  Py_CLEAR (self->loop_ref);
  Py_CLEAR (self->fd_to_key);
  Py_CLEAR (self->ready);
  Py_CLEAR (self->timers);
  return 0;
}

static void
core_dealloc (Core *self)
{
  PyObject_GC_UnTrack (self);
  if (self->weakreflist != NULL)
    PyObject_ClearWeakRefs ((PyObject *) self);
  if (!self->closed && self->io_loop != NULL)
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

static PyMethodDef asyncio_functions[] = {
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

  INTERN (str_gb_id, "_gb_id");
  INTERN (str_run, "_run");
  INTERN (str_cancelled, "_cancelled");
  INTERN (str_scheduled, "_scheduled");
  INTERN (str_stopping, "_stopping");
  INTERN (str_closed, "_closed");
  INTERN (str_exit_requested, "_exit_requested");
  INTERN (str_leave, "_leave");
  INTERN (str_drain, "_drain");
  INTERN (str_drain_remote, "_drain_remote");
  INTERN (str_on_fd, "_on_fd");
  INTERN (str_remove_reader, "_remove_reader");
  INTERN (str_remove_writer, "_remove_writer");
  INTERN (str_request_exit, "_request_exit");
  INTERN (str_append, "append");
  INTERN (str_popleft, "popleft");

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
