/* test-reactor.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <gbridge/gbridge.h>

#include "gbridge-test-i18n.h"

#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <glib/gi18n-lib.h>
#include <glib-unix.h>

/* A descriptor for the tests: counts what the reactor tells it. */

#define TEST_TYPE_DESCRIPTOR (test_descriptor_get_type ())
G_DECLARE_FINAL_TYPE (TestDescriptor, test_descriptor, TEST, DESCRIPTOR, GObject)

struct _TestDescriptor
{
  GObject  parent_instance;
  int      fd;
  guint    reads;
  guint    writes;
  guint    lost;
  int      lost_code;
  gboolean read_result;
  gboolean write_result;
  gboolean drain;
};

static int
test_descriptor_get_fd (GbridgeDescriptor *descriptor)
{
  return TEST_DESCRIPTOR (descriptor)->fd;
}

static gboolean
test_descriptor_read (GbridgeDescriptor *descriptor)
{
  TestDescriptor *self = TEST_DESCRIPTOR (descriptor);
  char buf[64];

  self->reads++;
  if (self->drain)
    g_assert_cmpint (read (self->fd, buf, sizeof buf), >, 0);
  return self->read_result;
}

static gboolean
test_descriptor_write (GbridgeDescriptor *descriptor)
{
  TestDescriptor *self = TEST_DESCRIPTOR (descriptor);

  self->writes++;
  return self->write_result;
}

static void
test_descriptor_connection_lost (GbridgeDescriptor *descriptor,
                                 const GError      *reason)
{
  TestDescriptor *self = TEST_DESCRIPTOR (descriptor);

  g_assert_true (reason->domain == GBRIDGE_REACTOR_ERROR);
  self->lost++;
  self->lost_code = reason->code;
}

static void
test_descriptor_iface_init (GbridgeDescriptorInterface *iface)
{
  iface->get_fd = test_descriptor_get_fd;
  iface->read = test_descriptor_read;
  iface->write = test_descriptor_write;
  iface->connection_lost = test_descriptor_connection_lost;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestDescriptor, test_descriptor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (GBRIDGE_TYPE_DESCRIPTOR,
                                                      test_descriptor_iface_init))

static void
test_descriptor_class_init (TestDescriptorClass *klass)
{
}

static void
test_descriptor_init (TestDescriptor *self)
{
  self->read_result = TRUE;
  self->write_result = TRUE;
  self->lost_code = -1;
}

static TestDescriptor *
test_descriptor_new (int fd)
{
  TestDescriptor *self = g_object_new (TEST_TYPE_DESCRIPTOR, NULL);

  self->fd = fd;
  return self;
}

/* Fixture */

typedef struct
{
  GbridgeIOLoop  *loop;
  GbridgeReactor *reactor;
  GString        *log;
  guint           destroyed;
  int             fds[2];
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->loop = gbridge_io_loop_new ();
  f->reactor = gbridge_reactor_ref_for_loop (f->loop);
  f->log = g_string_new (NULL);
  f->destroyed = 0;
  g_assert_true (g_unix_open_pipe (f->fds, FD_CLOEXEC, NULL));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->reactor);
  g_assert_finalize_object (f->loop);
  g_string_free (f->log, TRUE);
  if (f->fds[0] >= 0)
    close (f->fds[0]);
  if (f->fds[1] >= 0)
    close (f->fds[1]);
}

#define TEST(path, func) \
  g_test_add ("/Gbridge/Reactor/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

typedef struct
{
  Fixture    *f;
  const char *name;
} Entry;

static Entry *
entry (Fixture    *f,
       const char *name)
{
  Entry *e = g_new (Entry, 1);

  e->f = f;
  e->name = name;
  return e;
}

static void
entry_free (gpointer data)
{
  Entry *e = data;

  e->f->destroyed++;
  g_free (e);
}

static void
log_entry (gpointer data)
{
  Entry *e = data;

  g_string_append (e->f->log, e->name);
}

static GbridgeFuture *
log_trigger (gpointer data)
{
  log_entry (data);
  return NULL;
}

static void
stop_reactor (gpointer data)
{
  g_autoptr(GError) error = NULL;

  gbridge_reactor_stop (data, &error);
  g_assert_no_error (error);
}

static void
run (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gbridge_reactor_run (f->reactor, FALSE, &error));
  g_assert_no_error (error);
}

/* One reactor per loop, one default */

