/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native.TwistedCore: what gbridge.twisted.GbridgeReactor runs on.
 *
 * One core per reactor. It owns the reactor's side of the GbridgeIOLoop:
 * one gbridge timeout per pending Twisted DelayedCall, one gbridge handler
 * per watched file descriptor (with the reader and the writer of that
 * descriptor), the thread-safe wake-up, and the iterations of the loop that
 * run() and iterate() make. The hot paths run here: callLater() (the
 * DelayedCall is Twisted's own class, built by calling it), cancel(), a due
 * call, addReader()/addWriter()/removeReader()/removeWriter(), and a ready
 * descriptor's doRead()/doWrite() with what Twisted's posixbase does around
 * them, log.callWithLogger() included (see with_logger()). The rare
 * paths (a DelayedCall moved by reset() or delay(), an exception to log, a
 * selectable to disconnect) call the reactor's Python methods, so that
 * they have one definition.
 *
 * Nothing handed to gbridge holds the core or the reactor: gbridge's
 * callbacks hold a GbnLink, which the core cuts when it is closed or freed,
 * and the core holds the reactor through a weak reference. A timer's
 * record points at its DelayedCall without a reference: the call stays in
 * the core's calls dict for exactly as long as its timer is pending (every
 * removal from the dict removes the timer), and the core checks the link
 * before it looks at the call.
 */
#include "gbridge-native-private.h"

#include <errno.h>
#include <time.h>

typedef struct
{
  int fd;
  PyObject *reader;          /* strong, or NULL */
  PyObject *writer;          /* strong, or NULL */
  GbridgeIOEvents events;    /* what the gbridge handler watches */
} FdEntry;

typedef struct
{
  PyObject_HEAD
  GbridgeIOLoop *io_loop;
  GbnLink *link;
  PyObject *reactor_ref;     /* weak reference to the GbridgeReactor */
  PyObject *calls;           /* DelayedCall -> gbridge timeout id */
  PyObject *readers;         /* selectable -> fd */
  PyObject *writers;         /* selectable -> fd */
  GHashTable *fds;           /* fd -> FdEntry */
  PyObject *call_type;       /* the DelayedCall class callLater() builds */
  PyObject *canceller;       /* the DelayedCalls' canceller, resetter, seconds */
  PyObject *resetter;
  PyObject *seconds;
  PyObject *call_with_logger;   /* twisted.python.log.callWithLogger */
  PyObject *log_fast;           /* what the C callWithLogger() checks, or NULL */
  PyObject *connection_done;    /* the reasons of posixbase's hang-up path */
  PyObject *connection_lost;
  PyObject *no_filedesc;        /* posixbase's _NO_FILEDESC */
  PyObject *pending;         /* a KeyboardInterrupt out of a callback, for run() */
  PyObject *weakreflist;
  int running;               /* run() or iterate() is iterating the loop */
  char closed;
} Core;

static PyObject *str_delayed_time, *str_called, *str_func, *str_args, *str_kw,
                *str_redelay, *str_call_failed, *str_io_failed, *str_fileno,
                *str_do_read, *str_do_write, *str_disconnect_selectable,
                *str_run_until_current, *str_started, *str_running;
static PyObject *str_log_prefix, *str_call_with_logger, *str_call_with_context,
                *str_context, *str_get, *str_call, *str_ilog_context,
                *str_current_context, *str_get_context, *str_storage, *str_ct,
                *str_contexts, *str_system, *str_err, *str_pop, *str_buggy_prefix;
static PyObject *io_function;
static PyObject *one;   /* _twisted_io(core, selectable, fd, is_read) */

static PyObject *
core_reactor (Core *self)
{
  return self->reactor_ref != NULL ? gbn_weakref_get (self->reactor_ref) : NULL;
}

/* An exception that left a callback of the loop: run() raises it after the
 * iteration, as Twisted's mainLoop() sees one from doIteration(); outside
 * run() (GLib.MainLoop, GTK) it is reported as PyGObject reports its own
 * callbacks' exceptions. */
static void
keep_exception (Core *self)
{
  if (!PyErr_Occurred ())
    return;
  if (self->running > 0 && self->pending == NULL)
    self->pending = gbn_fetch_exception ();
  else
    PyErr_WriteUnraisable (NULL);
}

