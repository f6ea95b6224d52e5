// Target of the pipeline benchmarks (bench/pipeline/run.sh).
//
//   target N      call f_nop(i) N times from one thread, then print the
//                 loop's wall time and the thread's CPU time (which
//                 includes the probe's work in the kernel, and leaves out
//                 waiting for a CPU on a loaded machine) in ns on stderr:
//                 "loop_ns=T cpu_ns=C"
//   target        call f_nop once and exit (the start-up one-liner)
//
// f_nop is written in assembly so that its first instruction is a nop,
// which the kernel emulates (one trap per hit), whatever the compiler does.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__asm__(
	".text\n"
	".p2align 4\n"
	".globl f_nop\n.type f_nop, @function\n"
	"f_nop:\n"
	"	nop\n"
	"	lea 1(%rdi), %rax\n"
	"	ret\n"
	".size f_nop, .-f_nop\n");

long f_nop(long);

static long long clock_ns(clockid_t c) {
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1;
	volatile long sink = 0;
	long long t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (long i = 0; i < n; i++)
		sink += f_nop(i);
	long long t1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (argc > 1)
		fprintf(stderr, "loop_ns=%lld cpu_ns=%lld\n", t1 - t0, c1 - c0);
	return 0;
}
