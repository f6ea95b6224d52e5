// forker [wait] BIN [ARGS...]: starts BIN three times, by fork+exec,
// vfork+exec and posix_spawn, and waits for the three. With "wait", it
// first reads one byte from standard input, so that a tracer given its pid
// can attach before the children exist.
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	int a = 1;
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		char c;
		if (read(0, &c, 1) != 1)
			return 2;
		a = 2;
	}
	if (a >= argc)
		return 2;
	char **child = argv + a;
	pid_t p = fork();
	if (p == 0) {
		execv(child[0], child);
		_exit(127);
	}
	waitpid(p, NULL, 0);
	p = vfork();
	if (p == 0) {
		execv(child[0], child);
		_exit(127);
	}
	waitpid(p, NULL, 0);
	if (posix_spawn(&p, child[0], NULL, NULL, child, environ) != 0)
		return 3;
	int st, bad = 0;
	waitpid(p, &st, 0);
	bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	return bad;
}
