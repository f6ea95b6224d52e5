package resolve

import "testing"

func TestParsePerfMap(t *testing.T) {
	data := []byte("3ef4c2a0 1e LazyCompile:~foo /tmp/x.js:1\n" +
		"0x1000 10 py::f:/a.py\n" +
		"bad line\n" +
		"zz 10 nothex\n" +
		"2000 0 empty\n" +
		"1000 8 rewritten\r\n")
	m := &perfMap{entries: parsePerfMap(data)}
	if len(m.entries) != 3 {
		t.Fatalf("entries = %+v, want 3", m.entries)
	}
	for _, c := range []struct {
		addr uint64
		name string
		ok   bool
	}{
		{0x3ef4c2a0, "LazyCompile:~foo /tmp/x.js:1", true},
		{0x3ef4c2bd, "LazyCompile:~foo /tmp/x.js:1", true},
		{0x3ef4c2be, "", false},
		{0x1004, "rewritten", true}, // the later line for an address wins
		{0x100c, "py::f:/a.py", true},
		{0x1010, "", false},
		{0xfff, "", false},
	} {
		e, ok := m.lookup(c.addr)
		if ok != c.ok || e.Name != c.name {
			t.Errorf("lookup(%#x) = %q, %v; want %q, %v", c.addr, e.Name, ok, c.name, c.ok)
		}
	}
}

func FuzzParsePerfMap(f *testing.F) {
	f.Add([]byte("3ef4c2a0 1e LazyCompile:~foo /tmp/x.js:1\n1000 8 a\n"))
	f.Add([]byte("ffffffffffffffff ffffffffffffffff x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &perfMap{entries: parsePerfMap(data)}
		for _, e := range m.entries {
			if _, ok := m.lookup(e.Start); !ok {
				t.Fatalf("entry %+v not found at its start", e)
			}
		}
	})
}
