package compile

import (
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

// sargN (bpftrace 0.17) compiles in uprobes and is refused, in one line,
// where there is no C stack at a function's entry to read.
func TestSarg(t *testing.T) {
	for _, n := range []string{"sarg0", "sarg1", "sarg31"} {
		if _, ok := sargIndex(n); !ok || lookupBuiltin(n, false) == nil {
			t.Errorf("%s not a builtin", n)
		}
	}
	for _, n := range []string{"sargN", "sarg", "sarg32", "sarg-1", "sargx"} {
		if lookupBuiltin(n, false) != nil {
			t.Errorf("%s is a builtin", n)
		}
	}
	ok := `uprobe:/bin/true:f { printf("%d %d\n", sarg0, sarg1); }`
	prog, err := lang.Parse("t", ok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(prog, Options{Resolver: fakeResolver{}}); err != nil {
		t.Errorf("%s: %v", ok, err)
	}
	for _, tc := range []struct{ src, want string }{
		{`uretprobe:/bin/true:f { printf("%d\n", sarg0); }`, `sarg0 is not available in a uretprobe`},
		{`BEGIN { printf("%d\n", sarg0); }`, `sarg0 is only available in uprobe`},
		{`usdt:/bin/true:p:n { printf("%d\n", sarg0); }`, `sarg0 is only available in uprobes`},
	} {
		prog, err := lang.Parse("t", tc.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(prog, Options{Resolver: fakeResolver{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}
