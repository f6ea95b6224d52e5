# usdt_calls.py: the CPython workload of uscope's USDT tests. It calls
# functions in three ways and collects garbage, and writes what it did to
# the file named by argv[1] (one fact per line), so that a test can compare
# with what the python:function__entry/return and gc__start/done probes saw.
#
#   1. plain calls: outer() calls leaf(), three times
#   2. generator.throw(): resumes gen() with an exception
#   3. calls under sys.setprofile(): outer() once more
#   4. gc.collect(0), (1), (2) with automatic collection off, each after
#      making a known number of reference cycles
import gc
import sys


def leaf(n):
    return n + 1


def outer(n):
    return leaf(n) * 2


def gen():
    try:
        yield 1
    except ValueError:
        yield 2


def main(out):
    for i in range(3):
        outer(i)
    g = gen()
    next(g)
    g.throw(ValueError)
    sys.setprofile(lambda *a: None)
    outer(10)
    sys.setprofile(None)
    gc.disable()
    for generation in (0, 1, 2):
        for _ in range(100 + generation):
            a = []
            a.append(a)
        del a
        out.write("collected %d %d\n" % (generation, gc.collect(generation)))
    out.write("lines leaf %d outer %d gen %d\n" % (
        leaf.__code__.co_firstlineno, outer.__code__.co_firstlineno, gen.__code__.co_firstlineno))


with open(sys.argv[1], "w") as f:
    main(f)