/* The time.time() scale, computed as time.time() does. */
static double
wall_time (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return (double) ((gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec) / 1e9;
}

/* Delayed calls */

static void run_call (Core *self, PyObject *call);

static void
on_timer (gpointer data)
{
  GbnTimer *timer = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *call, *id;
  unsigned long long value;

  if (!gbn_enter (&state))
    return;
  self = (Core *) timer->link->owner;
  if (self == NULL)
    goto out;
  call = timer->object;
  id = PyDict_GetItemWithError (self->calls, call);
  if (id == NULL)
    goto error;
  value = PyLong_AsUnsignedLongLong (id);
  if (value != timer->id)
    goto error;   /* cannot happen: the dict and the timers go together */
  Py_INCREF (self);
  Py_INCREF (call);
  if (PyDict_DelItem (self->calls, call) == 0)
    run_call (self, call);
  Py_DECREF (call);
  keep_exception (self);
  Py_DECREF (self);
  goto out;
error:
  if (PyErr_Occurred ())
    PyErr_WriteUnraisable (NULL);
out:
  gbn_leave (state);
}

/* Schedules @call's timeout @delay seconds from now (its calls entry is
 * replaced). -1 with an exception set. */
static int
schedule (Core     *self,
          PyObject *call,
          double    delay)
{
  GbnTimer *timer;
  PyObject *id;

  if (self->closed)
    {
      PyErr_SetString (PyExc_RuntimeError, "the reactor's loop core is closed");
      return -1;
    }
  if (isnan (delay) || delay < 0)
    delay = 0;
  /* The call is borrowed: self->calls holds it while it is pending. */
  timer = gbn_timer_new (self->link, call);
  if (!gbn_timer_take_id (timer, gbridge_io_loop_call_later (self->io_loop, delay,
                                                             (GbridgeCallback) on_timer,
                                                             timer, gbn_timer_free)))
    return -1;
  id = PyLong_FromUnsignedLongLong (timer->id);
  if (id == NULL || PyDict_SetItem (self->calls, call, id) < 0)
    {
      gbridge_io_loop_remove_timeout (self->io_loop, timer->id);
      Py_XDECREF (id);
      return -1;
    }
  Py_DECREF (id);
  return 0;
}

/* Removes @call's timeout, if it has one: 1 if it had, 0 if not, -1 with
 * an exception set. */
static int
unschedule (Core     *self,
            PyObject *call)
{
  PyObject *id = PyDict_GetItemWithError (self->calls, call);
  unsigned long long value;

  if (id == NULL)
    return PyErr_Occurred () ? -1 : 0;
  value = PyLong_AsUnsignedLongLong (id);
  if (value == (unsigned long long) -1 && PyErr_Occurred ())
    return -1;
  /* The timer first: the dict entry is what keeps @call alive. */
  gbridge_io_loop_remove_timeout (self->io_loop, value);
  if (PyDict_DelItem (self->calls, call) < 0)
    return -1;
  return 1;
}

/* A due DelayedCall, as ReactorBase.runUntilCurrent() runs one. */
static void
run_call (Core     *self,
          PyObject *call)
{
  PyObject *value, *func = NULL, *args = NULL, *kw = NULL, *r, *reactor;
  double delayed;

  value = PyObject_GetAttr (call, str_delayed_time);
  if (value == NULL)
    return;
  delayed = PyFloat_AsDouble (value);
  Py_DECREF (value);
  if (delayed == -1.0 && PyErr_Occurred ())
    return;
  if (delayed > 0)
    {
      /* Moved later by delay() or reset(), which DelayedCall does lazily. */
      reactor = core_reactor (self);
      if (reactor == NULL)
        return;
      r = PyObject_CallMethodOneArg (reactor, str_redelay, call);
      Py_DECREF (reactor);
      Py_XDECREF (r);
      return;
    }
  if (PyObject_SetAttr (call, str_called, one) < 0)
    return;
  func = PyObject_GetAttr (call, str_func);
  if (func != NULL)
    args = PyObject_GetAttr (call, str_args);
  if (args != NULL)
    kw = PyObject_GetAttr (call, str_kw);
  if (kw != NULL)
    {
      if (PyTuple_CheckExact (args) && PyDict_CheckExact (kw) && PyDict_GET_SIZE (kw) == 0)
        r = PyObject_Call (func, args, NULL);
      else
        r = PyObject_Call (func, args, kw);
    }
  else
    r = NULL;
  Py_XDECREF (func);
  Py_XDECREF (args);
  Py_XDECREF (kw);
  if (r != NULL)
    {
      Py_DECREF (r);
      return;
    }
  /* Logged as runUntilCurrent() logs it, whatever it is. */
  value = gbn_fetch_exception ();
  reactor = core_reactor (self);
  if (reactor != NULL)
    {
      r = PyObject_CallMethodObjArgs (reactor, str_call_failed, call, value, NULL);
      Py_XDECREF (r);
      Py_DECREF (reactor);
    }
  Py_DECREF (value);
}

/* call_later(delay, callable, *args, **kw): IReactorTime.callLater(). */
static PyObject *
core_call_later (Core             *self,
                 PyObject *const  *args,
                 size_t            nargsf,
                 PyObject         *kwnames)
{
  Py_ssize_t nargs = PyVectorcall_NARGS (nargsf);
  PyObject *func, *call_args, *kw, *time, *call, *argv[7];
  double delay;

  if (nargs < 2)
    {
      PyErr_SetString (PyExc_TypeError, "callLater() needs a delay and a callable");
      return NULL;
    }
  delay = PyFloat_AsDouble (args[0]);
  if (delay == -1.0 && PyErr_Occurred ())
    return NULL;
  func = args[1];
  if (!PyCallable_Check (func))
    {
      PyErr_Format (PyExc_AssertionError, "%S is not callable", func);
      return NULL;
    }
  if (!(delay >= 0))
    {
      PyErr_Format (PyExc_AssertionError,
                    "%S is not greater than or equal to 0 seconds", args[0]);
      return NULL;
    }
  call_args = PyTuple_New (nargs - 2);
  if (call_args == NULL)
    return NULL;
  for (Py_ssize_t i = 2; i < nargs; i++)
    PyTuple_SET_ITEM (call_args, i - 2, Py_NewRef (args[i]));
  kw = PyDict_New ();
  if (kw == NULL)
    {
      Py_DECREF (call_args);
      return NULL;
    }
  if (kwnames != NULL)
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (kwnames); i++)
      if (PyDict_SetItem (kw, PyTuple_GET_ITEM (kwnames, i), args[nargs + i]) < 0)
        {
          Py_DECREF (call_args);
          Py_DECREF (kw);
          return NULL;
        }
  time = PyFloat_FromDouble (wall_time () + delay);
  if (time == NULL)
    {
      Py_DECREF (call_args);
      Py_DECREF (kw);
      return NULL;
    }
  argv[0] = time;
  argv[1] = func;
  argv[2] = call_args;
  argv[3] = kw;
  argv[4] = self->canceller;
  argv[5] = self->resetter;
  argv[6] = self->seconds;
  call = PyObject_Vectorcall (self->call_type, argv, 7, NULL);
  Py_DECREF (time);
  Py_DECREF (call_args);
  Py_DECREF (kw);
  if (call == NULL)
    return NULL;
  if (schedule (self, call, delay) < 0)
    Py_CLEAR (call);
  return call;
}

/* cancel_call(call): the DelayedCalls' canceller. */
static PyObject *
core_cancel_call (Core     *self,
                  PyObject *call)
{
  if (unschedule (self, call) < 0)
    return NULL;
  Py_RETURN_NONE;
}

/* schedule(call, delay): (re)schedules a DelayedCall @delay seconds from
 * now; the reactor's resetter and the lazy delay path use it. */
static PyObject *
core_schedule (Core             *self,
               PyObject *const  *args,
               Py_ssize_t        nargs)
{
  double delay;

  if (nargs != 2)
    {
      PyErr_SetString (PyExc_TypeError, "schedule(call, delay)");
      return NULL;
    }
  delay = PyFloat_AsDouble (args[1]);
  if (delay == -1.0 && PyErr_Occurred ())
    return NULL;
  if (unschedule (self, args[0]) < 0 || schedule (self, args[0], delay) < 0)
    return NULL;
  Py_RETURN_NONE;
}

/* Readers and writers */

static GbridgeIOEvents
entry_events (FdEntry *entry)
{
  return (entry->reader != NULL ? GBRIDGE_IO_EVENTS_READ : 0) |
         (entry->writer != NULL ? GBRIDGE_IO_EVENTS_WRITE : 0);
}

static void
entry_free (FdEntry *entry)
{
  Py_CLEAR (entry->reader);
  Py_CLEAR (entry->writer);
  g_free (entry);
}

/* After a reader or writer of @entry changed: the handler follows, and
 * goes with the entry once it has neither. */
static void
entry_changed (Core    *self,
               FdEntry *entry)
{
  GbridgeIOEvents events = entry_events (entry);

  if (events == 0)
    {
      int fd = entry->fd;

      g_hash_table_remove (self->fds, GINT_TO_POINTER (fd));
      if (!self->closed)
        gbridge_io_loop_remove_handler (self->io_loop, fd);
      entry_free (entry);
    }
  else if (events != entry->events)
    {
      entry->events = events;
      /* Fails only when the fd was closed, which epoll forgot already. */
      gbridge_io_loop_update_handler (self->io_loop, entry->fd, events, NULL);
    }
}

static void on_fd (int fd, GbridgeIOEvents events, gpointer data);


/* Unchecked (GBRIDGE_HANDLER_FLAGS_UNCHECKED): Twisted removes a
 * selectable before closing its descriptor, as its own reactors require,
 * and checks the selectable's fileno() before each call itself. */
static gboolean
add_unchecked_handler (Core             *self,
                       int               fd,
                       GbridgeIOEvents   events,
                       GError          **error)
{
  return gbridge_io_loop_add_handler_full (self->io_loop, fd, events,
                                           GBRIDGE_HANDLER_FLAGS_UNCHECKED, on_fd,
                                           gbn_link_ref (self->link), gbn_link_unref,
                                           error);
}

