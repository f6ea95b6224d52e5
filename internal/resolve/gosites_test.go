package resolve

import (
	"errors"
	"os"
	"testing"

	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
)

// TestGoSites checks where probes on Go functions go: entries after the
// stack check, returns on every RET instruction, never a kernel uretprobe
// inside Go code.
func TestGoSites(t *testing.T) {
	for _, flags := range [][]string{nil, {"-buildmode=pie"}, {"-ldflags=-s -w"}} {
		bin := testutil.BuildGo(t, "gofuncs", goProgram, []string{"CGO_ENABLED=0"}, flags...)
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		r := New(Options{})
		resolve := func(kind, fn string) []Site {
			t.Helper()
			sites, err := r.Resolve(&lang.AttachPoint{Kind: kind, Target: bin, Func: fn, Raw: kind + ":" + bin + ":" + fn})
			if err != nil {
				t.Fatalf("%v %s %s: %v", flags, kind, fn, err)
			}
			return sites
		}
		entry := resolve(lang.KindUprobe, "main.(*Counter).Add")
		if len(entry) != 1 || !entry[0].GoEntry || entry[0].GoFunc != "main.(*Counter).Add" || entry[0].AtReturn {
			t.Fatalf("%v: entry sites %+v", flags, entry)
		}
		rets := resolve(lang.KindUretprobe, "main.main")
		if len(rets) == 0 {
			t.Fatalf("%v: no RET sites for main.main", flags)
		}
		for _, s := range rets {
			if !s.AtReturn || s.GoEntry || s.Kind != lang.KindUretprobe || s.GoFunc != "main.main" || s.Func != "main.main" {
				t.Errorf("%v: RET site %+v", flags, s)
			}
			if s.Offset >= uint64(len(data)) || data[s.Offset] != 0xc3 {
				t.Errorf("%v: RET site at file offset %#x does not hold a RET instruction", flags, s.Offset)
			}
		}
		// An address inside a Go function cannot take a kernel uretprobe.
		_, err = r.Resolve(&lang.AttachPoint{Kind: lang.KindUretprobe, Target: bin, HasAddr: true, Addr: entry[0].FuncAddr + 1, Raw: "x"})
		if err == nil {
			t.Errorf("%v: a uretprobe at an address inside a Go function resolved", flags)
		}
		if b := r.GoBinary(bin); b == nil {
			t.Errorf("%v: GoBinary(%s) = nil", flags, bin)
		} else {
			stripped := len(flags) > 0 && flags[0] == "-ldflags=-s -w"
			if _, err := b.Params("main.add"); stripped != errors.Is(err, gobin.ErrNoDWARF) {
				t.Errorf("%v: Params: %v", flags, err)
			}
		}
		r.Close()
	}
}
