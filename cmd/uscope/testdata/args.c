// args.c: a program whose functions take arguments of every width, strings,
// stack-passed arguments and return values, for uscope's end-to-end tests.
// It prints what it passes, so a test can compare with what uscope reports.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

__attribute__((noinline)) int64_t widths(int8_t a, uint8_t b, int16_t c, uint16_t d,
                                         int32_t e, uint32_t f, int64_t g, uint64_t h) {
	__asm__ volatile("" ::: "memory");
	return g + (int64_t)h + a + b + c + d + e + f;
}

__attribute__((noinline)) const char *strs(const char *s, const char *p, size_t n) {
	__asm__ volatile("" ::: "memory");
	return s + n;
}

__attribute__((noinline)) int ret42(int x) {
	__asm__ volatile("" ::: "memory");
	return x * 2 + 42;
}

struct pair { int64_t a; int32_t b; };

__attribute__((noinline)) int64_t deref(struct pair *p) {
	__asm__ volatile("" ::: "memory");
	return p->a + p->b;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2 && strcmp(argv[2], "wait") == 0) {
		/* Wait for a line on stdin, so that a tracer can attach with -p. */
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 1;
	}
	struct pair pr = { 77, -3 };
	/* Touch the string literals first: a BPF program cannot fault in a page
	 * the process has never used, so str() of an untouched literal reads
	 * nothing (bpftrace has the same limit). */
	const char *volatile lit1 = "hello", *volatile lit2 = "world-and-more";
	volatile size_t touched = strlen(lit1) + strlen(lit2);
	(void)touched;
	for (int i = 0; i < n; i++) {
		widths(-5, 250, -1234, 65000, -100000, 4000000000u, -5000000000LL, 18000000000000000000ULL);
		strs("hello", "world-and-more", 5);
		printf("ret42(%d) = %d\n", i, ret42(i));
		deref(&pr);
	}
	printf("done\n");
	return 3;
}