static void
test_one_per_loop (Fixture       *f,
                   gconstpointer  data)
{
  GbridgeReactor *again = gbridge_reactor_ref_for_loop (f->loop);

  g_assert_true (again == f->reactor);
  g_assert_true (gbridge_reactor_get_loop (again) == f->loop);
  g_object_unref (again);
}

static void
test_install_twice (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  if (g_test_subprocess ())
    {
      g_assert_true (gbridge_reactor_install (f->reactor, &error));
      g_assert_no_error (error);
      g_assert_true (gbridge_reactor_get_default () == f->reactor);
      g_assert_false (gbridge_reactor_install (f->reactor, &error));
      g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_INSTALLED);
      /* The default reactor lives as long as the process. */
      exit (0);
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* Time */

static void
test_call_later_order (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) a = NULL;
  g_autoptr(GbridgeDelayedCall) b = NULL;
  g_autoptr(GbridgeDelayedCall) c = NULL;
  g_autoptr(GbridgeDelayedCall) stop = NULL;

  gbridge_io_loop_use_virtual_clock (f->loop, 100.0);
  g_assert_cmpfloat (gbridge_reactor_seconds (f->reactor), ==, 100.0);
  b = gbridge_reactor_call_later (f->reactor, 0.02, log_entry, entry (f, "b"), entry_free);
  a = gbridge_reactor_call_later (f->reactor, 0.01, log_entry, entry (f, "a"), entry_free);
  c = gbridge_reactor_call_later (f->reactor, 0.02, log_entry, entry (f, "c"), entry_free);
  stop = gbridge_reactor_call_later (f->reactor, 0.03, stop_reactor, f->reactor, NULL);
  g_assert_cmpfloat (gbridge_delayed_call_get_time (a), ==, 100.01);

  gbridge_io_loop_advance_clock (f->loop, 1.0);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "abc");
  g_assert_cmpuint (f->destroyed, ==, 3);
  g_assert_false (gbridge_delayed_call_is_active (a));
}

static void
test_delayed_call_errors (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) called = NULL;
  g_autoptr(GbridgeDelayedCall) cancelled = NULL;
  g_autoptr(GbridgeDelayedCall) stop = NULL;
  g_autoptr(GError) error = NULL;

  called = gbridge_reactor_call_later (f->reactor, 0, log_entry, entry (f, "called"), entry_free);
  cancelled = gbridge_reactor_call_later (f->reactor, 0, log_entry, entry (f, "cancelled"),
                                          entry_free);
  g_assert_true (gbridge_delayed_call_is_active (cancelled));
  g_assert_true (gbridge_delayed_call_cancel (cancelled, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (gbridge_delayed_call_is_active (cancelled));
  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "called");

  g_assert_false (gbridge_delayed_call_cancel (called, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_CALLED);
  g_clear_error (&error);
  g_assert_false (gbridge_delayed_call_reset (called, 1, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_CALLED);
  g_clear_error (&error);
  g_assert_false (gbridge_delayed_call_cancel (cancelled, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED);
  g_clear_error (&error);
  g_assert_false (gbridge_delayed_call_delay (cancelled, 1, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED);
  g_assert_cmpuint (f->destroyed, ==, 2);
}

static void
test_delay_reset (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) a = NULL;
  g_autoptr(GbridgeDelayedCall) b = NULL;
  g_autoptr(GbridgeDelayedCall) stop = NULL;
  g_autoptr(GError) error = NULL;

  gbridge_io_loop_use_virtual_clock (f->loop, 10.0);
  a = gbridge_reactor_call_later (f->reactor, 1, log_entry, entry (f, "a"), entry_free);
  b = gbridge_reactor_call_later (f->reactor, 2, log_entry, entry (f, "b"), entry_free);
  stop = gbridge_reactor_call_later (f->reactor, 5, stop_reactor, f->reactor, NULL);

  g_assert_true (gbridge_delayed_call_delay (a, 1.5, &error));
  g_assert_cmpfloat (gbridge_delayed_call_get_time (a), ==, 12.5);
  gbridge_io_loop_advance_clock (f->loop, 0.5);
  g_assert_true (gbridge_delayed_call_reset (b, 2.5, &error));
  g_assert_cmpfloat (gbridge_delayed_call_get_time (b), ==, 13.0);
  g_assert_no_error (error);

  gbridge_io_loop_advance_clock (f->loop, 10);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "ab");
}

static gboolean
contains (GPtrArray *array,
          gpointer   item)
{
  return g_ptr_array_find (array, item, NULL);
}

static void
test_iterate_blocks (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) call = NULL;

  call = gbridge_reactor_call_later (f->reactor, 0.01, log_entry, entry (f, "a"), entry_free);
  /* A negative delay waits as long as it takes: here, for the call. */
  while (gbridge_delayed_call_is_active (call))
    gbridge_reactor_iterate (f->reactor, -1);
  g_assert_cmpstr (f->log->str, ==, "a");
}

static void
test_get_delayed_calls (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) a = NULL;
  g_autoptr(GbridgeDelayedCall) b = NULL;
  g_autoptr(GPtrArray) calls = NULL;

  a = gbridge_reactor_call_later (f->reactor, 1, log_entry, entry (f, "a"), entry_free);
  b = gbridge_reactor_call_later (f->reactor, 1, log_entry, entry (f, "b"), entry_free);
  gbridge_delayed_call_cancel (b, NULL);

  calls = gbridge_reactor_get_delayed_calls (f->reactor);
  g_assert_cmpuint (calls->len, ==, 1);
  g_assert_true (contains (calls, a));
}

