package usdtbpf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/usdt"
)

// libbpfProgram is a C BPF program as a libbpf user writes it: "generic"
// reports every argument through bpf_usdt_arg() with its error, and
// "regs_macro" is declared with BPF_USDT(), which reads its eight
// parameters from the spec maps.
const libbpfProgram = `
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

struct rec { __u64 cookie; __u64 pid; __s64 cnt; __s64 err[12]; __s64 val[12]; };

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } events SEC(".maps");

SEC("usdt")
int generic(struct pt_regs *ctx)
{
	struct rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return 0;
	r->cookie = bpf_usdt_cookie(ctx);
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->cnt = bpf_usdt_arg_cnt(ctx);
	for (int i = 0; i < 12; i++) {
		long v = 0;
		r->err[i] = bpf_usdt_arg(ctx, i, &v);
		r->val[i] = v;
	}
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(regs_macro, long a, long b, long c, long d, long e, long f, long g, long h)
{
	struct rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r)
		return 0;
	__builtin_memset(r, 0, sizeof(*r));
	r->cookie = bpf_usdt_cookie(ctx);
	r->pid = bpf_get_current_pid_tgid() >> 32;
	r->cnt = 8;
	r->val[0] = a; r->val[1] = b; r->val[2] = c; r->val[3] = d;
	r->val[4] = e; r->val[5] = f; r->val[6] = g; r->val[7] = h;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`

const recSize = 3*8 + 2*MaxArgs*8

// rec is one record of either program.
type rec struct {
	cookie, pid uint64
	cnt         int64
	err, val    [MaxArgs]int64
}

func parseRec(b []byte) (rec, error) {
	var r rec
	if len(b) < recSize {
		return r, fmt.Errorf("short record of %d bytes", len(b))
	}
	le := binary.LittleEndian
	r.cookie, r.pid, r.cnt = le.Uint64(b), le.Uint64(b[8:]), int64(le.Uint64(b[16:]))
	for i := range MaxArgs {
		r.err[i] = int64(le.Uint64(b[24+8*i:]))
		r.val[i] = int64(le.Uint64(b[24+8*MaxArgs+8*i:]))
	}
	return r, nil
}

// cCollection builds libbpfProgram with Debian's clang and libbpf headers,
// loads it with cilium/ebpf and returns it with its spec maps and a reader
// of its records.
func cCollection(t *testing.T) (*ebpf.Collection, *Specs, *ringbuf.Reader) {
	t.Helper()
	testutil.RequireRoot(t)
	clang := testutil.RequireTool(t, "clang")
	testutil.RequireFile(t, "/usr/include/bpf/usdt.bpf.h")
	dir := t.TempDir()
	src, obj := filepath.Join(dir, "prog.bpf.c"), filepath.Join(dir, "prog.bpf.o")
	if err := os.WriteFile(src, []byte(libbpfProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I/usr/include/x86_64-linux-gnu", "-c", src, "-o", obj}
	if out, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("clang %v: %v\n%s", args, err, out)
	}
	spec, err := LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatalf("loading the libbpf program: %v", err)
	}
	t.Cleanup(coll.Close)
	specs, err := NewSpecs(coll)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return coll, specs, rd
}

// headerHasSIB reports whether the installed usdt.bpf.h reads
// base+index*scale arguments (libbpf 1.5 and later); Debian 12's 1.1 does
// not, and its bpf_usdt_arg returns -EINVAL for them.
func headerHasSIB(t *testing.T) bool {
	b, err := os.ReadFile("/usr/include/bpf/usdt.bpf.h")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), "BPF_USDT_ARG_SIB")
}

// libbpfReadable reports whether a libbpf reader gets argument a.
func libbpfReadable(a usdt.Arg, sib bool) bool {
	typ, _, _, _, _ := argLocation(a, 0)
	return typ != argInvalid && (typ != argSIB || sib)
}

