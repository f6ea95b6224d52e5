//go:build linux && (amd64 || arm64)

package stapsdt

import (
	"bufio"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/uscope/uscope/internal/testutil"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"myapp", true},
		{"request__start", true},
		{"_", true},
		{"A1_b2", true},
		{strings.Repeat("a", maxNameLen), true},
		{strings.Repeat("a", maxNameLen+1), false},
		{"", false},
		{"1abc", false},
		{"my-app", false},
		{"my app", false},
		{"a:b", false},
		{"a\x00b", false},
		{"héllo", false},
	}
	for _, tt := range tests {
		err := checkName("probe", tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if _, err := NewProvider(tt.name); (err == nil) != tt.ok {
			t.Errorf("NewProvider(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestAddProbe(t *testing.T) {
	p, err := NewProvider("addprobe")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []ArgType
		wantErr string
	}{
		{"first", []ArgType{String, Int64}, ""},
		{"six", []ArgType{Int8, Uint8, Int16, Uint16, Int32, Uint32}, ""},
		{"noargs", nil, ""},
		{"first", nil, "already declared"},
		{"seven", make([]ArgType, 7), "at most 6"},
		{"badtype", []ArgType{Int8, ArgType(42)}, "invalid type"},
		{"zerotype", []ArgType{0}, "invalid type"},
		{"bad-name", nil, "not allowed"},
	}
	for _, tt := range tests {
		pr, err := p.AddProbe(tt.name, tt.args...)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("AddProbe(%q, %v): %v", tt.name, tt.args, err)
				continue
			}
			if pr.Name() != tt.name || len(pr.Args()) != len(tt.args) {
				t.Errorf("AddProbe(%q, %v) = probe %q %v", tt.name, tt.args, pr.Name(), pr.Args())
			}
			if pr.Enabled() {
				t.Errorf("probe %s is enabled before Load", tt.name)
			}
			pr.Fire("x", 1) // no site yet: must do nothing
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("AddProbe(%q, %v) = %v, want an error containing %q", tt.name, tt.args, err, tt.wantErr)
		}
	}
}

// load creates, loads and registers the unloading of a provider with the
// given probes (all taking a String and an Int64).
func load(t *testing.T, name string, opts []Option, probes ...string) (*Provider, []*Probe) {
	t.Helper()
	p, err := NewProvider(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var prs []*Probe
	for _, n := range probes {
		pr, err := p.AddProbe(n, String, Int64)
		if err != nil {
			t.Fatal(err)
		}
		prs = append(prs, pr)
	}
	if err := p.Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() {
		if p.Path() != "" {
			p.Unload()
		}
	})
	return p, prs
}

func TestLifecycle(t *testing.T) {
	p, err := NewProvider("lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Load(); err == nil || !strings.Contains(err.Error(), "no probes") {
		t.Errorf("Load without probes: %v", err)
	}
	if err := p.Unload(); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Unload before Load: %v, want ErrNotLoaded", err)
	}
	pr, err := p.AddProbe("hit", Int64)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // a provider can be loaded again after Unload
		if err := p.Load(); err != nil {
			t.Fatalf("round %d: Load: %v", round, err)
		}
		if err := p.Load(); !errors.Is(err, ErrLoaded) {
			t.Errorf("second Load: %v, want ErrLoaded", err)
		}
		if _, err := p.AddProbe("late"); !errors.Is(err, ErrLoaded) {
			t.Errorf("AddProbe after Load: %v, want ErrLoaded", err)
		}
		if p.Path() == "" || pr.Enabled() {
			t.Errorf("loaded: Path %q, Enabled %v", p.Path(), pr.Enabled())
		}
		pr.Fire(1) // disabled: nothing happens
		if err := p.Unload(); err != nil {
			t.Fatalf("Unload: %v", err)
		}
		if err := p.Unload(); !errors.Is(err, ErrNotLoaded) {
			t.Errorf("second Unload: %v, want ErrNotLoaded", err)
		}
		if p.Path() != "" || pr.Enabled() {
			t.Errorf("unloaded: Path %q, Enabled %v", p.Path(), pr.Enabled())
		}
		pr.Fire(1)
	}
}

// setSemaphore stores v into a probe's semaphore, as the kernel does when a
// tracer attaches, so the enabled path can be tested without root.
func setSemaphore(pr *Probe, v uint32) { atomic.StoreUint32(pr.sema.Load(), v) }

func TestEnabledFollowsSemaphore(t *testing.T) {
	_, prs := load(t, "enabled", nil, "a", "b")
	for _, v := range []uint32{1, 2, 0} {
		setSemaphore(prs[0], v)
		if got := prs[0].Enabled(); got != (v != 0) {
			t.Errorf("semaphore %d: Enabled() = %v", v, got)
		}
		if prs[1].Enabled() {
			t.Errorf("semaphore of a set to %d enables b", v)
		}
	}
}

