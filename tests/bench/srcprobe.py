#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Is a source dropped at the NIC? Connection attempts from many source
addresses at once, to a guarded port where nothing listens: the server's
stack answers a SYN with a reset (refused) unless something before it (the
XDP program) drops the SYN, which then times out. Run inside the client's
network namespace, with the addresses configured there.

  srcprobe.py count --to4 A --to6 B --port P [--timeout-ms T] [-f FILE | ADDR...]
      one attempt from each address, all in flight at once; prints
      "refused=N dropped=N other=N" (dropped: no answer within T)
  srcprobe.py until-dropped --to A --port P --from SRC [--timeout-ms T] [--max-s S]
      attempts one after the other until one times out; prints
      "dropped_at_ns=UNIX_NS attempts=N" (the start of the first attempt
      that got no answer: the drop was in place by then), or exits 1 after S s
"""
import argparse
import errno
import select
import socket
import sys
import time


def start(src, dst, port):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    err = s.connect_ex((dst, port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return None, err
    return s, 0


def outcome(s):
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return "refused" if err == errno.ECONNREFUSED else "other"


def count(args):
    srcs = list(args.addr)
    if args.file:
        with open(args.file) as f:
            srcs += [line.strip() for line in f if line.strip()]
    res = {"refused": 0, "dropped": 0, "other": 0}
    poll = select.epoll()
    live = {}
    for a in srcs:
        s, err = start(a, args.to6 if ":" in a else args.to4, args.port)
        if s is None:
            res["refused" if err == errno.ECONNREFUSED else "other"] += 1
            continue
        live[s.fileno()] = s
        poll.register(s.fileno(), select.EPOLLOUT | select.EPOLLERR)
    end = time.monotonic() + args.timeout_ms / 1000
    while live:
        left = end - time.monotonic()
        if left <= 0:
            break
        for fd, _ in poll.poll(left):
            s = live.pop(fd)
            poll.unregister(fd)
            res[outcome(s)] += 1
            s.close()
    res["dropped"] += len(live)
    for s in live.values():
        s.close()
    print("refused=%d dropped=%d other=%d" % (res["refused"], res["dropped"], res["other"]))


def until_dropped(args):
    end = time.monotonic() + args.max_s
    n = 0
    while time.monotonic() < end:
        t = time.time_ns()
        n += 1
        s, err = start(args.src, args.to, args.port)
        if s is None:
            time.sleep(0.001)
            continue
        r, w, x = select.select([], [s], [s], args.timeout_ms / 1000)
        if not w and not x:
            s.close()
            print("dropped_at_ns=%d attempts=%d" % (t, n))
            return 0
        s.close()
        time.sleep(0.001)
    print("not dropped within %g s (%d attempts)" % (args.max_s, n), file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("--to4", default="")
    c.add_argument("--to6", default="")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--timeout-ms", type=int, default=500)
    c.add_argument("-f", "--file")
    c.add_argument("addr", nargs="*")
    u = sub.add_parser("until-dropped")
    u.add_argument("--to", required=True)
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--from", dest="src", required=True)
    u.add_argument("--timeout-ms", type=int, default=20)
    u.add_argument("--max-s", type=float, default=10)
    args = p.parse_args()
    if args.cmd == "count":
        count(args)
        return 0
    return until_dropped(args)


if __name__ == "__main__":
    sys.exit(main())
