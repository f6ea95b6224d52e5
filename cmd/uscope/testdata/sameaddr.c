// sameaddr: a USDT probe guarded by a semaphore at the first instruction
// of a function, so that a uprobe on the function and the USDT probe share
// one address. hit() runs 1000 times; main prints how many of those calls
// saw the semaphore set.
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <sys/sdt.h>

unsigned short test_sema_semaphore __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline)) void hit(long x) { STAP_PROBE1(test, sema, x); }

int main(void) {
	int enabled = 0;
	for (long i = 0; i < 1000; i++) {
		enabled += test_sema_semaphore != 0;
		hit(i);
	}
	printf("enabled %d\n", enabled);
	return 0;
}
