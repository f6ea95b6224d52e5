package compile

import (
	"fmt"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Headers: uscope has no C preprocessor, so bpftrace's --include HEADER is
// honoured for the system headers whose definitions programs use: the
// constants of errno.h (EPERM ...) and signal.h (SIGINT ...), taken from
// this system's own tables, and the headers whose types uscope knows
// already (uint8_t ...). Any other header is refused with the list.

// headerDefines returns the constants a header defines, or an error
// naming the headers uscope knows.
func headerDefines(header string) (map[string]int64, error) {
	h := strings.Trim(header, `<>"`)
	switch h {
	case "errno.h", "asm-generic/errno.h", "asm-generic/errno-base.h", "linux/errno.h":
		d := map[string]int64{}
		for n := 1; n < 4096; n++ {
			if name := unix.ErrnoName(syscall.Errno(n)); name != "" {
				d[name] = int64(n)
			}
		}
		return d, nil
	case "signal.h", "linux/signal.h", "asm/signal.h":
		d := map[string]int64{}
		for n := 1; n < 65; n++ {
			if name := unix.SignalName(syscall.Signal(n)); name != "" {
				d[name] = int64(n)
			}
		}
		return d, nil
	case "stdint.h", "stddef.h", "stdbool.h", "sys/types.h", "linux/types.h", "inttypes.h", "linux/bpf.h":
		return nil, nil
	}
	known := []string{"errno.h", "signal.h", "stdint.h", "stddef.h", "stdbool.h", "sys/types.h", "inttypes.h", "linux/types.h"}
	sort.Strings(known)
	return nil, fmt.Errorf("--include %s: uscope has no C preprocessor; it knows the definitions of %s (define structs in the program instead)", header, strings.Join(known, ", "))
}

// IncludeDefines gathers the constants of the headers given with
// --include, for Options.Defines.
func IncludeDefines(headers []string) (map[string]int64, error) {
	all := map[string]int64{}
	for _, h := range headers {
		d, err := headerDefines(h)
		if err != nil {
			return nil, err
		}
		for k, v := range d {
			all[k] = v
		}
	}
	return all, nil
}

// directiveDefines adds to the constants of --include those of the
// program's own #include and #define lines.
func (c *compiler) directiveDefines(given map[string]int64) map[string]int64 {
	if len(c.prog.Directives) == 0 {
		return given
	}
	all := make(map[string]int64, len(given))
	for k, v := range given {
		all[k] = v
	}
	for _, d := range c.prog.Directives {
		if d.Include == "" {
			all[d.Name] = d.Value
			continue
		}
		h, err := headerDefines(d.Include)
		if err != nil {
			_, why, _ := strings.Cut(err.Error(), ": ")
			c.report(c.prog.Errorf(d, len("#include ")+len(d.Include), why, "'%s' file not found", strings.Trim(d.Include, `<>"`)))
			continue
		}
		for k, v := range h {
			all[k] = v
		}
	}
	return all
}
