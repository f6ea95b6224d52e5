#include <cstdio>

struct Counter {
	long total;
	int id;
	__attribute__((noipa)) long add(int delta);
};

long Counter::add(int delta) {
	total += delta;
	return total;
}

int main() {
	Counter c{40, 7};
	for (int i = 0; i < 3; i++)
		c.add(i + 1);
	std::printf("%ld %d\n", c.total, c.id);
	return 0;
}
