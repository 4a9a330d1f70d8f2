/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native: the Python bridges' hot paths on the gbridge core.
 *
 * gbridge.asyncio, gbridge.twisted and the Gbridge.Future override use it
 * when it was built (it needs the Python headers); without it they work
 * through GObject Introspection alone, only slower. Nothing here is public
 * API: the Python modules are.
 */
#include "gbridge-native-private.h"

#include <errno.h>

GbnLink *
gbn_link_new (PyObject *owner)
{
  GbnLink *link = g_atomic_rc_box_new0 (GbnLink);

  link->owner = owner;
  return link;
}

GbnLink *
gbn_link_ref (GbnLink *link)
{
  return g_atomic_rc_box_acquire (link);
}

void
gbn_link_unref (gpointer link)
{
  g_atomic_rc_box_release (link);
}

void
gbn_link_cut (GbnLink *link)
{
  link->owner = NULL;
}

GbnTimer *
gbn_timer_new (GbnLink  *link,
               PyObject *object)
{
  GbnTimer *timer = g_new (GbnTimer, 1);

  timer->link = gbn_link_ref (link);
  timer->id = 0;
  timer->object = object;
  return timer;
}

void
gbn_timer_free (gpointer data)
{
  GbnTimer *timer = data;

  gbn_link_unref (timer->link);
  g_free (timer);
}

gboolean
gbn_timer_take_id (GbnTimer *timer,
                   guint64   id)
{
  if (id == 0)
    {
      PyErr_SetString (PyExc_RuntimeError, "the loop is closed");
      return FALSE;
    }
  timer->id = id;
  return TRUE;
}

gboolean
gbn_enter (PyGILState_STATE *state)
{
  if (!Py_IsInitialized ())
    return FALSE;
#if PY_VERSION_HEX >= 0x030D0000
  if (Py_IsFinalizing ())
    return FALSE;
#else
  if (_Py_IsFinalizing ())
    return FALSE;
#endif
  *state = PyGILState_Ensure ();
  return TRUE;
}

GbridgeIOLoop *
gbn_io_loop_from_object (PyObject *object)
{
  PyObject *capsule;
  gpointer pointer;

  capsule = PyObject_GetAttrString (object, "__gpointer__");
  if (capsule == NULL)
    return NULL;
  pointer = PyCapsule_GetPointer (capsule, NULL);
  Py_DECREF (capsule);
  if (pointer == NULL)
    return NULL;
  if (!GBRIDGE_IS_IO_LOOP (pointer))
    {
      PyErr_SetString (PyExc_TypeError, "expected a Gbridge.IOLoop");
      return NULL;
    }
  return g_object_ref (pointer);
}

PyObject *
gbn_raise_io_error (GError *error)
{
  int code = EINVAL;
  PyObject *args;

  if (error->domain == GBRIDGE_IO_LOOP_ERROR)
    {
      switch (error->code)
        {
        case GBRIDGE_IO_LOOP_ERROR_EXISTS:
          code = EEXIST;
          break;
        case GBRIDGE_IO_LOOP_ERROR_NOT_FOUND:
          code = ENOENT;
          break;
        case GBRIDGE_IO_LOOP_ERROR_BAD_FD:
          code = EBADF;
          break;
        default:
          break;
        }
    }
  args = Py_BuildValue ("(is)", code, error->message);
  g_error_free (error);
  if (args != NULL)
    {
      PyErr_SetObject (PyExc_OSError, args);
      Py_DECREF (args);
    }
  return NULL;
}

PyObject *
gbn_weakref_get (PyObject *ref)
{
  PyObject *object;

#if PY_VERSION_HEX >= 0x030D0000
  if (PyWeakref_GetRef (ref, &object) <= 0)
    {
      PyErr_Clear ();
      return NULL;
    }
  return object;
#else
  object = PyWeakref_GetObject (ref);
  if (object == NULL)
    {
      PyErr_Clear ();
      return NULL;
    }
  if (object == Py_None)
    return NULL;
  return Py_NewRef (object);
#endif
}

PyObject *
gbn_fetch_exception (void)
{
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException ();
#else
  PyObject *type, *value, *tb;

  PyErr_Fetch (&type, &value, &tb);
  PyErr_NormalizeException (&type, &value, &tb);
  if (tb != NULL && value != NULL)
    PyException_SetTraceback (value, tb);
  Py_XDECREF (type);
  Py_XDECREF (tb);
  return value;
#endif
}

void
gbn_restore_exception (PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException (exc);
#else
  PyObject *tb = PyException_GetTraceback (exc);

  PyErr_Restore (Py_NewRef ((PyObject *) Py_TYPE (exc)), exc, tb);
#endif
}

int
gbn_as_int (PyObject *object,
            int      *value)
{
  long v = PyLong_AsLong (object);

  if (v == -1 && PyErr_Occurred ())
    return -1;
  if (v < G_MININT || v > G_MAXINT)
    {
      PyErr_SetString (PyExc_OverflowError, "integer out of range");
      return -1;
    }
  *value = (int) v;
  return 0;
}

static struct PyModuleDef gbn_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "gbridge._native",
  .m_doc = "The hot paths of gbridge's Python bridges, in C (private).",
  .m_size = -1,
};

PyMODINIT_FUNC PyInit__native (void);

PyMODINIT_FUNC
PyInit__native (void)
{
  PyObject *module = PyModule_Create (&gbn_module);

  if (module == NULL)
    return NULL;
  if (gbn_asyncio_init (module) < 0 || gbn_future_init (module) < 0
      || gbn_twisted_init (module) < 0)
    {
      Py_DECREF (module);
      return NULL;
    }
  return module;
}
