// throw: exceptions thrown through three probed frames. Each frame holds an
// object with a destructor, so that it has a landing pad the unwinder runs.
// Every call of level1 throws from level3 when i is odd, and returns normally
// when i is even; main catches, counts, and prints the totals.
#include <cstdio>
#include <stdexcept>
#include <cstdlib>

static volatile long sink;

struct Guard {
	long v;
	explicit Guard(long x) : v(x) {}
	~Guard() { sink += v; }
};

__attribute__((noinline)) long level3(long i) {
	Guard g(i);
	if (i & 1)
		throw std::runtime_error("odd");
	return i * 3;
}

__attribute__((noinline)) long level2(long i) {
	Guard g(i);
	return level3(i) + 1;
}

__attribute__((noinline)) long level1(long i) {
	Guard g(i);
	return level2(i) + 1;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 2000;
	long caught = 0, sum = 0;
	for (long i = 0; i < n; i++) {
		try {
			sum += level1(i);
		} catch (const std::runtime_error &) {
			caught++;
		}
	}
	printf("caught %ld sum %ld\n", caught, sum);
	return 0;
}
