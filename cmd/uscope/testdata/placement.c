// Functions whose first instructions are chosen exactly (top-level asm), for
// the tests of entry probe placement (internal/placement). Each takes
// (a, b, c) in rdi, rsi, rdx and returns a value computed from them; main
// calls each N times (argv[1]) with known arguments.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

long f_cmpjcc(long a, long b, long c);
long f_testje(long a, long b, long c);
long f_movr11(long a, long b, long c);
long f_learax(long a, long b, long c);
long f_push(long a, long b, long c);
long f_loop(long a, long b, long c);
long f_writearg(long a, long b, long c);
long f_endbr(long a, long b, long c);

__asm__(
	".text\n"
	// cmp $0x2c,%rsi; ja 1f; lea (%rdi,%rsi),%rax; add %rdx,%rax; ret; 1: xor %eax,%eax; ret
	".globl f_cmpjcc\n.type f_cmpjcc,@function\nf_cmpjcc:\n"
	"  cmp $0x2c, %rsi\n  ja 1f\n  lea (%rdi,%rsi), %rax\n  add %rdx, %rax\n  ret\n1: xor %eax, %eax\n  ret\n"
	".size f_cmpjcc, .-f_cmpjcc\n"
	// test %rdi,%rdi; je 1f; ...
	".globl f_testje\n.type f_testje,@function\nf_testje:\n"
	"  test %rdi, %rdi\n  je 1f\n  lea (%rdi,%rsi), %rax\n  add %rdx, %rax\n  ret\n1: mov $-1, %rax\n  ret\n"
	".size f_testje, .-f_testje\n"
	// mov $7,%r11d (not an argument register); push %rbx; ...
	".globl f_movr11\n.type f_movr11,@function\nf_movr11:\n"
	"  mov $7, %r11d\n  push %rbx\n  lea (%rdi,%rsi), %rax\n  add %rdx, %rax\n  add %r11, %rax\n  pop %rbx\n  ret\n"
	".size f_movr11, .-f_movr11\n"
	// lea (%rdi,%rsi),%rax; push %rbx; ...
	".globl f_learax\n.type f_learax,@function\nf_learax:\n"
	"  lea (%rdi,%rsi), %rax\n  push %rbx\n  add %rdx, %rax\n  pop %rbx\n  ret\n"
	".size f_learax, .-f_learax\n"
	// push %rbp first: emulated already
	".globl f_push\n.type f_push,@function\nf_push:\n"
	"  push %rbp\n  lea (%rdi,%rsi), %rax\n  add %rdx, %rax\n  pop %rbp\n  ret\n"
	".size f_push, .-f_push\n"
	// a loop whose back edge jumps to the first instruction:
	// top: cmp $0,%rdx; je out; dec %rdx; jmp top; out: lea (%rdi,%rsi),%rax; ret
	".globl f_loop\n.type f_loop,@function\nf_loop:\n"
	"  cmp $0, %rdx\n  je 2f\n  dec %rdx\n  jmp f_loop\n2: lea (%rdi,%rsi), %rax\n  ret\n"
	".size f_loop, .-f_loop\n"
	// the first instruction writes an argument register: mov %rdx,%rcx; push %rbx
	".globl f_writearg\n.type f_writearg,@function\nf_writearg:\n"
	"  mov %rdx, %rcx\n  push %rbx\n  lea (%rdi,%rsi), %rax\n  add %rcx, %rax\n  pop %rbx\n  ret\n"
	".size f_writearg, .-f_writearg\n"
	// endbr64; test; jne
	".globl f_endbr\n.type f_endbr,@function\nf_endbr:\n"
	"  endbr64\n  test %rsi, %rsi\n  jne 1f\n  mov %rdi, %rax\n  ret\n1: lea (%rdi,%rsi), %rax\n  add %rdx, %rax\n  ret\n"
	".size f_endbr, .-f_endbr\n"
	// another symbol starts at the instruction the probe would move to
	// (listed only: code elsewhere may jump to g_alias_inner)
	".globl g_alias\n.type g_alias,@function\ng_alias:\n"
	"  cmp $0x2c, %rsi\n"
	".globl g_alias_inner\n.type g_alias_inner,@function\ng_alias_inner:\n"
	"  ja 1f\n  mov %rdi, %rax\n  ret\n1: xor %eax, %eax\n  ret\n"
	".size g_alias_inner, .-g_alias_inner\n"
	".size g_alias, .-g_alias\n");

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 3;
	long sum = 0;
	printf("addr f_cmpjcc %lx\naddr f_testje %lx\naddr f_movr11 %lx\naddr f_learax %lx\n",
	       (unsigned long)f_cmpjcc, (unsigned long)f_testje, (unsigned long)f_movr11, (unsigned long)f_learax);
	printf("addr f_push %lx\naddr f_loop %lx\naddr f_writearg %lx\naddr f_endbr %lx\n",
	       (unsigned long)f_push, (unsigned long)f_loop, (unsigned long)f_writearg, (unsigned long)f_endbr);
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		sum += f_cmpjcc(i, 7, 100);
		sum += f_testje(i + 1, 8, 200);
		sum += f_movr11(i, 9, 300);
		sum += f_learax(i, 10, 400);
		sum += f_push(i, 11, 500);
		sum += f_loop(i, 12, 2);
		sum += f_writearg(i, 13, 700);
		sum += f_endbr(i, 14, 800);
		// libc: write i % 3 + 1 bytes to fd 1 and free a block.
		char *volatile p = malloc(32 + i);
		write(1, "xyz", (size_t)(i % 3) + 1);
		free(p);
	}
	printf("\nsum %ld\n", sum);
	return 0;
}
