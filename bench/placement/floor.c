// bench/placement: the per-hit floors of the kernel's uprobe paths. Each
// class_NAME function begins with the instruction its name says; run as
// `floor NAME N`, it calls class_NAME N times and prints its ns per call.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLASS(name, insns) \
	__asm__(".text\n.globl class_" #name "\n.type class_" #name ",@function\nclass_" #name ":\n" insns \
		"\n  ret\n.size class_" #name ", .-class_" #name "\n"); \
	void class_##name(long);

CLASS(push, "  push %rbx\n  pop %rbx")                      // emulated
CLASS(nop5, "  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00")         // emulated; optimized on 6.18
CLASS(cmpjcc, "  cmp $0x2c, %rsi\n  ja 1f\n1:")             // cmp: single-stepped unless moved to ja
CLASS(cmp, "  cmp $0x2c, %rsi\n  xor %eax, %eax")          // single-stepped (nowhere to move)

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	void (*fn)(long) = 0;
	if (!strcmp(argv[1], "push")) fn = class_push;
	if (!strcmp(argv[1], "nop5")) fn = class_nop5;
	if (!strcmp(argv[1], "cmpjcc")) fn = class_cmpjcc;
	if (!strcmp(argv[1], "cmp")) fn = class_cmp;
	if (!fn)
		return 2;
	for (long i = 0; i < n / 10; i++)
		fn(i);
	double t0 = now();
	for (long i = 0; i < n; i++)
		fn(i);
	double t1 = now();
	printf("ns/call %.1f\n", (t1 - t0) / n);
	return 0;
}