static PyObject *
add_selectable (Core     *self,
                PyObject *selectable,
                gboolean  writer)
{
  PyObject *index = writer ? self->writers : self->readers;
  PyObject *r, *fd_object, **slot;
  FdEntry *entry;
  GError *error = NULL;
  gboolean refresh;
  int contains, fd;

  contains = PyDict_Contains (index, selectable);
  if (contains != 0)
    return contains < 0 ? NULL : Py_NewRef (Py_None);
  if (self->closed)
    {
      PyErr_SetString (PyExc_RuntimeError, "the reactor's loop core is closed");
      return NULL;
    }
  r = PyObject_CallMethodNoArgs (selectable, str_fileno);
  if (r == NULL)
    return NULL;
  if (gbn_as_int (r, &fd) < 0)
    {
      Py_DECREF (r);
      return NULL;
    }
  Py_DECREF (r);
  if (fd < 0)
    {
      errno = EBADF;
      return PyErr_SetFromErrno (PyExc_OSError);
    }

  entry = g_hash_table_lookup (self->fds, GINT_TO_POINTER (fd));
  /* The fd has another selectable: maybe a closed one whose number this
   * one's file reuses, whose registration went with its file. */
  refresh = entry != NULL
            && ((entry->reader != NULL && entry->reader != selectable)
                || (entry->writer != NULL && entry->writer != selectable));
  if (entry == NULL)
    {
      entry = g_new0 (FdEntry, 1);
      entry->fd = fd;
      entry->events = writer ? GBRIDGE_IO_EVENTS_WRITE : GBRIDGE_IO_EVENTS_READ;
      if (!add_unchecked_handler (self, fd, entry->events, &error))
        {
          g_free (entry);
          return gbn_raise_io_error (error);
        }
      g_hash_table_insert (self->fds, GINT_TO_POINTER (fd), entry);
    }

  fd_object = PyLong_FromLong (fd);
  if (fd_object == NULL || PyDict_SetItem (index, selectable, fd_object) < 0)
    {
      Py_XDECREF (fd_object);
      entry_changed (self, entry);
      return NULL;
    }
  Py_DECREF (fd_object);

  /* Another selectable with the same fd: the new one replaces it. */
  slot = writer ? &entry->writer : &entry->reader;
  if (*slot != NULL)
    {
      PyObject *old = *slot;

      *slot = NULL;
      if (PyDict_DelItem (index, old) < 0)
        PyErr_Clear ();
      Py_DECREF (old);
    }
  *slot = Py_NewRef (selectable);
  if (refresh)
    {
      /* A new registration, for the file the number names now. */
      gbridge_io_loop_remove_handler (self->io_loop, fd);
      entry->events = entry_events (entry);
      if (!add_unchecked_handler (self, fd, entry->events, &error))
        {
          g_hash_table_remove (self->fds, GINT_TO_POINTER (fd));
          if (entry->reader != NULL && PyDict_DelItem (self->readers, entry->reader) < 0)
            PyErr_Clear ();
          if (entry->writer != NULL && PyDict_DelItem (self->writers, entry->writer) < 0)
            PyErr_Clear ();
          entry_free (entry);
          return gbn_raise_io_error (error);
        }
      Py_RETURN_NONE;
    }
  entry_changed (self, entry);
  Py_RETURN_NONE;
}

static PyObject *
remove_selectable (Core     *self,
                   PyObject *selectable,
                   gboolean  writer)
{
  PyObject *index = writer ? self->writers : self->readers;
  PyObject *fd_object, **slot;
  FdEntry *entry;
  long fd;

  fd_object = PyDict_GetItemWithError (index, selectable);
  if (fd_object == NULL)
    return PyErr_Occurred () ? NULL : Py_NewRef (Py_None);
  fd = PyLong_AsLong (fd_object);
  if (PyDict_DelItem (index, selectable) < 0)
    return NULL;
  entry = g_hash_table_lookup (self->fds, GINT_TO_POINTER ((int) fd));
  if (entry != NULL)
    {
      slot = writer ? &entry->writer : &entry->reader;
      if (*slot == selectable)
        {
          PyObject *old = *slot;

          *slot = NULL;
          entry_changed (self, entry);
          Py_DECREF (old);
        }
    }
  Py_RETURN_NONE;
}

static PyObject *
core_add_reader (Core *self, PyObject *selectable)
{
  return add_selectable (self, selectable, FALSE);
}

static PyObject *
core_add_writer (Core *self, PyObject *selectable)
{
  return add_selectable (self, selectable, TRUE);
}

static PyObject *
core_remove_reader (Core *self, PyObject *selectable)
{
  return remove_selectable (self, selectable, FALSE);
}

static PyObject *
core_remove_writer (Core *self, PyObject *selectable)
{
  return remove_selectable (self, selectable, TRUE);
}

/* _twisted_io(core, selectable, fd, is_read): what _doReadOrWrite() does
 * for one side of a ready descriptor, run by callWithLogger() around it. */
static PyObject *
twisted_io (PyObject        *module,
            PyObject *const *args,
            Py_ssize_t       nargs)
{
  Core *self;
  PyObject *selectable, *why, *r, *reactor;
  int fd, is_read;

  if (nargs != 4)
    {
      PyErr_SetString (PyExc_TypeError, "_twisted_io(core, selectable, fd, is_read)");
      return NULL;
    }
  self = (Core *) args[0];
  selectable = args[1];
  if (gbn_as_int (args[2], &fd) < 0)
    return NULL;
  is_read = PyObject_IsTrue (args[3]);

  r = PyObject_CallMethodNoArgs (selectable, str_fileno);
  if (r != NULL)
    {
      long fileno = PyLong_AsLong (r);

      Py_DECREF (r);
      if (fileno == -1 && PyErr_Occurred ())
        why = NULL;
      else if (fileno != fd)
        {
          /* Closed, or another file now: as _doReadOrWrite() does for a
           * fileno() of -1. */
          why = Py_NewRef (self->no_filedesc);
        }
      else
        why = PyObject_CallMethodNoArgs (selectable, is_read ? str_do_read : str_do_write);
    }
  else
    why = NULL;

  if (why == NULL)
    {
      /* Logged, and the reason to disconnect, as in _doReadOrWrite(). */
      PyObject *exc = gbn_fetch_exception ();

      reactor = core_reactor (self);
      if (reactor == NULL)
        {
          Py_DECREF (exc);
          Py_RETURN_NONE;
        }
      r = PyObject_CallMethodObjArgs (reactor, str_io_failed, selectable, exc,
                                      args[3], NULL);
      Py_DECREF (reactor);
      Py_DECREF (exc);
      return r;
    }
  if (why != Py_None)
    {
      int truth = PyObject_IsTrue (why);

      if (truth > 0)
        {
          reactor = core_reactor (self);
          r = reactor == NULL ? Py_NewRef (Py_None)
            : PyObject_CallMethodObjArgs (reactor, str_disconnect_selectable,
                                          selectable, why, args[3], NULL);
          Py_XDECREF (reactor);
          Py_DECREF (why);
          return r;
        }
      if (truth < 0)
        {
          Py_DECREF (why);
          return NULL;
        }
    }
  Py_DECREF (why);
  Py_RETURN_NONE;
}

