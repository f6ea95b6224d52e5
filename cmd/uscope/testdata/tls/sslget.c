/* A minimal HTTPS GET over OpenSSL, for a test that links OpenSSL
 * statically: connects to 127.0.0.1:PORT without verifying the (test's
 * self-signed) certificate, writes the request with SSL_write and prints
 * what SSL_read returns. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: sslget PORT PATH\n");
		return 2;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("connect");
		return 1;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, s);
	if (SSL_connect(ssl) != 1) {
		fprintf(stderr, "handshake failed\n");
		return 1;
	}
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", argv[2]);
	if (SSL_write(ssl, req, n) != n) {
		fprintf(stderr, "write failed\n");
		return 1;
	}
	char buf[4096];
	int r;
	while ((r = SSL_read(ssl, buf, sizeof buf)) > 0)
		fwrite(buf, 1, r, stdout);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(s);
	return 0;
}
