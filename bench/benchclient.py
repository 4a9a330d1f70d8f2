# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python benchmarks share: the TCP echo load generator (the C
program bench-tcp-client, in another process), the peer process of the
real-peer ping-pong, and one malloc state for every loop.  Imported by
bench-asyncio.py and bench-twisted.py from their own directory."""

import os
import subprocess
import sys

# The echo client keeps one 64-byte request in flight per connection for
# this long (after a warm-up of 0.2 s).
TCP_SECONDS = float(os.environ.get('BENCH_TCP_SECONDS', '0.5'))

# A peer in its own process: blocking read of one byte, write it back,
# until the other end closes.  Python, so that it needs nothing built; its
# cost per round is the same for every loop under test.
PEER = '''
import os, sys
fd = int(sys.argv[1])
os.write(fd, b'r')
while True:
    b = os.read(fd, 1)
    if not b:
        break
    os.write(fd, b)
'''


def settle_malloc():
    """Puts glibc's malloc in the state of a process that has run for a
    while, the same for every loop under test: allocates and frees a 1 MiB
    block.  Called first by bench-asyncio.py and bench-twisted.py.

    asyncio's socket transports (the default loop's, and gbridge's, which
    uses them) read with sock.recv(256 KiB): a 256 KiB bytes object, shrunk
    to the 64 bytes received, freed after data_received().  malloc serves
    it from the heap (no syscall) when a free chunk that large is there,
    else, being above the mmap threshold, with mmap(); then realloc()
    shrinks it with mremap() and free() unmaps it: three syscalls, a page
    fault and two TLB flushes per read, ~75 us of CPU on the benchmark VM
    (perf: mostly the TLB flushes).  Which of the two happens depends on
    the process's history only: the threshold starts at 128 KiB and rises
    to the size of the largest mmap()ed block freed so far (M_MMAP_THRESHOLD
    in mallopt(3); the trim threshold to twice that), and whether the heap
    has the room depends on everything allocated before, down to the size
    of the environment.  So the default loop's processes (few imports)
    paid it on every read, gbridge's did or did not depending on the
    environment's size: the TCP echo cases measured the heap, not the
    loop.  After a 1 MiB block is freed the threshold is 1 MiB, the trim
    threshold 2 MiB, and the 256 KiB buffer comes from and goes back to
    the heap in every process."""
    block = bytearray(1 << 20)
    del block


def client_path():
    """bench-tcp-client in BENCH_BIN (bench/run sets it), else in the
    default bench build directory."""
    here = os.path.dirname(os.path.abspath(__file__))
    bindir = os.environ.get('BENCH_BIN') or os.path.join(
        os.path.dirname(here), '_build-bench', 'bench')
    path = os.path.join(bindir, 'bench-tcp-client')
    if not os.access(path, os.X_OK):
        raise SystemExit(f'bench: no {path}: build the benchmarks first '
                         '(bench/run) or set BENCH_BIN')
    return path


def start_client(port, connections, http=False):
    """Starts the load generator against 127.0.0.1:@port; it closes its
    @connections connections when done, which is the server's cue to
    stop.  With @http, each request is "GET / HTTP/1.1" and the reply must
    be a 200 with the body HTTP_BODY; an HTTP server learns that the client
    is done from client_done() instead."""
    args = [client_path(), str(port), str(connections), str(TCP_SECONDS)]
    if http:
        args.append('http')
    return subprocess.Popen(args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# What the HTTP servers answer to GET / (bench-tcp-client checks it).
HTTP_BODY = 'Hello, World!'

# How often an HTTP server looks whether the client has exited (its
# frameworks say nothing of a closed keep-alive connection): 50 times a
# second, nothing next to thousands of requests.
CLIENT_POLL_SECONDS = 0.02


def client_done(proc):
    """Whether the load generator @proc has exited."""
    return proc.poll() is not None


def finish_client(proc, server_cpu):
    """The client's key=value output with the server's CPU time per request
    added (@server_cpu: the server process's CPU seconds while the client
    ran), or exits with the client's error."""
    out, err = proc.communicate(timeout=60)
    if proc.returncode != 0 or 'per_second=' not in out:
        raise SystemExit(f'bench: the TCP client failed ({proc.returncode}): '
                         f'{err.strip()}')
    values = dict(kv.split('=', 1) for kv in out.split())
    total = int(values['total'])
    return f'{out.strip()} server_cpu_ns_per_request={server_cpu / total * 1e9:.1f}'


def start_peer(sock, mine):
    """Starts the peer process on the socket @sock (one end of a
    socketpair; close your copy afterwards) and waits until it runs: it
    sends one byte, read here from @mine, the other end, so that the
    peer's start-up stays out of the timed rounds."""
    fd = sock.fileno()
    peer = subprocess.Popen([sys.executable, '-c', PEER, str(fd)],
                            pass_fds=(fd,))
    blocking = mine.getblocking()
    mine.setblocking(True)
    if mine.recv(1) != b'r':
        raise SystemExit('bench: the peer process did not start')
    mine.setblocking(blocking)
    return peer
