package resolve

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

// perfMapEntry is one line of a perf map file: code at [Start, Start+Size)
// named Name.
type perfMapEntry struct {
	Start, Size uint64
	Name        string
}

// perfMap is the parsed /tmp/perf-PID.map of one process, which JITs write
// (Node's --perf-basic-prof, Python 3.12's -X perf, Java agents): lines
// "START SIZE NAME", START and SIZE in hex (with or without 0x).
type perfMap struct {
	entries []perfMapEntry // sorted by Start
	size    int64          // file size when read
	readAt  time.Time
}

// parsePerfMap parses a perf map file. Lines that do not parse are
// skipped; later lines for the same address win (JITs rewrite code).
func parsePerfMap(data []byte) []perfMapEntry {
	var out []perfMapEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		a, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		sz, name, ok := bytes.Cut(rest, []byte{' '})
		if !ok || len(name) == 0 {
			continue
		}
		start, err1 := strconv.ParseUint(string(bytes.TrimPrefix(a, []byte("0x"))), 16, 64)
		size, err2 := strconv.ParseUint(string(bytes.TrimPrefix(sz, []byte("0x"))), 16, 64)
		if err1 != nil || err2 != nil || size == 0 || start+size < start {
			continue
		}
		out = append(out, perfMapEntry{Start: start, Size: size, Name: string(bytes.TrimRight(name, "\r"))})
	}
	// Stable: of two entries at one address, the later line stays last.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// lookup finds the entry containing addr: the last one starting at or
// below it that still covers it.
func (m *perfMap) lookup(addr uint64) (perfMapEntry, bool) {
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].Start > addr })
	for j := i - 1; j >= 0 && j >= i-8; j-- {
		if e := m.entries[j]; addr < e.Start+e.Size {
			return e, true
		}
	}
	return perfMapEntry{}, false
}

// perfMapRefresh bounds how often a perf map that did not name an address
// is looked at again (only re-read when it grew).
const perfMapRefresh = 10 * time.Millisecond

// perfMapName names addr from /tmp/perf-PID.map, read again when the file
// grew since the last read.
func (r *Resolver) perfMapName(pid int, addr uint64) (string, uint64, bool) {
	r.mu.Lock()
	if r.perfMaps == nil {
		r.perfMaps = map[int]*perfMap{}
	}
	m := r.perfMaps[pid]
	if m != nil {
		if e, ok := m.lookup(addr); ok {
			r.mu.Unlock()
			return e.Name, addr - e.Start, true
		}
		if time.Since(m.readAt) < perfMapRefresh {
			r.mu.Unlock()
			return "", 0, false
		}
	}
	r.mu.Unlock()
	// The process's own /tmp (a container's), then the host's once the
	// process is gone.
	path := fmt.Sprintf("/proc/%d/root/tmp/perf-%d.map", pid, pid)
	fi, err := os.Stat(path)
	if err != nil {
		path = fmt.Sprintf("/tmp/perf-%d.map", pid)
		if fi, err = os.Stat(path); err != nil {
			return "", 0, false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m == nil || fi.Size() != m.size {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", 0, false
		}
		m = &perfMap{entries: parsePerfMap(data), size: int64(len(data))}
		r.perfMaps[pid] = m
	}
	m.readAt = time.Now()
	if e, ok := m.lookup(addr); ok {
		return e.Name, addr - e.Start, true
	}
	return "", 0, false
}
