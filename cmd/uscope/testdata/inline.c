#include <stdio.h>
#include <stdlib.h>

volatile long sink;
static long calls;

/* Inlined into its three callers at -O2 (and no copy of its own). */
static inline int scale(int v) {
	calls++;
	sink += v;
	return v * 7;
}

__attribute__((noipa)) int a1(int x) { return scale(x) + 1; }
__attribute__((noipa)) int a2(int x) { return scale(x + 100) * 2; }
__attribute__((noipa)) int a3(int x) { return scale(x + 200) - 3; }

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 0; i < n; i++) {
		sink += a1(i);
		sink += a2(i);
		if (i % 2)
			sink += a3(i);
	}
	printf("calls %ld\n", calls);
	return 0;
}
