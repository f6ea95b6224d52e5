// bench/tools: the site of the per-hit benchmark. hit() is a noinline
// function that keeps a frame pointer, so its first instruction is
// push %rbp, which the kernel emulates (no single-step out of line).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void add(unsigned long x) { sink += x; }
__attribute__((noinline)) void hit(unsigned long x) { add(x); }

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	for (long i = 0; i < n / 10; i++)
		hit(i);
	double t0 = now();
	for (long i = 0; i < n; i++)
		hit(i);
	double t1 = now();
	printf("ns/call %.1f\n", (t1 - t0) / n);
	return 0;
}
