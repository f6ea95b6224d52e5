package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/uscope/uscope/internal/cdwarf"
	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
)

func init() { commands = append(commands, newListCommand) }

func newListCommand() *cobra.Command {
	var (
		pid     int
		verbose bool
		jsonOut bool
		labels  bool
	)
	c := &cobra.Command{
		Use:   "list [-p PID] [-v] [--json] [TARGET] [PATTERN]",
		Short: "List the functions and USDT probes of a binary, a library or a process",
		Long: `List prints one probe per line, named as a program writes it:

  uprobe:/usr/bin/redis-server:createStringObject
  usdt:/usr/bin/python3.11:python:function__entry

TARGET is a path, a program on PATH, a library short name looked up in
/etc/ld.so.cache (c, libc, pthread, ssl, libssl.so.3), or a glob with '*'.
With -p PID, every object mapped in the process is listed, or the one TARGET
names. PATTERN globs over the whole line ('usdt:*', '*gc__*',
'uprobe:*:SSL_*'); a pattern without ':' matches the function or probe name,
and C++ and Rust names also match in demangled form. A single argument that
starts with a probe type is a pattern whose target part names the TARGET:
uscope list 'uprobe:/usr/bin/redis-server:create*'.

-v adds, for functions, address, size and file offset (and the Go version and
module of a Go binary); for USDT probes, each call site's address, file
offset, semaphore and decoded arguments. --json prints one JSON object per
probe with the same facts. Functions are those with code: zero-sized symbols
(labels such as runtime.etext) are left out unless --labels is given.`,
		Example: `  uscope list /usr/bin/redis-server
  uscope list c 'uprobe:*:malloc*'
  uscope list -v /usr/bin/python3.11 'usdt:*'
  uscope list -p 1234 '*gc__*'`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 2 {
				return usageError(fmt.Errorf("too many arguments: want [TARGET] [PATTERN]; see 'uscope list --help'"))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			// A short-lived process that allocates a lot at once: trade
			// memory for fewer collections.
			debug.SetGCPercent(400)
			return runList(c.OutOrStdout(), c.ErrOrStderr(), pid, verbose, jsonOut, labels, args)
		},
	}
	pidFlag(c, &pid, "list the objects mapped in process `PID`")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "show addresses, sizes, offsets, semaphores and USDT arguments")
	c.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object per probe")
	c.Flags().StringArrayVar(&cdwarf.DebugDirs, "debuginfo", nil, "also look for separate debug files in `DIR` (for -v's signatures), as bpftrace's --debuginfo")
	c.Flags().BoolVar(&labels, "labels", false, "list zero-sized symbols (labels such as runtime.etext) as functions too")
	return c
}

// probeKinds are the prefixes that make a lone argument a pattern.
var probeKinds = []string{"uprobe:", "uretprobe:", "usdt:", "u:", "ur:", "U:"}

