/*
 * Peer for bench/stapsdt/run.sh: a classic sys/sdt.h USDT probe (a 1-byte
 * nop site, with a semaphore in .probes) fired in a tight loop, the same
 * protocol as stapsdt's firer -bench:
 *
 *   usdt_bench N [untraced]
 *
 * prints "ready pid=PID path=EXE", waits until a tracer sets the semaphore
 * (unless "untraced") and one more second, fires bench:hit("bench", i) N times, prints
 * "ns/op F" and waits for a line on stdin before exiting.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned short bench_hit_semaphore __attribute__((unused)) __attribute__((section(".probes")));

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s N [untraced]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	int untraced = argc > 2 && strcmp(argv[2], "untraced") == 0;
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len < 0) {
		perror("readlink");
		return 1;
	}
	exe[len] = 0;
	printf("ready pid=%d path=%s\n", getpid(), exe);
	fflush(stdout);
	if (!untraced) {
		while (*(volatile unsigned short *)&bench_hit_semaphore == 0)
			usleep(1000);
		printf("attached\n");
		fflush(stdout);
		/* The semaphore is set when the uprobe is installed, before the
		 * tracer attaches its BPF program: let it settle, as firer does. */
		sleep(1);
	}
	const char *volatile s = "bench";
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (__builtin_expect(*(volatile unsigned short *)&bench_hit_semaphore, 0))
			STAP_PROBE2(bench, hit, s, i);
	}
	double t1 = now_ns();
	printf("ns/op %.2f\n", (t1 - t0) / n);
	fflush(stdout);
	char buf[16];
	fgets(buf, sizeof buf, stdin);
	return 0;
}