/* Twisted's log.callWithLogger(), in C.
 *
 * Per ready descriptor Twisted's reactors run the selectable's doRead() or
 * doWrite() through log.callWithLogger(selectable, func, *args): the
 * selectable's logPrefix() becomes the 'system' of what is logged meanwhile
 * (a copy of the current ILogContext dict with that key, pushed on
 * twisted.python.context's stack of the thread for the call), and an
 * exception out of the call is logged with log.err(system=prefix), except
 * KeyboardInterrupt, which goes on.  Seven Python frames a call; here none:
 * the same steps on the same objects (the thread's ContextTracker and its
 * contexts list), so that log.msg(), context.get() and any observer see
 * exactly what they see under callWithLogger().
 *
 * gbridge.twisted hands the core the objects this relies on (log_fast; see
 * _log_fast_path() there) only when the installed Twisted's functions are
 * the ones this mirrors, and every call checks that what they are looked up
 * through still names them (log's globals, context.get/call and the
 * tracker, the classes' methods): a patched log.callWithLogger, another
 * context tracker (context.installContextTracker()) or anything unusual
 * takes Twisted's own functions instead.  What is not the same: no Python
 * frames of log.py and context.py in the traceback of an exception caught
 * here. */

enum
{
  LF_LOG_DICT, LF_CONTEXT_MODULE, LF_CONTEXT_DICT, LF_CALL_WITH_LOGGER,
  LF_CALL_WITH_CONTEXT, LF_CONTEXT_CALL, LF_CONTEXT_GET, LF_ILOG_CONTEXT,
  LF_TRACKER, LF_TRACKER_TYPE, LF_CURRENT_CONTEXT, LF_LOCAL_TYPE,
  LF_CT_TYPE, LF_CT_CALL_WITH_CONTEXT, LF_CT_GET_CONTEXT, LF_N
};

#define LF(self, i) PyTuple_GET_ITEM ((self)->log_fast, (i))
/* The callWithLogger the fast path stands for; none without it. */
#define LF_CALL_WITH_LOGGER_OF(self) \
  ((self)->log_fast != NULL ? LF (self, LF_CALL_WITH_LOGGER) : NULL)

/* @dict[@key] is @value (borrowed lookups that run no Python code: the
 * keys are interned str). */
static gboolean
dict_names (PyObject *dict,
            PyObject *key,
            PyObject *value)
{
  return PyDict_GetItemWithError (dict, key) == value;
}

static PyObject *
type_lookup (PyTypeObject *type,
             PyObject     *name)
{
  return _PyType_Lookup (type, name);   /* borrowed, no exception */
}

/* An instance dict (new reference), or NULL without an exception. */
static PyObject *
instance_dict (PyObject *object)
{
  PyObject *dict = PyObject_GenericGetDict (object, NULL);

  if (dict == NULL)
    PyErr_Clear ();
  else if (!PyDict_CheckExact (dict))
    Py_CLEAR (dict);
  return dict;
}

/* The thread's ContextTracker's contexts list (new reference) and the
 * tracker (*ct, new reference), found as context.get()/context.call() find
 * them, when every step is the one Twisted's code takes; NULL without an
 * exception otherwise (then Twisted's own functions do it). Runs no Python
 * code. */
static PyObject *
fast_contexts (Core      *self,
               PyObject **ct_out)
{
  PyObject *log_dict = LF (self, LF_LOG_DICT);
  PyObject *context_dict = LF (self, LF_CONTEXT_DICT);
  PyObject *tracker = LF (self, LF_TRACKER);
  PyObject *dict, *storage, *ct = NULL, *contexts = NULL;

  if (!dict_names (log_dict, str_call_with_context, LF (self, LF_CALL_WITH_CONTEXT))
      || !dict_names (log_dict, str_context, LF (self, LF_CONTEXT_MODULE))
      || !dict_names (log_dict, str_ilog_context, LF (self, LF_ILOG_CONTEXT))
      || !dict_names (context_dict, str_get, LF (self, LF_CONTEXT_GET))
      || !dict_names (context_dict, str_call, LF (self, LF_CONTEXT_CALL)))
    goto out;
  /* ThreadedContextTracker: self.currentContext() is self.storage.ct. */
  if ((PyObject *) Py_TYPE (tracker) != LF (self, LF_TRACKER_TYPE)
      || type_lookup (Py_TYPE (tracker), str_current_context) != LF (self, LF_CURRENT_CONTEXT))
    goto out;
  dict = instance_dict (tracker);
  if (dict == NULL)
    goto out;
  storage = PyDict_GetItemWithError (dict, str_storage);
  if (storage == NULL || PyDict_GetItemWithError (dict, str_current_context) != NULL
      || (PyObject *) Py_TYPE (storage) != LF (self, LF_LOCAL_TYPE))
    {
      Py_DECREF (dict);
      goto out;
    }
  Py_INCREF (storage);
  Py_DECREF (dict);
  /* A thread's first use creates its tracker: Twisted's code does that. */
  ct = PyObject_GetAttr (storage, str_ct);
  Py_DECREF (storage);
  if (ct == NULL)
    goto out;
  /* ContextTracker: getContext() and callWithContext() on self.contexts. */
  if ((PyObject *) Py_TYPE (ct) != LF (self, LF_CT_TYPE)
      || type_lookup (Py_TYPE (ct), str_call_with_context) != LF (self, LF_CT_CALL_WITH_CONTEXT)
      || type_lookup (Py_TYPE (ct), str_get_context) != LF (self, LF_CT_GET_CONTEXT))
    goto out;
  dict = instance_dict (ct);
  if (dict == NULL)
    goto out;
  contexts = PyDict_GetItemWithError (dict, str_contexts);
  if (contexts == NULL || !PyList_CheckExact (contexts)
      || PyDict_GetItemWithError (dict, str_call_with_context) != NULL
      || PyDict_GetItemWithError (dict, str_get_context) != NULL)
    contexts = NULL;
  Py_XINCREF (contexts);
  Py_DECREF (dict);
out:
  if (PyErr_Occurred ())
    PyErr_Clear ();
  if (contexts == NULL)
    {
      Py_XDECREF (ct);
      return NULL;
    }
  *ct_out = ct;
  return contexts;
}

/* ContextTracker.callWithContext()'s finally: self.contexts.pop(), with
 * the exception of the call (if any) kept, or replaced (chained) by one
 * from the pop, as a finally clause does. */
static void
pop_context (PyObject *ct)
{
  PyObject *exc = PyErr_Occurred () ? gbn_fetch_exception () : NULL;
  PyObject *contexts = PyObject_GetAttr (ct, str_contexts), *r;
  Py_ssize_t n;

  if (contexts != NULL && PyList_CheckExact (contexts)
      && (n = PyList_GET_SIZE (contexts)) > 0)
    {
      if (PyList_SetSlice (contexts, n - 1, n, NULL) < 0)
        goto failed;
    }
  else if (contexts != NULL)
    {
      r = PyObject_CallMethodNoArgs (contexts, str_pop);
      if (r == NULL)
        goto failed;
      Py_DECREF (r);
    }
  else
    goto failed;
  Py_DECREF (contexts);
  if (exc != NULL)
    gbn_restore_exception (exc);
  return;
failed:
  Py_XDECREF (contexts);
  if (exc != NULL)
    {
      PyObject *raised = gbn_fetch_exception ();
      PyObject *context = PyException_GetContext (raised);   /* new reference */

      if (raised != exc && context == NULL)
        PyException_SetContext (raised, exc);   /* steals exc */
      else
        Py_DECREF (exc);
      Py_XDECREF (context);
      gbn_restore_exception (raised);
    }
}

