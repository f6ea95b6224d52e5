package cdwarf

import (
	"debug/elf"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// TestCFAAtPC checks cfaAtPC at every row of every FDE, and between rows,
// against readelf's interpretation of .eh_frame (binutils), on an -O2
// build without frame pointers (the CFA moves with each push) and an -O0
// one (rbp-based), and .debug_frame (-fno-asynchronous-unwind-tables).
func TestCFAAtPC(t *testing.T) {
	readelf := testutil.RequireTool(t, "readelf")
	for _, flags := range [][]string{{"-O2", "-g", "-fomit-frame-pointer"}, {"-O0", "-g"}, {"-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			bin := buildParams(t, flags...)
			out, err := exec.Command(readelf, "--debug-dump=frames-interp", bin).Output()
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.Open(bin)
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
						got, err := cfaAtPC(ef, pc)
						if err != nil {
							t.Errorf("%#x: %v", pc, err)
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
			if _, err := cfaAtPC(ef, 1); err == nil {
				t.Error("an address no FDE covers has a CFA")
			}
		})
	}
}

func FuzzCFA(f *testing.F) {
	// A CIE (zR, pcrel sdata4; def_cfa rsp+8) and an FDE for [0x1000,0x1010)
	// with advance_loc 1; def_cfa_offset 16.
	cie := []byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0}
	fde := []byte{0x14, 0, 0, 0, 0x1c, 0, 0, 0, 0xe4, 0x0f, 0, 0, 0x10, 0, 0, 0, 0, 0x41, 0x0e, 0x10, 0, 0, 0, 0}
	f.Add(append(append([]byte{}, cie...), fde...), true, uint64(0x1004))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}, false, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, eh bool, pc uint64) {
		_, _ = cfaIn(b, 0x1000, eh, pc)
	})
}
