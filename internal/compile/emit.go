package compile

import (
	"github.com/cilium/ebpf"
)

// emit is the last pass: it generates each unit's instructions (gen.go
// and the files it calls) and adds the program to the plan. It fails only
// when a program runs out of a resource: BPF stack, scratch space.
func (c *compiler) emit(units []*unit) error {
	for _, u := range units {
		g := newGen(u)
		insns, err := g.program()
		if err != nil {
			return err
		}
		c.addProgram(u.name, insns)
		p := &Program{Name: u.name, Kind: u.shape.kind, Sites: u.sites, Return: u.shape.ret && !u.shape.atReturn, positions: g.posOf}
		if u.special != nil {
			p.Special = u.special
		}
		c.profileProgram(u, p)
		c.plan.Programs = append(c.plan.Programs, p)
	}
	return nil
}

func (c *compiler) addProgram(name string, insns []instruction) {
	spec := &ebpf.ProgramSpec{
		Name:         name,
		Type:         ebpf.Kprobe,
		License:      "GPL",
		Instructions: toAsm(insns),
	}
	if c.opts.Multi {
		spec.AttachType = ebpf.AttachTraceUprobeMulti
	}
	c.plan.Spec.Programs[name] = spec
}
