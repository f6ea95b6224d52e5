#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum color { RED, GREEN = 5, BLUE };
struct hdr { uint32_t len; uint16_t flags; char tag[8]; };
struct req { int id; struct hdr hdr; struct hdr *hp; const char *path; int vals[3]; };
struct wrap { struct req *req; };
struct small { int a; int b; };
struct pair { long x; long y; };
struct big { long a, b, c; };
typedef int (*cb_t)(int);

volatile long sink;

__attribute__((noipa)) int callback(int x) { return x + 1; }

__attribute__((noipa)) int ints(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, uint32_t f) {
	sink += a + b + c + d + e + f;
	return a + f;
}

__attribute__((noipa)) long wide(int64_t g, uint64_t h, bool t, enum color col, char ch, const char *s) {
	sink += g + (long)h + t + col + ch + s[0];
	return g;
}

__attribute__((noipa)) int byref(struct req *r, struct wrap *w) {
	sink += r->id + w->req->hdr.len;
	return r->id;
}

__attribute__((noipa)) long byval(struct small s, struct pair p, struct big b, cb_t fn) {
	sink += s.a + s.b + p.x + p.y + b.a + b.b + b.c + fn(1);
	return s.a;
}

__attribute__((noipa)) long helper(long v) { return v * 3; }

/* After the call, x is dead: at -O2 DWARF locates it there no more. */
__attribute__((noipa)) long clobber(long x, long y) {
	long r = helper(x);
	sink += r;
	r += helper(y);
	sink += y;
	return r;
}

static struct req global_req;

__attribute__((noipa)) struct req *getreq(int id) {
	global_req.id = id;
	return &global_req;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	struct hdr h2 = { .len = 4242, .flags = 7, .tag = "inner" };
	struct req r = { .id = 17, .hdr = { .len = 99, .flags = 3, .tag = "hello" }, .hp = &h2, .path = "/srv/index.html", .vals = { 1, 2, 3 } };
	struct wrap w = { .req = &r };
	struct small s = { 11, -12 };
	struct pair p = { 1L << 40, -5 };
	struct big b = { 100, 200, 300 };
	const char *text = "a string";
	sink += text[0];
	for (int i = 0; i < n; i++) {
		ints(-5, 250, -30000, 65000, -2000000000, 4000000000u);
		wide(-(1LL << 50), 18000000000000000000ull, true, BLUE, 'x', text);
		byref(&r, &w);
		byval(s, p, b, callback);
		getreq(1234 + i);
		clobber(71, 72);
	}
	/* Alive a little longer, so that addresses are symbolized in its maps. */
	if (argc > 2)
		sleep(atoi(argv[2]));
	printf("done %ld\n", sink);
	return 0;
}
