package tools

import "github.com/uscope/uscope/internal/lang"

// TraceFilter is what bcc trace's filters add to every probe of a trace
// program (the specs parsed by lang.ParseTraceSpecs): -L TID, -n NAME
// (the thread's name contains it), --uid UID.
type TraceFilter struct {
	// TID is -L (0: any thread); Comm is -n ("": any); UID is --uid
	// (negative: any user).
	TID  int
	Comm string
	UID  int
}

// Apply puts the filter's conditions before every probe's predicate.
func (f TraceFilter) Apply(p *lang.Program) {
	if f.Comm != "" {
		addPredicate(p, func(pos lang.Pos) lang.Expr {
			return &lang.Call{Pos: pos, Name: "strcontains", Args: []lang.Expr{
				&lang.Ident{Pos: pos, Name: "comm"}, &lang.StrLit{Pos: pos, Value: f.Comm}}}
		})
	}
	if f.UID >= 0 {
		addPredicate(p, equals("uid", uint64(f.UID)))
	}
	if f.TID != 0 {
		addPredicate(p, equals("tid", uint64(f.TID)))
	}
}

// equals makes the condition `name == v`.
func equals(name string, v uint64) func(lang.Pos) lang.Expr {
	return func(pos lang.Pos) lang.Expr {
		return &lang.Binary{Pos: pos, Op: "==", X: &lang.Ident{Pos: pos, Name: name}, Y: &lang.IntLit{Pos: pos, Value: v}}
	}
}

// addPredicate puts cond before the predicate of every probe of the
// traced process (uprobes, uretprobes, USDT); a tool's interval, BEGIN and
// END probes are left alone.
func addPredicate(p *lang.Program, cond func(lang.Pos) lang.Expr) {
	for _, pr := range p.Probes {
		if !traced(pr) {
			continue
		}
		c := cond(pr.Pos)
		if pr.Pred == nil {
			pr.Pred = c
		} else {
			pr.Pred = &lang.Binary{Pos: pr.Pos, Op: "&&", X: c, Y: pr.Pred}
		}
	}
}

// traced reports whether a probe's points are all in the traced program.
func traced(pr *lang.Probe) bool {
	for _, ap := range pr.Points {
		switch ap.Kind {
		case lang.KindUprobe, lang.KindUretprobe, lang.KindUSDT:
		default:
			return false
		}
	}
	return len(pr.Points) > 0
}