// goProgram generates, for the sites of one probe, a program that writes a
// rec with every argument fetched by FetchArg: site i is told by its
// attach cookie base+i.
func goProgram(t *testing.T, sites []usdt.Site, base uint64, events *ebpf.Map) *ebpf.Program {
	t.Helper()
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.FnGetAttachCookie.Call(),
		asm.Mov.Reg(asm.R8, asm.R0),
		asm.LoadMapPtr(asm.R1, events.FD()),
		asm.Mov.Imm(asm.R2, recSize),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.StoreMem(asm.R9, 0, asm.R8, asm.DWord),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.R9, 8, asm.R0, asm.DWord),
	}
	// Zero the rest of the record.
	for off := int16(16); off < recSize; off += 8 {
		insns = append(insns, storeImm(asm.R9, off, 0))
	}
	for i, s := range sites {
		next := fmt.Sprintf("site%d", i+1)
		insns = append(insns,
			asm.LoadImm(asm.R1, int64(base)+int64(i), asm.DWord),
			asm.JNE.Reg(asm.R8, asm.R1, next),
			asm.Mov.Imm(asm.R0, int32(len(s.Args))),
			asm.StoreMem(asm.R9, 16, asm.R0, asm.DWord),
		)
		for n, a := range s.Args {
			fetch, err := FetchArg(a, s.Addr, asm.R6, -8)
			if err != nil {
				insns = append(insns, storeImm(asm.R9, int16(24+8*n), -22)) // -EINVAL, as libbpf
				continue
			}
			insns = append(insns, fetch...)
			insns = append(insns, asm.StoreMem(asm.R9, int16(24+8*MaxArgs+8*n), asm.R0, asm.DWord))
		}
		insns = append(insns, asm.Ja.Label("submit"), asm.Mov.Imm(asm.R0, 0).WithSymbol(next))
	}
	insns = append(insns,
		asm.Mov.Reg(asm.R1, asm.R9).WithSymbol("submit"),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRingbufSubmit.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: AttachType(false), License: "GPL", Instructions: insns})
	if err != nil {
		t.Fatalf("loading the generated program: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// drain reads records from rd until want of them came from pid (or the
// reader's deadline passes: then the test reports what it got).
func drain(t *testing.T, rd *ringbuf.Reader, pid int, want int) []rec {
	t.Helper()
	var out []rec
	rd.SetDeadline(time.Now().Add(10 * time.Second))
	for len(out) < want {
		r, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x, err := parseRec(r.RawSample)
		if err != nil {
			t.Fatal(err)
		}
		if int(x.pid) == pid {
			out = append(out, x)
		}
	}
	return out
}

func newRingbuf(t *testing.T) (*ebpf.Map, *ringbuf.Reader) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.RingBuf, MaxEntries: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close(); m.Close() })
	return m, rd
}

// format renders a record as usdtargs prints its "want" lines: the
// arguments a uprobe can fetch, signed or unsigned as the spec says; an
// argument a libbpf reader cannot get is "ERR" on both sides.
func format(name string, s usdt.Site, r rec, libbpf, sib bool) string {
	f := []string{name}
	for n, a := range s.Args {
		if a.Err != nil {
			continue
		}
		switch {
		case libbpf && !libbpfReadable(a, sib):
			f = append(f, "ERR")
		case a.Signed:
			f = append(f, strconv.FormatInt(r.val[n], 10))
		default:
			f = append(f, strconv.FormatUint(uint64(r.val[n]), 10))
		}
	}
	return strings.Join(f, " ")
}

// usdtargs builds cmd/uscope's USDT fixture, whose probes use every operand
// form and which prints the values it passes.
func usdtargs(t *testing.T, flags ...string) string {
	t.Helper()
	testutil.RequireFile(t, "/usr/include/x86_64-linux-gnu/sys/sdt.h")
	src, err := os.ReadFile("../../cmd/uscope/testdata/usdtargs.c")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.BuildC(t, "usdtargs", string(src), flags...)
}

var argProbes = []string{"consts", "regs", "mem", "sib", "sibstack", "rip", "rip2", "vec"}

