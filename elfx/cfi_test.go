package elfx

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ruleText prints a rule as readelf -wF does: "u" unspecified, "c-8" saved
// at CFA-8, "rsp+8" for the CFA, "exp" for expressions.
func ruleText(r Rule, cfa bool) string {
	regs := []string{"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp"}
	switch r.Kind {
	case RuleCFA:
		name := fmt.Sprintf("r%d", r.Reg)
		if r.Reg < uint64(len(regs)) {
			name = regs[r.Reg]
		}
		return fmt.Sprintf("%s+%d", name, r.Offset)
	case RuleCFAExpression, RuleExpression:
		return "exp"
	case RuleValExpression:
		return "vexp"
	case RuleOffset:
		return fmt.Sprintf("c%+d", r.Offset)
	case RuleValOffset:
		return fmt.Sprintf("v%+d", r.Offset)
	case RuleUndefined:
		return "u"
	case RuleSame:
		return "s"
	case RuleRegister:
		return fmt.Sprintf("r%d", r.Reg)
	}
	return "?"
}

// TestFrameRowsReadelf compares every row of libc's .eh_frame (and of a
// few other objects) with readelf -wF's interpretation: the CFA, the
// return address and rbp columns at each location readelf prints.
func TestFrameRowsReadelf(t *testing.T) {
	readelf, err := exec.LookPath("readelf")
	if err != nil {
		t.Skip("readelf not installed")
	}
	for _, path := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/bin/ls"} {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		t.Run(path, func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var rows []FrameRow
			if err := f.FrameRows(func(r FrameRow) bool { rows = append(rows, r); return true }); err != nil {
				t.Fatal(err)
			}
			sort.SliceStable(rows, func(i, j int) bool { return rows[i].Start < rows[j].Start })
			at := func(pc uint64) (FrameRow, bool) {
				i := sort.Search(len(rows), func(i int) bool { return rows[i].End > pc })
				if i < len(rows) && rows[i].Start <= pc {
					return rows[i], true
				}
				return FrameRow{}, false
			}
			// readelf exits 1 on a warning (libc's) after printing all.
			out, err := exec.Command(readelf, "-wF", path).Output()
			if len(out) == 0 {
				t.Fatal(err)
			}
			var cols []string
			inCIE := false
			checked := 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				switch {
				case len(fields) == 0:
				case strings.HasPrefix(sc.Text(), "Contents of the .debug_frame"):
					return // .eh_frame only: .debug_frame FDEs it covers are skipped by FrameRows
				case fields[0] == "LOC":
					if !inCIE {
						cols = fields
					}
				case len(fields) > 3 && (fields[3] == "FDE" || fields[3] == "CIE"):
					cols, inCIE = nil, fields[3] == "CIE"
				case cols != nil && len(fields) == len(cols):
					pc, err := strconv.ParseUint(fields[0], 16, 64)
					if err != nil {
						continue
					}
					r, ok := at(pc)
					if !ok {
						t.Errorf("0x%x: no row; readelf: %s", pc, sc.Text())
						continue
					}
					for i, c := range cols[1:] {
						want := fields[i+1]
						var got string
						switch c {
						case "CFA":
							got = ruleText(r.CFA, true)
						case "ra":
							got = ruleText(r.RA, false)
						case "rbp":
							got = ruleText(r.FP, false)
							if got == "s" {
								got = "u"
							}
						default:
							continue
						}
						if got != want {
							t.Errorf("0x%x %s: got %s, readelf %s (%s)", pc, c, got, want, sc.Text())
						}
					}
					checked++
				}
				if t.Failed() && checked > 20 {
					t.FailNow()
				}
			}
			if checked < 100 {
				t.Errorf("only %d rows checked", checked)
			}
			t.Logf("%d rows checked against readelf, %d rows", checked, len(rows))
		})
	}
}

// FuzzParseFrameRows feeds arbitrary bytes to the .eh_frame and
// .debug_frame parsers: they return an error, never panic, and rows are
// well formed.
func FuzzParseFrameRows(f *testing.F) {
	if b, err := os.ReadFile("/bin/true"); err == nil {
		if ef, err := elf.NewFile(bytes.NewReader(b)); err == nil {
			if s := ef.Section(".eh_frame"); s != nil {
				if d, err := s.Data(); err == nil {
					f.Add(d, true)
				}
			}
		}
	}
	f.Add([]byte("\x14\x00\x00\x00\x00\x00\x00\x00\x01zR\x00\x01\x78\x10\x01\x1b\x0c\x07\x08\x90\x01\x00\x00"), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, eh bool) {
		n := 0
		var first *FrameRow
		_ = ParseFrameRows(b, 0x1000, eh, binary.LittleEndian, 8, 6, func(r FrameRow) bool {
			if r.End <= r.Start {
				t.Fatalf("empty row %+v", r)
			}
			if first == nil {
				first = &r
			}
			n++
			return n < 10000
		})
		if first != nil {
			// FrameRowAt's search, which runs the covering FDEs alone,
			// finds the first row again.
			addr := first.Start
			var got *FrameRow
			_ = parseFrameRows(b, 0x1000, eh, binary.LittleEndian, 8, 6,
				func(lo, hi uint64) bool { return lo <= addr && addr < hi },
				func(r FrameRow) bool {
					if r.Start <= addr && addr < r.End {
						got = &r
						return false
					}
					return true
				})
			if got == nil || !reflect.DeepEqual(*got, *first) {
				t.Fatalf("the row at %#x: %+v, want %+v", addr, got, first)
			}
		}
		_, _ = ParseEHFrameHdr(b, 0x1000, binary.LittleEndian)
	})
}

// TestFrameRowAt checks FrameRowAt against FrameRows at the start, middle
// and end of rows of a few objects, and at an address no FDE covers.
func TestFrameRowAt(t *testing.T) {
	checked := 0
	for _, path := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/bin/ls"} {
		f, err := Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		var rows []FrameRow
		if err := f.FrameRows(func(r FrameRow) bool { rows = append(rows, r); return true }); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(rows); i += 37 {
			r := rows[i]
			for _, pc := range []uint64{r.Start, (r.Start + r.End) / 2, r.End - 1} {
				got, ok, err := f.FrameRowAt(pc)
				if err != nil || !ok {
					t.Fatalf("%s: FrameRowAt(%#x) = %v, %v; FrameRows has %+v", path, pc, ok, err, r)
				}
				if !reflect.DeepEqual(got, r) {
					t.Errorf("%s: FrameRowAt(%#x) = %+v, FrameRows %+v", path, pc, got, r)
				}
				checked++
			}
		}
		if _, ok, err := f.FrameRowAt(1); ok || err != nil {
			t.Errorf("%s: FrameRowAt(1) = %v, %v; want no row, no error", path, ok, err)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d addresses checked", checked)
	}
}
