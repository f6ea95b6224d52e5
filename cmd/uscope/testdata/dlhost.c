// dlhost LIB SYMBOL [wait]: after 2 seconds (or, with "wait", once a byte
// arrives on standard input), dlopens LIB and calls its double SYMBOL(double)
// five times, then prints the sum. The library is not mapped before.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	if (argc > 3 && strcmp(argv[3], "wait") == 0) {
		char c;
		if (read(0, &c, 1) != 1)
			return 2;
	} else {
		sleep(2);
	}
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	double (*fn)(double) = (double (*)(double))dlsym(h, argv[2]);
	if (!fn)
		return 1;
	double s = 0;
	for (int i = 0; i < 5; i++)
		s += fn(i);
	printf("sum %g\n", s);
	return 0;
}
