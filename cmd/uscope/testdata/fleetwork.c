/* fleetwork: calls work(i) for i = 0 .. N-1 (N from argv[1]), prints
 * "done", then waits until the file argv[2] exists, so that a scraper can
 * read the counts of a process that is still running. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) long work(long v) {
	__asm__ volatile("" ::: "memory");
	return v * 2;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10, acc = 0;
	for (long i = 0; i < n; i++)
		acc += work(i);
	printf("done %ld\n", acc);
	fflush(stdout);
	while (argc > 2 && access(argv[2], F_OK) != 0)
		usleep(20000);
	return 0;
}
