/* test-future.vala: Vala awaits a Gbridge future with `yield`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * gbridge_future_wait_async() / _finish() make Future.wait_async() an async
 * method in the VAPI; run_sync() returns the value.  A GTest program.
 */

async void
await_value (Gbridge.IOLoop loop, MainLoop main_loop)
{
  var future = new Gbridge.Future.for_loop (loop);
  loop.call_later (0.001, () => {
    try
      {
        future.resolve ("yielded");
      }
    catch (Error e)
      {
        assert_no_error (e);
      }
  });

  try
    {
      var value = yield future.wait_async (null);
      assert (value != null);
      assert_cmpstr (value.get_string (), CompareOperator.EQ, "yielded");
    }
  catch (Error e)
    {
      assert_no_error (e);
    }

  var failing = new Gbridge.Future.for_loop (loop);
  loop.add_callback (() => {
    failing.cancel ();
  });
  try
    {
      yield failing.wait_async (null);
      assert_not_reached ();
    }
  catch (Error e)
    {
      assert_error (e, IOError.quark (), IOError.CANCELLED);
    }

  main_loop.quit ();
}

static void
test_yield ()
{
  var main_loop = new MainLoop (null, false);
  var loop = new Gbridge.IOLoop.for_context (MainContext.default ());

  await_value.begin (loop, main_loop);
  main_loop.run ();
}

static void
test_run_sync ()
{
  var loop = new Gbridge.IOLoop ();
  Value value;

  try
    {
      loop.run_sync (() => {
        var v = Value (typeof (int));
        v.set_int (7);
        return new Gbridge.Future.resolved (v);
      }, 5.0, out value);
      assert_cmpint (value.get_int (), CompareOperator.EQ, 7);
    }
  catch (Error e)
    {
      assert_no_error (e);
    }
}

int
main (string[] args)
{
  Test.init (ref args);
  Test.add_func ("/Gbridge/Vala/Future/yield", test_yield);
  Test.add_func ("/Gbridge/Vala/Future/run-sync", test_run_sync);
  return Test.run ();
}
