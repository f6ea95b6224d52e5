package attach

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/testutil"
)

// callsOf is how often the target program calls fI per round.
func callsOf(i int) uint64 { return uint64(i%7 + 1) }

// usdtFires is how often one round passes the semaphore-guarded USDT probe
// when the semaphore is enabled.
const usdtFires = 5

// targetSource is a C program with n noinline functions f0..f(n-1). Each
// line it reads from stdin runs one round: fI is called callsOf(I) times,
// then the USDT probe prov:name is passed usdtFires times behind its
// semaphore; it prints "done K" where K is how often the semaphore let it
// through. "q" or EOF ends it. badinsn is an int3 nobody calls.
func targetSource(n int) string {
	var b strings.Builder
	b.WriteString(`#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>

__extension__ unsigned short prov_name_semaphore __attribute__((unused)) __attribute__((section(".probes")));
#define PROV_NAME_ENABLED() __builtin_expect(prov_name_semaphore, 0)

volatile unsigned long sink;

__attribute__((noinline)) void never_called(void) {
	__asm__ volatile(".globl badinsn\nbadinsn: int3\n");
}
`)
	for i := range n {
		fmt.Fprintf(&b, "__attribute__((noinline)) void f%d(unsigned long x) { sink += x * %d + %d; }\n", i, i+3, i)
	}
	b.WriteString("static void (*const fns[])(unsigned long) = {")
	for i := range n {
		fmt.Fprintf(&b, "f%d,", i)
	}
	fmt.Fprintf(&b, `};

int main(void) {
	char line[64];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof line, stdin) && line[0] != 'q') {
		int fired = 0;
		for (int i = 0; i < %d; i++)
			for (int k = 0; k < i %% 7 + 1; k++)
				fns[i](k);
		for (int k = 0; k < %d; k++) {
			if (PROV_NAME_ENABLED()) {
				DTRACE_PROBE1(prov, name, k);
				fired++;
			}
		}
		printf("done %%d\n", fired);
	}
	return 0;
}
`, n, usdtFires)
	return b.String()
}

// target is a running copy of the target program.
type target struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	Pid   int
	bin   string
	t     testing.TB
	ended bool
}

// startTarget starts bin and waits until it is ready for a round. The
// process is killed and reaped at cleanup.
func startTarget(t testing.TB, bin string) *target {
	t.Helper()
	cmd := exec.Command(bin)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	tg := &target{cmd: cmd, in: in, out: bufio.NewReader(outPipe), Pid: cmd.Process.Pid, bin: bin, t: t}
	t.Cleanup(tg.stop)
	if line := tg.readLine(); line != "ready" {
		t.Fatalf("target said %q, want ready", line)
	}
	return tg
}

func (tg *target) readLine() string {
	tg.t.Helper()
	line, err := tg.out.ReadString('\n')
	if err != nil {
		tg.t.Fatalf("reading from target %d: %v", tg.Pid, err)
	}
	return strings.TrimSuffix(line, "\n")
}

// round runs one round and returns how often the USDT semaphore was seen on.
func (tg *target) round() int {
	tg.t.Helper()
	if _, err := io.WriteString(tg.in, "go\n"); err != nil {
		tg.t.Fatal(err)
	}
	line := tg.readLine()
	n, err := strconv.Atoi(strings.TrimPrefix(line, "done "))
	if err != nil {
		tg.t.Fatalf("target said %q, want done N", line)
	}
	return n
}

func (tg *target) stop() {
	if tg.ended {
		return
	}
	tg.ended = true
	tg.in.Close()
	_ = tg.cmd.Process.Kill()
	_ = tg.cmd.Wait()
}

// counter is a BPF program that counts hits per attach cookie in an array.
type counter struct {
	prog   *ebpf.Program
	counts *ebpf.Map
}

// newCounter hand-assembles the counting program for Attach with opts and
// closes it at cleanup.
func newCounter(t testing.TB, opts Options, entries int) *counter {
	t.Helper()
	return newCounterAs(t, ProgramAttachType(opts), entries)
}

