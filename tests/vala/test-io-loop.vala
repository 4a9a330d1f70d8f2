/* test-io-loop.vala: Vala drives a Gbridge loop through the VAPI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A callback, a timer that writes to a pipe, and an fd handler that gets
 * READ.  Runs as a GTest program (TAP output under meson).
 */

const double WATCHDOG_SECONDS = 10.0;

/* Runs @loop; fails the test if a watchdog on the loop's own context had to
 * stop it. */
static void
run_with_watchdog (Gbridge.IOLoop loop)
{
  var timed_out = false;
  var source = new TimeoutSource ((uint) (WATCHDOG_SECONDS * 1000));
  source.set_callback (() => {
    timed_out = true;
    loop.stop ();
    return Source.REMOVE;
  });
  source.attach (loop.get_context ());

  try
    {
      loop.start ();
    }
  catch (Error e)
    {
      error ("start() failed: %s", e.message);
    }

  source.destroy ();
  assert_false (timed_out);
}

static void
test_timer_and_fd_handler ()
{
  var loop = new Gbridge.IOLoop ();
  int fds[2];
  assert_cmpint (Posix.pipe (fds), CompareOperator.EQ, 0);

  string[] order = {};
  var handler_calls = 0;
  var handler_fd = -1;
  Gbridge.IOEvents handler_events = Gbridge.IOEvents.NONE;
  var received = "";
  double start_time = loop.time ();
  double timer_time = -1;

  try
    {
      loop.add_handler (fds[0], Gbridge.IOEvents.READ, (fd, events) => {
        uint8 buf[64];
        var n = Posix.read (fd, buf, buf.length - 1);

        handler_calls++;
        handler_fd = fd;
        handler_events = events;
        order += "handler";
        if (n > 0)
          {
            buf[n] = 0;
            received = (string) buf;
          }
        loop.remove_handler (fd);
        loop.stop ();
      });
    }
  catch (Error e)
    {
      error ("add_handler() failed: %s", e.message);
    }

  /* A second handler for the same fd is an EXISTS error. */
  try
    {
      loop.add_handler (fds[0], Gbridge.IOEvents.READ, (fd, events) => {});
      assert_not_reached ();
    }
  catch (Error e)
    {
      assert_true (e is Gbridge.IOLoopError);
      assert_true (e.matches (Gbridge.IOLoopError.quark (),
                              Gbridge.IOLoopError.EXISTS));
    }

  var handle = loop.call_later (0.02, () => {
    timer_time = loop.time ();
    order += "timer";
    assert_cmpint ((int) Posix.write (fds[1], "ping".data, 4), CompareOperator.EQ, 4);
  });
  assert_true (handle != 0);

  var cancelled = loop.call_later (0.01, () => { order += "cancelled timer"; });
  assert_true (loop.remove_timeout (cancelled));
  assert_false (loop.remove_timeout (cancelled));

  assert_true (loop.add_callback (() => { order += "callback"; }));

  run_with_watchdog (loop);

  assert_cmpstr (string.joinv (",", order), CompareOperator.EQ,
                 "callback,timer,handler");
  assert_true (timer_time >= start_time + 0.02);
  assert_cmpint (handler_calls, CompareOperator.EQ, 1);
  assert_cmpint (handler_fd, CompareOperator.EQ, fds[0]);
  assert_true ((handler_events & Gbridge.IOEvents.READ) != 0);
  assert_cmpstr (received, CompareOperator.EQ, "ping");

  try
    {
      assert_true (loop.close (false));
    }
  catch (Error e)
    {
      error ("close() failed: %s", e.message);
    }
  assert_true (loop.is_closed ());
  Posix.close (fds[0]);
  Posix.close (fds[1]);
}

static void
test_periodic_callback_virtual_clock ()
{
  var loop = new Gbridge.IOLoop ();
  double[] ticks = {};

  loop.use_virtual_clock (10.0);
  var pc = new Gbridge.PeriodicCallback (loop, 1.0, () => {
    ticks += loop.time ();
  });
  pc.start ();
  assert_true (pc.is_running ());

  for (var i = 0; i < 3; i++)
    {
      loop.advance_clock (1.0);
      loop.add_callback (() => { loop.stop (); });
      run_with_watchdog (loop);
    }
  pc.stop ();

  assert_cmpint (ticks.length, CompareOperator.EQ, 3);
  assert_cmpfloat (ticks[0], CompareOperator.EQ, 11.0);
  assert_cmpfloat (ticks[1], CompareOperator.EQ, 12.0);
  assert_cmpfloat (ticks[2], CompareOperator.EQ, 13.0);
}

int
main (string[] args)
{
  Test.init (ref args);
  Test.add_func ("/Gbridge/Vala/IOLoop/timer-and-fd-handler",
                 test_timer_and_fd_handler);
  Test.add_func ("/Gbridge/Vala/PeriodicCallback/virtual-clock",
                 test_periodic_callback_virtual_clock);
  return Test.run ();
}
