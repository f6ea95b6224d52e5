package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/doctor"
	"github.com/uscope/uscope/internal/lang"
)

func init() { commands = append(commands, newVersionCommand) }

// version is uscope's release version. Release builds set it with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/uscope
//
// When empty, the version comes from the binary's build information.
var version = ""

// buildVersion is the version and source revision uscope was built from.
type buildVersion struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

// currentVersion returns the version of the running binary.
func currentVersion() buildVersion {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(version, info)
}

// versionFrom derives the version: override when set, else the main
// module's version, else "devel"; the commit and modified flag come from
// the vcs.* build settings when the toolchain recorded them.
func versionFrom(override string, info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: override}
	if info == nil {
		if v.Version == "" {
			v.Version = "devel"
		}
		return v
	}
	if v.Version == "" {
		v.Version = info.Main.Version
		if v.Version == "" || v.Version == "(devel)" {
			v.Version = "devel"
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String formats the version as "v1.2.3 (0123456789ab, modified)".
func (v buildVersion) String() string {
	s := v.Version
	commit := v.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	switch {
	case commit != "" && v.Modified:
		s += " (" + commit + ", modified)"
	case commit != "":
		s += " (" + commit + ")"
	case v.Modified:
		s += " (modified)"
	}
	return s
}

// bpftraceVersionLine is what run --version prints: bpftrace's form
// ("bpftrace vX.Y.Z") with the language's version, then uscope's.
func bpftraceVersionLine() string {
	return "bpftrace " + lang.BpftraceVersion + " (the language of uscope " + currentVersion().String() + ")"
}

// versionReport is what `uscope version` prints.
type versionReport struct {
	buildVersion
	Go       string          `json:"go"`
	Platform string          `json:"platform"`
	Kernel   string          `json:"kernel"`
	Features []featureReport `json:"features"`
}

// featureReport is one kernel feature in the JSON output.
type featureReport struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

func newVersionReport(fs attach.FeatureSet) versionReport {
	kernel, err := doctor.KernelRelease()
	if err != nil {
		kernel = "unknown (" + err.Error() + ")"
	}
	r := versionReport{
		buildVersion: currentVersion(),
		Go:           runtime.Version(),
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
		Kernel:       kernel,
	}
	for _, f := range fs.List() {
		r.Features = append(r.Features, featureReport{Name: f.Name, OK: f.OK, Reason: f.Reason})
	}
	return r
}

func (r versionReport) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "uscope\t%s\n", r.buildVersion)
	fmt.Fprintf(tw, "language\tbpftrace %s\n", lang.BpftraceVersion)
	fmt.Fprintf(tw, "go\t%s %s\n", r.Go, r.Platform)
	fmt.Fprintf(tw, "kernel\t%s\n", r.Kernel)
	fmt.Fprintf(tw, "features:\n")
	for _, f := range r.Features {
		state := "yes"
		if !f.OK {
			state = "no: " + f.Reason
			if r, ok := strings.CutPrefix(f.Reason, "could not check: "); ok {
				state = "unknown: " + r
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", f.Name, state)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	return nil
}

func (r versionReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	return nil
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print uscope's version, Go version, kernel and kernel features",
		Long: `Version prints the uscope version and commit it was built from, the Go
toolchain, the running kernel's release, and whether the kernel offers each
feature uscope uses (uprobe_multi, ref_ctr_offset, ring buffer, attach
cookies, optimized uprobes, BTF), with the reason when it does not.
Features that need a BPF program load to detect report "could not check"
without root; 'uscope doctor' explains what to change.`,
		Example: `  uscope version
  uscope version --json
  sudo uscope version | grep uprobe_multi`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := newVersionReport(attach.Features())
			if asJSON {
				return r.writeJSON(cmd.OutOrStdout())
			}
			return r.writeText(cmd.OutOrStdout())
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}
