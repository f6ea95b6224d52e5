package compile

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/uscope/uscope/internal/lang"
)

// Profile probes (profile:hz:N, profile:us:N): a perf_event program that a
// CPU-clock software event on every CPU runs at the rate given; the
// session opens the events (attach.Set.AttachProfile). The context is
// struct bpf_perf_event_data, whose first member is the interrupted
// pt_regs, so register reads and bpf_get_stackid work as in a uprobe.
// Samples are kept for the traced tree (Options.FilterTree), or for
// Options.ProfilePID alone, or, with neither, for every process, as
// bpftrace's profile probe does.

// Profile is the sampling rate of a profile program: Hz (frequency mode)
// or PeriodNanos of CPU time.
type Profile struct {
	Hz          uint64
	PeriodNanos uint64
	// name is the index in Plan.Specials of the entry that names the
	// probe for func and probe (never triggered: its kind is profile).
	name int
}

// expandProfile makes the unit of a profile probe; it has no sites.
func (c *compiler) expandProfile(idx int, pr *lang.Probe, ap *lang.AttachPoint) ([]*unit, error) {
	if len(pr.Points) > 1 {
		return nil, c.errorf(ap, "give it a block of its own", "%s cannot share a block with other attach points", ap.Kind)
	}
	if ap.ProfileHz == 0 && ap.IntervalNanos == 0 {
		return nil, c.errorf(ap, "write profile:hz:99", "profile rate must be positive")
	}
	prof := &Profile{Hz: ap.ProfileHz, PeriodNanos: ap.IntervalNanos, name: len(c.plan.Specials)}
	c.plan.Specials = append(c.plan.Specials, &Special{Kind: lang.KindProfile, Name: ap.String(), Index: prof.name})
	return []*unit{{c: c, probe: pr, name: fmt.Sprintf("f%d", idx), shape: shape{kind: lang.KindProfile}, profile: prof}}, nil
}

// profileProgram makes a profile unit's program a perf_event one.
func (c *compiler) profileProgram(u *unit, p *Program) {
	if u.profile == nil {
		return
	}
	p.Profile = u.profile
	spec := c.plan.Spec.Programs[u.name]
	spec.Type = ebpf.PerfEvent
	spec.AttachType = ebpf.AttachNone
}

// profileFilter keeps only ProfilePID's samples in a profile program when
// no tree filter runs.
func (g *gen) profileFilter() {
	if g.profile == nil || g.c.opts.FilterTree || g.c.opts.ProfilePID == 0 {
		return
	}
	g.emit(
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.JNE.Imm(asm.R0, int32(g.c.opts.ProfilePID), g.exitLbl),
	)
}

// profileName loads what func and probe are in a profile program: the
// number decode maps to the probe's name (past the sites, as specials).
func (g *gen) profileName() bool {
	if g.profile == nil {
		return false
	}
	g.emit(asm.LoadImm(asm.R0, int64(len(g.c.plan.Sites)+g.profile.name), asm.DWord))
	return true
}