// splitListArgs tells TARGET from PATTERN.
func splitListArgs(pid int, args []string) (target, pattern string, err error) {
	switch len(args) {
	case 0:
		if pid == 0 {
			return "", "", usageError(errors.New("list needs a TARGET or -p PID; see 'uscope list --help'"))
		}
		return "", "", nil
	case 2:
		return args[0], args[1], nil
	}
	a := args[0]
	isPattern := strings.HasPrefix(a, "*")
	for _, k := range probeKinds {
		if strings.HasPrefix(a, k) {
			// The pattern's target part names the TARGET.
			isPattern = true
			rest := a[len(k):]
			if i := strings.IndexByte(rest, ':'); i >= 0 {
				target = rest[:i]
				// A relative path (bpftrace's -lv 'uprobe:./prog:f') matches
				// the object by its absolute path.
				if strings.ContainsRune(target, '/') && !filepath.IsAbs(target) && pid == 0 {
					if abs, err := filepath.Abs(target); err == nil {
						a = k + abs + rest[i:]
					}
				}
			}
			if target == "*" {
				target = ""
			}
			break
		}
	}
	if !isPattern {
		return a, "", nil
	}
	if target == "" && pid == 0 {
		return "", "", usageError(fmt.Errorf("pattern %q needs a TARGET or -p PID: uscope list TARGET %s", a, shellQuote(a)))
	}
	return target, a, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// targetlessKinds are the probe types that need no binary, listed by
// their forms as bpftrace lists them (bpftrace -l 'interval:*').
var targetlessKinds = map[string][]string{
	"interval": {"interval:hz:", "interval:us:", "interval:ms:", "interval:s:"},
	"profile":  {"profile:hz:", "profile:us:", "profile:ms:", "profile:s:"},
	"BEGIN":    {"BEGIN"}, "END": {"END"}, "begin": {"begin"}, "end": {"end"},
}

func runList(stdout, stderr io.Writer, pid int, verbose, jsonOut, labels bool, args []string) error {
	if pid < 0 {
		return usageError(fmt.Errorf("invalid PID %d", pid))
	}
	if len(args) == 1 {
		kind, _, _ := strings.Cut(args[0], ":")
		if forms, ok := targetlessKinds[kind]; ok && pid == 0 {
			for _, f := range forms {
				if ok, _ := filepath.Match(args[0], f); ok || strings.HasPrefix(f, strings.TrimSuffix(args[0], "*")) {
					fmt.Fprintln(stdout, f)
				}
			}
			return nil
		}
	}
	target, pattern, err := splitListArgs(pid, args)
	if err != nil {
		return err
	}
	r := resolve.New(resolve.Options{PID: pid})
	defer r.Close()
	all := target == "" && pid != 0
	var targets []resolve.Target
	if all {
		targets, err = r.Targets("*")
	} else {
		targets, err = r.Targets(target)
	}
	if err != nil {
		return usageError(err)
	}
	asWritten := map[string]string{}
	if target != "" && !filepath.IsAbs(target) && strings.ContainsRune(target, '/') {
		// Each object as the user would have written it: relative to
		// the working directory, with the same "./" prefix.
		cwd, _ := os.Getwd()
		for _, t := range targets {
			if rel, err := filepath.Rel(cwd, t.Path); err == nil && !strings.HasPrefix(rel, "..") {
				if strings.HasPrefix(target, "./") {
					rel = "./" + rel
				}
				asWritten[t.Path] = rel
			}
		}
	}
	if ap := linePattern(pattern); ap != nil {
		return listLines(stdout, r, targets, ap, verbose, jsonOut, asWritten) // list_lines.go
	}
	w := bufio.NewWriterSize(stdout, 256<<10)
	defer w.Flush()
	opts := resolve.ListOptions{Pattern: pattern, Details: verbose || jsonOut, Labels: labels}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var line []byte
	var header *resolve.ObjectListing
	printed := 0
	print := func(l *resolve.Listing) error {
		printed++
		if jsonOut {
			return enc.Encode(jsonProbe(l))
		}
		if verbose && l.Object.Go != nil && header != l.Object {
			header = l.Object
			fmt.Fprintf(w, "# %s: Go binary, %s, module %s\n", l.Object.Target.Path, l.Object.Go.Version, orNone(l.Object.Go.Module))
		}
		line = append(l.AppendProbe(line[:0]), '\n')
		if written, ok := asWritten[l.Object.Target.Path]; ok {
			// The path as the user wrote it (./prog), as bpftrace lists it.
			line = bytes.Replace(line, []byte(":"+l.Object.Target.Path+":"), []byte(":"+written+":"), 1)
		}
		w.Write(line)
		if verbose {
			writeVerbose(w, l)
		}
		return nil
	}
	for _, t := range targets {
		var seen *resolve.ObjectListing
		err := r.List([]resolve.Target{t}, opts, func(l *resolve.Listing) error {
			if seen != l.Object {
				seen = l.Object
				if l.Object.USDTErr != nil {
					fmt.Fprintf(stderr, "uscope: warning: %s: USDT notes: %v\n", l.Object.Target.Path, l.Object.USDTErr)
				}
			}
			return print(l)
		})
		if err != nil {
			var re *resolve.Error
			if len(targets) > 1 && errors.As(err, &re) {
				fmt.Fprintf(stderr, "uscope: warning: skipping %v\n", err)
				continue
			}
			return usageError(err)
		}
	}
	if printed == 0 && pattern != "" {
		return usageError(listNoMatch(r, targets, pattern))
	}
	return w.Flush()
}

// listNoMatch is the error of a pattern that listed nothing (exit 1, as
// grep), with the nearest names the targets define.
func listNoMatch(r *resolve.Resolver, targets []resolve.Target, pattern string) error {
	var names []string
	for _, t := range targets {
		_ = r.List([]resolve.Target{t}, resolve.ListOptions{}, func(l *resolve.Listing) error {
			names = append(names, l.Func)
			return nil
		})
	}
	want := pattern
	if i := strings.LastIndexByte(want, ':'); i >= 0 {
		want = want[i+1:]
	}
	where := "process objects"
	if len(targets) == 1 {
		where = targets[0].Path
	}
	msg := fmt.Sprintf("no probe matches %s in %s", shellQuote(pattern), where)
	if s := resolve.Suggest(want, names); len(s) > 0 {
		return fmt.Errorf("%s; did you mean %s?", msg, strings.Join(s, ", "))
	}
	kind, rest, _ := strings.Cut(pattern, ":")
	if obj, _, ok := strings.Cut(rest, ":"); ok && obj != "*" && obj != "" && kind != pattern && len(targets) == 1 && !resolve.CompileGlob(obj).Match(targets[0].Path) {
		return fmt.Errorf("%s: the pattern's object part %q does not match that path; write %s or *", msg, obj, targets[0].Path)
	}
	return fmt.Errorf("%s; try: uscope list %s", msg, shellQuote(where))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// writeVerbose prints the -v details of a probe, indented under it.
func writeVerbose(w *bufio.Writer, p *resolve.Listing) {
	if p.Kind != lang.KindUSDT {
		writeSignature(w, p)
		if p.Display != "" && p.Display != p.Func {
			fmt.Fprintf(w, "    demangled %s\n", p.Display)
		}
		for i, s := range p.Sites {
			fmt.Fprintf(w, "    addr 0x%x size %d offset 0x%x", s.Addr, s.Size, s.Offset)
			if i < len(p.Funcs) {
				writeFuncFacts(w, &p.Funcs[i])
			}
			if s.Placement != "" {
				fmt.Fprintf(w, " entry probe %s", s.Placement)
			}
			w.WriteByte('\n')
		}
		if p.Inlined > 0 {
			only := ""
			if len(p.Sites) == 0 {
				only = ", only there"
			}
			fmt.Fprintf(w, "    inlined %d times%s (probed there with --probe-inline)\n", p.Inlined, only)
		}
		return
	}
	for _, s := range p.Sites {
		u := s.USDT
		fmt.Fprintf(w, "    site addr 0x%x offset 0x%x", s.Addr, s.Offset)
		if u.Semaphore != 0 {
			fmt.Fprintf(w, " semaphore 0x%x (offset 0x%x)", u.Semaphore, u.SemaphoreOffset)
		}
		if u.Err != nil {
			fmt.Fprintf(w, " error: %v", u.Err)
		}
		w.WriteByte('\n')
		for i, a := range u.Args {
			fmt.Fprintf(w, "      arg%d: %s\n", i, a.String())
		}
	}
}

// writeFuncFacts adds binding, version, IFUNC and source to a -v line.
func writeFuncFacts(w *bufio.Writer, f *resolve.Function) {
	fmt.Fprintf(w, " %s", bindName(f.Bind))
	if f.IFUNC() {
		w.WriteString(" ifunc")
	}
	if f.Version != "" {
		sep := "@@"
		if f.HiddenVersion {
			sep = "@"
		}
		fmt.Fprintf(w, " version %s%s", sep, f.Version)
	}
	fmt.Fprintf(w, " from %s", f.Source.String())
}

func bindName(b elf.SymBind) string {
	switch b {
	case elf.STB_GLOBAL:
		return "global"
	case elf.STB_WEAK:
		return "weak"
	case elf.STB_LOCAL:
		return "local"
	case elf.STB_LOOS:
		return "unique"
	}
	return fmt.Sprintf("bind%d", int(b))
}

// listJSON is one probe in --json output.
type listJSON struct {
	Probe     string         `json:"probe"`
	Kind      string         `json:"kind"`
	Target    string         `json:"target"`
	Provider  string         `json:"provider,omitempty"`
	Name      string         `json:"name"`
	Demangled string         `json:"demangled,omitempty"`
	GoVersion string         `json:"go_version,omitempty"`
	GoModule  string         `json:"go_module,omitempty"`
	Sites     []listSiteJSON `json:"sites"`
	Inlined   int            `json:"inlined,omitempty"`
	// Params are a C or C++ function's parameters from DWARF ("int argc").
	Params []string `json:"params,omitempty"`
}

type listSiteJSON struct {
	Addr            uint64        `json:"addr"`
	Size            *uint64       `json:"size,omitempty"`
	Bind            string        `json:"bind,omitempty"`
	IFUNC           bool          `json:"ifunc,omitempty"`
	Version         string        `json:"version,omitempty"`
	Source          string        `json:"source,omitempty"`
	Offset          uint64        `json:"offset"`
	Semaphore       uint64        `json:"semaphore,omitempty"`
	SemaphoreOffset uint64        `json:"semaphore_offset,omitempty"`
	ArgsRaw         *string       `json:"args_raw,omitempty"`
	Args            []listArgJSON `json:"args,omitempty"`
	Error           string        `json:"error,omitempty"`
}

type listArgJSON struct {
	Spec   string `json:"spec"`
	Desc   string `json:"desc"`
	Size   int    `json:"size"`
	Signed bool   `json:"signed"`
	Error  string `json:"error,omitempty"`
}

func jsonProbe(p *resolve.Listing) listJSON {
	ol := p.Object
	j := listJSON{Probe: p.Probe(), Kind: p.Kind, Target: ol.Target.Path, Provider: p.Provider, Name: p.Func, Sites: []listSiteJSON{}, Inlined: p.Inlined}
	if p.Display != p.Func {
		j.Demangled = p.Display
	}
	j.Params = cSignature(p)
	if ol.Go != nil {
		j.GoVersion, j.GoModule = ol.Go.Version, ol.Go.Module
	}
	for i, s := range p.Sites {
		sj := listSiteJSON{Addr: s.Addr, Offset: s.Offset}
		if i < len(p.Funcs) {
			f := &p.Funcs[i]
			sj.Bind, sj.IFUNC, sj.Source = bindName(f.Bind), f.IFUNC(), f.Source.String()
			sj.Version = f.Version
		}
		if u := s.USDT; u != nil {
			sj.Semaphore, sj.SemaphoreOffset = u.Semaphore, u.SemaphoreOffset
			raw := u.ArgsRaw
			sj.ArgsRaw = &raw
			if u.Err != nil {
				sj.Error = u.Err.Error()
			}
			for _, a := range u.Args {
				aj := listArgJSON{Spec: a.Raw, Desc: a.String(), Size: a.Size, Signed: a.Signed}
				if a.Err != nil {
					aj.Error = a.Err.Error()
				}
				sj.Args = append(sj.Args, aj)
			}
		} else {
			size := s.Size
			sj.Size = &size
		}
		j.Sites = append(j.Sites, sj)
	}
	return j
}