/* File descriptors */

static void
iterate_until (Fixture *f,
               guint   *counter,
               guint    value)
{
  while (*counter < value)
    gbridge_reactor_iterate (f->reactor, 1.0);
}

static void
test_reader_writer (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);
  g_autoptr(TestDescriptor) writer = test_descriptor_new (f->fds[1]);
  g_autoptr(GPtrArray) readers = NULL;
  g_autoptr(GPtrArray) writers = NULL;
  g_autoptr(GError) error = NULL;

  reader->drain = TRUE;
  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), &error));
  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), &error));
  g_assert_true (gbridge_reactor_add_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer), &error));
  g_assert_no_error (error);

  readers = gbridge_reactor_get_readers (f->reactor);
  writers = gbridge_reactor_get_writers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 1);
  g_assert_true (contains (readers, reader));
  g_assert_cmpuint (writers->len, ==, 1);
  g_assert_true (contains (writers, writer));

  iterate_until (f, &writer->writes, 1);
  g_assert_cmpuint (reader->reads, ==, 0);
  g_assert_true (gbridge_reactor_remove_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer)));
  g_assert_false (gbridge_reactor_remove_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer)));

  g_assert_cmpint (write (f->fds[1], "x", 1), ==, 1);
  iterate_until (f, &reader->reads, 1);
  /* Removing works even once the descriptor's fd is closed. */
  reader->fd = -1;
  g_assert_true (gbridge_reactor_remove_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader)));
  g_clear_pointer (&readers, g_ptr_array_unref);
  readers = gbridge_reactor_get_readers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 0);
  g_assert_cmpuint (reader->lost + writer->lost, ==, 0);
}

static void
test_read_write_same_fd (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(TestDescriptor) both = NULL;
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(GPtrArray) readers = NULL;
  g_autoptr(GPtrArray) writers = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  both = test_descriptor_new (sv[0]);
  both->drain = TRUE;
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);
  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (both), NULL));
  g_assert_true (gbridge_reactor_add_writer (f->reactor, GBRIDGE_DESCRIPTOR (both), NULL));

  /* One registration: one iteration reads and writes it. */
  gbridge_reactor_iterate (f->reactor, 1.0);
  g_assert_cmpuint (both->reads, ==, 1);
  g_assert_cmpuint (both->writes, ==, 1);

  readers = gbridge_reactor_get_readers (f->reactor);
  writers = gbridge_reactor_get_writers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 1);
  g_assert_cmpuint (writers->len, ==, 1);
  removed = gbridge_reactor_remove_all (f->reactor);
  g_assert_cmpuint (removed->len, ==, 1);
  g_assert_true (contains (removed, both));
  g_assert_cmpuint (both->lost, ==, 0);
  close (sv[0]);
  close (sv[1]);
}

static void
test_add_bad_fd (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(TestDescriptor) closed = test_descriptor_new (-1);
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (closed), &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_BAD_FD);
}

static void
test_fd_goes_bad (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);
  g_autoptr(GPtrArray) readers = NULL;

  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL));
  g_assert_cmpint (write (f->fds[1], "x", 1), ==, 1);
  reader->fd = -1;    /* as a transport does once it closed its socket */
  iterate_until (f, &reader->lost, 1);
  g_assert_cmpuint (reader->reads, ==, 0);
  g_assert_cmpint (reader->lost_code, ==, GBRIDGE_REACTOR_ERROR_BAD_FD);
  readers = gbridge_reactor_get_readers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 0);
}

