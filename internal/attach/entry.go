package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// RunToEntry lets a held program run until its entry point (AT_ENTRY: the
// dynamic linker has mapped every library the program needs and run their
// constructors) and holds it there again, so that its mappings can be
// read before it can exit: a stack of a short program is then still named
// through its libraries. The entry instruction is replaced by int3 for the
// time it takes and restored before the program goes on. It does nothing
// when the program is no longer held; the program exiting before its entry
// is not an error here (Wait reports it).
func (h *Held) RunToEntry() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held {
		return nil
	}
	entry, err := auxEntry(h.Pid)
	if err != nil {
		return err
	}
	return h.onTracer(func() error { return runToEntry(h.Pid, entry) })
}

// auxEntry reads AT_ENTRY from /proc/PID/auxv.
func auxEntry(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid))
	if err != nil {
		return 0, err
	}
	for i := 0; i+16 <= len(b); i += 16 {
		if binary.LittleEndian.Uint64(b[i:]) == atEntry {
			return binary.LittleEndian.Uint64(b[i+8:]), nil
		}
	}
	return 0, errors.New("no AT_ENTRY in auxv")
}

// atEntry is AT_ENTRY, the auxv tag of the program's entry point.
const atEntry = 9