/* log.callWithContext({"system": prefix}, func, *args): new reference, or
 * NULL with an exception set. */
static PyObject *
call_with_context (Core            *self,
                   PyObject        *prefix,
                   PyObject        *func,
                   PyObject *const *args,
                   size_t           nargs)
{
  PyObject *contexts, *ct = NULL, *found = NULL, *new_ctx, *pushed, *r;

  contexts = self->log_fast != NULL ? fast_contexts (self, &ct) : NULL;
  if (contexts != NULL)
    {
      /* context.get(ILogContext): the last of the stack's dicts to have
       * the key. */
      PyObject *key = LF (self, LF_ILOG_CONTEXT);

      for (Py_ssize_t i = PyList_GET_SIZE (contexts) - 1; i >= 0; i--)
        {
          PyObject *ctx = PyList_GET_ITEM (contexts, i);

          if (!PyDict_CheckExact (ctx))
            break;
          found = PyDict_GetItemWithError (ctx, key);
          if (found != NULL || PyErr_Occurred ())
            break;
        }
      if (found == NULL || !PyDict_CheckExact (found))
        {
          /* Not there (None.copy() fails), or not a dict: Twisted's. */
          PyErr_Clear ();
          Py_CLEAR (contexts);
          Py_CLEAR (ct);
        }
    }
  if (contexts == NULL)
    {
      /* Twisted's own, looked up as callWithLogger() looks it up. */
      PyObject *function, *ctx, *argv[8];

      function = PyDict_GetItemWithError (LF (self, LF_LOG_DICT), str_call_with_context);
      if (function == NULL)
        {
          if (!PyErr_Occurred ())
            PyErr_Format (PyExc_NameError, "name '%U' is not defined", str_call_with_context);
          return NULL;
        }
      ctx = PyDict_New ();
      if (ctx == NULL || PyDict_SetItem (ctx, str_system, prefix) < 0)
        {
          Py_XDECREF (ctx);
          return NULL;
        }
      Py_INCREF (function);
      argv[0] = ctx;
      argv[1] = func;
      for (size_t i = 0; i < nargs; i++)
        argv[2 + i] = args[i];
      r = PyObject_Vectorcall (function, argv, 2 + nargs, NULL);
      Py_DECREF (function);
      Py_DECREF (ctx);
      return r;
    }

  /* newCtx = context.get(ILogContext).copy(); newCtx.update({"system": lp});
   * context.call({ILogContext: newCtx}, func, *args) */
  r = NULL;
  new_ctx = PyDict_Copy (found);
  pushed = new_ctx != NULL ? PyDict_New () : NULL;
  if (pushed != NULL && PyDict_SetItem (new_ctx, str_system, prefix) == 0
      && PyDict_SetItem (pushed, LF (self, LF_ILOG_CONTEXT), new_ctx) == 0
      && PyList_Append (contexts, pushed) == 0)
    {
      r = PyObject_Vectorcall (func, args, nargs, NULL);
      pop_context (ct);
      if (r != NULL && PyErr_Occurred ())
        Py_CLEAR (r);   /* the pop failed */
    }
  Py_XDECREF (pushed);
  Py_XDECREF (new_ctx);
  Py_DECREF (contexts);
  Py_DECREF (ct);
  return r;
}

/* except BaseException: err(system=prefix), in the except clause (so that
 * err()'s Failure() finds the exception in sys.exc_info()). The exception
 * set on entry is consumed; -1 with one set if err() raised. */
static int
log_error (Core     *self,
           PyObject *prefix)
{
  PyObject *exc = gbn_fetch_exception (), *saved, *err, *r;
  PyObject *kwnames, *argv[1] = { prefix };

  err = PyDict_GetItemWithError (LF (self, LF_LOG_DICT), str_err);
  if (err == NULL)
    {
      if (!PyErr_Occurred ())
        PyErr_Format (PyExc_NameError, "name '%U' is not defined", str_err);
      Py_DECREF (exc);
      return -1;
    }
  Py_INCREF (err);
  kwnames = PyTuple_Pack (1, str_system);
  if (kwnames == NULL)
    {
      Py_DECREF (err);
      Py_DECREF (exc);
      return -1;
    }
  saved = PyErr_GetHandledException ();
  PyErr_SetHandledException (exc);
  r = PyObject_Vectorcall (err, argv, 0, kwnames);
  PyErr_SetHandledException (saved);
  Py_XDECREF (saved);
  Py_DECREF (kwnames);
  Py_DECREF (err);
  Py_DECREF (exc);
  if (r == NULL)
    return -1;
  Py_DECREF (r);
  return 0;
}

/* The globals of @function if it is one of twisted.python.log's (borrowed),
 * else NULL. */
static PyObject *
log_globals (PyObject *function)
{
  PyObject *globals, *name;

  if (!PyFunction_Check (function))
    return NULL;
  globals = PyFunction_GetGlobals (function);
  name = PyDict_GetItemString (globals, "__name__");
  if (name == NULL || !PyUnicode_Check (name)
      || PyUnicode_CompareWithASCIIString (name, "twisted.python.log") != 0)
    return NULL;
  return globals;
}

/* log.callWithLogger(selectable, func, *args): -1 with an exception set
 * only for what callWithLogger() lets through (KeyboardInterrupt, or what
 * err() raised). */
static int
with_logger (Core      *self,
             PyObject  *selectable,
             PyObject  *func,
             PyObject  *a,
             PyObject  *b,
             PyObject  *c,
             PyObject  *d)
{
  PyObject *argv[6] = { selectable, func, a, b, c, d };
  size_t nargs = d != NULL ? 4 : 3;
  PyObject *function, *prefix, *r, *log_dict;

  /* log.callWithLogger as Twisted's reactors find it, per call: in log's
   * globals (without the fast path, those of the function the reactor was
   * made with, when that is log's). */
  if (self->log_fast != NULL)
    log_dict = LF (self, LF_LOG_DICT);
  else
    log_dict = log_globals (self->call_with_logger);
  if (log_dict != NULL)
    {
      function = PyDict_GetItemWithError (log_dict, str_call_with_logger);
      if (function == NULL)
        {
          if (!PyErr_Occurred ())
            PyErr_Format (PyExc_AttributeError,
                          "module 'twisted.python.log' has no attribute '%U'",
                          str_call_with_logger);
          return -1;
        }
    }
  else
    function = self->call_with_logger;
  if (function != LF_CALL_WITH_LOGGER_OF (self))
    {
      /* Another callWithLogger (patched in), or no fast path: call it. */
      Py_INCREF (function);
      r = PyObject_Vectorcall (function, argv, 2 + nargs, NULL);
      Py_DECREF (function);
      if (r == NULL)
        return -1;
      Py_DECREF (r);
      return 0;
    }

  /* try: lp = logger.logPrefix() */
  prefix = PyObject_CallMethodNoArgs (selectable, str_log_prefix);
  if (prefix == NULL)
    {
      if (PyErr_ExceptionMatches (PyExc_KeyboardInterrupt))
        return -1;
      prefix = Py_NewRef (str_buggy_prefix);
      if (log_error (self, prefix) < 0)
        {
          Py_DECREF (prefix);
          return -1;
        }
    }
  /* try: return callWithContext({"system": lp}, func, *args) */
  r = call_with_context (self, prefix, func, argv + 2, nargs);
  if (r == NULL)
    {
      if (PyErr_ExceptionMatches (PyExc_KeyboardInterrupt)
          || log_error (self, prefix) < 0)
        {
          Py_DECREF (prefix);
          return -1;
        }
    }
  else
    Py_DECREF (r);
  Py_DECREF (prefix);
  return 0;
}

