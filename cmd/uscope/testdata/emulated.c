// One function per instruction class the kernel may emulate at a uprobe,
// each beginning with that instruction: class_NAME. Run as `emulated NAME`:
// calls class_NAME once, then prints "xol yes" when the process now has the
// kernel's out-of-line single-step area ([uprobes] in /proc/self/maps,
// created the first time a probed instruction is single-stepped) and
// "xol no" when it has not.
#include <stdio.h>
#include <string.h>

#define CLASS(name, insns) \
	__asm__(".text\n.globl class_" #name "\n.type class_" #name ",@function\nclass_" #name ":\n" insns \
		"\n  ret\n.size class_" #name ", .-class_" #name "\n"); \
	void class_##name(void);

CLASS(nop, "  nop")
CLASS(nop66, "  .byte 0x66, 0x90")
CLASS(nop5, "  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00")
CLASS(nopl, "  .byte 0x0f, 0x1f, 0x40, 0x00")
CLASS(push, "  push %rbx\n  pop %rbx")
CLASS(jmp, "  jmp 1f\n1:")
CLASS(jcc, "  jne 1f\n1:")
CLASS(call, "  call 1f\n  ret\n1:")
CLASS(endbr64, "  endbr64")
CLASS(cmp, "  cmp $0, %rax")

static const struct {
	const char *name;
	void (*fn)(void);
} classes[] = {
	{"nop", class_nop}, {"nop66", class_nop66}, {"nop5", class_nop5}, {"nopl", class_nopl},
	{"push", class_push}, {"jmp", class_jmp}, {"jcc", class_jcc}, {"call", class_call},
	{"endbr64", class_endbr64}, {"cmp", class_cmp},
};

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
		if (strcmp(classes[i].name, argv[1]) != 0)
			continue;
		classes[i].fn();
		FILE *f = fopen("/proc/self/maps", "r");
		char line[512];
		int xol = 0;
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, "[uprobes]\n"))
				xol = 1;
		printf("xol %s\n", xol ? "yes" : "no");
		return 0;
	}
	return 2;
}