// TestFireCallsSite fires through the real site (nop5; ret) with the
// semaphore forced on: the trampoline must call it and come back.
func TestFireCallsSite(t *testing.T) {
	_, prs := load(t, "callsite", nil, "hit")
	setSemaphore(prs[0], 1)
	defer setSemaphore(prs[0], 0)
	for i := range 1000 {
		prs[0].Fire("path", i)
	}
	prs[0].Fire(strings.Repeat("long", 100), -1)
	prs[0].Fire()
}

func TestFireRegisters(t *testing.T) {
	if _, err := hostArch(); err != nil {
		t.Skip(err)
	}
	p, err := NewProvider("registers")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", scratchSize+10)
	ptr := unsafe.Pointer(&long)
	tests := []struct {
		name string
		args []ArgType
		fire []any
		want []uint64 // nil entries are not checked; ^0 marks a string
	}{
		{"widths", []ArgType{Int8, Uint8, Int16, Uint16, Int32, Uint32},
			[]any{int8(-8), uint8(200), int16(-1600), uint16(60000), int32(-320000), uint32(4000000000)},
			[]uint64{0xfffffffffffffff8, 200, 0xfffffffffffff9c0, 60000, 0xfffffffffffb1e00, 4000000000}},
		{"truncation", []ArgType{Int8, Uint8, Int16, Uint16, Int32, Uint32},
			[]any{0x1ff, 0x1ff, int64(0x18000), uint64(0x18000), -1, int64(-1)},
			[]uint64{^uint64(0), 0xff, 0xffffffffffff8000, 0x8000, ^uint64(0), 0xffffffff}},
		{"64-bit", []ArgType{Int64, Uint64, Pointer, Pointer, Int64, Uint64},
			[]any{int64(-1 << 40), uint64(1<<63 | 5), uintptr(0xdeadbeef), ptr, true, false},
			[]uint64{0xffffff0000000000, 1<<63 | 5, 0xdeadbeef, uint64(uintptr(ptr)), 1, 0}},
		{"other ints", []ArgType{Int64, Uint64, Int32, Uint16, Int64, Int64},
			[]any{int(-3), uint(7), int16(-2), uint32(0x12345), int8(-1), uint8(255)},
			[]uint64{0xfffffffffffffffd, 7, 0xfffffffffffffffe, 0x2345, ^uint64(0), 255}},
		{"unsupported types are 0", []ArgType{Int64, Int64, Int64},
			[]any{nil, 1.5, struct{}{}},
			[]uint64{0, 0, 0}},
		{"missing args are 0, extra ignored", []ArgType{Int64, Int64},
			[]any{int64(9)},
			[]uint64{9, 0, 0, 0, 0, 0}},
		{"strings", []ArgType{String, String, String, Int64},
			[]any{"short", []byte("bytes"), long, 5},
			[]uint64{^uint64(0), ^uint64(0), ^uint64(0), 5}},
		{"bytes first", []ArgType{String, String},
			[]any{[]byte("bytes"), "short"},
			[]uint64{^uint64(0), ^uint64(0)}},
		{"long string first", []ArgType{String, Int64},
			[]any{long, 6},
			[]uint64{^uint64(0), 6}},
		{"string to a Pointer", []ArgType{Pointer},
			[]any{"ptr"},
			[]uint64{^uint64(0)}},
	}
	probes := make([]*Probe, len(tests))
	for i, tt := range tests {
		if probes[i], err = p.AddProbe("p"+strconv.Itoa(i), tt.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Load(); err != nil {
		t.Fatal(err)
	}
	defer p.Unload()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := probes[i]
			setSemaphore(pr, 1)
			defer setSemaphore(pr, 0)
			_, firstIsString := tt.fire[0].(string)
			_, firstIsBytes := tt.fire[0].([]byte)
			pr.site.Store(recordArgsAddr())
			if firstIsString || firstIsBytes {
				pr.site.Store(recordStringAddr())
			}
			recorded = [MaxArgs]uint64{1, 1, 1, 1, 1, 1}
			recordedString = [16]byte{}
			pr.Fire(tt.fire...)
			got := recorded
			if firstIsString || firstIsBytes {
				var s string
				switch v := tt.fire[0].(type) {
				case string:
					s = v
				case []byte:
					s = string(v)
				}
				want := []byte(s + "\x00")[:min(len(s)+1, 16)]
				if got := recordedString[:len(want)]; string(got) != string(want) {
					t.Errorf("arg 0 points at %q, want %q", got, want)
				}
			}
			for j, w := range tt.want {
				switch {
				case w == ^uint64(0) && (tt.args[j] == String || tt.args[j] == Pointer):
					if got[j] == 0 {
						t.Errorf("arg %d: string passed as a nil pointer", j)
					}
				case got[j] != w:
					t.Errorf("arg %d (%v, %T %v): register %#x, want %#x", j, tt.args[j], tt.fire[min(j, len(tt.fire)-1)], tt.fire[min(j, len(tt.fire)-1)], got[j], w)
				}
			}
		})
	}
	runtime.KeepAlive(ptr)
}

