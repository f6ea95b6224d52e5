// hostlookup.c: the workload of the gethostlatency tests. With "wait" as
// argv[1] it prints "ready" and waits for a line on stdin first. Then it
// looks up argv[2] with getaddrinfo three times, argv[3] with
// gethostbyname twice and argv[4] with gethostbyname2 (AF_INET6) once, and
// prints "done". The names come from argv, memory the process has touched
// (a BPF program cannot fault in a page of .rodata never read).
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
	char line[16];
	if (argc < 5)
		return 2;
	if (strcmp(argv[1], "wait") == 0) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof line, stdin))
			return 1;
	}
	for (int i = 0; i < 3; i++) {
		struct addrinfo *r = NULL;
		if (getaddrinfo(argv[2], NULL, NULL, &r) == 0)
			freeaddrinfo(r);
	}
	for (int i = 0; i < 2; i++)
		gethostbyname(argv[3]);
	gethostbyname2(argv[4], AF_INET6);
	printf("done\n");
	fflush(stdout);
	return 0;
}