static void
test_read_fails (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);

  reader->read_result = FALSE;
  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL));
  g_assert_cmpint (write (f->fds[1], "x", 1), ==, 1);
  iterate_until (f, &reader->lost, 1);
  g_assert_cmpuint (reader->reads, ==, 1);
  g_assert_cmpint (reader->lost_code, ==, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
  g_assert_false (gbridge_reactor_remove_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader)));
}

/* The loop closed under the reactor: its handlers are gone with it, and
 * removing the descriptors afterwards is harmless. */
static void
test_remove_after_loop_closed (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);
  g_autoptr(TestDescriptor) writer = test_descriptor_new (f->fds[1]);

  g_assert_true (gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL));
  g_assert_true (gbridge_reactor_add_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer), NULL));
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_false (gbridge_reactor_remove_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader)));
  g_assert_false (gbridge_reactor_remove_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer)));
}

static void
test_writer_hangup (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(TestDescriptor) writer = test_descriptor_new (f->fds[1]);

  close (f->fds[0]);
  f->fds[0] = -1;
  writer->write_result = TRUE;
  g_assert_true (gbridge_reactor_add_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer), NULL));
  iterate_until (f, &writer->lost, 1);
  g_assert_cmpint (writer->lost_code, ==, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
}

static void
test_disconnect_all (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);
  g_autoptr(TestDescriptor) writer = test_descriptor_new (f->fds[1]);
  g_autoptr(GPtrArray) readers = NULL;

  gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL);
  gbridge_reactor_add_writer (f->reactor, GBRIDGE_DESCRIPTOR (writer), NULL);
  gbridge_reactor_disconnect_all (f->reactor);
  g_assert_cmpuint (reader->lost, ==, 1);
  g_assert_cmpuint (writer->lost, ==, 1);
  g_assert_cmpint (reader->lost_code, ==, GBRIDGE_REACTOR_ERROR_CONNECTION_LOST);
  readers = gbridge_reactor_get_readers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 0);
}

static void
test_loop_closed (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);
  g_autoptr(GbridgeDelayedCall) call = NULL;
  g_autoptr(GPtrArray) readers = NULL;
  g_autoptr(GPtrArray) calls = NULL;
  g_autoptr(GError) error = NULL;

  gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL);
  call = gbridge_reactor_call_later (f->reactor, 10, log_entry, entry (f, "never"), entry_free);

  /* Closing the loop drops what the reactor had on it, with its notifies. */
  g_assert_true (gbridge_io_loop_close (f->loop, FALSE, NULL));
  g_assert_cmpuint (f->destroyed, ==, 1);
  g_assert_false (gbridge_delayed_call_is_active (call));
  g_assert_false (gbridge_delayed_call_cancel (call, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_ALREADY_CANCELLED);
  calls = gbridge_reactor_get_delayed_calls (f->reactor);
  g_assert_cmpuint (calls->len, ==, 0);
  readers = gbridge_reactor_get_readers (f->reactor);
  g_assert_cmpuint (readers->len, ==, 0);

  /* A call scheduled on the closed loop is refused at once. */
  g_clear_object (&call);
  call = gbridge_reactor_call_later (f->reactor, 0, log_entry, entry (f, "refused"), entry_free);
  g_assert_false (gbridge_delayed_call_is_active (call));
  g_assert_cmpuint (f->destroyed, ==, 2);
}

/* Core */