/* The reader or writer of @fd while it is still the one, as posixbase
 * skips a selectable removed by an earlier one of the same iteration. */
static gboolean
still_registered (Core     *self,
                  int       fd,
                  PyObject *selectable,
                  gboolean  writer)
{
  FdEntry *entry = g_hash_table_lookup (self->fds, GINT_TO_POINTER (fd));

  return entry != NULL && (writer ? entry->writer : entry->reader) == selectable;
}

static void
disconnect (Core     *self,
            PyObject *selectable,
            PyObject *why,
            gboolean  is_read)
{
  PyObject *reactor = core_reactor (self), *method;

  if (reactor == NULL)
    return;
  method = PyObject_GetAttr (reactor, str_disconnect_selectable);
  Py_DECREF (reactor);
  if (method == NULL)
    return;
  with_logger (self, selectable, method, selectable, why,
               is_read ? Py_True : Py_False, NULL);
  Py_DECREF (method);
}

static void
fd_ready (Core            *self,
          int              fd,
          GbridgeIOEvents  events)
{
  FdEntry *entry = g_hash_table_lookup (self->fds, GINT_TO_POINTER (fd));
  PyObject *reader, *writer, *fd_object;

  if (entry == NULL)
    return;
  reader = Py_XNewRef (entry->reader);
  writer = Py_XNewRef (entry->writer);

  if ((events & GBRIDGE_IO_EVENTS_ERROR) && !(events & GBRIDGE_IO_EVENTS_READ))
    {
      /* A hang-up: a reader was told the end by the peer (clean, and maybe
       * half), a writer lost the connection. */
      if (reader != NULL)
        disconnect (self, reader, self->connection_done, TRUE);
      if (writer != NULL && writer != reader && !PyErr_Occurred ()
          && still_registered (self, fd, writer, TRUE))
        disconnect (self, writer, self->connection_lost, FALSE);
      goto out;
    }

  fd_object = PyLong_FromLong (fd);
  if (fd_object == NULL)
    goto out;
  if (reader != NULL && (events & GBRIDGE_IO_EVENTS_READ)
      && still_registered (self, fd, reader, FALSE))
    with_logger (self, reader, io_function, (PyObject *) self, reader, fd_object, Py_True);
  if (writer != NULL && (events & GBRIDGE_IO_EVENTS_WRITE) && !PyErr_Occurred ()
      && still_registered (self, fd, writer, TRUE))
    with_logger (self, writer, io_function, (PyObject *) self, writer, fd_object, Py_False);
  Py_DECREF (fd_object);
out:
  Py_XDECREF (reader);
  Py_XDECREF (writer);
}

static void
on_fd (int             fd,
       GbridgeIOEvents events,
       gpointer        data)
{
  GbnLink *link = data;
  PyGILState_STATE state;
  Core *self;

  if (!gbn_enter (&state))
    return;
  self = (Core *) link->owner;
  if (self != NULL && self->pending == NULL)
    {
      Py_INCREF (self);
      fd_ready (self, fd, events);
      keep_exception (self);
      Py_DECREF (self);
    }
  gbn_leave (state);
}

/* Wake-ups and iterations */

static void
on_wake (gpointer data)
{
  GbnLink *link = data;
  PyGILState_STATE state;
  Core *self;
  PyObject *reactor, *r;

  if (!gbn_enter (&state))
    return;
  self = (Core *) link->owner;
  if (self != NULL && (reactor = core_reactor (self)) != NULL)
    {
      Py_INCREF (self);
      r = PyObject_CallMethodNoArgs (reactor, str_run_until_current);
      Py_XDECREF (r);
      keep_exception (self);
      Py_DECREF (reactor);
      Py_DECREF (self);
    }
  gbn_leave (state);
}

/* wake(): runUntilCurrent() on the loop's thread soon (thread-safe). */
static PyObject *
core_wake (Core     *self,
           PyObject *unused)
{
  if (!self->closed)
    gbridge_io_loop_add_callback (self->io_loop, on_wake,
                                  gbn_link_ref (self->link), gbn_link_unref);
  Py_RETURN_NONE;
}

static void
do_nothing (gpointer data)
{
}

/* One GLib iteration of the loop's context, without the GIL, waiting at
 * most @delay seconds (a negative one: as long as it takes). */
static void
iteration (Core   *self,
           double  delay)
{
  GMainContext *context = gbridge_io_loop_get_context (self->io_loop);
  guint64 timer = 0;

  if (delay > 0)
    timer = gbridge_io_loop_call_later (self->io_loop, delay, do_nothing, NULL, NULL);
  self->running++;
  if (g_main_context_acquire (context))
    {
      /* GLib's iteration, with the GIL let go only for the wait: the
       * callbacks it dispatches (every doRead(), doWrite() and due call)
       * then need not take it back one by one. */
      GPollFunc poll_func = g_main_context_get_poll_func (context);
      GPollFD fds[64];
      gint max_priority, timeout, n;

      g_main_context_prepare (context, &max_priority);
      n = g_main_context_query (context, max_priority, &timeout, fds, G_N_ELEMENTS (fds));
      if (n > (gint) G_N_ELEMENTS (fds))
        {
          /* More than this keeps: GLib's own iteration, as before. */
          g_main_context_release (context);
          Py_BEGIN_ALLOW_THREADS
          g_main_context_iteration (context, delay != 0);
          Py_END_ALLOW_THREADS
          goto done;
        }
      if (delay == 0)
        timeout = 0;
      if (timeout != 0)
        {
          Py_BEGIN_ALLOW_THREADS
          poll_func (fds, n, timeout);
          Py_END_ALLOW_THREADS
        }
      else if (n > 0)
        poll_func (fds, n, 0);
      if (g_main_context_check (context, max_priority, fds, n))
        g_main_context_dispatch (context);
      g_main_context_release (context);
    }
  else
    {
      Py_BEGIN_ALLOW_THREADS
      g_main_context_iteration (context, delay != 0);
      Py_END_ALLOW_THREADS
    }
done:
  self->running--;
  if (timer != 0)
    gbridge_io_loop_remove_timeout (self->io_loop, timer);
}

static PyObject *
raise_pending (Core *self)
{
  PyObject *exc = self->pending;

  self->pending = NULL;
  gbn_restore_exception (exc);
  return NULL;
}

