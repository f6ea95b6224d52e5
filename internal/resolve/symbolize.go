package resolve

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"time"

	"github.com/uscope/uscope/proc"
)

// mapsRefreshInterval bounds how often Symbolize re-reads the mappings of a
// process after an address fell outside every known object (a library
// loaded later, or JIT code that no re-read will explain).
const mapsRefreshInterval = 10 * time.Millisecond

// symState is the per-process symbolization cache.
type symState struct {
	objs     []proc.Object
	readAt   time.Time
	lastHit  int
	haveMaps bool
	// raw is /proc/PID/maps as RememberMaps last read it, data its
	// writable, non-executable ranges (stacks, heap).
	raw  []byte
	data [][2]uint64
}

// Symbolize turns an address in process pid into the function that contains
// it ("name" demangled, plus the offset from its start) and the path of the
// object, as the process sees it. ok is false when the address is in no
// known function; object may still be set then. Objects are opened once and
// shared across processes that map the same file; mappings are cached per
// process and re-read when an address falls outside all of them.
//
// An address in no object's function is looked up in the process's perf
// map (JIT code); object is then "[perf-PID.map]", as perf names it.
func (r *Resolver) Symbolize(pid int, addr uint64) (name string, off uint64, object string, ok bool) {
	o := r.processObjectAt(pid, addr)
	if o == nil {
		if name, off, path, ok := r.fixedAddrName(addr); ok {
			return name, off, path, true
		}
		return r.jitName(pid, addr, "")
	}
	obj, err := r.symObject(o)
	if err != nil {
		return r.jitName(pid, addr, o.Path)
	}
	fn, d, found := obj.funcAt(o.LinkAddr(addr))
	if !found {
		return r.jitName(pid, addr, o.Path)
	}
	return displayName(fn.Name, obj.goBinary() != nil), d, o.Path, true
}

// fixedAddrName names addr in a process whose mappings are not known (it
// exited before they were read) from the executables linked at a fixed
// address that the program probes: their addresses are the same in every
// process that runs them.
func (r *Resolver) fixedAddrName(addr uint64) (string, uint64, string, bool) {
	r.mu.Lock()
	objs := make([]*object, 0, len(r.objects))
	for _, o := range r.objects {
		objs = append(objs, o)
	}
	r.mu.Unlock()
	for _, o := range objs {
		if o.f.Type() != elf.ET_EXEC {
			continue
		}
		for _, seg := range o.f.Loads() {
			if !seg.Exec() || addr < seg.Vaddr || addr >= seg.Vaddr+seg.Memsz {
				continue
			}
			if fn, d, found := o.funcAt(addr); found {
				return displayName(fn.Name, o.goBinary() != nil), d, o.target.Path, true
			}
		}
	}
	return "", 0, "", false
}

// processObjectAt finds the mapped object holding addr in pid.
func (r *Resolver) processObjectAt(pid int, addr uint64) *proc.Object {
	r.mu.Lock()
	if r.syms == nil {
		r.syms = map[int]*symState{}
	}
	st := r.syms[pid]
	if st == nil {
		st = &symState{}
		r.syms[pid] = st
	}
	find := func() *proc.Object {
		if st.lastHit < len(st.objs) && st.objs[st.lastHit].Contains(addr) {
			return &st.objs[st.lastHit]
		}
		for i := range st.objs {
			if st.objs[i].Contains(addr) {
				st.lastHit = i
				return &st.objs[i]
			}
		}
		return nil
	}
	if o := find(); o != nil {
		r.mu.Unlock()
		return o
	}
	stale := !st.haveMaps || time.Since(st.readAt) >= mapsRefreshInterval
	r.mu.Unlock()
	if !stale {
		return nil
	}
	objs, err := proc.Objects(pid)
	r.mu.Lock()
	defer r.mu.Unlock()
	st.readAt = time.Now()
	if err == nil && len(objs) > 0 { // an exiting process shows empty maps
		st.objs, st.haveMaps, st.lastHit = objs, true, 0
	}
	return find()
}

// symObject opens a mapped object for symbolization, shared by every
// process that maps the same file.
func (r *Resolver) symObject(o *proc.Object) (*object, error) {
	key := fmt.Sprintf("inode:%d:%d:%d:%s", o.Major, o.Minor, o.Inode, o.Path)
	r.mu.Lock()
	if obj, ok := r.objects[key]; ok {
		r.mu.Unlock()
		return obj, nil
	}
	r.mu.Unlock()
	obj, err := r.object(Target{Path: o.Path, AttachPath: o.OpenPath})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if _, ok := r.objects[key]; !ok {
		r.objects[key] = obj
	}
	r.mu.Unlock()
	return obj, nil
}

// RememberMaps reads the mappings of pid now, when they changed since the
// last call, and opens the objects they map, so that Symbolize can still
// name the process's addresses after it has exited (its /proc entry is gone
// then). A process that cannot be read leaves what was known.
func (r *Resolver) RememberMaps(pid int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return
	}
	r.mu.Lock()
	if r.syms == nil {
		r.syms = map[int]*symState{}
	}
	st := r.syms[pid]
	if st == nil {
		st = &symState{}
		r.syms[pid] = st
	}
	same := st.haveMaps && bytes.Equal(st.raw, raw)
	r.mu.Unlock()
	if same {
		return
	}
	objs, err := proc.Objects(pid)
	if err != nil || len(objs) == 0 {
		// An exiting process shows empty maps: keep what was known.
		return
	}
	for i := range objs {
		_, _ = r.symObject(&objs[i])
	}
	var data [][2]uint64
	if ms, err := proc.ParseMaps(raw); err == nil {
		for _, m := range ms {
			if m.Perms.Write && !m.Perms.Exec {
				data = append(data, [2]uint64{m.Start, m.End})
			}
		}
	}
	r.mu.Lock()
	st.objs, st.haveMaps, st.lastHit, st.readAt, st.raw, st.data = objs, true, 0, time.Now(), raw, data
	r.mu.Unlock()
}

// jitName names addr from the perf map of pid; object is what Symbolize
// returns when the map does not name it.
func (r *Resolver) jitName(pid int, addr uint64, object string) (string, uint64, string, bool) {
	if name, off, ok := r.perfMapName(pid, addr); ok {
		return name, off, fmt.Sprintf("[perf-%d.map]", pid), true
	}
	return "", 0, object, false
}

// BuildIDOffset returns the GNU build ID of the object that maps addr in
// pid and addr's offset in that file (bpftrace's build_id stack mode).
// ok is false when no mapped file with a build ID holds addr.
func (r *Resolver) BuildIDOffset(pid int, addr uint64) (id string, fileOff uint64, ok bool) {
	o := r.processObjectAt(pid, addr)
	if o == nil {
		return "", 0, false
	}
	obj, err := r.symObject(o)
	if err != nil {
		return "", 0, false
	}
	id = obj.f.BuildID()
	for _, m := range o.Mappings {
		if addr >= m.Start && addr < m.End && id != "" {
			return id, addr - m.Start + m.Offset, true
		}
	}
	return "", 0, false
}

// InData reports whether addr lies in a writable, non-executable mapping
// of pid (a stack, the heap) as RememberMaps last read them: no code
// runs there, so a frame-pointer walk that returns such an address read
// a saved register, not a return address. An address mapped later (JIT
// code) is not in data.
func (r *Resolver) InData(pid int, addr uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.syms[pid]
	if st == nil {
		return false
	}
	for _, m := range st.data {
		if addr >= m[0] && addr < m[1] {
			return true
		}
	}
	return false
}
