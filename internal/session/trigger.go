package session

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/internal/attach"
)

// BEGIN, END and interval probes run when uscope calls trigger: their
// programs are uprobes on this function in uscope's own executable, limited
// to uscope's pid, each checking the id passed as the first argument. No
// kernel-side timer or kprobe is needed.

// triggerArgOffset is the context offset of the register where Go's
// register ABI passes the first integer argument (RAX on amd64), from the
// architecture table the compiler generates code for.
var triggerArgOffset = func() int16 {
	r, _ := arch.AMD64.GoArg(0)
	return int16(r.Offset)
}()

var triggerSink atomic.Uint64

// trigger is the function the special probes attach to.
//
//go:noinline
func trigger(id uint64) {
	triggerSink.Store(id)
}

// triggerSite finds trigger's file offset in uscope's executable.
func triggerSite() (attach.Site, error) {
	pc := uint64(reflect.ValueOf(trigger).Pointer())
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return attach.Site{}, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return attach.Site{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || pc < start || pc >= end {
			continue
		}
		return attach.Site{Path: "/proc/self/exe", Offset: pc - start + off}, nil
	}
	return attach.Site{}, fmt.Errorf("address 0x%x of the trigger is not mapped from %s", pc, exe)
}

// specialIDs hands every session of the process its own range of special
// probe ids (compile.Options.SpecialIDBase).
var specialIDs atomic.Uint64

func nextSpecialBase() uint64 { return specialIDs.Add(1<<20) - 1<<20 }
