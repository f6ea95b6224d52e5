// dynprobe.c: a process that creates a USDT probe at run time, the way
// libstapsdt does, for uscope's end-to-end tests. It writes a minimal ELF
// object with a .note.stapsdt into a memfd and maps it: the code page
// read+exec, the semaphore page read+write (both private mappings of the
// memfd, so the kernel's ref_ctr can enable the semaphore). The probe
// "uscope_dyn:hit" has three arguments in the registers of a C call:
//
//	-8@%rdi 8@%rsi -4@%edx   (long, const char *, int)
//
// It prints "ready", waits until the semaphore is set (a tracer attached),
// then fires the probe N times (argv[1], default 5), printing each
// "fired A S C" with the values it passed, and exits.
//
// With a second argument it creates the provider late, as a JIT does:
// "late" after 1.5 s, "gate" once a line arrives on stdin (it prints
// "started" first). Once mapped it calls __jit_debug_register_code, the
// GDB JIT interface's notification function that debuggers (and uscope)
// hook to learn of new in-memory code, and fires N times at once, without
// waiting for the semaphore.
#define _GNU_SOURCE
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 0x1000
#define TEXT 0x100  /* the probe stub: nop; ret */
#define BASE 0x110  /* .stapsdt.base */
#define NOTE 0x120  /* .note.stapsdt */
#define SEMA 0x1000 /* the semaphore, in the second page */

static const char args[] = "-8@%rdi 8@%rsi -4@%edx";
static const char shstr[] = "\0.text\0.stapsdt.base\0.note.stapsdt\0.probes\0.shstrtab";

static size_t build(unsigned char *img) {
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	eh->e_shentsize = sizeof(Elf64_Shdr);

	Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff);
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0, .p_vaddr = 0,
		.p_paddr = 0, .p_filesz = PAGE, .p_memsz = PAGE, .p_align = PAGE};
	ph[1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = SEMA, .p_vaddr = SEMA,
		.p_paddr = SEMA, .p_filesz = 2, .p_memsz = 2, .p_align = PAGE};

	img[TEXT] = 0x90;     /* nop: the probe point */
	img[TEXT + 1] = 0xc3; /* ret */

	/* The note: header, "stapsdt\0", pc, base, semaphore, strings. */
	unsigned char *n = img + NOTE;
	const char *prov = "uscope_dyn", *name = "hit";
	size_t desc = 3 * 8 + strlen(prov) + 1 + strlen(name) + 1 + sizeof(args);
	Elf64_Nhdr *nh = (Elf64_Nhdr *)n;
	nh->n_namesz = 8;
	nh->n_descsz = desc;
	nh->n_type = 3;
	memcpy(n + 12, "stapsdt", 8);
	uint64_t addrs[3] = {TEXT, BASE, SEMA};
	memcpy(n + 20, addrs, sizeof addrs);
	char *s = (char *)n + 20 + sizeof addrs;
	strcpy(s, prov);
	s += strlen(prov) + 1;
	strcpy(s, name);
	s += strlen(name) + 1;
	memcpy(s, args, sizeof args);
	size_t noteSize = (12 + 8 + desc + 3) & ~(size_t)3;

	size_t strOff = NOTE + noteSize;
	memcpy(img + strOff, shstr, sizeof shstr);
	size_t shOff = (strOff + sizeof shstr + 7) & ~(size_t)7;
	eh->e_shoff = shOff;
	eh->e_shnum = 6;
	eh->e_shstrndx = 5;
	Elf64_Shdr *sh = (Elf64_Shdr *)(img + shOff);
	/* Name offsets into shstr. */
	sh[1] = (Elf64_Shdr){.sh_name = 1, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
		.sh_addr = TEXT, .sh_offset = TEXT, .sh_size = 2, .sh_addralign = 1};
	sh[2] = (Elf64_Shdr){.sh_name = 7, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC,
		.sh_addr = BASE, .sh_offset = BASE, .sh_size = 1, .sh_addralign = 1};
	sh[3] = (Elf64_Shdr){.sh_name = 21, .sh_type = SHT_NOTE, .sh_offset = NOTE, .sh_size = noteSize,
		.sh_addralign = 4};
	sh[4] = (Elf64_Shdr){.sh_name = 35, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_WRITE,
		.sh_addr = SEMA, .sh_offset = SEMA, .sh_size = 2, .sh_addralign = 2};
	sh[5] = (Elf64_Shdr){.sh_name = 43, .sh_type = SHT_STRTAB, .sh_offset = strOff,
		.sh_size = sizeof shstr, .sh_addralign = 1};
	return 2 * PAGE;
}

/* The GDB JIT interface's hook: called after new code is in memory. */
__attribute__((noinline)) void __jit_debug_register_code(void) { __asm__ volatile(""); }

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 5;
	const char *mode = argc > 2 ? argv[2] : "";
	if (*mode) {
		printf("started %d\n", getpid());
		fflush(stdout);
		if (strcmp(mode, "gate") == 0) {
			char line[16];
			if (!fgets(line, sizeof line, stdin))
				return 1;
		} else {
			usleep(1500000);
		}
	}
	static unsigned char img[2 * PAGE];
	size_t size = build(img);
	int fd = memfd_create("uscope-dyn", MFD_CLOEXEC);
	if (fd < 0 || write(fd, img, size) != (ssize_t)size) {
		perror("memfd");
		return 1;
	}
	/* Reserve both pages, then map each segment from the memfd over them
	 * (the fd stays open, as libstapsdt keeps it). */
	unsigned char *base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED ||
	    mmap(base, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    mmap(base + SEMA, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, SEMA) == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	void (*fire)(long, const char *, int) = (void (*)(long, const char *, int))(base + TEXT);
	volatile uint16_t *sema = (volatile uint16_t *)(base + SEMA);
	if (*mode) {
		__jit_debug_register_code();
	} else {
		printf("ready %d\n", getpid());
		fflush(stdout);
		while (*sema == 0)
			usleep(1000);
	}
	char msg[32];
	for (int i = 1; i <= n; i++) {
		long a = -1000L * i - 7;
		int c = 3 - 2 * i;
		snprintf(msg, sizeof msg, "dyn-%d", i);
		fire(a, msg, c);
		printf("fired %ld %s %d\n", a, msg, c);
	}
	fflush(stdout);
	return 0;
}