// TestAttachArgumentForms attaches libbpf's C program (BPF_USDT,
// bpf_usdt_arg) and a program generated with FetchArg to every argument
// probe of usdtargs built four ways, and checks each reported value against
// what the program says it passed.
func TestAttachArgumentForms(t *testing.T) {
	coll, specs, crd := cCollection(t)
	sib := headerHasSIB(t)
	gomap, gord := newRingbuf(t)
	const hits = 3
	for _, v := range []struct {
		name  string
		flags []string
	}{
		{"O0", []string{"-O0"}},
		{"O2-pie", []string{"-O2", "-fPIE", "-pie"}},
		{"O2-nopie", []string{"-O2", "-fno-pie", "-no-pie"}},
		{"O3-nopie", []string{"-O3", "-fno-pie", "-no-pie"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			bin := usdtargs(t, v.flags...)
			siteOf := map[uint64]usdt.Site{} // cookie → a site of the probe (C side)
			goSites := map[uint64]usdt.Site{}
			var links []*Link
			defer func() {
				for _, l := range links {
					if err := l.Close(); err != nil {
						t.Error(err)
					}
				}
			}()
			for i, name := range argProbes {
				l, err := Attach(coll.Programs["generic"], Target{Path: bin}, "test", name, &Options{Specs: specs, Cookie: uint64(i)})
				if err != nil {
					t.Fatal(err)
				}
				links = append(links, l)
				ss := l.Sites()
				for _, s := range ss[1:] {
					if s.ArgsRaw != ss[0].ArgsRaw && !strings.Contains(s.ArgsRaw, "rip") {
						t.Fatalf("%s: sites differ in their specs (%q, %q); the test tells sites apart by probe only", name, ss[0].ArgsRaw, s.ArgsRaw)
					}
				}
				siteOf[uint64(i)] = ss[0]
				sites, err := Lookup(Target{Path: bin}, "test", name)
				if err != nil {
					t.Fatal(err)
				}
				base := uint64(16 * (i + 1))
				gl, err := Attach(goProgram(t, sites, base, gomap), Target{Path: bin}, "test", name, &Options{Cookie: base})
				if err != nil {
					t.Fatal(err)
				}
				links = append(links, gl)
				for k, s := range sites {
					goSites[base+uint64(k)] = s
				}
			}
			ml, err := Attach(coll.Programs["regs_macro"], Target{Path: bin}, "test", "regs", &Options{Specs: specs, Cookie: 100})
			if err != nil {
				t.Fatal(err)
			}
			links = append(links, ml)
			regsSite := ml.Sites()[0]

			cmd := exec.Command(bin, "args", strconv.Itoa(hits))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
			}
			pid := cmd.Process.Pid
			var want, wantC []string
			for _, l := range strings.Split(stderr.String(), "\n") {
				if rest, ok := strings.CutPrefix(l, "want "); ok {
					want = append(want, rest)
				}
			}
			if len(want) != hits*9 {
				t.Fatalf("the program reported %d probe hits, want %d\n%s", len(want), hits*9, stderr.String())
			}
			var macro []string
			// The C program's view: ERR where libbpf's reader cannot fetch.
			for _, w := range want {
				f := strings.Fields(w)
				var s usdt.Site
				for _, c := range siteOf {
					if c.Name == f[0] {
						s = c
					}
				}
				k := 1
				for _, a := range s.Args {
					if a.Err != nil {
						continue
					}
					if !libbpfReadable(a, sib) {
						f[k] = "ERR"
					}
					k++
				}
				wantC = append(wantC, strings.Join(f, " "))
				if f[0] == "regs" {
					macro = append(macro, w)
				}
			}
			var gotC, gotMacro, gotGo []string
			for _, r := range drain(t, crd, pid, len(want)+len(macro)) {
				if r.cookie == 100 {
					gotMacro = append(gotMacro, format("regs", regsSite, r, false, sib))
					continue
				}
				s, ok := siteOf[r.cookie]
				if !ok {
					t.Fatalf("record with cookie %d", r.cookie)
				}
				if int(r.cnt) != len(s.Args) {
					t.Errorf("%s: bpf_usdt_arg_cnt = %d, want %d", s.Name, r.cnt, len(s.Args))
				}
				for n, a := range s.Args {
					wantErr := int64(0)
					if !libbpfReadable(a, sib) {
						wantErr = -int64(syscall.EINVAL)
					}
					if r.err[n] != wantErr {
						t.Errorf("%s arg%d (%s): bpf_usdt_arg returned %d, want %d", s.Name, n, a.Raw, r.err[n], wantErr)
					}
				}
				if r.err[len(s.Args)] != -int64(syscall.ENOENT) {
					t.Errorf("%s: bpf_usdt_arg past the last argument returned %d, want -ENOENT", s.Name, r.err[len(s.Args)])
				}
				gotC = append(gotC, format(s.Name, s, r, true, sib))
			}
			for _, r := range drain(t, gord, pid, len(want)) {
				s, ok := goSites[r.cookie]
				if !ok {
					t.Fatalf("generated program: record with cookie %d", r.cookie)
				}
				gotGo = append(gotGo, format(s.Name, s, r, false, sib))
			}
			for _, l := range [][]string{want, wantC, macro, gotC, gotMacro, gotGo} {
				slices.Sort(l)
			}
			errs := strings.Count(strings.Join(wantC, " "), "ERR")
			t.Logf("%d probe hits; libbpf's reader (SIB: %v) read every argument but %d (SIB or no base register: -EINVAL); the generated program read all", len(want), sib, errs)
			if len(gotC) == 0 || len(gotGo) == 0 {
				t.Fatalf("no records")
			}
			if !slices.Equal(gotC, wantC) {
				t.Errorf("libbpf program (bpf_usdt_arg):\ngot  %q\nwant %q", gotC, wantC)
			}
			if !slices.Equal(gotMacro, macro) {
				t.Errorf("libbpf program (BPF_USDT):\ngot  %q\nwant %q", gotMacro, macro)
			}
			if !slices.Equal(gotGo, want) {
				t.Errorf("generated program (FetchArg):\ngot  %q\nwant %q", gotGo, want)
			}
		})
	}
}