static void
test_stop_not_running (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GbridgeDelayedCall) stop = NULL;

  g_assert_false (gbridge_reactor_stop (f->reactor, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  g_assert_false (gbridge_reactor_stop (f->reactor, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_NOT_RUNNING);
  g_clear_error (&error);
  g_assert_false (gbridge_reactor_run (f->reactor, FALSE, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_NOT_RESTARTABLE);
}

static void
run_again (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;

  g_assert_false (gbridge_reactor_run (f->reactor, FALSE, &error));
  g_assert_error (error, GBRIDGE_REACTOR_ERROR, GBRIDGE_REACTOR_ERROR_RUNNING);
  g_string_append (f->log, "again");
  gbridge_reactor_stop (f->reactor, NULL);
}

static void
test_run_twice (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) call = NULL;

  call = gbridge_reactor_call_later (f->reactor, 0, run_again, f, NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "again");
}

static void
crash_reactor (gpointer data)
{
  gbridge_reactor_crash (data);
}

static void
test_crash (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) crash = NULL;
  g_autoptr(GbridgeDelayedCall) stop = NULL;
  guint id;

  id = gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_BEFORE,
                                                 "shutdown", log_trigger,
                                                 entry (f, "shutdown;"), entry_free);
  g_assert_cmpuint (id, >, 0);
  crash = gbridge_reactor_call_later (f->reactor, 0, crash_reactor, f->reactor, NULL);
  run (f);
  g_assert_false (gbridge_reactor_is_running (f->reactor));
  g_assert_cmpstr (f->log->str, ==, "");

  /* A crashed reactor may run again; stopping it fires shutdown. */
  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "shutdown;");
}

static void
check_running (gpointer data)
{
  Entry *e = data;

  g_assert_true (gbridge_reactor_is_running (e->f->reactor));
  log_entry (data);
}

static void
test_call_when_running (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) stop = NULL;

  gbridge_reactor_call_when_running (f->reactor, check_running, entry (f, "a"), entry_free);
  gbridge_reactor_call_when_running (f->reactor, check_running, entry (f, "b"), entry_free);
  g_assert_cmpstr (f->log->str, ==, "");
  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "ab");
  g_assert_cmpuint (f->destroyed, ==, 2);
}

static void
test_triggers (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) stop = NULL;
  GbridgeReactor *r = f->reactor;
  guint removed;

  gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_AFTER, "startup",
                                            log_trigger, entry (f, "[startup after]"), entry_free);
  gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_BEFORE, "startup",
                                            log_trigger, entry (f, "[startup before]"), entry_free);
  gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            log_trigger, entry (f, "[shutdown during]"), entry_free);
  gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_AFTER, "shutdown",
                                            log_trigger, entry (f, "[shutdown after]"), entry_free);
  gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_BEFORE, "shutdown",
                                            log_trigger, entry (f, "[shutdown before]"), entry_free);
  removed = gbridge_reactor_add_system_event_trigger (r, GBRIDGE_TRIGGER_PHASE_BEFORE, "shutdown",
                                                      log_trigger, entry (f, "[removed]"),
                                                      entry_free);
  g_assert_true (gbridge_reactor_remove_system_event_trigger (r, removed));
  g_assert_false (gbridge_reactor_remove_system_event_trigger (r, removed));
  g_assert_cmpuint (f->destroyed, ==, 1);

  stop = gbridge_reactor_call_later (r, 0, stop_reactor, r, NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==,
                   "[startup before][startup after]"
                   "[shutdown before][shutdown during][shutdown after]");
}

static void
test_custom_event (Fixture       *f,
                   gconstpointer  data)
{
  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_AFTER, "custom",
                                            log_trigger, entry (f, "3"), entry_free);
  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_DURING, "custom",
                                            log_trigger, entry (f, "2"), entry_free);
  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_BEFORE, "custom",
                                            log_trigger, entry (f, "1"), entry_free);
  gbridge_reactor_fire_system_event (f->reactor, "other");
  g_assert_cmpstr (f->log->str, ==, "");
  gbridge_reactor_fire_system_event (f->reactor, "custom");
  gbridge_reactor_fire_system_event (f->reactor, "custom");
  g_assert_cmpstr (f->log->str, ==, "123123");
}

typedef struct
{
  Fixture            *f;
  GbridgeFuture      *future;
  GbridgeDelayedCall *resolve;
} Wait;

static void
resolve_future (gpointer data)
{
  Wait *w = data;

  g_string_append (w->f->log, "[resolved]");
  gbridge_future_resolve (w->future, NULL, NULL);
}

/* The future resolves 10 ms after the trigger returned it: scheduled from
 * here, not beside the stop, so that a late wake-up cannot run the
 * resolve before the trigger made the future. */
static GbridgeFuture *
before_returns_future (gpointer data)
{
  Wait *w = data;

  g_string_append (w->f->log, "[before]");
  w->future = gbridge_future_new_for_loop (w->f->loop);
  w->resolve = gbridge_reactor_call_later (w->f->reactor, 0.01, resolve_future, w, NULL);
  return g_object_ref (w->future);
}

