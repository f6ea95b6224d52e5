// Target of the stacks benchmark (bench/stacks/run.sh).
//
//   target loop N    call leaf N times through a chain of 8 functions
//                    (after N/10 warm-up calls) and print the mean ns per
//                    call in thread CPU time
//
// Built with -O2 -fno-omit-frame-pointer: every frame but leaf's has a
// frame pointer, so a frame-pointer walk reaches main (12 frames with
// libc's).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
volatile long sink;
NOINLINE void leaf(long x) { sink += x; }
#define LEVEL(n, m) NOINLINE void f##n(long x) { f##m(x); sink++; }
NOINLINE void f0(long x) { leaf(x); sink++; }
LEVEL(1, 0) LEVEL(2, 1) LEVEL(3, 2) LEVEL(4, 3) LEVEL(5, 4) LEVEL(6, 5) LEVEL(7, 6)

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	for (long i = 0; i < n / 10; i++) f7(i);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) f7(i);
	printf("%.1f\n", (now_ns() - t0) / n);
	return 0;
}
