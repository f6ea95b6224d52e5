package resolve

import (
	"debug/elf"
	"errors"
	"os"
	"sync"

	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/gobin"
	"github.com/uscope/uscope/internal/addrindex"
	"github.com/uscope/uscope/usdt"
)

// Function is a function of an object: an ELF symbol, or for a Go binary an
// entry of its pclntab (Source has elfx.FromPclntab), which stripped Go
// binaries keep.
type Function = elfx.Symbol

// GoInfo describes a Go binary.
type GoInfo struct {
	Version  string // e.g. "go1.26.8"
	Module   string // main module path, may be ""
	Stripped bool   // no .symtab: functions come from pclntab
	PIE      bool
}

// object is an opened ELF object with what was derived from it.
type object struct {
	target Target
	f      *elfx.File

	goOnce sync.Once
	gob    *gobin.Binary

	funcOnce sync.Once
	funcs    []Function // in table order
	funcErr  error

	byAddrOnce sync.Once
	byAddr     []int32 // one preferred alias per address, for funcAt

	cxxOnce   sync.Once // hasCxx
	cxx       bool
	slotsOnce sync.Once // GOT slots of _Unwind_Resume
	slots     map[uint64]bool

	usdtOnce sync.Once
	sites    []usdt.Site
	usdtErr  error

	// code is the file opened once for readCode's preads.
	codeMu sync.Mutex
	code   *os.File
}

func (o *object) close() error {
	o.codeMu.Lock()
	if o.code != nil {
		o.code.Close()
		o.code = nil
	}
	o.codeMu.Unlock()
	return o.f.Close()
}

// codeFile returns the object's file opened for reading, opened once.
func (o *object) codeFile() (*os.File, error) {
	o.codeMu.Lock()
	defer o.codeMu.Unlock()
	if o.code == nil {
		f, err := os.Open(o.f.Path())
		if err != nil {
			return nil, err
		}
		o.code = f
	}
	return o.code, nil
}

// goBinary returns the Go view of the object, or nil for other objects.
func (o *object) goBinary() *gobin.Binary {
	o.goOnce.Do(func() {
		defer func() { _ = recover() }()
		ef := o.f.ELF()
		if len(ef.Sections) > 1 && ef.Section(".go.buildinfo") == nil && ef.Section(".gopclntab") == nil && ef.Section(".note.go.buildid") == nil {
			return // cheap test first: gobin would scan the whole file
		}
		b, err := gobin.Open(o.f.ELF())
		if err == nil {
			o.gob = b
		}
	})
	return o.gob
}

func (o *object) goInfo() *GoInfo {
	b := o.goBinary()
	if b == nil {
		return nil
	}
	return &GoInfo{Version: b.GoVersion, Module: b.ModulePath, Stripped: b.Stripped, PIE: b.PIE}
}

// functions returns the object's functions: for a Go binary in pclntab
// order, then ELF functions pclntab lacks; else as elfx.Functions.
func (o *object) functions() ([]Function, error) {
	o.funcOnce.Do(func() { o.funcs, o.funcErr = o.loadFunctions() })
	return o.funcs, o.funcErr
}

func (o *object) loadFunctions() ([]Function, error) {
	syms, err := o.f.Functions()
	if err != nil {
		return nil, err
	}
	out := syms // shared with elfx, never modified
	if b := o.goBinary(); b != nil {
		if gfs := goFunctions(b); len(gfs) > 0 {
			out = o.mergeGo(gfs, syms)
		}
	}
	return out, nil
}

// goFunctions reads the pclntab function table; a damaged table yields
// none (the ELF symbols still list), never a panic.
func goFunctions(b *gobin.Binary) (fs []gobin.Func) {
	defer func() {
		if recover() != nil {
			fs = nil
		}
	}()
	fs, err := b.Functions()
	if err != nil {
		return nil
	}
	return fs
}

// mergeGo makes pclntab the primary source of a Go binary's functions (its
// names are the same whether or not the binary is stripped) and adds ELF
// functions at addresses pclntab does not cover (C code of cgo binaries).
func (o *object) mergeGo(gfs []gobin.Func, syms []elfx.Symbol) []Function {
	elfAt := make(map[uint64][]elfx.Symbol, len(syms))
	for _, s := range syms {
		elfAt[s.Addr] = append(elfAt[s.Addr], s)
	}
	out := make([]Function, 0, len(gfs)+len(syms)/8)
	covered := make(map[uint64]bool, len(gfs))
	for _, g := range gfs {
		off, err := o.f.AddrToOffset(g.Entry)
		if err != nil {
			off = 0
		}
		fn := Function{Name: g.Name, Addr: g.Entry, Offset: off, Type: elf.STT_FUNC, Bind: elf.STB_GLOBAL, Source: elfx.FromPclntab}
		if g.End > g.Entry {
			fn.Size = g.End - g.Entry
		}
		for _, s := range elfAt[g.Entry] {
			if s.Name == g.Name {
				fn.Source |= s.Source
				fn.Bind, fn.Section = s.Bind, s.Section
				if s.Size != 0 {
					fn.Size = s.Size
				}
			}
		}
		covered[g.Entry] = true
		out = append(out, fn)
	}
	for _, s := range syms {
		if !covered[s.Addr] {
			out = append(out, s)
		}
	}
	return out
}

func preferAlias(a, b Function) bool {
	if (a.Size > 0) != (b.Size > 0) {
		return a.Size > 0
	}
	if ra, rb := bindRank(a.Bind), bindRank(b.Bind); ra != rb {
		return ra < rb
	}
	if len(a.Name) != len(b.Name) {
		return len(a.Name) < len(b.Name)
	}
	return a.Name < b.Name
}

func bindRank(b elf.SymBind) int {
	switch b {
	case elf.STB_GLOBAL:
		return 0
	case elf.STB_WEAK:
		return 1
	case elf.STB_LOCAL:
		return 3
	}
	return 2
}

// funcAt returns the function containing the link-time address addr.
func (o *object) funcAt(addr uint64) (Function, uint64, bool) {
	funcs, err := o.functions()
	if err != nil {
		return Function{}, 0, false
	}
	o.byAddrOnce.Do(func() {
		o.byAddr = addrindex.Build(len(funcs), func(i int) uint64 { return funcs[i].Addr },
			func(a, b int) bool { return preferAlias(funcs[a], funcs[b]) })
	})
	if i, ok := addrindex.Containing(o.byAddr, addr, func(i int) (uint64, uint64) { return funcs[i].Addr, funcs[i].Size }); ok {
		return funcs[i], addr - funcs[i].Addr, true
	}
	return Function{}, 0, false
}

// usdtSites returns the object's USDT call sites.
func (o *object) usdtSites() ([]usdt.Site, error) {
	o.usdtOnce.Do(func() {
		if o.f.Section(".note.stapsdt") == nil {
			return
		}
		defer func() {
			if r := recover(); r != nil {
				o.usdtErr = errors.New("damaged .note.stapsdt")
			}
		}()
		o.sites, o.usdtErr = usdt.Sites(o.f.ELF(), o.f.LookupAddr)
	})
	return o.sites, o.usdtErr
}
