package resolve

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

func TestParseListPattern(t *testing.T) {
	tests := []struct {
		pattern string
		kinds   []string
		all     bool
		line    string // a line that must match
		not     string // a line that must not match
	}{
		{"", []string{"uprobe", "usdt"}, true, "uprobe:/x:f", ""},
		{"*", []string{"uprobe", "usdt"}, true, "usdt:/x:p:n", ""},
		{"usdt:*", []string{"usdt"}, true, "usdt:/x:p:n", ""},
		{"U:*", []string{"usdt"}, true, "usdt:/x:p:n", ""},
		{"u:*:SSL_*", []string{"uprobe"}, false, "uprobe:/lib/libssl.so.3:SSL_read", "uprobe:/lib/libssl.so.3:ssl_read"},
		{"ur:*", []string{"uretprobe"}, true, "uretprobe:/x:f", ""},
		{"*gc__*", []string{"uprobe", "usdt"}, false, "usdt:/j:hotspot:gc__begin", "usdt:/j:hotspot:gc_begin"},
		{"malloc*", []string{"uprobe", "usdt"}, false, "uprobe:/libc.so.6:malloc_trim", "uprobe:/libc.so.6:xmalloc"},
		{"ns::Class::*", []string{"uprobe", "usdt"}, false, "uprobe:/x:ns::Class::f(int)", "uprobe:/x:ns::Other::f(int)"},
	}
	for _, tt := range tests {
		lp, err := parseListPattern(tt.pattern)
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		if !slices.Equal(lp.kinds, tt.kinds) || lp.all != tt.all {
			t.Errorf("%q: kinds %v all %v, want %v %v", tt.pattern, lp.kinds, lp.all, tt.kinds, tt.all)
		}
		if !lp.g.Match(tt.line) {
			t.Errorf("%q does not match %q", tt.pattern, tt.line)
		}
		if tt.not != "" && lp.g.Match(tt.not) {
			t.Errorf("%q matches %q", tt.pattern, tt.not)
		}
	}
}

func TestList(t *testing.T) {
	bin := probeBinary(t)
	r := New(Options{})
	defer r.Close()
	ts, err := r.Targets(bin)
	if err != nil {
		t.Fatal(err)
	}
	collect := func(pattern string, details bool) []Listing {
		t.Helper()
		var out []Listing
		err := r.List(ts, ListOptions{Pattern: pattern, Details: details}, func(l *Listing) error {
			c := *l
			out = append(out, c)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", pattern, err)
		}
		return out
	}
	var lines []string
	for _, l := range collect("", false) {
		lines = append(lines, l.Probe())
		if l.Sites != nil {
			t.Errorf("%s: sites without Details", l.Probe())
		}
	}
	for _, want := range []string{
		"uprobe:" + bin + ":main",
		"uprobe:" + bin + ":work",
		"uprobe:" + bin + ":work_other",
		"usdt:" + bin + ":prov:ready",
		"usdt:" + bin + ":prov:tick",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	// uprobe lines first, sorted; then USDT lines, sorted; no duplicates.
	firstUSDT := slices.IndexFunc(lines, func(s string) bool { return strings.HasPrefix(s, "usdt:") })
	if firstUSDT < 0 || !slices.IsSorted(lines[:firstUSDT]) || !slices.IsSorted(lines[firstUSDT:]) {
		t.Errorf("listing not in order: %q", lines)
	}
	if len(slices.Compact(slices.Clone(lines))) != len(lines) {
		t.Errorf("duplicate lines: %q", lines)
	}

	usdt := collect("usdt:*", true)
	if len(usdt) != 2 || usdt[1].Func != "tick" || len(usdt[1].Sites) != 2 || usdt[1].Sites[0].USDT == nil ||
		usdt[1].Sites[0].Probe != "usdt:"+bin+":prov:tick" {
		t.Errorf("usdt listing: %+v", usdt)
	}
	ret := collect("uretprobe:*:work", true)
	if len(ret) != 1 || ret[0].Kind != lang.KindUretprobe || ret[0].Probe() != "uretprobe:"+bin+":work" ||
		len(ret[0].Sites) != 1 || len(ret[0].Funcs) != 1 || ret[0].Sites[0].Offset != ret[0].Funcs[0].Offset {
		t.Errorf("uretprobe listing: %+v", ret)
	}
	if got := collect("*nothing-matches*", false); len(got) != 0 {
		t.Errorf("unexpected lines %+v", got)
	}
}

// TestHostileObjects lists and resolves truncated and corrupted copies of a
// real binary (with symbols and USDT notes): errors are fine, panics are not.
func TestHostileObjects(t *testing.T) {
	bin := probeBinary(t)
	orig, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs [][]byte
	for i := 1; i <= 40; i++ {
		inputs = append(inputs, orig[:len(orig)*i/41])
	}
	for i := 0; i < 200; i++ {
		b := bytes.Clone(orig)
		for k := 0; k < 1+rng.IntN(16); k++ {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		inputs = append(inputs, b)
	}
	for i, b := range inputs {
		p := filepath.Join(dir, fmt.Sprintf("obj%d", i))
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		r := New(Options{})
		if ts, err := r.Targets(p); err == nil {
			_ = r.List(ts, ListOptions{Details: true}, func(*Listing) error { return nil })
		}
		_, _ = r.Resolve(apFor(lang.KindUprobe, p, "*"))
		_, _ = r.Resolve(apFor(lang.KindUSDT, p, "*"))
		_, _ = r.Resolve(&lang.AttachPoint{Kind: lang.KindUprobe, Target: p, Addr: 0x1130, HasAddr: true, Raw: "x"})
		r.Close()
	}
}
