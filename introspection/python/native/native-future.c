/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native's part of the Gbridge.Future override: the calls a
 * Python future makes most (new_for_loop(), add_done_callback(), resolve(),
 * get_value()), in C.
 *
 * Through GObject Introspection each of them goes through libffi and the
 * argument caches, a done-callback through a GClosure and a libffi closure
 * of its own. Here:
 *
 * - a done-callback is a small C struct holding the Python callable, run
 *   from C with the future's wrapper; the callable is dropped under the GIL
 *   on the loop thread right after it ran, and by the destroy-notify (which
 *   takes the GIL, from any thread) when it never runs;
 * - resolve() and get_value() convert between the Python value and the
 *   future's GValue with PyGObject's own functions, the ones its GValue
 *   arguments use, so C and GJS read exactly the value they read before
 *   (and a Python int beyond 32 bits is a gint64 or a PyObject, as the
 *   override's _to_gvalue() makes it).
 *
 * Anything else (keyword arguments, extra user data, an argument of the
 * wrong type) goes to the introspection method it replaces, so the errors
 * stay PyGObject's. This part needs PyGObject's C API (pygobject.h, from
 * python-gi-dev); without it the module has no future_install() and the
 * override keeps the introspection path.
 */
#include "gbridge-native-private.h"

#ifdef GBN_HAVE_PYGOBJECT

#include <pygobject.h>

enum {
  FB_NEW,
  FB_NEW_FOR_LOOP,
  FB_ADD_DONE_CALLBACK,
  FB_RESOLVE,
  FB_GET_VALUE,
  N_FALLBACKS
};

static const char *const fallback_names[N_FALLBACKS] = {
  "new", "new_for_loop", "add_done_callback", "resolve", "get_value",
};

/* The introspection (or Python) implementations the methods below replace,
 * for the calls they do not handle. */
static PyObject *fallbacks[N_FALLBACKS];
static GType future_type, io_loop_type, pyobject_type;
static gboolean ready;

/* The call handed to the introspection implementation: @self first for a
 * method, the arguments as given. */
static PyObject *
fall_back (int               which,
           PyObject         *self,
           PyObject *const  *args,
           Py_ssize_t        nargs,
           PyObject         *kwnames)
{
  Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE (kwnames) : 0;
  PyObject *small[8];
  PyObject **all = small;
  PyObject *r;
  Py_ssize_t i, n;

  if (self == NULL)
    return PyObject_Vectorcall (fallbacks[which], args, nargs, kwnames);
  n = nargs + nkw + 1;
  if (n > (Py_ssize_t) G_N_ELEMENTS (small))
    {
      all = PyMem_Malloc (n * sizeof (PyObject *));
      if (all == NULL)
        return PyErr_NoMemory ();
    }
  all[0] = self;
  for (i = 0; i < nargs + nkw; i++)
    all[i + 1] = args[i];
  r = PyObject_Vectorcall (fallbacks[which], all, nargs + 1, kwnames);
  if (all != small)
    PyMem_Free (all);
  return r;
}

/* The GbridgeFuture behind a wrapper, or NULL (a wrapper not initialized,
 * say) for the introspection path to raise about. */
static GbridgeFuture *
future_of (PyObject *self)
{
  GObject *object = pygobject_get (self);

  if (object == NULL || G_TYPE_FROM_INSTANCE (object) != future_type)
    return NULL;
  return (GbridgeFuture *) object;
}

/* Done-callbacks */

typedef struct
{
  PyObject *func;   /* NULL once it ran */
} DoneCall;

static void
done_call_free (gpointer data)
{
  DoneCall *call = data;
  PyGILState_STATE state;

  /* The callback ran and let go of the callable already (the common case,
   * with no GIL to take), or it never will: the future was dropped while
   * pending or its loop closed, in whatever thread that happened. Once the
   * interpreter is finalizing the callable is left alone. */
  if (call->func != NULL && gbn_enter (&state))
    {
      Py_CLEAR (call->func);
      gbn_leave (state);
    }
  g_free (call);
}

/* PyErr_Print(), except for KeyboardInterrupt, which goes to
 * sys.excepthook directly: from Python 3.13 PyErr_Print() also marks it
 * unhandled, and the interpreter then ends the process with SIGINT when it
 * exits, long after the loop went on. */
static void
report_callback_error (void)
{
  PyObject *type, *value, *tb, *hook, *r;

  if (!PyErr_ExceptionMatches (PyExc_KeyboardInterrupt))
    {
      PyErr_Print ();
      return;
    }
  value = gbn_fetch_exception ();
  type = Py_NewRef ((PyObject *) Py_TYPE (value));
  tb = PyException_GetTraceback (value);
  hook = PySys_GetObject ("excepthook");   /* borrowed */
  if (hook != NULL)
    {
      r = PyObject_CallFunctionObjArgs (hook, type,
                                        value != NULL ? value : Py_None,
                                        tb != NULL ? tb : Py_None, NULL);
      if (r == NULL)
        PyErr_Clear ();
      Py_XDECREF (r);
    }
  Py_XDECREF (type);
  Py_XDECREF (value);
  Py_XDECREF (tb);
}

static void
done_call_run (GbridgeFuture *future,
               gpointer       data)
{
  DoneCall *call = data;
  PyGILState_STATE state;
  PyObject *wrapper, *r = NULL;

  if (!gbn_enter (&state))
    return;
  wrapper = pygobject_new ((GObject *) future);
  if (wrapper != NULL)
    {
      r = PyObject_CallOneArg (call->func, wrapper);
      Py_DECREF (wrapper);
    }
  /* As PyGObject reports an exception out of its own callbacks: through
   * sys.excepthook, and SystemExit ends the process. */
  if (r == NULL)
    report_callback_error ();
  Py_XDECREF (r);
  Py_CLEAR (call->func);
  gbn_leave (state);
}

static PyObject *
future_add_done_callback (PyObject         *self,
                          PyObject *const  *args,
                          Py_ssize_t        nargs,
                          PyObject         *kwnames)
{
  GbridgeFuture *future = future_of (self);
  DoneCall *call;

  /* Extra user data is rare: PyGObject's own path passes it on. */
  if (future == NULL || nargs != 1 || kwnames != NULL || !PyCallable_Check (args[0]))
    return fall_back (FB_ADD_DONE_CALLBACK, self, args, nargs, kwnames);
  call = g_new (DoneCall, 1);
  call->func = Py_NewRef (args[0]);
  gbridge_future_add_done_callback (future, done_call_run, call, done_call_free);
  Py_RETURN_NONE;
}

/* Values */

/* The GValue PyGObject makes of @object for a GValue argument, after the
 * override's _to_gvalue() (which gives an int beyond 32 bits a type that
 * holds it). Returns the GValue to use, @storage or the one a
 * GObject.Value holds, or NULL with an exception set. */
static const GValue *
value_from_object (PyObject *object,
                   GValue   *storage)
{
  GType type;

  if (PyLong_CheckExact (object))
    {
      int overflow;
      long long v = PyLong_AsLongLongAndOverflow (object, &overflow);

      if (v == -1 && PyErr_Occurred ())
        return NULL;
      if (overflow == 0 && v >= G_MININT32 && v <= G_MAXINT32)
        {
          g_value_init (storage, G_TYPE_INT);
          g_value_set_int (storage, (gint) v);
          return storage;
        }
      if (overflow == 0)
        {
          g_value_init (storage, G_TYPE_INT64);
          g_value_set_int64 (storage, v);
          return storage;
        }
      type = pyobject_type;
    }
  else
    {
      type = pyg_type_from_object_strict ((PyObject *) Py_TYPE (object), FALSE);
      if (type == G_TYPE_INVALID)
        {
          if (!PyErr_Occurred ())
            PyErr_SetString (PyExc_RuntimeError, "unable to retrieve object's GType");
          return NULL;
        }
      if (type == G_TYPE_VALUE)
        return pyg_boxed_get (object, GValue);
    }
  g_value_init (storage, type);
  if (pyg_value_from_pyobject_with_error (storage, object) < 0)
    {
      g_value_unset (storage);
      return NULL;
    }
  return storage;
}

static PyObject *
future_resolve (PyObject         *self,
                PyObject *const  *args,
                Py_ssize_t        nargs,
                PyObject         *kwnames)
{
  GbridgeFuture *future = future_of (self);
  GValue storage = G_VALUE_INIT;
  const GValue *value = NULL;
  GError *error = NULL;
  gboolean ok;

  if (future == NULL || nargs > 1 || kwnames != NULL)
    return fall_back (FB_RESOLVE, self, args, nargs, kwnames);
  if (nargs == 1 && args[0] != Py_None)
    {
      value = value_from_object (args[0], &storage);
      if (value == NULL)
        return NULL;
    }
  ok = gbridge_future_resolve (future, value, &error);
  if (G_IS_VALUE (&storage))
    g_value_unset (&storage);
  if (!ok)
    {
      pyg_error_check (&error);
      return NULL;
    }
  Py_RETURN_TRUE;
}

static PyObject *
future_get_value (PyObject         *self,
                  PyObject *const  *args,
                  Py_ssize_t        nargs,
                  PyObject         *kwnames)
{
  GbridgeFuture *future = future_of (self);
  const GValue *value;
  GError *error = NULL;

  if (future == NULL || nargs != 0 || kwnames != NULL)
    return fall_back (FB_GET_VALUE, self, args, nargs, kwnames);
  value = gbridge_future_get_value (future, &error);
  if (error != NULL)
    {
      pyg_error_check (&error);
      return NULL;
    }
  if (value == NULL)
    Py_RETURN_NONE;
  /* What PyGObject returns for a (transfer none) GValue. */
  return pyg_value_as_pyobject (value, FALSE);
}

/* Constructors */

static PyObject *
wrap_new_future (GbridgeFuture *future)
{
  return pygobject_new_full ((GObject *) future, TRUE, NULL);
}

static PyObject *
future_new (PyObject         *unused,
            PyObject *const  *args,
            Py_ssize_t        nargs,
            PyObject         *kwnames)
{
  if (nargs != 0 || kwnames != NULL)
    return fall_back (FB_NEW, NULL, args, nargs, kwnames);
  return wrap_new_future (gbridge_future_new ());
}

static PyObject *
future_new_for_loop (PyObject         *unused,
                     PyObject *const  *args,
                     Py_ssize_t        nargs,
                     PyObject         *kwnames)
{
  GObject *loop;

  if (nargs != 1 || kwnames != NULL
      || !PyObject_TypeCheck (args[0], &PyGObject_Type)
      || (loop = pygobject_get (args[0])) == NULL
      || !G_TYPE_CHECK_INSTANCE_TYPE (loop, io_loop_type))
    return fall_back (FB_NEW_FOR_LOOP, NULL, args, nargs, kwnames);
  return wrap_new_future (gbridge_future_new_for_loop ((GbridgeIOLoop *) loop));
}

#define FASTCALL (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef future_methods[] = {
  { "add_done_callback", (PyCFunction) (void (*) (void)) future_add_done_callback, FASTCALL,
    "add_done_callback(func, *user_data): func(future, *user_data) on the loop once done." },
  { "resolve", (PyCFunction) (void (*) (void)) future_resolve, FASTCALL,
    "resolve(value=None): resolves the future with value (any Python value)." },
  { "get_value", (PyCFunction) (void (*) (void)) future_get_value, FASTCALL,
    "get_value(): the value; raises GLib.Error if the future is not resolved." },
  { NULL, NULL, 0, NULL }
};

