package hugepage

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// thpMode is the system's transparent huge page mode: always, madvise or
// never ("" when the kernel has none).
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}

// eligible reads THPeligible of the mapping that holds addr from
// /proc/self/smaps.
func eligible(t *testing.T, addr uintptr) string {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := strings.Cut(strings.Fields(line)[0], "-"); ok && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(addr) >= a && uint64(addr) < b
				continue
			}
		}
		if v, ok := strings.CutPrefix(line, "THPeligible:"); ok && in {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no mapping holds 0x%x", addr)
	return ""
}

func TestAdvise(t *testing.T) {
	if Advise(make([]byte, 1<<20)) {
		t.Error("a 1 MiB slice was advised")
	}
	if Advise([]int(nil)) {
		t.Error("a nil slice was advised")
	}
	s := make([]uint64, 0, 2<<20) // 16 MiB
	ok := Advise(s)
	switch mode := thpMode(); mode {
	case "always", "madvise":
		if !ok {
			t.Fatalf("THP mode %s: Advise refused", mode)
		}
		mid := uintptr(unsafe.Pointer(unsafe.SliceData(s))) + 8<<20
		if got := eligible(t, mid); got != "1" {
			t.Errorf("the middle of the advised slice has THPeligible %q, want 1", got)
		}
	default:
		if ok {
			t.Errorf("THP mode %q: Advise said it advised", mode)
		}
	}
	s = append(s, 1, 2, 3)
	for i := range 1 << 20 {
		s = append(s, uint64(i))
	}
	if s[0] != 1 || s[3] != 0 || s[len(s)-1] != 1<<20-1 {
		t.Error("the slice's contents changed")
	}
}
