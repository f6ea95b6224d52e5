package usdtbpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/usdt"
)

// The names and sizes of libbpf's USDT maps and records (usdt.bpf.h).
const (
	// SpecsMap is the name of libbpf's array of struct __bpf_usdt_spec,
	// indexed by spec id (the attach cookie).
	SpecsMap = "__bpf_usdt_specs"
	// IPToSpecIDMap is the name of libbpf's hash from a probe's runtime
	// address to its spec id, read on kernels without BPF cookies.
	IPToSpecIDMap = "__bpf_usdt_ip_to_spec_id"
	// MaxArgs is BPF_USDT_MAX_ARG_CNT: arguments a spec can describe.
	MaxArgs = 12

	argSpecSize = 16
	specSize    = MaxArgs*argSpecSize + 8 + 8 // args, usdt_cookie, arg_cnt padded to 8
)

// The arg_type values of struct __bpf_usdt_arg_spec. argSIB is the
// base+index*scale form libbpf added after 1.4; older readers of the
// format return -EINVAL for it, as they do for argInvalid.
const (
	argConst    = 0
	argReg      = 1
	argRegDeref = 2
	argSIB      = 3
	// argInvalid marks an argument the format cannot express (a vector
	// register, an operand without base register): bpf_usdt_arg returns
	// -EINVAL for it, and the others still read.
	argInvalid = 0xff
)

// ErrSpecFormat is wrapped when a collection's maps do not have the layout
// of libbpf's usdt.bpf.h.
var ErrSpecFormat = errors.New("not libbpf's USDT spec maps")

// EncodeSpec returns the struct __bpf_usdt_spec that describes the
// arguments of site, with cookie as the value bpf_usdt_cookie() returns, in
// the byte layout of usdt.bpf.h on a little-endian machine. An argument the
// format cannot express is encoded so that bpf_usdt_arg() returns -EINVAL
// for it alone. A site with more than [MaxArgs] arguments is an error.
func EncodeSpec(site usdt.Site, cookie uint64) ([]byte, error) {
	if len(site.Args) > MaxArgs {
		return nil, fmt.Errorf("usdt probe %s:%s at %#x has %d arguments; libbpf's spec holds at most %d", site.Provider, site.Name, site.Addr, len(site.Args), MaxArgs)
	}
	b := make([]byte, specSize)
	le := binary.LittleEndian
	for i, a := range site.Args {
		enc := b[i*argSpecSize : (i+1)*argSpecSize]
		typ, valOff, regOff, idx, scaleShift := argLocation(a, site.Addr)
		le.PutUint64(enc[0:], valOff)
		le.PutUint32(enc[8:], uint32(typ)|uint32(idx&0xfff)<<8|uint32(scaleShift&0xf)<<20)
		le.PutUint16(enc[12:], uint16(int16(regOff)))
		if a.Signed {
			enc[14] = 1
		}
		size := a.Size
		if size < 1 || size > 8 {
			size = 8
		}
		enc[15] = byte(64 - 8*size)
	}
	le.PutUint64(b[MaxArgs*argSpecSize:], cookie)
	le.PutUint16(b[MaxArgs*argSpecSize+8:], uint16(len(site.Args)))
	return b, nil
}

// argLocation maps an argument to libbpf's location fields.
func argLocation(a usdt.Arg, siteAddr uint64) (typ int, valOff uint64, regOff, idx, scaleShift int) {
	if a.Err != nil {
		return argInvalid, 0, 0, 0, 0
	}
	switch a.Kind {
	case usdt.ArgConst:
		return argConst, uint64(a.Offset), 0, 0, 0
	case usdt.ArgReg:
		return argReg, 0, a.Reg.PtRegsOffset, 0, 0
	case usdt.ArgMem, usdt.ArgMemIndex:
		disp := uint64(a.Offset)
		if a.Symbol != "" {
			if !a.Resolved {
				return argInvalid, 0, 0, 0, 0
			}
			disp = a.SymbolAddr
		}
		if a.Reg.Name == "" {
			return argInvalid, 0, 0, 0, 0 // no base register: not expressible
		}
		if a.Kind == usdt.ArgMem || a.Index.Name == "" {
			return argRegDeref, disp, a.Reg.PtRegsOffset, 0, 0
		}
		shift := 0
		for 1<<shift < a.Scale && shift < 3 {
			shift++
		}
		return argSIB, disp, a.Reg.PtRegsOffset, a.Index.PtRegsOffset, shift
	case usdt.ArgRIP:
		if !a.Resolved {
			return argInvalid, 0, 0, 0, 0
		}
		// The probe's ip is the site's runtime address: the global is at
		// ip - site + symbol, whatever the load bias.
		return argRegDeref, a.SymbolAddr - siteAddr, ipOffset(), 0, 0
	}
	return argInvalid, 0, 0, 0, 0
}

// Specs is libbpf's pair of USDT maps in one loaded collection, and the
// spec ids in use in them. Several [Attach] calls share one Specs; it is
// safe for concurrent use.
type Specs struct {
	specs, ipToID *ebpf.Map
	mu            sync.Mutex
	used          []bool
}

// NewSpecs finds libbpf's maps ([SpecsMap], and [IPToSpecIDMap] if the
// program has it) in a collection loaded from a program that includes
// usdt.bpf.h, and checks their layout.
func NewSpecs(coll *ebpf.Collection) (*Specs, error) {
	if coll == nil {
		return nil, fmt.Errorf("usdtbpf: nil collection: %w", ErrSpecFormat)
	}
	m := coll.Maps[SpecsMap]
	if m == nil {
		return nil, fmt.Errorf("usdtbpf: the collection has no map %s (include <bpf/usdt.bpf.h> and use BPF_USDT): %w", SpecsMap, ErrSpecFormat)
	}
	if m.Type() != ebpf.Array || m.KeySize() != 4 || m.ValueSize() != specSize {
		return nil, fmt.Errorf("usdtbpf: map %s is %v with %d-byte keys and %d-byte values, want an array of %d-byte struct __bpf_usdt_spec: %w",
			SpecsMap, m.Type(), m.KeySize(), m.ValueSize(), specSize, ErrSpecFormat)
	}
	ip := coll.Maps[IPToSpecIDMap]
	if ip != nil && (ip.KeySize() != 8 || ip.ValueSize() != 4) {
		return nil, fmt.Errorf("usdtbpf: map %s has %d-byte keys and %d-byte values, want 8 and 4: %w", IPToSpecIDMap, ip.KeySize(), ip.ValueSize(), ErrSpecFormat)
	}
	return &Specs{specs: m, ipToID: ip, used: make([]bool, m.MaxEntries())}, nil
}

// add stores spec under a free id and returns it.
func (s *Specs) add(spec []byte) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, u := range s.used {
		if u {
			continue
		}
		if err := s.specs.Put(uint32(id), spec); err != nil {
			return 0, fmt.Errorf("usdtbpf: writing spec %d to %s: %w", id, SpecsMap, err)
		}
		s.used[id] = true
		return uint32(id), nil
	}
	return 0, fmt.Errorf("usdtbpf: all %d USDT spec ids of %s are in use (define BPF_USDT_MAX_SPEC_CNT larger)", len(s.used), SpecsMap)
}

// release frees ids and removes ips from the ip map.
func (s *Specs) release(ids []uint32, ips []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if int(id) < len(s.used) {
			s.used[id] = false
		}
	}
	if s.ipToID != nil {
		for _, ip := range ips {
			_ = s.ipToID.Delete(ip)
		}
	}
}
