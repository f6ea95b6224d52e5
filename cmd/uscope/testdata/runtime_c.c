// runtime_c.c: the C workload of objnew -l c and threads -l c. It prints
// "ready", waits for a line on stdin, then mallocs 3 blocks of 4242 bytes
// and 2 of 4343, runs uscope_worker in 4 new threads one after the other
// (each writes "tid N", its thread id), prints "done", and exits at the
// end of its input.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile keep[5];

void *uscope_worker(void *arg) {
	char b[32];
	int n = snprintf(b, sizeof b, "tid %d\n", gettid());
	write(1, b, n);
	return arg;
}

int main(void) {
	char line[16];
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 1;
	for (int i = 0; i < 3; i++)
		keep[i] = malloc(4242);
	for (int i = 3; i < 5; i++)
		keep[i] = malloc(4343);
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		pthread_create(&t, NULL, uscope_worker, NULL);
		pthread_join(t, NULL);
	}
	printf("done\n");
	fflush(stdout);
	fgets(line, sizeof line, stdin); /* until the test has seen the thread */
	return 0;
}
