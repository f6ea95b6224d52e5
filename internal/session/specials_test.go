package session

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/attach"
	"github.com/uscope/uscope/internal/compile"
	"github.com/uscope/uscope/internal/lang"
)

// rawBackend is the harness's backend with specials run as raw tracepoint
// programs: runSpecial reads the special's id where the generated code
// does, and runs the harness's BEGIN/END actions. refuse makes the fake
// kernel refuse raw tracepoint programs, as a kernel does one that calls a
// kprobe-only helper.
func rawBackend(h *harness, refuse bool, types *[]ebpf.ProgramType) backend {
	be := h.backend()
	load := be.load
	be.load = func(plan *compile.Plan) (kernel, error) {
		for _, p := range plan.Programs {
			if p.Special == nil {
				continue
			}
			typ := plan.Spec.Programs[p.Name].Type
			*types = append(*types, typ)
			if refuse && typ == ebpf.RawTracepoint {
				h.log.add("load refused")
				return nil, errors.New("fake verifier: unknown func bpf_get_attach_cookie")
			}
		}
		return load(plan)
	}
	be.runSpecial = func(_ *ebpf.Program, ctx []byte) error {
		if len(ctx) != rawCtxSize {
			h.t.Errorf("context of %d bytes, want %d", len(ctx), rawCtxSize)
		}
		id := binary.NativeEndian.Uint64(ctx[triggerArgOffset:])
		for _, sp := range h.kern.plan.Specials {
			if sp.ID == id {
				h.log.add("run %s", sp.Kind)
				if f := h.onTrigger[sp.Kind]; f != nil {
					f(h)
				}
			}
		}
		return nil
	}
	be.attachType = func(attach.Options) ebpf.AttachType { return ebpf.AttachTraceUprobeMulti }
	return be
}

func runRaw(t *testing.T, h *harness, be backend, src string) {
	t.Helper()
	prog, err := lang.Parse("test.bt", src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Program: prog, Out: h.out, Attached: func(n int) { h.log.add("attached %d", n) }}
	if err := runWith(context.Background(), cfg, be); err != nil {
		t.Fatal(err)
	}
}

// TestSessionRawSpecials: BEGIN and END run through the test run, nothing
// is attached (no uprobe on the trigger to detach), and the probes still
// count as attached.
func TestSessionRawSpecials(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) { h.printf("hi\n"); h.exit() }
	h.onTrigger["END"] = func(h *harness) { h.printf("end\n") }
	var types []ebpf.ProgramType
	runRaw(t, h, rawBackend(h, false, &types), `BEGIN { printf("hi\n"); exit(); } END { printf("end\n"); }`)
	if got, want := h.out.String(), "hi\nend\n\n\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	for _, typ := range types {
		if typ != ebpf.RawTracepoint {
			t.Errorf("a special loaded as %v", typ)
		}
	}
	if h.links.calls != 0 {
		t.Errorf("%d attach calls, want none; events: %q", h.links.calls, h.log.events())
	}
	if h.log.index("attached 2") < 0 {
		t.Errorf("want 2 probes attached; events: %q", h.log.events())
	}
	before(t, h, "run BEGIN", "run END")
	h.cleanedUp()
}

// TestSessionRawSpecialsRefused: when the kernel refuses the specials as
// raw tracepoints, they load as kprobes and run on the trigger, as before.
func TestSessionRawSpecialsRefused(t *testing.T) {
	h := newHarness(t)
	h.onTrigger["BEGIN"] = func(h *harness) { h.printf("hi\n"); h.exit() }
	var types []ebpf.ProgramType
	runRaw(t, h, rawBackend(h, true, &types), `BEGIN { printf("hi\n"); exit(); }`)
	if got, want := h.out.String(), "hi\n\n\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if len(types) != 2 || types[0] != ebpf.RawTracepoint || types[1] != ebpf.Kprobe {
		t.Errorf("loads of the special as %v, want raw tracepoint then kprobe", types)
	}
	if h.log.index("trigger BEGIN") < 0 || h.log.index("run BEGIN") >= 0 {
		t.Errorf("BEGIN did not run on the trigger; events: %q", h.log.events())
	}
	if h.links.calls != 1 {
		t.Errorf("%d attach calls, want 1 (the trigger)", h.links.calls)
	}
	h.cleanedUp()
}

func TestNeedsUprobes(t *testing.T) {
	for src, want := range map[string]bool{
		`BEGIN { exit(); }`:                           false,
		`BEGIN { } END { } interval:s:1 { exit(); }`:  false,
		`uprobe:/bin/true:main { } BEGIN { exit(); }`: true,
		`usdt:/bin/true:p:n { }`:                      true,
	} {
		prog, err := lang.Parse("test.bt", src)
		if err != nil {
			t.Fatal(err)
		}
		if got := needsUprobes(prog); got != want {
			t.Errorf("needsUprobes(%s) = %v, want %v", src, got, want)
		}
	}
}
