package main

import (
	"bufio"
	"fmt"
	"sync"

	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// C and C++ signatures in `uscope list -v` and --json, from DWARF: one
// "TYPE NAME" per parameter, as bpftrace's -lv prints them.

// listDWARF caches the DWARF of the objects one listing reads.
var listDWARF struct {
	sync.Mutex
	m map[string]*cdwarf.File
}

// cSignature is the parameter list of a C or C++ function listing; nil
// for Go, USDT and objects without DWARF.
func cSignature(p *resolve.Listing) []string {
	if p.Kind == lang.KindUSDT || p.Object.Go != nil || len(p.Sites) == 0 {
		return nil
	}
	f := listFile(p)
	if f == nil {
		return nil
	}
	fn, err := f.Func(p.Func, p.Sites[0].FuncAddr)
	if err != nil {
		return nil
	}
	return fn.Signature()
}

// listFile is the DWARF of a listing's object, nil when it has none.
func listFile(p *resolve.Listing) *cdwarf.File {
	path := p.Object.Target.AttachPath
	if path == "" {
		path = p.Object.Target.Path
	}
	listDWARF.Lock()
	defer listDWARF.Unlock()
	if listDWARF.m == nil {
		listDWARF.m = map[string]*cdwarf.File{}
	}
	f, seen := listDWARF.m[path]
	if !seen {
		f, _ = cdwarf.Open(path) // nil: no DWARF
		listDWARF.m[path] = f
	}
	return f
}

// writeSignature prints the parameters under a -v listing's probe line.
func writeSignature(w *bufio.Writer, p *resolve.Listing) {
	for _, s := range cSignature(p) {
		w.WriteString("    " + s + "\n")
	}
	if p.Kind == lang.KindUprobe && p.Object.Go == nil && p.Inlined == 0 && listFile(p) != nil {
		if n := len(listFile(p).Inlined(p.Func)); n > 0 {
			fmt.Fprintf(w, "    inlined %d times (probed there with probe_inline)\n", n)
		}
	}
}
