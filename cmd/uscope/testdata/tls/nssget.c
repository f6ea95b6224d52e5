/* A minimal HTTPS GET over NSS: connects to 127.0.0.1:PORT, accepts any
 * certificate (the test's self-signed one), writes the request with
 * PR_Write and prints what PR_Read returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nspr.h>
#include <nss.h>
#include <ssl.h>

static SECStatus accept_any(void *arg, PRFileDesc *fd, PRBool checksig, PRBool isServer) {
	return SECSuccess;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: nssget PORT PATH\n");
		return 2;
	}
	if (NSS_NoDB_Init(NULL) != SECSuccess || NSS_SetDomesticPolicy() != SECSuccess) {
		fprintf(stderr, "NSS init failed\n");
		return 1;
	}
	PRFileDesc *tcp = PR_NewTCPSocket();
	PRFileDesc *fd = SSL_ImportFD(NULL, tcp);
	if (!fd) {
		fprintf(stderr, "SSL_ImportFD failed\n");
		return 1;
	}
	SSL_OptionSet(fd, SSL_SECURITY, PR_TRUE);
	SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE);
	SSL_AuthCertificateHook(fd, accept_any, NULL);
	SSL_SetURL(fd, "127.0.0.1");
	PRNetAddr addr;
	PR_InitializeNetAddr(PR_IpAddrLoopback, (PRUint16)atoi(argv[1]), &addr);
	if (PR_Connect(fd, &addr, PR_SecondsToInterval(10)) != PR_SUCCESS) {
		fprintf(stderr, "connect failed: %d\n", PR_GetError());
		return 1;
	}
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", argv[2]);
	if (PR_Write(fd, req, n) != n) {
		fprintf(stderr, "write failed: %d\n", PR_GetError());
		return 1;
	}
	char buf[4096];
	PRInt32 r;
	while ((r = PR_Read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, r, stdout);
	PR_Close(fd);
	NSS_Shutdown();
	return r < 0 && PR_GetError() != PR_END_OF_FILE_ERROR ? 1 : 0;
}