// TestAttachSemaphore attaches to the semaphore-guarded probe of a running
// process found by PID alone: the process fires it only while attached.
func TestAttachSemaphore(t *testing.T) {
	coll, specs, crd := cCollection(t)
	bin := usdtargs(t, "-O2")
	cmd := exec.Command(bin, "guarded")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("usdtargs ended: %v", lines.Err())
		}
		return lines.Text()
	}
	poke := func(want string) {
		t.Helper()
		if _, err := io.WriteString(stdin, "x\n"); err != nil {
			t.Fatal(err)
		}
		if got := next(); got != want {
			t.Fatalf("usdtargs said %q, want %q", got, want)
		}
	}
	pid := cmd.Process.Pid
	if got := next(); got != fmt.Sprintf("ready %d", pid) {
		t.Fatalf("usdtargs said %q", got)
	}
	poke("skipped 1")
	l, err := Attach(coll.Programs["generic"], Target{PID: pid}, "test", "guarded", &Options{Specs: specs, Cookie: 7})
	if err != nil {
		t.Fatal(err)
	}
	if s := l.Sites(); len(s) != 1 || s[0].SemaphoreOffset == 0 {
		t.Fatalf("sites %+v, want one with a semaphore", s)
	}
	poke("fired 2")
	poke("fired 3")
	recs := drain(t, crd, pid, 2)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for i, r := range recs {
		if r.cookie != 7 || r.cnt != 2 || r.err[0] != 0 || r.err[1] != 0 || r.val[0] != int64(pid) || r.val[1] != int64(i+2) {
			t.Errorf("record %d: cookie %d, %d args %v (errors %v); want cookie 7, args %d %d", i, r.cookie, r.cnt, r.val[:2], r.err[:2], pid, i+2)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	poke("skipped 4")
}

// TestAttachPython attaches both programs to CPython 3.11's gc__start,
// whose argument is the generation gc.collect() was called with.
func TestAttachPython(t *testing.T) {
	const python = "/usr/bin/python3.11"
	coll, specs, crd := cCollection(t)
	testutil.RequireFile(t, python)
	gomap, gord := newRingbuf(t)
	l, err := Attach(coll.Programs["generic"], Target{Path: python}, "python", "gc__start", &Options{Specs: specs, Cookie: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sites, err := Lookup(Target{Path: python}, "python", "gc__start")
	if err != nil {
		t.Fatal(err)
	}
	gl, err := Attach(goProgram(t, sites, 0, gomap), Target{Path: python}, "python", "gc__start", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	cmd := exec.Command(python, "-c", "import gc\ngc.disable()\ngc.collect(2)\ngc.collect(1)\ngc.collect(0)\nprint('done')")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "done" {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	pid := cmd.Process.Pid
	for _, side := range []struct {
		name string
		rd   *ringbuf.Reader
	}{{"libbpf program", crd}, {"generated program", gord}} {
		// Interpreter start-up and shutdown collect too; the three calls
		// after gc.disable() are consecutive.
		var gens []int64
		for _, r := range drain(t, side.rd, pid, 1<<20) {
			if r.cnt != 1 || r.err[0] != 0 {
				t.Errorf("%s: record %+v", side.name, r)
			}
			gens = append(gens, r.val[0])
		}
		found := false
		for i := 0; i+3 <= len(gens); i++ {
			found = found || slices.Equal(gens[i:i+3], []int64{2, 1, 0})
		}
		for _, g := range gens {
			if g < 0 || g > 2 {
				t.Errorf("%s: generation %d", side.name, g)
			}
		}
		if !found {
			t.Errorf("%s: generations %v lack the calls' 2 1 0", side.name, gens)
		}
	}
}

// storeImm stores a 64-bit immediate (asm.StoreImm encodes another mode).
func storeImm(dst asm.Register, off int16, v int64) asm.Instruction {
	return asm.Instruction{OpCode: asm.StoreImmOp(asm.DWord), Dst: dst, Offset: off, Constant: v}
}
