// bench/cxxret: `retcost N` calls work() N times and prints its ns per call.
// work() holds an object with a destructor, so that it has a landing pad,
// and main catches exceptions: a C++ function an exception can unwind
// through, whose uretprobe uscope places on its exits.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

static volatile long sink;

struct Guard {
	long v;
	explicit Guard(long x) : v(x) {}
	~Guard() { sink += v; }
};

__attribute__((noinline)) long work(long i) {
	Guard g(i);
	if (i < 0)
		throw std::runtime_error("negative");
	return i + 1;
}

static double now() {
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	long s = 0;
	double t0 = now();
	try {
		for (long i = 0; i < n; i++)
			s += work(i);
	} catch (const std::exception &) {
		return 1;
	}
	double t1 = now();
	printf("ns/call %.1f\n", (t1 - t0) / n);
	return s == 0;
}