static void
test_before_trigger_future (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) stop = NULL;
  Wait w = { f, NULL, NULL };

  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_BEFORE, "shutdown",
                                            before_returns_future, &w, NULL);
  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            log_trigger, entry (f, "[during]"), entry_free);
  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_AFTER, "shutdown",
                                            log_trigger, entry (f, "[after]"), entry_free);
  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  /* The shutdown waited for the future before crashing the loop. */
  g_assert_cmpstr (f->log->str, ==, "[before][resolved][during][after]");
  g_assert_finalize_object (w.future);
  g_clear_object (&w.resolve);
}

static void
test_shutdown_disconnects (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(TestDescriptor) reader = test_descriptor_new (f->fds[0]);

  gbridge_reactor_add_reader (f->reactor, GBRIDGE_DESCRIPTOR (reader), NULL);
  gbridge_reactor_fire_system_event (f->reactor, "shutdown");
  g_assert_cmpuint (reader->lost, ==, 1);
}

static void
raise_signal (gpointer data)
{
  raise (GPOINTER_TO_INT (data));
}

static void
test_signal_stops (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) call = NULL;
  g_autoptr(GError) error = NULL;

  gbridge_reactor_add_system_event_trigger (f->reactor, GBRIDGE_TRIGGER_PHASE_DURING, "shutdown",
                                            log_trigger, entry (f, "shutdown"), entry_free);
  call = gbridge_reactor_call_later (f->reactor, 0, raise_signal, GINT_TO_POINTER (SIGINT), NULL);
  g_assert_true (gbridge_reactor_run (f->reactor, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->log->str, ==, "shutdown");
}

static void
on_user_signal (int      signum,
                gpointer data)
{
  Fixture *f = data;

  g_string_append (f->log, "user");
  gbridge_reactor_stop (f->reactor, NULL);
}

static void
test_no_signal_handlers (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GbridgeDelayedCall) call = NULL;

  /* Told not to, the reactor leaves SIGTERM to the application. */
  g_assert_true (gbridge_io_loop_add_signal_handler (f->loop, SIGTERM, on_user_signal, f, NULL,
                                                     NULL));
  call = gbridge_reactor_call_later (f->reactor, 0, raise_signal, GINT_TO_POINTER (SIGTERM),
                                     NULL);
  run (f);
  g_assert_cmpstr (f->log->str, ==, "user");
  gbridge_io_loop_remove_signal_handler (f->loop, SIGTERM);
}

/* Names */

static GbridgeFuture *
resolve_name (gpointer data)
{
  Fixture *f = data;

  return gbridge_reactor_resolve (f->reactor, f->log->str, 10.0);
}

