// lines.c: source-line probes, locals and statics for uscope's DWARF tests
// (issue 17). The tests find lines by their LINE_ comments.
#include <stdio.h>
#include <stdlib.h>

struct acc { long sum; int n; };

volatile long sink;
long total; /* a global: DW_OP_addr, moved by a PIE's load bias */

__attribute__((noipa)) void observe(struct acc *a, long v) {
	static long calls; /* a static local: DW_OP_addr too */
	calls++;
	a->sum += v;
	a->n++;
	total += v; /* LINE_TOTAL */
	sink += calls;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	struct acc a = { 0, 0 };
	long vals[4];
	for (int i = 0; i < n; i++) {
		vals[i % 4] = i * 10;
		observe(&a, vals[i % 4]); /* LINE_LOOP */
	}
	printf("sum %ld n %d total %ld\n", a.sum, a.n, total);
	return 0;
}
