/* guide-vala.vala: gbridge from Vala (the guide's chapter "Using gbridge
 * from Vala").  Build: valac --pkg gbridge-1 guide-vala.vala
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

async int
compute_later (Gbridge.IOLoop loop) throws Error
{
  var future = new Gbridge.Future.for_loop (loop);
  loop.call_later (0.05, () => {
    try
      {
        future.resolve (42);
      }
    catch (Error e)
      {
        critical ("%s", e.message);
      }
  });
  /* wait_async/_finish make the future an async method: yield on it. */
  var value = yield future.wait_async (null);
  return value.get_int ();
}

int
main ()
{
  var loop = new Gbridge.IOLoop.for_context (MainContext.default ());
  var main_loop = new MainLoop (null, false);
  var ticks = 0;
  var answer = 0;

  var ticker = new Gbridge.PeriodicCallback (loop, 0.02, () => { ticks++; });
  ticker.start ();

  compute_later.begin (loop, (obj, res) => {
    try
      {
        answer = compute_later.end (res);
      }
    catch (Error e)
      {
        critical ("%s", e.message);
      }
    main_loop.quit ();
  });
  main_loop.run ();

  ticker.stop ();
  print ("answer %d after %d ticks\n", answer, ticks);
  return answer == 42 ? 0 : 1;
}