static PyMethodDef future_constructors[] = {
  { "new", (PyCFunction) (void (*) (void)) future_new, FASTCALL,
    "new(): a pending future on the current or default loop." },
  { "new_for_loop", (PyCFunction) (void (*) (void)) future_new_for_loop, FASTCALL,
    "new_for_loop(loop): a pending future on loop." },
  { NULL, NULL, 0, NULL }
};

static int
set_fallback (PyObject   *originals,
              const char *name,
              int         which)
{
  PyObject *original = PyDict_GetItemString (originals, name);

  if (original == NULL)
    {
      PyErr_Format (PyExc_KeyError, "future_install: no original %s", name);
      return -1;
    }
  Py_XSETREF (fallbacks[which], Py_NewRef (original));
  return 0;
}

static int
install_methods (PyObject    *cls,
                 PyMethodDef *defs,
                 gboolean     static_methods)
{
  PyMethodDef *def;

  for (def = defs; def->ml_name != NULL; def++)
    {
      PyObject *method, *wrapped;
      int r;

      if (static_methods)
        {
          method = PyCFunction_New (def, NULL);
          wrapped = method != NULL ? PyStaticMethod_New (method) : NULL;
          Py_XDECREF (method);
        }
      else
        wrapped = PyDescr_NewMethod ((PyTypeObject *) cls, def);
      if (wrapped == NULL)
        return -1;
      r = PyObject_SetAttrString (cls, def->ml_name, wrapped);
      Py_DECREF (wrapped);
      if (r < 0)
        return -1;
    }
  return 0;
}

