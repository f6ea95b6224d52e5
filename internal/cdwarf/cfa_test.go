package cdwarf

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/testutil"
)

// TestCFAAtPC checks cfaAtPC at every row of every FDE, and between rows,
// against readelf's interpretation of .eh_frame (binutils), on an -O2
// build without frame pointers (the CFA moves with each push) and an -O0
// one (rbp-based), and .debug_frame (-fno-asynchronous-unwind-tables),
// also compressed (-gz, as Debian's debug files have it).
func TestCFAAtPC(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	for _, flags := range [][]string{{"-O2", "-g", "-fomit-frame-pointer"}, {"-O0", "-g"}, {"-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"}, {"-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-gz"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			bin := buildParams(t, flags...)
			out, err := exec.Command(readelf, "--debug-dump=frames-interp", bin).Output()
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elfx.Open(bin, elfx.WithoutDebugFile())
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			fde := regexp.MustCompile(`FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)`)
			row := regexp.MustCompile(`^([0-9a-f]{16}) +(\S+?)(?:\+(\d+))? `)
			regs := map[string]uint64{"rsp": 7, "rbp": 6}
			checked := 0
			type rowT struct {
				pc  uint64
				reg string
				off int64
			}
			var rows []rowT
			var hi uint64
			inFDE := false
			flush := func() {
				for i, r := range rows {
					if _, ok := regs[r.reg]; !ok {
						continue // exp: the PLT's
					}
					end := hi
					if i+1 < len(rows) {
						end = rows[i+1].pc
					}
					for _, pc := range []uint64{r.pc, (r.pc + end) / 2, end - 1} {
						if pc < r.pc || pc >= end {
							continue
						}
						got, ok := cfaAtPC(ef, pc)
						if !ok {
							t.Errorf("%#x: no CFA", pc)
							continue
						}
						if got != (cfaRule{regs[r.reg], r.off}) {
							t.Errorf("%#x: CFA r%d%+d, readelf %s+%d", pc, got.reg, got.off, r.reg, r.off)
						}
						checked++
					}
				}
				rows = nil
			}
			for _, l := range strings.Split(string(out), "\n") {
				if m := fde.FindStringSubmatch(l); m != nil {
					flush()
					hi, _ = strconv.ParseUint(m[2], 16, 64)
					inFDE = true
					continue
				}
				if strings.Contains(l, " CIE") || strings.HasPrefix(l, "Contents of") {
					flush()
					inFDE = false
					continue
				}
				if m := row.FindStringSubmatch(l); m != nil && inFDE {
					pc, _ := strconv.ParseUint(m[1], 16, 64)
					off, _ := strconv.ParseInt(m[3], 10, 64)
					rows = append(rows, rowT{pc, m[2], off})
				}
			}
			flush()
			if checked < 20 {
				t.Fatalf("checked %d addresses only:\n%s", checked, out)
			}
			if _, ok := cfaAtPC(ef, 1); ok {
				t.Error("an address no FDE covers has a CFA")
			}
		})
	}
}