func TestFireAllocs(t *testing.T) {
	_, prs := load(t, "allocs", nil, "hit")
	pr := prs[0]
	path, n := "/api/items/42", int64(42)
	if a := testing.AllocsPerRun(1000, func() { pr.Fire(path, n) }); a != 0 {
		t.Errorf("disabled Fire: %v allocations, want 0", a)
	}
	setSemaphore(pr, 1)
	defer setSemaphore(pr, 0)
	if a := testing.AllocsPerRun(1000, func() { pr.Fire(path, n) }); a != 0 {
		t.Errorf("enabled Fire with a short string: %v allocations, want 0", a)
	}
}

// mapsLine is one line of /proc/self/maps.
type mapsLine struct {
	start, end uint64
	perms      string
	offset     uint64
	inode      uint64
	path       string
}

func readMaps(t *testing.T) []mapsLine {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mapsLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		var l mapsLine
		se := strings.SplitN(fs[0], "-", 2)
		l.start, _ = strconv.ParseUint(se[0], 16, 64)
		l.end, _ = strconv.ParseUint(se[1], 16, 64)
		l.perms = fs[1]
		l.offset, _ = strconv.ParseUint(fs[2], 16, 64)
		l.inode, _ = strconv.ParseUint(fs[4], 10, 64)
		if len(fs) > 5 {
			l.path = strings.Join(fs[5:], " ")
		}
		out = append(out, l)
	}
	return out
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestMappingsAndUnload(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		memfd bool
	}{
		{"memfd", nil, true},
		{"file", []Option{WithoutMemfd(), WithTempDir(t.TempDir())}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, prs := load(t, "maps_"+tt.name, tt.opts, "a", "b")
			path := p.Path()
			ino := inode(t, path)
			if tt.memfd != strings.HasPrefix(path, "/proc/"+strconv.Itoa(os.Getpid())+"/fd/") {
				t.Errorf("Path() = %q, memfd %v", path, tt.memfd)
			}
			site := uint64(prs[0].site.Load())
			sema := uint64(uintptr(unsafe.Pointer(prs[1].sema.Load())))
			var text, data *mapsLine
			for _, l := range readMaps(t) {
				if l.inode != ino {
					continue
				}
				switch {
				case l.perms == "r-xp" && l.offset == 0 && text == nil:
					text = &l
				case l.perms == "rw-p" && l.offset != 0 && data == nil:
					data = &l
				default:
					t.Errorf("unexpected mapping of the provider file: %+v", l)
				}
			}
			if text == nil || data == nil {
				t.Fatalf("want an r-xp and an rw-p mapping of inode %d, got text %+v data %+v", ino, text, data)
			}
			if tt.memfd && !strings.HasPrefix(text.path, "/memfd:stapsdt-maps_memfd") {
				t.Errorf("memfd mapping named %q", text.path)
			}
			if !(text.start <= site && site < text.end) {
				t.Errorf("site %#x outside the text mapping %#x-%#x", site, text.start, text.end)
			}
			if !(data.start <= sema && sema < data.end) || sema-data.start+data.offset != sema-text.start {
				t.Errorf("semaphore %#x outside the data mapping %#x-%#x or at the wrong file offset", sema, data.start, data.end)
			}
			fd := -1
			if tt.memfd {
				fd, _ = strconv.Atoi(filepath.Base(path))
			}

			if err := p.Unload(); err != nil {
				t.Fatal(err)
			}
			for _, l := range readMaps(t) {
				if l.inode == ino || (l.start < text.end && text.start < l.end && l.path != "") {
					t.Errorf("mapping left after Unload: %+v", l)
				}
			}
			if fd >= 0 {
				fi, err := os.Stat("/proc/self/fd/" + strconv.Itoa(fd))
				if err == nil && fi.Sys().(*syscall.Stat_t).Ino == ino {
					t.Errorf("memfd %d still open after Unload", fd)
				}
			} else if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("file %s left after Unload: %v", path, err)
			}
		})
	}
}

