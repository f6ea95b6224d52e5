package tools

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
	"github.com/uscope/uscope/usdt"
)

// TplistOptions configure bcc's tplist: the USDT probes of a library or
// executable (-l) or of every object a process maps (-p).
type TplistOptions struct {
	Options
	// Lib is -l: a path, a program on PATH or a library short name.
	Lib string
	// Verbose is how many -v: 1 adds the semaphore and the numbers of
	// locations and arguments, 2 every location and its arguments.
	Verbose int
	// Filter is fnmatch's pattern over "provider:name" ("" for all).
	Filter string
}

// Tplist prints the probes as tplist does:
//
//	PATH provider:name
//	provider:name [sema 0xADDR]     (-v)
//	  N location(s)
//	  M argument(s)
//	provider:name [sema 0xADDR]     (-vv)
//	  location #1 PATH 0xADDR
//	    argument #1 8 unsigned bytes @ bp
//
// and with JSON one {"type": "usdt_probe", ...} object per probe. A probe
// with several sites (inlined, say) is printed once, as tplist does.
func Tplist(o TplistOptions) error {
	if o.Lib == "" && o.PID == 0 {
		return fmt.Errorf("tplist without -l or -p lists the kernel's tracepoints, and uscope traces userspace; give -l LIB or -p PID")
	}
	if o.Filter != "" {
		if _, err := path.Match(o.Filter, ""); err != nil {
			return fmt.Errorf("filter %q: %v", o.Filter, err)
		}
	}
	r := resolve.New(resolve.Options{PID: o.PID})
	defer r.Close()
	target := o.Lib
	if target == "" {
		target = "*"
	}
	targets, err := r.Targets(target)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	return r.List(targets, resolve.ListOptions{Pattern: "usdt:*", Details: true}, func(l *resolve.Listing) error {
		if l.Kind != lang.KindUSDT {
			return nil
		}
		short := l.Provider + ":" + l.Func
		if o.Filter != "" {
			if ok, _ := path.Match(o.Filter, short); !ok {
				return nil
			}
		}
		key := l.Object.Target.Path + " " + short
		if seen[key] {
			return nil
		}
		seen[key] = true
		o.printf("%s", tplistProbe(o, l.Object.Target.Path, short, l.Sites))
		return nil
	})
}

func tplistProbe(o TplistOptions, path, short string, sites []resolve.Site) string {
	var sema uint64
	nargs := 0
	for _, s := range sites {
		if s.USDT != nil {
			sema = max(sema, s.USDT.Semaphore)
			nargs = max(nargs, len(s.USDT.Args))
		}
	}
	if o.JSON {
		b, _ := json.Marshal(map[string]any{"path": path, "probe": short, "semaphore": sema,
			"locations": len(sites), "arguments": nargs})
		return `{"type": "usdt_probe", "data": ` + string(b) + "}\n"
	}
	if o.Verbose == 0 {
		return path + " " + short + "\n"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s [sema 0x%x]\n", short, sema)
	if o.Verbose == 1 {
		fmt.Fprintf(&sb, "  %d location(s)\n  %d argument(s)\n", len(sites), nargs)
		return sb.String()
	}
	for i, s := range sites {
		fmt.Fprintf(&sb, "  location #%d %s 0x%x\n", i+1, path, s.Addr)
		if s.USDT == nil {
			continue
		}
		raw := strings.Fields(s.USDT.ArgsRaw)
		for j, a := range s.USDT.Args {
			if a.Kind == usdt.ArgConst && j < len(raw) {
				// bcc prints the constant as the note writes it (2@$-1
				// is -1, not the 65535 the program sees).
				if _, c, ok := strings.Cut(raw[j], "@"); ok {
					fmt.Fprintf(&sb, "    argument #%d %s\n", j+1, bccArgPrefix(a)+strings.TrimPrefix(c, "$"))
					continue
				}
			}
			fmt.Fprintf(&sb, "    argument #%d %s\n", j+1, BCCUSDTArg(a))
		}
	}
	return sb.String()
}

// BCCUSDTArg formats a USDT argument as bcc's USDTProbeArgument does:
// "8 unsigned bytes @ bp", "-4 signed   bytes"... with the location as a
// constant, a register, or "*(bp - 8)" for memory.
func BCCUSDTArg(a usdt.Arg) string {
	var where string
	switch a.Kind {
	case usdt.ArgConst:
		where = fmt.Sprint(a.Offset)
	case usdt.ArgReg:
		where = bccReg(a.Reg)
	case usdt.ArgMem, usdt.ArgMemIndex, usdt.ArgRIP:
		op := "+"
		off := a.Offset
		if off < 0 {
			op, off = "-", -off
		}
		base := bccReg(a.Reg)
		if a.Kind == usdt.ArgRIP && a.Symbol != "" {
			where = fmt.Sprintf("*(&%s %s %d)", a.Symbol, op, off)
			break
		}
		idx := ""
		if a.Kind == usdt.ArgMemIndex {
			idx = " + " + bccReg(a.Index)
			if a.Scale > 1 {
				idx += fmt.Sprintf(" * %d", a.Scale)
			}
		}
		where = fmt.Sprintf("*(%s %s %d%s)", base, op, off, idx)
	default:
		where = "unrecognized argument format"
	}
	return bccArgPrefix(a) + where
}

// bccArgPrefix is "SIZE signed   bytes @ " or "SIZE unsigned bytes @ ".
func bccArgPrefix(a usdt.Arg) string {
	sign := "unsigned"
	if a.Signed {
		sign = "signed  "
	}
	return fmt.Sprintf("%d %s bytes @ ", a.Size, sign)
}

// bccReg names a register as bcc does on x86-64: the 64-bit name without
// its r prefix for the legacy registers (ax, bp, ip), r8..r15 as is.
func bccReg(r usdt.Reg) string {
	n := r.Name
	if len(n) == 3 && n[0] == 'r' && (n[1] < '0' || n[1] > '9') {
		return n[1:]
	}
	return n
}
