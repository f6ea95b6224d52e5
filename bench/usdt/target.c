// Target program of the USDT benchmark (bench/usdt/run.sh).
//
//   target loop N   fire the probe bench:hit N times (after N/10 warm-up
//                   hits) and print the mean ns per hit: thread CPU time
//                   (which includes the kernel's work for the probe, done in
//                   the thread, and leaves out time the thread waited for a
//                   CPU), then wall time
//
// bench:hit (sys/sdt.h, no semaphore) sits in a noinline function and has
// two arguments in registers: the loop counter and its negation.
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile long sink;

__attribute__((noinline)) void hit(long a, long b)
{
	DTRACE_PROBE2(bench, hit, a, b);
	sink += a;
}

static double now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[1], "loop") != 0) {
		fprintf(stderr, "usage: target loop N\n");
		return 2;
	}
	long n = atol(argv[2]);
	for (long i = 0; i < n / 10; i++)
		hit(i, -i);
	double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < n; i++)
		hit(i, -i);
	double c1 = now_ns(CLOCK_THREAD_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
	printf("%.1f %.1f\n", (c1 - c0) / n, (w1 - w0) / n);
	return 0;
}