func TestTempDirErrors(t *testing.T) {
	p, err := NewProvider("nodir", WithoutMemfd(), WithTempDir(filepath.Join(t.TempDir(), "missing")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddProbe("x"); err != nil {
		t.Fatal(err)
	}
	if err := p.Load(); err == nil || !strings.Contains(err.Error(), "nodir") {
		t.Errorf("Load into a missing directory: %v", err)
	}
}

// readelfNote is what readelf -n prints for one stapsdt note.
type readelfNote struct {
	provider, name, args string
	loc, base, sema      uint64
}

// parseReadelf reads GNU readelf -n output, e.g.
//
//	stapsdt   0x0000003c	NT_STAPSDT (SystemTap probe descriptors)	    Provider: myapp
//	Name: request__start
//	Location: 0x00000000000000f0, Base: 0x0000000000000110, Semaphore: 0x0000000000001000
//	Arguments: 8@%rdi -8@%rsi
func parseReadelf(t *testing.T, out string) []readelfNote {
	t.Helper()
	var notes []readelfNote
	hex := func(s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(s), "0x"), 16, 64)
		if err != nil {
			t.Fatalf("readelf: bad address %q", s)
		}
		return v
	}
	for _, line := range strings.Split(out, "\n") {
		// With --wide, "Provider:" follows the note header after a tab.
		line = strings.TrimSpace(line[strings.LastIndexByte(line, '\t')+1:])
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "Provider":
			notes = append(notes, readelfNote{provider: v})
		case "Name", "Arguments", "Location":
			if len(notes) == 0 {
				t.Fatalf("readelf: %q before any Provider line", line)
			}
		}
		switch k {
		case "Name":
			notes[len(notes)-1].name = v
		case "Arguments":
			notes[len(notes)-1].args = v
		case "Location":
			parts := strings.Split(line, ",")
			if len(parts) != 3 {
				t.Fatalf("readelf: unexpected %q", line)
			}
			n := &notes[len(notes)-1]
			n.loc = hex(strings.TrimPrefix(parts[0], "Location:"))
			n.base = hex(strings.TrimPrefix(strings.TrimSpace(parts[1]), "Base:"))
			n.sema = hex(strings.TrimPrefix(strings.TrimSpace(parts[2]), "Semaphore:"))
		}
	}
	return notes
}

// TestReadelf reads the loaded provider's notes with GNU readelf through
// /proc/PID/fd/N (or the fallback file), as another process would.
func TestReadelf(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	a, err := hostArch()
	if err != nil {
		t.Skip(err)
	}
	decl := []struct {
		name string
		args []ArgType
	}{
		{"request__start", []ArgType{String, Int64}},
		{"request__done", []ArgType{String, Int32, Uint8}},
		{"tick", nil},
		{"all", []ArgType{Int8, Uint16, Int32, Uint64, Pointer, String}},
	}
	for _, opts := range [][]Option{nil, {WithoutMemfd(), WithTempDir(t.TempDir())}} {
		p, err := NewProvider("readelf", opts...)
		if err != nil {
			t.Fatal(err)
		}
		var prs []*Probe
		for _, d := range decl {
			pr, err := p.AddProbe(d.name, d.args...)
			if err != nil {
				t.Fatal(err)
			}
			prs = append(prs, pr)
		}
		if err := p.Load(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(readelf, "-n", "--wide", p.Path()).CombinedOutput()
		if err != nil {
			p.Unload()
			t.Fatalf("readelf -n %s: %v\n%s", p.Path(), err, out)
		}
		notes := parseReadelf(t, string(out))
		if len(notes) != len(decl) {
			t.Errorf("readelf -n %s: %d notes, want %d\n%s", p.Path(), len(notes), len(decl), out)
		}
		ef, err := elf.Open(p.Path())
		if err != nil {
			t.Fatalf("debug/elf on %s: %v", p.Path(), err)
		}
		baseSec := ef.Section(".stapsdt.base")
		ef.Close()
		if baseSec == nil {
			t.Fatalf("%s has no .stapsdt.base", p.Path())
		}
		base := p.m.addr(0)
		for i, n := range notes[:min(len(notes), len(decl))] {
			d := decl[i]
			want := readelfNote{
				provider: "readelf", name: d.name, args: wantSpec(a.machine, d.args),
				loc:  uint64(prs[i].site.Load() - base),
				base: baseSec.Addr,
				sema: uint64(uintptr(unsafe.Pointer(prs[i].sema.Load())) - base),
			}
			if n != want {
				t.Errorf("readelf note %d: %+v, want %+v", i, n, want)
			}
		}
		secs, err := exec.Command(readelf, "-S", "--wide", p.Path()).CombinedOutput()
		if err != nil || !strings.Contains(string(secs), ".stapsdt.base") {
			t.Errorf("readelf -S: %v\n%s", err, secs)
		}
		if err := p.Unload(); err != nil {
			t.Fatal(err)
		}
	}
}