func newCounterAs(t testing.TB, at ebpf.AttachType, entries int) *counter {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: uint32(entries)})
	if err != nil {
		t.Fatalf("create counts map: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:       ebpf.Kprobe,
		AttachType: at,
		License:    "GPL",
		Instructions: asm.Instructions{
			// key = (u32)bpf_get_attach_cookie(ctx); ctx is still in R1.
			asm.FnGetAttachCookie.Call(),
			asm.StoreMem(asm.RFP, -4, asm.R0, asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "out"),
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load counting program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return &counter{prog: prog, counts: m}
}

func (c *counter) get(t testing.TB, cookie uint32) uint64 {
	t.Helper()
	var v uint64
	if err := c.counts.Lookup(cookie, &v); err != nil {
		t.Fatalf("read count %d: %v", cookie, err)
	}
	return v
}

// newSet returns a Set that is closed at cleanup.
func newSet(t testing.TB) *Set {
	s := NewSet()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// binInfo is what the tests need to know about the target binary, found
// with debug/elf alone.
type binInfo struct {
	path    string
	funcs   map[string]uint64 // function name → file offset
	usdt    uint64            // file offset of the prov:name probe
	semaVA  uint64            // link-time address of prov_name_semaphore
	semaOff uint64            // its file offset
	loadVA  uint64            // lowest PT_LOAD address, page aligned
}

func fileOffset(f *elf.File, va uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && va >= p.Vaddr && va < p.Vaddr+p.Filesz {
			return va - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

func inspectBin(t testing.TB, path string) *binInfo {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bi := &binInfo{path: path, funcs: map[string]uint64{}, loadVA: ^uint64(0)}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			bi.loadVA = min(bi.loadVA, p.Vaddr&^0xfff)
		}
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Value == 0 {
			continue
		}
		switch {
		case s.Name == "prov_name_semaphore":
			bi.semaVA = s.Value
			off, ok := fileOffset(f, s.Value)
			if !ok {
				t.Fatal("semaphore not in a PT_LOAD")
			}
			bi.semaOff = off
		case elf.ST_TYPE(s.Info) == elf.STT_FUNC || s.Name == "badinsn":
			if off, ok := fileOffset(f, s.Value); ok {
				bi.funcs[s.Name] = off
			}
		}
	}
	// .note.stapsdt: namesz, descsz, type, "stapsdt\0", then pc, base,
	// semaphore and three strings.
	if sec := f.Section(".note.stapsdt"); sec != nil {
		data, err := sec.Data()
		if err != nil {
			t.Fatal(err)
		}
		var baseAddr uint64
		if b := f.Section(".stapsdt.base"); b != nil {
			baseAddr = b.Addr
		}
		for len(data) >= 12 {
			namesz := binary.LittleEndian.Uint32(data[0:])
			descsz := binary.LittleEndian.Uint32(data[4:])
			pos := 12 + (int(namesz)+3)&^3
			desc := data[pos : pos+int(descsz)]
			data = data[pos+(int(descsz)+3)&^3:]
			pc := binary.LittleEndian.Uint64(desc[0:])
			base := binary.LittleEndian.Uint64(desc[8:])
			strs := bytes.Split(desc[24:], []byte{0})
			if string(strs[0]) == "prov" && string(strs[1]) == "name" {
				if baseAddr != 0 {
					pc += baseAddr - base
				}
				off, ok := fileOffset(f, pc)
				if !ok {
					t.Fatal("USDT pc not in a PT_LOAD")
				}
				bi.usdt = off
			}
		}
	}
	if bi.semaVA == 0 || bi.usdt == 0 {
		t.Fatalf("%s: no prov:name USDT probe or semaphore found", path)
	}
	return bi
}

// sites returns sites for f0..f(n-1) with cookie I for fI.
func (bi *binInfo) sites(t testing.TB, n int) []Site {
	t.Helper()
	out := make([]Site, n)
	for i := range n {
		off, ok := bi.funcs["f"+strconv.Itoa(i)]
		if !ok {
			t.Fatalf("no symbol f%d", i)
		}
		out[i] = Site{Path: bi.path, Offset: off, Cookie: uint64(i)}
	}
	return out
}

// semaphore reads the 2-byte USDT semaphore in process pid through
// /proc/PID/mem, at the load bias taken from /proc/PID/maps.
func (bi *binInfo) semaphore(t testing.TB, pid int) uint16 {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(bi.path)
	if err != nil {
		t.Fatal(err)
	}
	var start uint64
	found := false
	for _, line := range strings.Split(string(maps), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[5] != real || fields[2] != "00000000" {
			continue
		}
		s, _, _ := strings.Cut(fields[0], "-")
		start, err = strconv.ParseUint(s, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		found = true
		break
	}
	if !found {
		t.Fatalf("%s not mapped in process %d", real, pid)
	}
	addr := start - bi.loadVA + bi.semaVA
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	var b [2]byte
	if _, err := mem.ReadAt(b[:], int64(addr)); err != nil {
		t.Fatalf("read semaphore of %d at %#x: %v", pid, addr, err)
	}
	return binary.LittleEndian.Uint16(b[:])
}

// buildTarget compiles the target program with n functions.
func buildTarget(t testing.TB, n int) *binInfo {
	t.Helper()
	bin := testutil.BuildC(t, "target", targetSource(n), "-O1")
	return inspectBin(t, bin)
}

func errnoOf(n int) syscall.Errno { return syscall.Errno(n) }

// mustExecutable returns the path of the running test binary.
func mustExecutable(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// inspectFuncs returns the file offsets of the function symbols of bin.
func inspectFuncs(t testing.TB, bin string) map[string]uint64 {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			if off, ok := fileOffset(f, s.Value); ok {
				out[s.Name] = off
			}
		}
	}
	return out
}
