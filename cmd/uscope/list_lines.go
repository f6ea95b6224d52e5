package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/uscope/uscope/arch"
	"github.com/uscope/uscope/elfx"
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

// Source lines in `uscope list` (issue 17): 'uprobe:*:FILE:*' lists the
// probeable lines of a source file, one pasteable probe per line;
// 'uprobe:*:FILE:LINE' one line. With -v, each address the line probe
// attaches to, the function it is in, and the variables in scope there
// with their types, as `perf probe --vars` shows them (those DWARF gives
// no location at that address marked so); --json carries the same.

// linePattern is a list pattern naming source lines, nil for others.
func linePattern(pattern string) *lang.AttachPoint {
	if pattern == "" {
		return nil
	}
	prog, err := lang.Parse("pattern", pattern+" {}")
	if err != nil || len(prog.Probes) != 1 || len(prog.Probes[0].Points) != 1 {
		return nil
	}
	ap := prog.Probes[0].Points[0]
	if !ap.HasLine || ap.File == "" || ap.Kind != lang.KindUprobe {
		return nil
	}
	return ap
}

// lineJSON is one source line in --json output.
type lineJSON struct {
	Probe  string         `json:"probe"`
	Kind   string         `json:"kind"`
	Target string         `json:"target"`
	File   string         `json:"file"`
	Line   int            `json:"line"`
	Sites  []lineSiteJSON `json:"sites"`
}

type lineSiteJSON struct {
	Addr   uint64 `json:"addr"`
	Offset uint64 `json:"offset"`
	Func   string `json:"func,omitempty"`
	// Vars are the variables in scope with a location there ("int i");
	// OptimizedOut those DWARF gives none there.
	Vars         []string `json:"vars"`
	OptimizedOut []string `json:"optimized_out,omitempty"`
	// Unreadable are located in a way a probe cannot read ("TYPE NAME:
	// why").
	Unreadable []string `json:"unreadable,omitempty"`
}

// listLines lists the lines ap names in each target.
func listLines(stdout io.Writer, r *resolve.Resolver, targets []resolve.Target, ap *lang.AttachPoint, verbose, jsonOut bool, asWritten map[string]string) error {
	w := bufio.NewWriterSize(stdout, 64<<10)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	printed := 0
	var firstErr error
	for _, t := range targets {
		path := t.AttachPath
		if path == "" {
			path = t.Path
		}
		f, err := cdwarf.Open(path)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: source lines need DWARF: %v; build it with -g, or install its debug file", t.Path, err)
			}
			continue
		}
		err = listObjectLines(w, enc, f, t, ap, verbose, jsonOut, asWritten, &printed)
		f.Close()
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if printed == 0 {
		if firstErr == nil {
			firstErr = errors.New("no probeable line matches " + shellQuote(ap.Raw))
		}
		return usageError(firstErr)
	}
	return w.Flush()
}

func listObjectLines(w *bufio.Writer, enc *json.Encoder, f *cdwarf.File, t resolve.Target, ap *lang.AttachPoint, verbose, jsonOut bool, asWritten map[string]string, printed *int) error {
	lines, err := f.Lines(ap.File)
	if err != nil {
		return fmt.Errorf("%s: %v", t.Path, err)
	}
	var ef *elfx.File
	if verbose || jsonOut {
		if ef, err = elfx.Open(t.AttachPath, elfx.WithoutDebugFile()); err != nil {
			return err
		}
		defer ef.Close()
	}
	if ap.Line >= 0 && !slices.ContainsFunc(lines, func(l cdwarf.Line) bool { return l.Line == ap.Line }) {
		// The nearest probeable lines before and after it.
		var near []string
		i, _ := slices.BinarySearchFunc(lines, ap.Line, func(l cdwarf.Line, n int) int { return l.Line - n })
		for _, j := range []int{i - 1, i} {
			if j >= 0 && j < len(lines) {
				near = append(near, strconv.Itoa(lines[j].Line))
			}
		}
		return fmt.Errorf("%s: line %d of %s has no code of its own; nearest probeable lines: %s", t.Path, ap.Line, ap.File, strings.Join(near, ", "))
	}
	for _, l := range lines {
		if ap.Line >= 0 && l.Line != ap.Line {
			continue
		}
		*printed++
		p := *ap
		p.Target, p.Line = t.Path, l.Line
		if s, ok := asWritten[t.Path]; ok {
			p.Target = s
		}
		if !verbose && !jsonOut {
			fmt.Fprintln(w, p.String())
			continue
		}
		j := lineJSON{Probe: p.String(), Kind: ap.Kind, Target: t.Path, File: l.File, Line: l.Line, Sites: []lineSiteJSON{}}
		for _, a := range l.Addrs {
			j.Sites = append(j.Sites, lineSite(f, ef, a))
		}
		if jsonOut {
			if err := enc.Encode(j); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(w, j.Probe)
		for _, s := range j.Sites {
			fmt.Fprintf(w, "    addr 0x%x offset 0x%x", s.Addr, s.Offset)
			if s.Func != "" {
				fmt.Fprintf(w, " in %s", s.Func)
			}
			w.WriteByte('\n')
			for _, v := range s.Vars {
				fmt.Fprintf(w, "        %s\n", v)
			}
			for _, v := range s.OptimizedOut {
				fmt.Fprintf(w, "        %s <optimized out>\n", v)
			}
			for _, v := range s.Unreadable {
				decl, why, _ := strings.Cut(v, ": ")
				fmt.Fprintf(w, "        %s <unreadable: %s>\n", decl, why)
			}
		}
	}
	return nil
}

// lineSite describes one address of a line: its function and the
// variables in scope there, as a line probe's locals reads them.
func lineSite(f *cdwarf.File, ef *elfx.File, addr uint64) lineSiteJSON {
	s := lineSiteJSON{Addr: addr, Vars: []string{}}
	s.Offset, _ = ef.AddrToOffset(addr)
	sc, err := f.ScopeAt(addr)
	if err != nil {
		return s
	}
	s.Func = fmt.Sprintf("%s+%d", sc.Func.Name, addr-sc.Func.LowPC)
	seen := map[string]bool{}
	for i := range sc.Vars {
		v := &sc.Vars[i]
		if seen[v.Name] {
			continue // shadowed by an inner one
		}
		seen[v.Name] = true
		decl := cdwarf.TypeName(v.Type) + " " + v.Name
		if _, err := sc.Func.Location(v, addr, addr == sc.Func.LowPC, arch.AMD64); err != nil {
			if errors.Is(err, cdwarf.ErrOptimizedOut) {
				s.OptimizedOut = append(s.OptimizedOut, decl)
			} else {
				s.Unreadable = append(s.Unreadable, decl+": "+strings.TrimPrefix(err.Error(), v.Name+": "))
			}
			continue
		}
		s.Vars = append(s.Vars, decl)
	}
	return s
}
