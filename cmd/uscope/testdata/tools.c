// The program the tool tests trace (uscope count, latency, argdist, stack):
// each function is called a known number of times, from known places.
// Built with -O0 -fno-omit-frame-pointer, so that user stacks can be walked.
// It writes no stdio output, so that the only malloc calls are its own.
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

volatile long sink;

// Call counts: leaf 10 (7 from path_a, 3 from path_b), path_a 7, path_b 3.
NOINLINE void leaf(int x) { sink += x; }
NOINLINE void path_a(int x) { leaf(x); }
NOINLINE void path_b(int x) { leaf(x); }

static long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// Hold the caller until deadline (CLOCK_MONOTONIC ns): sleep most of the
// way, then spin, so that the time is exact to a few microseconds.
static void hold_until(long deadline) {
	long early = deadline - 500000;
	if (early > now_ns()) {
		struct timespec ts = {early / 1000000000L, early % 1000000000L};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (now_ns() < deadline)
		;
}

static void hold(long us) { hold_until(now_ns() + us * 1000); }

// nap(t) returns at t: main calls it with deadlines 1 ms, 10 ms and 100 ms
// after the call, so that the first call's probe costs (the kernel sets up
// the process's uprobe pages then) shorten the time instead of adding to it.
NOINLINE void nap(long deadline) { hold_until(deadline); }

// nest(3): three nested calls of 4.5 ms, 3 ms and 1.5 ms.
NOINLINE void nest(int depth) {
	hold(1500);
	if (depth > 1)
		nest(depth - 1);
}

// Allocation sizes: 24 five times, 77 three times, 1000 twice.
NOINLINE void allocate(void) {
	static const size_t sizes[] = {24, 77, 24, 1000, 24, 77, 24, 1000, 24, 77};
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *p = malloc(sizes[i]);
		memset(p, 0, sizes[i]);
		sink += (long)p & 1;
		free(p);
	}
}

int main(int argc, char **argv) {
	// Let the tracer learn the process's libraries before the calls.
	usleep(200000);
	for (int i = 0; i < 7; i++)
		path_a(i);
	for (int i = 0; i < 3; i++)
		path_b(i);
	if (argc > 1 && strchr(argv[1], 'l')) {
		// The timed calls must not wait for a CPU: run them at a real-time
		// priority (tests run as root), with no timer slack.
		struct sched_param sp = {.sched_priority = 10};
		sched_setscheduler(0, SCHED_FIFO, &sp);
		prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
		nap(now_ns() + 1000000);
		nap(now_ns() + 10000000);
		nap(now_ns() + 100000000);
		nest(3);
	}
	allocate();
	// Stay a moment, so that the tracer reads the maps once more.
	usleep(200000);
	return 0;
}
