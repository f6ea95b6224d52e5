package compile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/uscope/uscope/internal/lang"
)

// Config is what a program's config = { ... } block set that the session
// acts on (the compiler applies max_strlen and max_map_keys itself).
type Config struct {
	// MissingProbes is error (default), warn or ignore: what to do with
	// an attach point that matches nothing.
	MissingProbes string
	// NoMapsOnExit is print_maps_on_exit = false.
	NoMapsOnExit bool
	// StackMode is bpftrace's stack_mode: bpftrace (default), perf, raw.
	StackMode string
	// FramePointersOnly is unwind = fp (cfiunwind.go): stacks are the
	// kernel's frame-pointer walk only.
	FramePointersOnly bool
	// ShowDebugInfo is show_debug_info (ustack.go): frames carry
	// @file:line and inlined functions.
	ShowDebugInfo bool
	// MaxCatBytes is max_cat_bytes: how much of a file cat() prints
	// (0: bpftrace's default, 10240).
	MaxCatBytes int
}

// configKeys are bpftrace's config variables that apply to userspace
// tracing; the value checks the setting and applies it. Keys bpftrace has
// for its own implementation (log_size, max_bpf_progs ...) are accepted
// and have no effect in uscope.
var configKeys = map[string]func(c *compiler, v string) string{
	"max_strlen": func(c *compiler, v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxStrLen {
			return fmt.Sprintf("max_strlen takes a number from 1 to %d", MaxStrLen)
		}
		c.opts.StrSize = n + 1
		return ""
	},
	"max_map_keys": func(c *compiler, v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<24 {
			return "max_map_keys takes a number from 1 to 16777216"
		}
		c.opts.MapSize = n
		return ""
	},
	"max_cat_bytes": func(c *compiler, v string) string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return "max_cat_bytes takes a positive number"
		}
		c.plan.Config.MaxCatBytes = n
		return ""
	},
	"missing_probes": func(c *compiler, v string) string {
		switch v {
		case "error", "warn", "ignore":
			c.plan.Config.MissingProbes = v
			return ""
		}
		return "missing_probes is error, warn or ignore"
	},
	"print_maps_on_exit": func(c *compiler, v string) string {
		b, ok := configBool(v)
		if !ok {
			return "print_maps_on_exit is true or false"
		}
		c.plan.Config.NoMapsOnExit = !b
		return ""
	},
	"probe_inline": func(c *compiler, v string) string {
		b, ok := configBool(v)
		if !ok {
			return "probe_inline is true or false"
		}
		// Go's inlined copies (resolve.Options.ProbeInline).
		if r, ok := c.opts.Resolver.(interface{ SetProbeInline(bool) }); ok {
			r.SetProbeInline(b)
		}
		return ""
	},
	"license": func(c *compiler, v string) string {
		// Every program is loaded as GPL, which the helpers uscope calls
		// need; bpftrace accepts the kernel's GPL-compatible names.
		switch v {
		case "Dual MIT/GPL", "Dual BSD/GPL", "Dual MPL/GPL", "GPL and additional rights", "GPL v2", "GPL":
			return ""
		}
		return fmt.Sprintf("Invalid value for license. Found: %s. Valid values: Dual MIT/GPL, Dual BSD/GPL, Dual MPL/GPL, GPL and additional rights, GPL v2, GPL", v)
	},
	"stack_mode": func(c *compiler, v string) string {
		switch v {
		case "bpftrace", "perf", "raw", "build_id":
			c.plan.Config.StackMode = v
			return ""
		}
		return "stack_mode is bpftrace, perf, raw or build_id"
	},
}

// configIgnored are bpftrace's other config variables: accepted, without
// effect in uscope (they tune bpftrace's own implementation or kernel
// features).
var configIgnored = map[string]bool{
	"cache_user_symbols": true, "cpp_demangle": true, "lazy_symbolication": true,
	"log_size": true, "max_bpf_progs": true, "max_probes": true,
	"on_stack_limit": true, "perf_rb_pages": true, "show_debug_info": true, "str_trunc_trailer": true,
	"max_type_res_iterations": true, "symbol_source": true, "use_blazesym": true, "max_ast_nodes": true,
}

func configBool(v string) (bool, bool) {
	switch v {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// applyConfig applies a config block; keys may be written as bpftrace's
// environment variables (BPFTRACE_MAX_STRLEN) or in lowercase. The
// environment's BPFTRACE_* variables (Options.ConfigEnv) take precedence
// over the block, as in bpftrace.
func (c *compiler) applyConfig(items []*lang.ConfigItem) {
	defer func() {
		for k, v := range c.opts.ConfigEnv {
			key, skip := envConfigKey(c.opts.ConfigEnv, k)
			if set, ok := configKeys[key]; ok && !skip {
				if msg := set(c, v); msg != "" {
					c.report(fmt.Errorf("environment variable %s: %s, not %q", k, msg, v))
				}
			}
		}
	}()
	for _, it := range items {
		key := strings.ToLower(strings.TrimPrefix(strings.ToUpper(it.Key), "BPFTRACE_"))
		if set, ok := configKeys[key]; ok {
			if msg := set(c, it.Value); msg != "" {
				if !strings.Contains(msg, "Found: ") {
					msg = fmt.Sprintf("%s, not %q", msg, it.Value)
				}
				c.report(c.prog.Errorf(it, it.Len, "", "%s", msg))
			}
			continue
		}
		if configIgnored[key] || strings.HasPrefix(key, "unstable_") {
			continue
		}
		var known []string
		for k := range configKeys {
			known = append(known, k)
		}
		sort.Strings(known)
		hint := "uscope knows " + strings.Join(known, ", ")
		if near := nearest(key, known); near != "" {
			hint = "did you mean " + near + "?"
		}
		c.report(c.prog.Errorf(it, it.Len, hint, "%s: not a known configuration option", it.Key))
	}
}

// configValues are the values config() reads (config().max_strlen, or
// __builtin_config.max_strlen), as the session will use them: what the
// config block and the environment set, else the defaults.
func (c *compiler) configValues() map[string]lang.Expr {
	str := func(s string) lang.Expr { return &lang.StrLit{Value: s} }
	num := func(n int64) lang.Expr { return &lang.IntLit{Value: uint64(n), Text: strconv.FormatInt(n, 10)} }
	boolean := func(b bool) lang.Expr {
		if b {
			return &lang.IntLit{Value: 1, Text: "true"}
		}
		return &lang.IntLit{Value: 0, Text: "false"}
	}
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	cat := c.plan.Config.MaxCatBytes
	if cat == 0 {
		cat = 10240
	}
	return map[string]lang.Expr{
		"max_strlen":         num(int64(c.opts.StrSize - 1)),
		"max_map_keys":       num(int64(c.opts.MapSize)),
		"max_cat_bytes":      num(int64(cat)),
		"stack_mode":         str(or(c.plan.Config.StackMode, "bpftrace")),
		"missing_probes":     str(or(c.plan.Config.MissingProbes, "error")),
		"print_maps_on_exit": boolean(!c.plan.Config.NoMapsOnExit),
		"show_debug_info":    boolean(c.plan.Config.ShowDebugInfo),
		"cpp_demangle":       boolean(true),
	}
}
