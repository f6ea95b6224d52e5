# runtime_work.py: the CPython workload of uscope's language tools (calls,
# gc, flow, stat). It prints "ready", waits for a line on stdin (the tracer
# is attached by then), does its work and prints what it did, one fact a
# line, then exits:
#
#   outer() called N times, each calling leaf() once, then once more under
#   sys.setprofile (CPython 3.11 fires function__entry for calls there,
#   not for the inlined plain calls)
#   gc.collect(G) for G in 0, 1, 2 with automatic collection off: "gc G COLLECTED"
import gc
import sys


def leaf(n):
    return n + 1


def outer(n):
    return leaf(n) * 2


def main():
    calls = int(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    gc.disable()
    for i in range(calls):
        outer(i)
    sys.setprofile(lambda *a: None)
    outer(100)
    sys.setprofile(None)
    for generation in (0, 1, 2):
        for _ in range(50):
            a = []
            a.append(a)
        del a
        print("gc %d %d" % (generation, gc.collect(generation)), flush=True)
    print("done", flush=True)


main()