static void
test_resolve (Fixture       *f,
              gconstpointer  data)
{
  const char *const names[] = { "127.0.0.1", "localhost" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_auto(GValue) value = G_VALUE_INIT;
      g_autoptr(GError) error = NULL;

      g_string_assign (f->log, names[i]);
      g_assert_true (gbridge_io_loop_run_sync (f->loop, resolve_name, f, 30.0, &value, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (g_value_get_string (&value), ==, "127.0.0.1");
    }
}

static void
test_resolve_with_resolver (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GbridgeOverrideResolver) resolver = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  g_autoptr(GError) error = NULL;

  resolver = gbridge_override_resolver_new (gbridge_reactor_get_resolver (f->reactor));
  gbridge_override_resolver_add_host (resolver, "reactor.example", "192.0.2.7");
  gbridge_reactor_set_resolver (f->reactor, GBRIDGE_RESOLVER (resolver));
  g_assert_true (gbridge_reactor_get_resolver (f->reactor) == GBRIDGE_RESOLVER (resolver));

  g_string_assign (f->log, "reactor.example");
  g_assert_true (gbridge_io_loop_run_sync (f->loop, resolve_name, f, 30.0, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (g_value_get_string (&value), ==, "192.0.2.7");
  gbridge_reactor_set_resolver (f->reactor, NULL);
}

/* Threads */

typedef struct
{
  Fixture *f;
  GThread *thread;
} ThreadCall;

static gpointer
thread_main (gpointer data)
{
  Fixture *f = data;

  gbridge_io_loop_add_callback (f->loop, log_entry, entry (f, "thread"), entry_free);
  gbridge_io_loop_add_callback (f->loop, stop_reactor, f->reactor, NULL);
  return NULL;
}

static void
start_thread (gpointer data)
{
  ThreadCall *tc = data;

  tc->thread = g_thread_new ("caller", thread_main, tc->f);
}

static void
test_call_from_thread (Fixture       *f,
                       gconstpointer  data)
{
  ThreadCall tc = { f, NULL };

  gbridge_reactor_call_when_running (f->reactor, start_thread, &tc, NULL);
  run (f);
  g_thread_join (tc.thread);
  g_assert_cmpstr (f->log->str, ==, "thread");
  g_assert_cmpuint (f->destroyed, ==, 1);
}

typedef struct
{
  Fixture  *f;
  GThread  *main_thread;
  gint      done;
} Work;

static void
work_in_thread (gpointer data)
{
  Work *w = data;

  g_assert_true (g_thread_self () != w->main_thread);
  g_usleep (1000);
  g_atomic_int_inc (&w->done);
}

static void
test_call_in_thread (Fixture       *f,
                     gconstpointer  data)
{
  Work w = { f, g_thread_self (), 0 };
  g_autoptr(GbridgeDelayedCall) stop = NULL;

  gbridge_reactor_suggest_thread_pool_size (f->reactor, 2);
  for (guint i = 0; i < 5; i++)
    gbridge_reactor_call_in_thread (f->reactor, work_in_thread, &w, NULL);
  stop = gbridge_reactor_call_later (f->reactor, 0, stop_reactor, f->reactor, NULL);
  run (f);
  /* The pool stopped at shutdown, after the queued work. */
  g_assert_cmpint (g_atomic_int_get (&w.done), ==, 5);
}

/* Translations */

typedef struct
{
  const char *locale;
  const char *word;
} Translation;

static const Translation german = { "de_DE.UTF-8", "Reaktor" };
static const Translation french = { "fr_FR.UTF-8", "réacteur" };

static void
test_translated_error (Fixture       *f,
                       gconstpointer  data)
{
  const Translation *t = data;
  g_autofree char *pattern = g_strdup_printf ("*%s*", t->word);
  g_autoptr(GError) error = NULL;

  if (!gbridge_test_have_locales ())
    return;

  if (g_test_subprocess ())
    {
      gbridge_test_use_locale (t->locale);
      gbridge_reactor_stop (f->reactor, &error);
      g_print ("%s\n", error->message);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout (pattern);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  TEST ("one-per-loop", test_one_per_loop);
  TEST ("install-twice", test_install_twice);
  TEST ("time/call-later-order", test_call_later_order);
  TEST ("time/errors", test_delayed_call_errors);
  TEST ("time/delay-reset", test_delay_reset);
  TEST ("time/iterate-blocks", test_iterate_blocks);
  TEST ("time/get-delayed-calls", test_get_delayed_calls);
  TEST ("fd/reader-writer", test_reader_writer);
  TEST ("fd/read-write-same-fd", test_read_write_same_fd);
  TEST ("fd/add-bad-fd", test_add_bad_fd);
  TEST ("fd/goes-bad", test_fd_goes_bad);
  TEST ("fd/read-fails", test_read_fails);
  TEST ("fd/writer-hangup", test_writer_hangup);
  TEST ("fd/remove-after-loop-closed", test_remove_after_loop_closed);
  TEST ("fd/disconnect-all", test_disconnect_all);
  TEST ("loop-closed", test_loop_closed);
  TEST ("core/stop-not-running", test_stop_not_running);
  TEST ("core/run-twice", test_run_twice);
  TEST ("core/crash", test_crash);
  TEST ("core/call-when-running", test_call_when_running);
  TEST ("core/triggers", test_triggers);
  TEST ("core/custom-event", test_custom_event);
  TEST ("core/before-trigger-future", test_before_trigger_future);
  TEST ("core/shutdown-disconnects", test_shutdown_disconnects);
  TEST ("core/signal-stops", test_signal_stops);
  TEST ("core/no-signal-handlers", test_no_signal_handlers);
  TEST ("resolve", test_resolve);
  TEST ("resolve/with-resolver", test_resolve_with_resolver);
  TEST ("threads/call-from-thread", test_call_from_thread);
  TEST ("threads/call-in-thread", test_call_in_thread);
  g_test_add ("/Gbridge/Reactor/translated-error/de", Fixture, &german,
              fixture_setup, test_translated_error, fixture_teardown);
  g_test_add ("/Gbridge/Reactor/translated-error/fr", Fixture, &french,
              fixture_setup, test_translated_error, fixture_teardown);

  return g_test_run ();
}
