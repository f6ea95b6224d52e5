package attach

import (
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// synthBTF marshals a small type graph with cilium/ebpf: a struct with a
// bitfield (kind_flag offsets), a union, an enum, a function prototype and
// the struct looked for after them.
func synthBTF(t testing.TB) []byte {
	u32 := &btf.Int{Name: "u32", Size: 4}
	flags := &btf.Struct{Name: "flags", Size: 4, Members: []btf.Member{
		{Name: "a", Type: u32, Offset: 0, BitfieldSize: 3},
		{Name: "b", Type: u32, Offset: 3, BitfieldSize: 5},
	}}
	un := &btf.Union{Name: "u", Size: 8, Members: []btf.Member{{Name: "x", Type: u32}}}
	en := &btf.Enum{Name: "e", Size: 4, Values: []btf.EnumValue{{Name: "E1", Value: 1}, {Name: "E2", Value: 2}}}
	fp := &btf.FuncProto{Return: u32, Params: []btf.FuncParam{{Name: "p", Type: u32}}}
	task := &btf.Struct{Name: "task_struct", Size: 64, Members: []btf.Member{
		{Name: "state", Type: u32, Offset: 0},
		{Name: "f", Type: flags, Offset: 32},
		{Name: "pid", Type: u32, Offset: 8 * 40},
		{Name: "tgid", Type: u32, Offset: 8 * 44},
	}}
	b, err := btf.NewBuilder([]btf.Type{flags, un, en, &btf.Func{Name: "fn", Type: fp}, task}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestMemberOffsetSynthetic(t *testing.T) {
	raw := synthBTF(t)
	for _, c := range []struct {
		typ, field string
		off        uint32
		ok         bool
	}{
		{"task_struct", "pid", 40, true},
		{"task_struct", "tgid", 44, true},
		{"task_struct", "state", 0, true},
		{"task_struct", "nope", 0, false},
		{"flags", "a", 0, true},
		{"flags", "b", 0, false}, // at bit 3: no byte offset
		{"u", "x", 0, false},     // a union, not a struct
		{"missing", "pid", 0, false},
	} {
		off, ok := memberOffset(raw, c.typ, c.field)
		if off != c.off || ok != c.ok {
			t.Errorf("%s.%s: %d, %v; want %d, %v", c.typ, c.field, off, ok, c.off, c.ok)
		}
	}
	for n := range len(raw) {
		memberOffset(raw[:n], "task_struct", "pid") // truncated: no panic
	}
}

// TestMemberOffsetKernel compares the quick walk with cilium/ebpf's full
// decode of the running kernel's BTF.
func TestMemberOffsetKernel(t *testing.T) {
	raw, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Skip(err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"task_struct", "pid"}, {"task_struct", "tgid"}, {"task_struct", "real_parent"}, {"task_struct", "comm"}, {"cred", "uid"}} {
		var st *btf.Struct
		if err := spec.TypeByName(c[0], &st); err != nil {
			t.Fatal(err)
		}
		want := -1
		for _, m := range st.Members {
			if m.Name == c[1] {
				want = int(m.Offset.Bytes())
			}
		}
		got, ok := memberOffset(raw, c[0], c[1])
		if !ok || int(got) != want {
			t.Errorf("%s.%s: %d, %v; cilium/ebpf says %d", c[0], c[1], got, ok, want)
		}
	}
}

func FuzzMemberOffset(f *testing.F) {
	f.Add(synthBTF(f))
	f.Add([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		memberOffset(raw, "task_struct", "pid")
	})
}
