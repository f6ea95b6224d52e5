// lingerer PIDFILE [ignore]: a process tree that never ends on its own.
// The process forks a child, which forks a grandchild that leaves the
// session (setsid); each writes its pid on a line of PIDFILE and then
// sleeps forever. With "ignore", all three ignore SIGTERM, so that only
// SIGKILL ends them.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *file;

static void record(void) {
	char line[32];
	int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd >= 0) {
		write(fd, line, n);
		close(fd);
	}
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	file = argv[1];
	if (argc > 2 && strcmp(argv[2], "ignore") == 0)
		signal(SIGTERM, SIG_IGN);
	record();
	if (fork() == 0) {
		if (fork() == 0) {
			setsid();
			record();
			for (;;)
				pause();
		}
		record();
		for (;;)
			pause();
	}
	for (;;)
		pause();
}
