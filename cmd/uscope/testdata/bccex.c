// The program the tests of bcc's example lines trace (bcc_examples_test.go):
// every call is made a known number of times with known arguments. argv[1]
// picks what it does, one letter each:
//   m  malloc: size 16 five times, 77 three times, 1000 twice
//   w  write: 10 bytes to fd 1 three times, 100 bytes to fd 2 twice
//   r  read: 8 bytes from /dev/zero three times, 64 bytes twice
//   p  puts("hello") three times, puts("world") once, printf twice
//   o  open("test.txt") twice, open("other.txt") once (both fail)
//   f  fork() twice; the children exit at once
//   x  pthread_mutex_lock and unlock four times
//   s  path_a 7 times, path_b 3 times (each calls leaf)
//   l  nest(3): nested calls of 4.5, 3 and 1.5 ms
//   L  malloc and free every millisecond, until killed (the --top tests)
//   g  gets: the lines "ab", "cd", "ab" from a pipe on stdin, then NULL
//   e  failing calls: read(-1) twice, write(-1) once (both -1, EBADF)
//   n  nanosleep: tv_nsec 1000 three times, 300000 twice (and the two
//      usleep(200000) every run makes, glibc nanosleeps of 200000000 ns)
// Standard output and error go to /dev/null, so the tracer's output is
// the only output. Built with -O0 -fno-omit-frame-pointer.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *gets(char *); /* gone from C11's stdio.h; glibc still exports it */

#define NOINLINE __attribute__((noinline))

volatile long sink;

NOINLINE void leaf(int x) { sink += x; }
NOINLINE void path_a(int x) { leaf(x); }
NOINLINE void path_b(int x) { leaf(x); }

static long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void hold(long us) {
	long end = now_ns() + us * 1000;
	while (now_ns() < end)
		;
}

NOINLINE void nest(int depth) {
	hold(1500);
	if (depth > 1)
		nest(depth - 1);
}

static char text[128] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";

int main(int argc, char **argv) {
	const char *what = argc > 1 ? argv[1] : "";
	// Opened with the system call, so that only the opens of 'o' are
	// libc's open.
	int null = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
	dup2(null, 1);
	dup2(null, 2);
	close(null);
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf); // no malloc of its own
	// Let the tracer learn the process's libraries before the calls.
	usleep(200000);
	if (strchr(what, 'm')) {
		static const size_t sizes[] = {16, 77, 16, 1000, 16, 77, 16, 1000, 16, 77};
		for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			void *p = malloc(sizes[i]);
			memset(p, 0, sizes[i]);
			sink += (long)p & 1;
			free(p);
		}
	}
	if (strchr(what, 'w')) {
		for (int i = 0; i < 3; i++)
			sink += write(1, text, 10);
		for (int i = 0; i < 2; i++)
			sink += write(2, text, 100);
	}
	if (strchr(what, 'r')) {
		char buf[64];
		int z = syscall(SYS_openat, AT_FDCWD, "/dev/zero", O_RDONLY);
		for (int i = 0; i < 3; i++)
			sink += read(z, buf, 8);
		for (int i = 0; i < 2; i++)
			sink += read(z, buf, 64);
		close(z);
	}
	if (strchr(what, 'g')) {
		int p[2];
		char line[64];
		if (pipe(p) == 0 && write(p[1], "ab\ncd\nab\n", 9) == 9) {
			close(p[1]);
			dup2(p[0], 0);
			while (gets(line))
				sink++;
		}
	}
	if (strchr(what, 'e')) {
		char buf[8];
		for (int i = 0; i < 2; i++)
			sink += read(-1, buf, sizeof buf);
		sink += write(-1, buf, sizeof buf);
	}
	if (strchr(what, 'p')) {
		for (int i = 0; i < 3; i++)
			puts("hello");
		puts("world");
		for (int i = 0; i < 2; i++)
			printf("%d\n", i);
	}
	if (strchr(what, 'o')) {
		for (int i = 0; i < 2; i++)
			sink += open("test.txt", O_RDONLY);
		sink += open("other.txt", O_RDONLY);
	}
	if (strchr(what, 'f')) {
		for (int i = 0; i < 2; i++) {
			pid_t c = fork();
			if (c == 0)
				_exit(0);
			waitpid(c, NULL, 0);
		}
	}
	if (strchr(what, 'x')) {
		pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		for (int i = 0; i < 4; i++) {
			pthread_mutex_lock(&mu);
			sink++;
			pthread_mutex_unlock(&mu);
		}
	}
	if (strchr(what, 's')) {
		for (int i = 0; i < 7; i++)
			path_a(i);
		for (int i = 0; i < 3; i++)
			path_b(i);
	}
	if (strchr(what, 'l'))
		nest(3);
	if (strchr(what, 'n')) {
		struct timespec ts = {0, 1000};
		for (int i = 0; i < 3; i++)
			nanosleep(&ts, NULL);
		ts.tv_nsec = 300000;
		for (int i = 0; i < 2; i++)
			nanosleep(&ts, NULL);
	}
	while (strchr(what, 'L')) {
		free(malloc(32));
		usleep(1000);
	}
	// Stay a moment, so that the tracer reads the maps once more.
	usleep(200000);
	fflush(stdout);
	return 0;
}