/* iterate(delay): one iteration, as GbridgeReactor.doIteration(). */
static PyObject *
core_iterate (Core     *self,
              PyObject *arg)
{
  double delay;

  if (arg == Py_None)
    delay = -1;
  else
    {
      delay = PyFloat_AsDouble (arg);
      if (delay == -1.0 && PyErr_Occurred ())
        return NULL;
      if (isnan (delay) || delay < 0)
        delay = 0;
    }
  if (self->closed)
    Py_RETURN_NONE;
  iteration (self, delay);
  if (self->pending != NULL)
    return raise_pending (self);
  Py_RETURN_NONE;
}

/* run(): iterates while reactor._started, blocking while reactor.running,
 * as mainLoop()'s inner loop with nothing to do in runUntilCurrent() (the
 * delayed calls are the loop's timeouts; the wake-ups run it). Returns
 * when the reactor stopped, or raises what a callback let through. */
static PyObject *
core_run (Core     *self,
          PyObject *unused)
{
  PyObject *reactor = core_reactor (self);
  int started, running;

  if (reactor == NULL)
    Py_RETURN_NONE;
  Py_INCREF (self);
  for (;;)
    {
      PyObject *value = PyObject_GetAttr (reactor, str_started);

      if (value == NULL)
        break;
      started = PyObject_IsTrue (value);
      Py_DECREF (value);
      if (started <= 0 || self->closed)
        break;
      value = PyObject_GetAttr (reactor, str_running);
      if (value == NULL)
        break;
      running = PyObject_IsTrue (value);
      Py_DECREF (value);
      if (running < 0)
        break;
      iteration (self, running ? -1 : 0);
      if (self->pending != NULL)
        {
          raise_pending (self);
          break;
        }
      if (PyErr_CheckSignals () < 0)
        break;
    }
  Py_DECREF (reactor);
  Py_DECREF (self);
  if (PyErr_Occurred ())
    return NULL;
  Py_RETURN_NONE;
}

/* Life cycle */

static void
core_release (Core *self)
{
  GHashTableIter iter;
  gpointer fd, entry;
  PyObject *call, *id;
  Py_ssize_t pos = 0;

  if (self->io_loop == NULL)
    return;
  if (self->calls != NULL)
    {
      while (PyDict_Next (self->calls, &pos, &call, &id))
        gbridge_io_loop_remove_timeout (self->io_loop, PyLong_AsUnsignedLongLong (id));
      PyErr_Clear ();
      PyDict_Clear (self->calls);
    }
  if (self->fds != NULL)
    {
      g_hash_table_iter_init (&iter, self->fds);
      while (g_hash_table_iter_next (&iter, &fd, &entry))
        {
          if (!self->closed)
            gbridge_io_loop_remove_handler (self->io_loop, GPOINTER_TO_INT (fd));
          g_hash_table_iter_remove (&iter);
          entry_free (entry);
        }
    }
  if (self->readers != NULL)
    PyDict_Clear (self->readers);
  if (self->writers != NULL)
    PyDict_Clear (self->writers);
}

static PyObject *
core_close (Core     *self,
            PyObject *unused)
{
  if (self->closed || self->io_loop == NULL)
    Py_RETURN_NONE;
  core_release (self);
  self->closed = TRUE;
  gbn_link_cut (self->link);
  Py_RETURN_NONE;
}

static int
core_init (Core     *self,
           PyObject *args,
           PyObject *kwargs)
{
  PyObject *reactor, *io_loop, *log_fast;

  if (kwargs != NULL && PyDict_GET_SIZE (kwargs) > 0)
    {
      PyErr_SetString (PyExc_TypeError, "TwistedCore() takes no keyword arguments");
      return -1;
    }
  if (self->io_loop != NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "TwistedCore is already initialized");
      return -1;
    }
  self->call_type = self->resetter = self->seconds = NULL;
  log_fast = Py_None;
  if (!PyArg_ParseTuple (args, "OOOOOOOOO|O:TwistedCore", &reactor, &io_loop,
                         &self->call_type, &self->resetter, &self->seconds,
                         &self->call_with_logger, &self->connection_done,
                         &self->connection_lost, &self->no_filedesc, &log_fast))
    {
      self->call_type = self->resetter = self->seconds = NULL;
      self->call_with_logger = self->connection_done = self->connection_lost = NULL;
      self->no_filedesc = NULL;
      return -1;
    }
  if (log_fast != Py_None)
    {
      /* gbridge.twisted's _log_fast_path(): see with_logger(). */
      if (!PyTuple_CheckExact (log_fast) || PyTuple_GET_SIZE (log_fast) != LF_N
          || !PyDict_CheckExact (PyTuple_GET_ITEM (log_fast, LF_LOG_DICT))
          || !PyDict_CheckExact (PyTuple_GET_ITEM (log_fast, LF_CONTEXT_DICT))
          || !PyType_Check (PyTuple_GET_ITEM (log_fast, LF_TRACKER_TYPE))
          || !PyType_Check (PyTuple_GET_ITEM (log_fast, LF_LOCAL_TYPE))
          || !PyType_Check (PyTuple_GET_ITEM (log_fast, LF_CT_TYPE)))
        {
          self->call_type = self->resetter = self->seconds = NULL;
          self->call_with_logger = self->connection_done = self->connection_lost = NULL;
          self->no_filedesc = NULL;
          PyErr_SetString (PyExc_TypeError, "TwistedCore(): log_fast is not what it should be");
          return -1;
        }
      self->log_fast = Py_NewRef (log_fast);
    }
  Py_INCREF (self->no_filedesc);
  Py_INCREF (self->call_type);
  Py_INCREF (self->resetter);
  Py_INCREF (self->seconds);
  Py_INCREF (self->call_with_logger);
  Py_INCREF (self->connection_done);
  Py_INCREF (self->connection_lost);
  self->io_loop = gbn_io_loop_from_object (io_loop);
  if (self->io_loop == NULL)
    return -1;
  self->reactor_ref = PyWeakref_NewRef (reactor, NULL);
  self->calls = PyDict_New ();
  self->readers = PyDict_New ();
  self->writers = PyDict_New ();
  if (self->reactor_ref == NULL || self->calls == NULL || self->readers == NULL
      || self->writers == NULL)
    return -1;
  self->canceller = PyObject_GetAttrString ((PyObject *) self, "cancel_call");
  if (self->canceller == NULL)
    return -1;
  self->fds = g_hash_table_new (NULL, NULL);
  self->link = gbn_link_new ((PyObject *) self);
  return 0;
}

static PyObject *
core_get_calls (Core *self, void *closure)
{
  return Py_NewRef (self->calls != NULL ? self->calls : Py_None);
}

static PyObject *
core_get_readers (Core *self, void *closure)
{
  return Py_NewRef (self->readers != NULL ? self->readers : Py_None);
}

static PyObject *
core_get_writers (Core *self, void *closure)
{
  return Py_NewRef (self->writers != NULL ? self->writers : Py_None);
}

static PyObject *
core_get_closed (Core *self, void *closure)
{
  return PyBool_FromLong (self->closed);
}