static PyObject *
future_install (PyObject *module,
                PyObject *args)
{
  PyObject *cls, *originals, *gobject;
  int i;

  if (!PyArg_ParseTuple (args, "O!O!:future_install", &PyType_Type, &cls,
                         &PyDict_Type, &originals))
    return NULL;
  if (!ready)
    {
      gobject = pygobject_init (-1, -1, -1);
      if (gobject == NULL)
        return NULL;
      Py_DECREF (gobject);
      future_type = GBRIDGE_TYPE_FUTURE;
      io_loop_type = GBRIDGE_TYPE_IO_LOOP;
      pyobject_type = pyg_type_from_object_strict ((PyObject *) &PyBaseObject_Type, FALSE);
      if (pyobject_type == G_TYPE_INVALID)
        {
          PyErr_SetString (PyExc_RuntimeError, "PyGObject has no GType for Python objects");
          return NULL;
        }
      ready = TRUE;
    }
  if (!PyObject_IsSubclass (cls, (PyObject *) &PyGObject_Type))
    {
      PyErr_SetString (PyExc_TypeError, "future_install: not a GObject class");
      return NULL;
    }
  for (i = 0; i < N_FALLBACKS; i++)
    if (set_fallback (originals, fallback_names[i], i) < 0)
      return NULL;
  if (install_methods (cls, future_methods, FALSE) < 0
      || install_methods (cls, future_constructors, TRUE) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef future_functions[] = {
  { "future_install", future_install, METH_VARARGS,
    "future_install(cls, originals): gives the Gbridge.Future override its C "
    "methods; originals maps each replaced name to the implementation used "
    "for the calls they leave to it." },
  { NULL, NULL, 0, NULL }
};

int
gbn_future_init (PyObject *module)
{
  return PyModule_AddFunctions (module, future_functions);
}

#else /* !GBN_HAVE_PYGOBJECT */

int
gbn_future_init (PyObject *module)
{
  return 0;
}

#endif
