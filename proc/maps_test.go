package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/testutil"
)

func TestParseMapsLine(t *testing.T) {
	tests := []struct {
		line string
		want Mapping
		err  bool
	}{
		{
			line: "55d0c3a00000-55d0c3a27000 r-xp 00028000 fd:01 1835053                    /usr/bin/cat",
			want: Mapping{Start: 0x55d0c3a00000, End: 0x55d0c3a27000, Perms: Perms{Read: true, Exec: true}, Offset: 0x28000, Major: 0xfd, Minor: 1, Inode: 1835053, Path: "/usr/bin/cat"},
		},
		{
			line: "7f0000000000-7f0000001000 rw-s 00000000 00:01 4242 /memfd:jit code (deleted)",
			want: Mapping{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: Perms{Read: true, Write: true, Shared: true}, Minor: 1, Inode: 4242, Path: "/memfd:jit code", Deleted: true, Memfd: true},
		},
		{
			line: "7f0000000000-7f0000001000 r-xp 00001000 08:02 77 /tmp/my lib.so (deleted)",
			want: Mapping{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: Perms{Read: true, Exec: true}, Offset: 0x1000, Major: 8, Minor: 2, Inode: 77, Path: "/tmp/my lib.so", Deleted: true},
		},
		{
			line: "7ffd5c3e4000-7ffd5c405000 rw-p 00000000 00:00 0                          [stack]",
			want: Mapping{Start: 0x7ffd5c3e4000, End: 0x7ffd5c405000, Perms: Perms{Read: true, Write: true}, Path: "[stack]"},
		},
		{
			line: "7f1e2c000000-7f1e2c021000 rw-p 00000000 00:00 0 ",
			want: Mapping{Start: 0x7f1e2c000000, End: 0x7f1e2c021000, Perms: Perms{Read: true, Write: true}},
		},
		{
			line: "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
			want: Mapping{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: Perms{Exec: true}, Path: "[vsyscall]"},
		},
		{line: "", err: true},
		{line: "zzzz-1000 r-xp 0 00:00 0", err: true},
		{line: "2000-1000 r-xp 0 00:00 0", err: true},
		{line: "1000-2000 r-x 0 00:00 0", err: true},
		{line: "1000-2000 r-xp zz 00:00 0", err: true},
		{line: "1000-2000 r-xp 0 0000 0", err: true},
		{line: "1000-2000 r-xp 0 00:00 x", err: true},
		{line: "1000-2000 r-xp 0 00:00", err: true},
	}
	for _, tt := range tests {
		got, err := ParseMapsLine(tt.line)
		if tt.err {
			if err == nil {
				t.Errorf("ParseMapsLine(%q) = %+v, want an error", tt.line, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMapsLine(%q)\n got %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
	if s := (Perms{Read: true, Exec: true}).String(); s != "r-xp" {
		t.Errorf("Perms.String = %q", s)
	}
}

func TestMapsOfSelf(t *testing.T) {
	maps, err := Maps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, deleted, err := Exe(os.Getpid())
	if err != nil || deleted {
		t.Fatalf("Exe = %q, %v, %v", exe, deleted, err)
	}
	var execMapped, stack bool
	for _, m := range maps {
		if m.Path == exe && m.Perms.Exec {
			execMapped = true
		}
		if m.Path == "[stack]" {
			stack = true
		}
	}
	if !execMapped || !stack {
		t.Errorf("maps of self: executable mapped %v, stack %v", execMapped, stack)
	}
	if !Exists(os.Getpid()) || Exists(-1) || Exists(0) {
		t.Errorf("Exists is wrong")
	}
	if Root(42) != "/proc/42/root" {
		t.Errorf("Root = %q", Root(42))
	}
}

func TestNoProcess(t *testing.T) {
	// PIDs above the kernel's pid_max never exist.
	const pid = 1 << 23
	for _, err := range []error{
		func() error { _, err := Maps(pid); return err }(),
		func() error { _, err := Objects(pid); return err }(),
		func() error { _, _, err := Exe(pid); return err }(),
	} {
		if !errors.Is(err, ErrNoProcess) || err.Error() != "process 8388608 does not exist" {
			t.Errorf("error = %v, want %q", err, "process 8388608 does not exist")
		}
	}
}

// funcAddr returns the address of the machine code of a Go function.
func funcAddr(fn func()) uint64 {
	return uint64(**(**uintptr)(unsafe.Pointer(&fn)))
}

func marker() {}

func TestObjectsOfSelf(t *testing.T) {
	objs, err := Objects(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _, _ := Exe(os.Getpid())
	var self *Object
	for i := range objs {
		o := &objs[i]
		if o.Exe {
			if self != nil {
				t.Errorf("two executables: %s and %s", self.Path, o.Path)
			}
			self = o
		}
		if o.OpenPath == "" || len(o.Mappings) == 0 {
			t.Errorf("object %+v lacks a path or mappings", o)
		}
	}
	if self == nil || self.Path != exe {
		t.Fatalf("executable %q not among %d objects", exe, len(objs))
	}
	if self.OpenPath != Root(os.Getpid())+exe {
		t.Errorf("OpenPath = %q", self.OpenPath)
	}
	// The bias maps the link-time address of a function (from pclntab:
	// go test strips .symtab) to where it runs.
	b, err := gobin.OpenFile(self.OpenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fn, ok := b.FuncByName("github.com/uscope/uscope/proc.marker")
	if !ok {
		t.Fatal("marker not in pclntab")
	}
	if got := self.RuntimeAddr(fn.Entry); got != funcAddr(marker) {
		t.Errorf("runtime address of marker = %#x (bias %#x), want %#x", got, self.Bias, funcAddr(marker))
	}
	if !self.Contains(funcAddr(marker)) || self.LinkAddr(funcAddr(marker)) != fn.Entry {
		t.Errorf("Contains/LinkAddr disagree")
	}
}

// smallELF returns the bytes of a small installed ELF executable.
func smallELF(t *testing.T) []byte {
	t.Helper()
	testutil.RequireFile(t, "/usr/bin/true")
	b, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mapExec maps the first page-aligned executable part of fd into this
// process, PROT_EXEC, and unmaps it at cleanup.
func mapExec(t *testing.T, fd int, size int) []byte {
	t.Helper()
	m, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap PROT_EXEC: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}

func findObject(t *testing.T, pred func(*Object) bool) *Object {
	t.Helper()
	objs, err := Objects(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs {
		if pred(&objs[i]) {
			return &objs[i]
		}
	}
	return nil
}

func TestMemfdObject(t *testing.T) {
	testutil.RequireRoot(t) // map_files needs CAP_SYS_ADMIN
	b := smallELF(t)
	fd, err := unix.MemfdCreate("uscope-test-memfd", unix.MFD_CLOEXEC)
	if err != nil {
		t.Skipf("memfd_create: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.Write(fd, b); err != nil {
		t.Fatal(err)
	}
	mapExec(t, fd, len(b))
	o := findObject(t, func(o *Object) bool { return o.Path == "/memfd:uscope-test-memfd" })
	if o == nil {
		t.Fatal("memfd mapping not among the objects")
	}
	if !o.Memfd || !o.Deleted || !strings.Contains(o.OpenPath, "/map_files/") {
		t.Errorf("memfd object = %+v", o)
	}
	f, err := elfx.Open(o.OpenPath)
	if err != nil {
		t.Fatalf("open memfd through %s: %v", o.OpenPath, err)
	}
	f.Close()
}

func TestDeletedObject(t *testing.T) {
	testutil.RequireRoot(t)
	b := smallELF(t)
	p := filepath.Join(t.TempDir(), "gone.bin")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mapExec(t, fd, len(b))
	unix.Close(fd)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	o := findObject(t, func(o *Object) bool { return o.Path == p })
	if o == nil {
		t.Fatal("deleted mapping not among the objects")
	}
	if !o.Deleted || o.Memfd || !strings.Contains(o.OpenPath, "/map_files/") {
		t.Errorf("deleted object = %+v", o)
	}
	f, err := elfx.Open(o.OpenPath)
	if err != nil {
		t.Fatalf("open deleted file through %s: %v", o.OpenPath, err)
	}
	f.Close()
}

func TestObjectsOfChild(t *testing.T) {
	sleep := testutil.RequireTool(t, "sleep")
	cmd := exec.Command(sleep, "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The dynamic loader may still be mapping libraries: read the
	// objects until libc shows up (a bounded number of times, no clock).
	var objs []Object
	for try := 0; try < 100000; try++ {
		var err error
		objs, err = Objects(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) > 2 {
			break
		}
	}
	var haveExe, haveLibc bool
	for _, o := range objs {
		if o.Exe && filepath.Base(o.Path) == "sleep" {
			haveExe = true
		}
		if strings.HasPrefix(filepath.Base(o.Path), "libc.so") {
			haveLibc = true
			if o.Bias == 0 {
				t.Errorf("libc has bias 0")
			}
		}
	}
	if !haveExe || !haveLibc {
		t.Errorf("objects of sleep: exe %v, libc %v: %+v", haveExe, haveLibc, objs)
	}
}

func TestLoadBias(t *testing.T) {
	loads := []load{
		{vaddr: 0, off: 0, filesz: 0x1290},
		{vaddr: 0x2000, off: 0x2000, filesz: 0x3d59, flags: 1},
		{vaddr: 0x8d70, off: 0x7d70, filesz: 0x470},
	}
	m := Mapping{Start: 0x555555556000, Offset: 0x2000, Perms: Perms{Exec: true}}
	b, ok := loadBias(m, loads)
	if !ok || b != 0x555555554000 {
		t.Errorf("bias = %#x, %v", b, ok)
	}
	// Unaligned segment: the mapping starts on the page below p_offset.
	loads = []load{{vaddr: 0x401120, off: 0x1120, filesz: 0x200, flags: 1}}
	m = Mapping{Start: 0x401000, Offset: 0x1000}
	if b, ok := loadBias(m, loads); !ok || b != 0 {
		t.Errorf("non-PIE bias = %#x, %v", b, ok)
	}
	if _, ok := loadBias(Mapping{Offset: 0x9000}, loads); ok {
		t.Errorf("bias found for an offset in no segment")
	}
}

func FuzzParseMapsLine(f *testing.F) {
	for _, s := range []string{
		"55d0c3a00000-55d0c3a27000 r-xp 00028000 fd:01 1835053                    /usr/bin/cat",
		"7f0000000000-7f0000001000 rw-s 00000000 00:01 4242 /memfd:jit (deleted)",
		"7ffd5c3e4000-7ffd5c405000 rw-p 00000000 00:00 0                          [stack]",
		"1-2 ---p 0 0:0 0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMapsLine(line)
		if err == nil && m.End < m.Start {
			t.Errorf("accepted a range that ends before it starts: %q", line)
		}
		_, _ = ParseMaps([]byte(line + "\n" + line))
	})
}

func FuzzParseLoads(f *testing.F) {
	if b, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseLoads(readerAt(b))
	})
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(r)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, errors.New("EOF")
	}
	return n, nil
}
