package tools

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/uscope/uscope/internal/output"
)

// ProfileOptions configure `uscope profile`.
type ProfileOptions struct {
	Options
	// Hz is the sampling frequency per CPU (-F).
	Hz int
	// Format is folded (the default), pprof or svg (-f).
	Format string
	// Path is the file written (-o); "" writes folded stacks to Out.
	Path string
	// Title heads the flame graph.
	Title string
}

// ProfileFormats are the formats of -f.
var ProfileFormats = []string{"folded", "pprof", "svg"}

// Profile builds the CPU profiler: a profile:hz probe counting
// @stacks[comm, ustack] in the kernel, written at the end as folded
// stacks, a pprof profile or a flame graph. Samples with no user frame
// (the process was in the kernel with no user stack to walk) are left out.
func Profile(o ProfileOptions) (*Tool, error) {
	if o.Hz <= 0 || o.Hz > 100000 {
		return nil, fmt.Errorf("-F %d: the sampling frequency is 1 to 100000 Hz (99 is usual)", o.Hz)
	}
	switch o.Format {
	case "", "folded":
	case "json":
		o.JSON = true
	case "pprof", "svg":
		if o.Path == "" {
			return nil, fmt.Errorf("-f %s writes a file: give -o FILE", o.Format)
		}
	default:
		return nil, fmt.Errorf("unknown format %q; use -f folded, json, pprof or svg", o.Format)
	}
	prog, err := render("profile", struct{ Hz int }{o.Hz})
	if err != nil {
		return nil, err
	}
	return o.jsonTool(&Tool{
		Program: prog,
		Frame:   func(f output.Frame) string { return output.BCCFrame(f, false) },
		Report: func(maps []*output.Map, final bool) {
			if !final {
				return
			}
			if err := o.write(profileSamples(find(maps, "@stacks"))); err != nil {
				fmt.Fprintf(os.Stderr, "uscope: profile: %v\n", err)
			}
		},
	}, "@stacks"), nil
}

// profileSample is one counted stack with its process name.
type profileSample struct {
	comm string
	output.Sampled
}

// profileSamples merges the stacks of processes of one name (as flame
// graphs do), in folded-line order.
func profileSamples(m *output.Map) []profileSample { return mergeSamples(m, 1) }

// mergeSamples turns a map of counted stacks keyed [comm, ..., ustack]
// (the stack at index stack, the last part) into samples, root first,
// those of processes of one name merged, in folded-line order. Profile
// and stack share it.
func mergeSamples(m *output.Map, stack int) []profileSample {
	if m == nil {
		return nil
	}
	idx := map[string]int{}
	var out []profileSample
	for _, e := range m.Entries {
		if len(e.Key) != stack+1 || len(e.Key[stack].Frames) == 0 {
			continue
		}
		comm, frames := keyText(e.Key[0]), e.Key[stack].Frames
		k := output.Folded(comm, frames)
		if i, ok := idx[k]; ok {
			out[i].Count += intOf(e.Value)
			continue
		}
		idx[k] = len(out)
		out = append(out, profileSample{comm: comm, Sampled: output.Sampled{Frames: reverse(frames), Count: intOf(e.Value)}})
	}
	sort.Slice(out, func(i, j int) bool {
		return output.Folded(out[i].comm, reverse(out[i].Frames)) < output.Folded(out[j].comm, reverse(out[j].Frames))
	})
	return out
}

func reverse(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

// write writes the samples in the chosen format to the file or Out.
func (o *ProfileOptions) write(samples []profileSample) error {
	title := o.Title
	if title == "" {
		title = "CPU flame graph"
	}
	return writeSamples(o.Out, o.Path, o.Format, title, samples, func(w io.Writer, st []output.Sampled) error {
		return output.Pprof(w, st, int64(1e9/o.Hz))
	})
}

// writeSamples writes counted stacks (root first) as folded lines, a
// pprof profile (pprof writes it) or a flame graph SVG titled title, to
// the file at path, or to w when path is "". Stack and profile share it.
func writeSamples(w io.Writer, path, format, title string, samples []profileSample, pprof func(io.Writer, []output.Sampled) error) error {
	var buf bytes.Buffer
	switch format {
	case "pprof":
		var st []output.Sampled
		for _, s := range samples {
			st = append(st, s.Sampled)
		}
		if err := pprof(&buf, st); err != nil {
			return err
		}
	case "svg":
		var st []output.Sampled
		for _, s := range samples {
			st = append(st, output.Sampled{Frames: append([]string{s.comm}, s.Frames...), Count: s.Count})
		}
		if err := output.FlameGraph(&buf, title, st); err != nil {
			return err
		}
	default:
		for _, s := range samples {
			buf.WriteString(output.FoldedLine(s.comm, reverse(s.Frames), s.Count))
		}
	}
	if path != "" {
		return os.WriteFile(path, buf.Bytes(), 0o644)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
