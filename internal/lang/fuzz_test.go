package lang

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkError checks that err is an *Error whose position lies in src and
// agrees with its offset.
func checkError(t *testing.T, err error, src string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	if e.Source != src {
		t.Fatalf("error Source differs from the input")
	}
	if e.Pos.IsValid() {
		if e.Pos.Offset < 0 || e.Pos.Offset > len(src) || e.Len < 1 {
			t.Fatalf("error position %+v (len %d) outside the input of %d bytes", e.Pos, e.Len, len(src))
		}
		if want := posOf(src, e.Pos.Offset); want != e.Pos {
			t.Fatalf("error position %+v, but its offset is at %+v", e.Pos, want)
		}
	} else if src != "" {
		t.Fatalf("error without a position: %v", e)
	}
	_ = e.Detail()
}

func FuzzParse(f *testing.F) {
	for _, s := range oneLiners {
		f.Add(s)
	}
	files, _ := filepath.Glob("testdata/*.bt")
	errFiles, _ := filepath.Glob("testdata/errors/*.bt")
	for _, file := range append(files, errFiles...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("uprobe:/bin/x:f /a / b/ { $x = (struct s **)p->q[1]; }")
	f.Add(`u:"a\"b":"c"+0x10,i:hz:99/!(1,2).0/{@[1]<<=-'\x41'}`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("fuzz.bt", src)
		if err != nil {
			checkError(t, err, src)
			return
		}
		checkPositions(t, p)
		checkRoundTrip(t, p)
	})
}

func FuzzParseTraceSpec(f *testing.F) {
	b, _ := os.ReadFile("testdata/trace/specs.txt")
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			f.Add(line)
		}
	}
	f.Add(`p:c:write(int fd, char *buf, size_t n) (fd == 1 && STRCMP("x", buf)) "%s %U %d", buf, arg2, ctx->ip`)
	f.Fuzz(func(t *testing.T, spec string) {
		probe, err := ParseTraceSpec(spec, TraceOptions{StrSize: 16})
		if err != nil {
			checkError(t, err, spec)
			return
		}
		prog := &Program{File: "trace", Source: spec, Probes: []*Probe{probe}}
		checkPositions(t, prog)
		checkRoundTrip(t, prog)
	})
}

// FuzzParseTypeString: any string either reads as a type whose String
// form reads back the same, or is refused; nothing panics.
func FuzzParseTypeString(f *testing.F) {
	for _, s := range []string{"uint64", "uint64 *", "struct Foo **", "int8[4]", "int8[]", "b *", "pid", "x[", "[1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, ok := ParseTypeString(s)
		if !ok {
			return
		}
		back, ok := ParseTypeString(ty.String())
		if !ok || back != ty {
			t.Errorf("ParseTypeString(%q) = %+v; its String %q reads back as %+v, %v", s, ty, ty.String(), back, ok)
		}
	})
}
