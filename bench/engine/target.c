// Target program of the engine benchmarks (bench/engine/run.sh).
//
//   target tick FUNC        call FUNC every 100 us until killed
//   target loop FUNC N      call FUNC N times (after N/10 warm-up calls) and
//                           print the mean ns per call: thread CPU time, then
//                           wall time
//   target getpgid N        the syscall floor: ns per getpgid(0), likewise
//
// Thread CPU time (CLOCK_THREAD_CPUTIME_ID) includes the kernel's work for
// the probe, which runs in the thread, and leaves out the time the thread
// waits for the CPU, so other load on the machine blurs it less than wall
// time.
//
// The probed functions are written in assembly so that their first
// instruction is fixed whatever the compiler does:
//   f_nop   nop             (the kernel emulates it: one trap)
//   f_push  push %rbp       (emulated: one trap)
//   f_cmp   cmp $0, %rdi    (not emulated: trap + single step out of line)
//   f_nop5  5-byte nop      (Linux 6.18 rewrites it into a call to a
//                            trampoline after the first hit)
// Each returns its argument plus one.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__asm__(
	".text\n"
	".p2align 4\n"
	".globl f_nop\n.type f_nop, @function\n"
	"f_nop:\n"
	"	nop\n"
	"	lea 1(%rdi), %rax\n"
	"	ret\n"
	".size f_nop, .-f_nop\n"
	".p2align 4\n"
	".globl f_push\n.type f_push, @function\n"
	"f_push:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	lea 1(%rdi), %rax\n"
	"	pop %rbp\n"
	"	ret\n"
	".size f_push, .-f_push\n"
	".p2align 4\n"
	".globl f_cmp\n.type f_cmp, @function\n"
	"f_cmp:\n"
	"	cmp $0, %rdi\n"
	"	lea 1(%rdi), %rax\n"
	"	ret\n"
	".size f_cmp, .-f_cmp\n"
	".p2align 4\n"
	".globl f_nop5\n.type f_nop5, @function\n"
	"f_nop5:\n"
	"	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
	"	lea 1(%rdi), %rax\n"
	"	ret\n"
	".size f_nop5, .-f_nop5\n");

long f_nop(long);
long f_push(long);
long f_cmp(long);
long f_nop5(long);

static const struct {
	const char *name;
	long (*fn)(long);
} funcs[] = {
	{"f_nop", f_nop},
	{"f_push", f_push},
	{"f_cmp", f_cmp},
	{"f_nop5", f_nop5},
};

volatile long sink;

static double now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct span {
	double cpu, wall;
};

static struct span span_start(void)
{
	return (struct span){now_ns(CLOCK_THREAD_CPUTIME_ID), now_ns(CLOCK_MONOTONIC)};
}

static void span_print(struct span s, long n)
{
	double cpu = now_ns(CLOCK_THREAD_CPUTIME_ID), wall = now_ns(CLOCK_MONOTONIC);
	printf("%.1f %.1f\n", (cpu - s.cpu) / n, (wall - s.wall) / n);
}

static long (*lookup(const char *name))(long)
{
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
		if (strcmp(funcs[i].name, name) == 0)
			return funcs[i].fn;
	fprintf(stderr, "unknown function %s\n", name);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "tick") == 0) {
		long (*fn)(long) = lookup(argv[2]);
		struct timespec d = {0, 100000};
		for (long i = 0;; i++) {
			sink = fn(i);
			nanosleep(&d, NULL);
		}
	}
	if (argc == 4 && strcmp(argv[1], "loop") == 0) {
		long (*fn)(long) = lookup(argv[2]);
		long n = atol(argv[3]) > 0 ? atol(argv[3]) : 1;
		for (long i = 0; i < n / 10; i++)
			sink = fn(i);
		struct span s = span_start();
		for (long i = 0; i < n; i++)
			sink = fn(i);
		span_print(s, n);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "getpgid") == 0) {
		long n = atol(argv[2]) > 0 ? atol(argv[2]) : 1;
		for (long i = 0; i < n / 10; i++)
			sink = getpgid(0);
		struct span s = span_start();
		for (long i = 0; i < n; i++)
			sink = getpgid(0);
		span_print(s, n);
		return 0;
	}
	fprintf(stderr, "usage: target tick FUNC | loop FUNC N | getpgid N\n");
	return 2;
}
