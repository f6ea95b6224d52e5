// usdtargs.c: USDT probes (sys/sdt.h) whose arguments take every x86-64
// operand form the compiler picks: constants, registers of each width,
// memory at base+displacement, base+index*scale (SIB, also a global array
// without base in non-PIE code), RIP-relative globals; plus floats, two
// providers defining the same name, and semaphores. Every sdt.h probe has
// a semaphore (sdt.h then needs one per probe); only "early" and "guarded"
// test theirs. "vec" is written by hand, without semaphore: its first
// argument is in an SSE register (8f@%xmm0), which a uprobe cannot read
// (Debian's sdt.h passes floats through integer registers, so the compiler
// never emits that form here).
//
//	usdtargs args N   fire each argument probe N times; for each hit print
//	                  "want PROBE VALUES" with the values passed (on stderr,
//	                  unbuffered, so lines never mix with a tracer's output)
//	usdtargs guarded  print "ready PID", then for each line read on stdin
//	                  fire "guarded" if its semaphore is set ("fired K"),
//	                  else print "skipped K"; exit at end of input
//
// In every mode main first fires "early" if its semaphore is set, before
// anything else runs, and prints "early semaphore V" on stderr.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEMA(prov, name) \
	unsigned short prov##_##name##_semaphore __attribute__((unused, section(".probes")));
#define ENABLED(prov, name) __builtin_expect(prov##_##name##_semaphore, 0)

SEMA(test, consts) SEMA(test, regs) SEMA(test, mem) SEMA(test, sib) SEMA(test, sibstack)
SEMA(test, rip) SEMA(test, rip2) SEMA(test, guarded) SEMA(test, early)
SEMA(prova, dup) SEMA(provb, dup)

int global_int = -7;
static long static_long = -123456789;
unsigned char g_uchar = 200;
short g_short = -300;
struct S { int a; long b; signed char c[8]; } gs = {-11, -22, "abcdefg"};
int arr_global[16] = {-1, -2, -3, -4, -5, -6, -7, -8, 9, 10, 11, 12, 13, 14, 15, 16};
volatile long sink;

__attribute__((noinline)) void consts(void) {
	DTRACE_PROBE4(test, consts, -5, 18446744073709551614ULL, (signed char)-1, (unsigned short)65535);
	fprintf(stderr, "want consts -5 18446744073709551614 -1 65535\n");
}

__attribute__((noinline)) void regs(signed char a, unsigned char b, short c, unsigned short d,
	int e, unsigned f, long g, unsigned long h) {
	DTRACE_PROBE8(test, regs, a, b, c, d, e, f, g, h);
	fprintf(stderr, "want regs %d %u %d %u %d %u %ld %lu\n", a, b, c, d, e, f, g, h);
}

__attribute__((noinline)) void mem(struct S *p) {
	DTRACE_PROBE3(test, mem, p->a, p->b, p->c[3]);
	fprintf(stderr, "want mem %d %ld %d\n", p->a, p->b, p->c[3]);
}

__attribute__((noinline)) void sib(int *arr, long i) {
	DTRACE_PROBE3(test, sib, arr[i], arr[i + 1], arr_global[i]);
	fprintf(stderr, "want sib %d %d %d\n", arr[i], arr[i + 1], arr_global[i]);
}

__attribute__((noinline)) void sibstack(long i) {
	volatile signed char buf[64];
	for (int k = 0; k < 64; k++)
		buf[k] = k - 40;
	DTRACE_PROBE1(test, sibstack, buf[i]);
	fprintf(stderr, "want sibstack %d\n", buf[i]);
}

__attribute__((noinline)) void rip(void) {
	DTRACE_PROBE5(test, rip, global_int, static_long, g_uchar, gs.b, g_short);
	fprintf(stderr, "want rip %d %ld %u %ld %d\n", global_int, static_long, g_uchar, gs.b, g_short);
}

// rip2a and rip2b fire "rip2" with the same spec at two sites: the global
// is found relative to each site's own address.
__attribute__((noinline)) void rip2a(void) {
	DTRACE_PROBE1(test, rip2, g_short);
	fprintf(stderr, "want rip2 %d\n", g_short);
}

__attribute__((noinline)) void rip2b(void) {
	sink++;
	DTRACE_PROBE1(test, rip2, g_short);
	fprintf(stderr, "want rip2 %d\n", g_short);
}

// vec fires "vec" with x in %xmm0 and k in %edi: a note in the stapsdt
// format (namesz 8, type 3, "stapsdt", pc, base 0, semaphore 0, provider,
// name, arguments) whose pc is the nop.
__attribute__((noinline)) void vec(double x, int k) {
	__asm__ __volatile__(
		"990: nop\n"
		".pushsection .note.stapsdt,\"?\",\"note\"\n"
		".balign 4\n"
		".4byte 992f-991f, 994f-993f, 3\n"
		"991: .asciz \"stapsdt\"\n"
		"992: .balign 4\n"
		"993: .8byte 990b, 0, 0\n"
		".asciz \"test\"\n"
		".asciz \"vec\"\n"
		".asciz \"8f@%%xmm0 -4@%%edi\"\n"
		"994: .balign 4\n"
		".popsection\n"
		:: "Yz"(x), "D"(k));
	fprintf(stderr, "want vec %d\n", k);
}

__attribute__((noinline)) void dups(void) {
	DTRACE_PROBE(prova, dup);
	DTRACE_PROBE(provb, dup);
}

int main(int argc, char **argv) {
	unsigned short early = test_early_semaphore;
	if (ENABLED(test, early))
		DTRACE_PROBE2(test, early, argc, early);
	fprintf(stderr, "early semaphore %u\n", early);
	fflush(stdout);

	if (argc == 3 && strcmp(argv[1], "args") == 0) {
		int n = atoi(argv[2]);
		int local[8] = {-10, 11, -12, 13, -14, 15, -16, 17};
		for (int i = 0; i < n; i++) {
			consts();
			regs(-1 - i, 200 + i, -3000 - i, 60000 + i, -100000 - i, 4000000000u + i,
				-5000000000L - i, 18000000000000000000UL + i);
			gs.a = -11 - i;
			gs.b = -22L * (i + 1);
			gs.c[3] = -(signed char)(i + 1);
			mem(&gs);
			sib(local, i % 6);
			sibstack(i % 64);
			global_int = -7 - i;
			static_long -= i;
			g_uchar = 200 + i;
			g_short = -300 - i;
			rip();
			rip2a();
			g_short--;
			rip2b();
			vec(i + 0.5, -70 - i);
			dups();
		}
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "guarded") == 0) {
		char line[64];
		printf("ready %d\n", getpid());
		fflush(stdout);
		for (int k = 1; fgets(line, sizeof line, stdin) != NULL; k++) {
			if (ENABLED(test, guarded)) {
				DTRACE_PROBE2(test, guarded, getpid(), k);
				printf("fired %d\n", k);
			} else {
				printf("skipped %d\n", k);
			}
			fflush(stdout);
		}
		return 0;
	}
	fprintf(stderr, "usage: usdtargs args N | guarded\n");
	return 2;
}