static int
core_traverse (Core      *self,
               visitproc  visit,
               void      *arg)
{
  GHashTableIter iter;
  gpointer fd, data;

  Py_VISIT (self->reactor_ref);
  Py_VISIT (self->calls);
  Py_VISIT (self->readers);
  Py_VISIT (self->writers);
  Py_VISIT (self->call_type);
  Py_VISIT (self->canceller);
  Py_VISIT (self->resetter);
  Py_VISIT (self->seconds);
  Py_VISIT (self->call_with_logger);
  Py_VISIT (self->log_fast);
  Py_VISIT (self->connection_done);
  Py_VISIT (self->connection_lost);
  Py_VISIT (self->no_filedesc);
  Py_VISIT (self->pending);
  if (self->fds != NULL)
    {
      g_hash_table_iter_init (&iter, self->fds);
      while (g_hash_table_iter_next (&iter, &fd, &data))
        {
          FdEntry *entry = data;

          Py_VISIT (entry->reader);
          Py_VISIT (entry->writer);
        }
    }
  Py_VISIT (Py_TYPE (self));
  return 0;
}

static int
core_clear (Core *self)
{
  /* The timers and handlers first: they point at what the dicts hold. */
  core_release (self);
  Py_CLEAR (self->reactor_ref);
  Py_CLEAR (self->calls);
  Py_CLEAR (self->readers);
  Py_CLEAR (self->writers);
  Py_CLEAR (self->call_type);
  Py_CLEAR (self->canceller);
  Py_CLEAR (self->resetter);
  Py_CLEAR (self->seconds);
  Py_CLEAR (self->call_with_logger);
  Py_CLEAR (self->log_fast);
  Py_CLEAR (self->connection_done);
  Py_CLEAR (self->connection_lost);
  Py_CLEAR (self->no_filedesc);
  Py_CLEAR (self->pending);
  return 0;
}

static void
core_dealloc (Core *self)
{
  PyObject_GC_UnTrack (self);
  if (self->weakreflist != NULL)
    PyObject_ClearWeakRefs ((PyObject *) self);
  core_clear (self);
  if (self->link != NULL)
    {
      gbn_link_cut (self->link);
      gbn_link_unref (self->link);
    }
  g_clear_pointer (&self->fds, g_hash_table_unref);
  g_clear_object (&self->io_loop);
  Py_TYPE (self)->tp_free ((PyObject *) self);
}

static PyMethodDef core_methods[] = {
  { "call_later", (PyCFunction) (void (*) (void)) core_call_later,
    METH_FASTCALL | METH_KEYWORDS,
    "call_later(delay, callable, *args, **kw) -> DelayedCall: IReactorTime.callLater()." },
  { "cancel_call", (PyCFunction) core_cancel_call, METH_O,
    "cancel_call(call): removes a DelayedCall's timeout (its canceller)." },
  { "schedule", (PyCFunction) (void (*) (void)) core_schedule, METH_FASTCALL,
    "schedule(call, delay): (re)schedules a DelayedCall delay seconds from now." },
  { "add_reader", (PyCFunction) core_add_reader, METH_O, "IReactorFDSet.addReader()" },
  { "add_writer", (PyCFunction) core_add_writer, METH_O, "IReactorFDSet.addWriter()" },
  { "remove_reader", (PyCFunction) core_remove_reader, METH_O, "IReactorFDSet.removeReader()" },
  { "remove_writer", (PyCFunction) core_remove_writer, METH_O, "IReactorFDSet.removeWriter()" },
  { "wake", (PyCFunction) core_wake, METH_NOARGS,
    "Calls reactor.runUntilCurrent() on the loop's thread (thread-safe)." },
  { "iterate", (PyCFunction) core_iterate, METH_O,
    "iterate(delay): one iteration of the loop, waiting at most delay seconds (None: unbounded)." },
  { "run", (PyCFunction) core_run, METH_NOARGS,
    "Iterates the loop while reactor._started (blocking while reactor.running)." },
  { "close", (PyCFunction) core_close, METH_NOARGS,
    "Removes the timeouts and handlers, and stops every callback from reaching the reactor." },
  { NULL, NULL, 0, NULL }
};

static PyGetSetDef core_getset[] = {
  { "calls", (getter) core_get_calls, NULL, "The pending DelayedCalls (a dict).", NULL },
  { "readers", (getter) core_get_readers, NULL, "The readers (a dict: selectable -> fd).", NULL },
  { "writers", (getter) core_get_writers, NULL, "The writers (a dict: selectable -> fd).", NULL },
  { "closed", (getter) core_get_closed, NULL, "Whether close() was called.", NULL },
  { NULL, NULL, NULL, NULL, NULL }
};

static PyTypeObject core_type = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "gbridge._native.TwistedCore",
  .tp_basicsize = sizeof (Core),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
  .tp_doc = "The gbridge side of one gbridge.twisted.GbridgeReactor (private).",
  .tp_new = PyType_GenericNew,
  .tp_init = (initproc) core_init,
  .tp_dealloc = (destructor) core_dealloc,
  .tp_traverse = (traverseproc) core_traverse,
  .tp_clear = (inquiry) core_clear,
  .tp_weaklistoffset = offsetof (Core, weakreflist),
  .tp_methods = core_methods,
  .tp_getset = core_getset,
};

static PyMethodDef io_def = {
  "_twisted_io", (PyCFunction) (void (*) (void)) twisted_io, METH_FASTCALL,
  "_twisted_io(core, selectable, fd, is_read): one side of a ready descriptor (private)."
};

#define INTERN(var, text) \
  if ((var = PyUnicode_InternFromString (text)) == NULL) return -1

int
gbn_twisted_init (PyObject *module)
{
  INTERN (str_delayed_time, "delayed_time");
  INTERN (str_called, "called");
  INTERN (str_func, "func");
  INTERN (str_args, "args");
  INTERN (str_kw, "kw");
  INTERN (str_redelay, "_redelay");
  INTERN (str_call_failed, "_callFailed");
  INTERN (str_io_failed, "_ioFailed");
  INTERN (str_fileno, "fileno");
  INTERN (str_do_read, "doRead");
  INTERN (str_do_write, "doWrite");
  INTERN (str_disconnect_selectable, "_disconnectSelectable");
  INTERN (str_run_until_current, "runUntilCurrent");
  INTERN (str_started, "_started");
  INTERN (str_running, "running");
  INTERN (str_log_prefix, "logPrefix");
  INTERN (str_call_with_logger, "callWithLogger");
  INTERN (str_call_with_context, "callWithContext");
  INTERN (str_context, "context");
  INTERN (str_get, "get");
  INTERN (str_call, "call");
  INTERN (str_ilog_context, "ILogContext");
  INTERN (str_current_context, "currentContext");
  INTERN (str_get_context, "getContext");
  INTERN (str_storage, "storage");
  INTERN (str_ct, "ct");
  INTERN (str_contexts, "contexts");
  INTERN (str_system, "system");
  INTERN (str_err, "err");
  INTERN (str_pop, "pop");
  INTERN (str_buggy_prefix, "(buggy logPrefix method)");

  one = PyLong_FromLong (1);
  if (one == NULL)
    return -1;
  io_function = PyCFunction_New (&io_def, NULL);
  if (io_function == NULL)
    return -1;
  if (PyType_Ready (&core_type) < 0)
    return -1;
  Py_INCREF (&core_type);
  if (PyModule_AddObject (module, "TwistedCore", (PyObject *) &core_type) < 0)
    {
      Py_DECREF (&core_type);
      return -1;
    }
  return 0;
}
