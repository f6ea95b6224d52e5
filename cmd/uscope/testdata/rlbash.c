// rlbash.c: a program named bash (bcc's bashreadline keeps the threads
// named bash) that reads its input with libreadline.so.8's readline until
// the end, for bashreadline -s. readline is declared here, so that only
// the library, not its headers, is needed.
#include <stdlib.h>

char *readline(const char *prompt);

int main(void) {
	char *l;
	while ((l = readline("")) != NULL)
		free(l);
	return 0;
}
