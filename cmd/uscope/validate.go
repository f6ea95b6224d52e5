package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/tools"
)

// Every numeric flag of every command is checked here, before the command
// runs, so that a bad value is one line and exit 1 instead of a silent
// default or a kernel error later (issue 19).

// maxMapSize is the most keys a map may hold: the kernel gives a hash map
// at most 2^27 buckets (n_buckets, a power of two, times the 16-byte
// bucket must stay under 4 GiB) and refuses more with E2BIG.
const maxMapSize = 1 << 27

// maxStrSize is the most bytes str() reads with its NUL (the compiler's
// bound).
const maxStrSize = compile.MaxStrLen + 1

// pidLimit is the kernel's PID_MAX_LIMIT on 64-bit machines: pid_max is
// at most 2^22, so no process id is larger.
const pidLimit = 1 << 22

// pidValue is a -p PID flag, whose mistakes are told in bpftrace's words
// (the same for every command: bpftrace's -p is where users learned them).
type pidValue int

func pidFlag(c *cobra.Command, p *int, usage string) {
	c.Flags().VarP((*pidValue)(p), "pid", "p", usage)
}

func (p *pidValue) String() string { return strconv.Itoa(int(*p)) }
func (p *pidValue) Type() string   { return "int" }

func (p *pidValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	digits := strings.TrimPrefix(s, "-")
	switch {
	case err == nil:
	case digits == "" || digits[0] < '0' || digits[0] > '9':
		return fmt.Errorf("Failed to parse pid: invalid integer: %s", s)
	case errors.Is(err, strconv.ErrRange):
		return fmt.Errorf("Pid out of range: %s", s)
	default:
		return fmt.Errorf("Failed to parse pid: invalid trailing bytes: %s", s)
	}
	if n > pidLimit {
		return fmt.Errorf("Pid out of range: %s", s)
	}
	*p = pidValue(n)
	return nil
}

// flagRange is the allowed range of a numeric flag, and why.
type flagRange struct {
	min, max float64
	why      string // what the range means, for the message
}

// flagRanges lists the numeric flags by name; a flag named here is checked
// on every command that has it.
var flagRanges = map[string]flagRange{
	"pid":         {1, pidLimit, "a process id is a positive number; give the PID of a running process"},
	"tid":         {1, math.MaxInt32, "a thread id is a positive number"},
	"str-size":    {2, maxStrSize, fmt.Sprintf("it must be 2 to %d bytes: one character and the terminating NUL at least, at most what str() reads", maxStrSize)},
	"string-size": {2, maxStrSize, fmt.Sprintf("it must be 2 to %d bytes: one character and the terminating NUL at least, at most what str() reads", maxStrSize)},
	"map-size":    {1, maxMapSize, fmt.Sprintf("it must be 1 to %d keys (2^27, the most buckets the kernel gives a hash map)", maxMapSize)},
	"number":      {1, math.MaxInt32, "give at least 1, or leave it out for no limit"},
	"max-events":  {1, math.MaxInt32, "give at least 1, or leave it out for no limit"},
	"top":         {1, math.MaxInt32, "give at least 1, or leave it out to print all"},
	"top-count":   {1, math.MaxInt32, "give at least 1, or leave it out to print all"},
	"top-size":    {1, math.MaxInt32, "give at least 1, or leave it out to print all"},
	"rows":        {1, math.MaxInt32, "give at least 1"},
	"requests":    {1, 1 << 20, "give 1 to 1048576"},
	"max-bytes":   {1, tools.MaxTLSBytes, fmt.Sprintf("it must be 1 to %d bytes", tools.MaxTLSBytes)},
	"threshold":   {0, math.MaxFloat64, "give 0 or more milliseconds"},
	"minimum":     {0, math.MaxFloat64, "give 0 or more milliseconds"},
}

// validateFlags checks the flags the user set on c.
func validateFlags(c *cobra.Command) error {
	var first error
	c.Flags().Visit(func(f *pflag.Flag) {
		if first == nil {
			first = validateFlag(c, f)
		}
	})
	if first != nil {
		return usageError(fmt.Errorf("%w; see 'uscope %s --help'", first, c.Name()))
	}
	return nil
}

func validateFlag(c *cobra.Command, f *pflag.Flag) error {
	name := "--" + f.Name
	v := f.Value.String()
	switch f.Name {
	case "command", "cmd":
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s %q: the command is empty; give the program to run, e.g. %s './app --flag'", name, v, name)
		}
		return nil
	case "interval":
		if f.Value.Type() == "seconds" || f.Value.Type() == "float64" {
			d, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64)
			if s, ok := f.Value.(*seconds); ok {
				d, err = s.d.Seconds(), nil
			}
			if err == nil && d <= 0 {
				return fmt.Errorf("%s %s: the interval must be more than 0 seconds", name, v)
			}
		}
		return nil
	case "duration":
		if f.Value.Type() == "duration" {
			if d, err := time.ParseDuration(v); err == nil && d <= 0 {
				return fmt.Errorf("%s %s: give a positive duration such as 10s, or leave it out to trace until Ctrl-C", name, v)
			}
		}
		return nil
	}
	r, ok := flagRanges[f.Name]
	if !ok {
		return nil
	}
	var vals []string
	switch f.Value.Type() {
	case "int", "float64":
		vals = []string{v}
	case "intSlice":
		vals = strings.Split(strings.Trim(v, "[]"), ",")
	default:
		return nil
	}
	for _, s := range vals {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		if math.IsNaN(n) || n < r.min || n > r.max {
			return fmt.Errorf("%s %s: %s", name, s, r.why)
		}
	}
	return nil
}
