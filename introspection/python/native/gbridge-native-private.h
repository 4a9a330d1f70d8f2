/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gbridge._native: the hot paths of the Python bridges, in C.
 *
 * Shared by the module's parts (asyncio, Twisted, futures): the link that
 * gbridge's callbacks hold on a Python object, and the GIL guard around
 * them.
 */
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <gbridge.h>

G_BEGIN_DECLS

/* What a callback handed to gbridge holds instead of a Python object: the
 * object may go away first (then @owner is NULL), and the link is freed by
 * whichever of the two lets go last, from any thread, without the GIL.
 * @owner is read and cleared only with the GIL held. */
typedef struct
{
  PyObject *owner;   /* borrowed */
} GbnLink;

GbnLink  *gbn_link_new      (PyObject *owner);
GbnLink  *gbn_link_ref      (GbnLink  *link);
void      gbn_link_unref    (gpointer  link);
void      gbn_link_cut      (GbnLink  *link);

/* The data of a gbridge timeout a part adds: the link to its owner, the
 * timeout's id, and what the timeout is for (@object, borrowed: the owner
 * keeps it while the timeout is pending). */
typedef struct
{
  GbnLink  *link;
  guint64   id;
  PyObject *object;
} GbnTimer;

GbnTimer *gbn_timer_new     (GbnLink  *link,
                             PyObject *object);
/* The GDestroyNotify to give gbridge with the timer. */
void      gbn_timer_free    (gpointer  timer);
/* Records the id gbridge returned for @timer: FALSE, with RuntimeError
 * set, for 0, when the loop refused the timeout because it is closed; the
 * loop has then freed @timer already, which must not be touched again. */
gboolean  gbn_timer_take_id (GbnTimer *timer,
                             guint64   id);

/* Takes the GIL for a callback from gbridge, which may come with or
 * without it (PyGObject releases it around C calls that iterate the
 * context). FALSE once the interpreter is finalizing: do nothing then. */
gboolean  gbn_enter         (PyGILState_STATE *state);
#define   gbn_leave(state)  PyGILState_Release (state)

/* The GbridgeIOLoop behind a PyGObject wrapper (its __gpointer__), with a
 * new reference, or NULL with an exception set. */
GbridgeIOLoop *gbn_io_loop_from_object (PyObject *object);

/* A GError from gbridge's handler calls as the OSError epoll would raise;
 * frees @error. Returns NULL. */
PyObject *gbn_raise_io_error (GError *error);

/* The object a weak reference names (a new reference), or NULL once it is
 * gone (no exception set). */
PyObject *gbn_weakref_get (PyObject *ref);

/* The raised exception, taken out of the error indicator (a new
 * reference), and back: as PyErr_GetRaisedException() and
 * PyErr_SetRaisedException() (which steals @exc) on every Python. */
PyObject *gbn_fetch_exception   (void);
void      gbn_restore_exception (PyObject *exc);

/* An int from a Python int: 0, or -1 with an exception set. */
int gbn_as_int (PyObject *object,
                int      *value);

int gbn_asyncio_init (PyObject *module);
int gbn_future_init  (PyObject *module);
int gbn_twisted_init (PyObject *module);

G_END_DECLS
