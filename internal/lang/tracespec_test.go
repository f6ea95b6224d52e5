package lang

import (
	"strings"
	"testing"
)

func TestParseTraceSpec(t *testing.T) {
	tests := []struct {
		spec  string
		opts  TraceOptions
		point AttachPoint // Pos and Raw checked apart
		pred  string      // sexpr, "" for none
		body  string      // sexpr of the body
		label string
	}{
		{
			spec:  `/usr/bin/redis-server:createStringObject "%s" arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "/usr/bin/redis-server", Func: "createStringObject"},
			body:  `{(printf "%s" (str arg0))}`,
			label: "createStringObject",
		},
		{
			spec:  `r:c:malloc "ret=%x" retval`,
			point: AttachPoint{Kind: KindUretprobe, Target: "c", Func: "malloc"},
			body:  `{(printf "ret=%x" retval)}`,
			label: "malloc",
		},
		{
			spec:  `p:c:open (STRCMP("/etc/passwd", arg1)) "%s" arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "open"},
			pred:  `(== (str arg0) "/etc/passwd")`,
			body:  `{(printf "%s" (str arg0))}`,
			label: "open",
		},
		{
			spec:  `u:/usr/bin/python3.11:function__entry "%s" arg2`,
			point: AttachPoint{Kind: KindUSDT, Target: "/usr/bin/python3.11", Func: "function__entry"},
			body:  `{(printf "%s" (str arg1))}`,
			label: "function__entry",
		},
		{
			spec:  `u:/usr/bin/python3.11:python:function__entry "%s.%s", arg1, arg2`,
			opts:  TraceOptions{StrSize: 120},
			point: AttachPoint{Kind: KindUSDT, Target: "/usr/bin/python3.11", Provider: "python", Func: "function__entry"},
			body:  `{(printf "%s.%s" (str arg0 120) (str arg1 120))}`,
			label: "function__entry",
		},
		{
			spec:  `c:malloc "size = %d", arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "malloc"},
			body:  `{(printf "size = %d" arg0)}`,
			label: "malloc",
		},
		{
			spec:  `malloc`,
			point: AttachPoint{Kind: KindUprobe, Func: "malloc"},
			body:  `{(printf "")}`,
			label: "malloc",
		},
		{
			spec:  `p::malloc (arg1 > 100)`,
			point: AttachPoint{Kind: KindUprobe, Func: "malloc"},
			pred:  `(> arg0 100)`,
			body:  `{(printf "")}`,
			label: "malloc",
		},
		{
			spec:  `p:/usr/lib/libfoo.so.1:a:b:f "x"`,
			point: AttachPoint{Kind: KindUprobe, Target: "/usr/lib/libfoo.so.1:a:b", Func: "f"},
			body:  `{(printf "x")}`,
			label: "f",
		},
		{
			spec:  `r:c:read ((int)retval < 0) "read failed: %d", retval`,
			point: AttachPoint{Kind: KindUretprobe, Target: "c", Func: "read"},
			pred:  `(< (cast "int" retval) 0)`,
			body:  `{(printf "read failed: %d" retval)}`,
			label: "read",
		},
		{
			spec:  `r:c:gets "%s" $retval`,
			point: AttachPoint{Kind: KindUretprobe, Target: "c", Func: "gets"},
			body:  `{(printf "%s" (str retval))}`,
			label: "gets",
		},
		{
			spec:  `p:c:strlen "%d" *(int*)arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "strlen"},
			body:  `{(printf "%d" (* (cast "int *" arg0)))}`,
			label: "strlen",
		},
		{
			spec:  `p:c:malloc ($pid == 1 || $tgid == 2) "%d %d %d %d %p", $uid, $gid, $cpu, $pid, $task`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "malloc"},
			pred:  `(|| (== tid 1) (== pid 2))`,
			body:  `{(printf "%d %d %d %d %p" uid gid cpu tid curtask)}`,
			label: "malloc",
		},
		{
			spec:  `p:c:write(int fd, char *buf, size_t len) (fd == 1) "%s", buf`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "write"},
			pred:  `(== (cast "int" arg0) 1)`,
			body:  `{(printf "%s" (str (cast "char *" arg1)))}`,
			label: "write",
		},
		{
			spec:  `p:c:f(void)`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "f"},
			body:  `{(printf "")}`,
			label: "f",
		},
		{
			spec:  `p:/tmp/a.out:main+0xd "%x", ctx->dx`,
			point: AttachPoint{Kind: KindUprobe, Target: "/tmp/a.out", Func: "main", Offset: 0xd, HasOffset: true},
			body:  `{(printf "%x" (reg "dx"))}`,
			label: "main",
		},
		{
			spec:  `p:/tmp/a.out:main+37`,
			point: AttachPoint{Kind: KindUprobe, Target: "/tmp/a.out", Func: "main", Offset: 37, HasOffset: true},
			body:  `{(printf "")}`,
			label: "main",
		},
		{
			spec:  `p:/bin/x:0x401000 "hit"`,
			point: AttachPoint{Kind: KindUprobe, Target: "/bin/x", Addr: 0x401000, HasAddr: true},
			body:  `{(printf "hit")}`,
			label: "0x401000",
		},
		{
			spec:  `u:pthread:pthread_create "%U", arg3`,
			point: AttachPoint{Kind: KindUSDT, Target: "pthread", Func: "pthread_create"},
			body:  `{(printf "%s" (usym arg2))}`,
			label: "pthread_create",
		},
		{
			spec:  `p:c:puts "%5s|%-3d|%%|%lu|%llx|%c", arg1, arg1, arg1, arg1, arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "puts"},
			body:  `{(printf "%5s|%-3d|%%|%lu|%llx|%c" (str arg0) arg0 arg0 arg0 arg0)}`,
			label: "puts",
		},
		{
			spec:  "  \tp:c:puts\t\"%d\"  ,  arg1 + arg2  ",
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "puts"},
			body:  `{(printf "%d" (+ arg0 arg1))}`,
			label: "puts",
		},
		{
			spec:  `p:c:f* "%d" arg1`,
			point: AttachPoint{Kind: KindUprobe, Target: "c", Func: "f*"},
			body:  `{(printf "%d" arg0)}`,
			label: "f*",
		},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			probe, err := ParseTraceSpec(tt.spec, tt.opts)
			if err != nil {
				t.Fatal(detail(err))
			}
			if len(probe.Points) != 1 {
				t.Fatalf("got %d attach points", len(probe.Points))
			}
			ap := *probe.Points[0]
			head := strings.Fields(strings.TrimSpace(tt.spec))[0]
			if i := strings.IndexByte(head, '('); i >= 0 {
				head = head[:i]
			}
			if ap.Raw != head {
				t.Errorf("Raw = %q, want %q", ap.Raw, head)
			}
			ap.Pos, ap.Raw = Pos{}, ""
			if ap != tt.point {
				t.Errorf("attach point\ngot  %+v\nwant %+v", ap, tt.point)
			}
			if tt.pred == "" && probe.Pred != nil || tt.pred != "" && sexpr(probe.Pred) != tt.pred {
				t.Errorf("predicate\ngot  %s\nwant %s", sexpr(probe.Pred), tt.pred)
			}
			if got := sexpr(probe.Body); got != tt.body {
				t.Errorf("body\ngot  %s\nwant %s", got, tt.body)
			}
			if probe.Trace == nil || probe.Trace.Label != tt.label || probe.Trace.Spec != strings.TrimSpace(tt.spec) {
				t.Errorf("Trace = %+v, want label %q", probe.Trace, tt.label)
			}
			prog := &Program{File: "trace", Source: tt.spec, Probes: []*Probe{probe}}
			checkPositions(t, prog)
			// The translation is ordinary source: it formats and parses back.
			checkRoundTrip(t, prog)
		})
	}
}

func TestParseTraceSpecErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", `trace:1:1: ERROR: missing probe; a trace spec is [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FMT"[, ARGS...]]`},
		{`t:sched:sched_switch`, `trace:1:1: ERROR: tracepoints are kernel probes: uscope traces userspace; use p:LIB:FUNC, r:LIB:FUNC or u:LIB:[PROVIDER:]NAME`},
		{`k:lib:do_sys_open`, `trace:1:1: ERROR: unknown probe type "k": uscope traces userspace; use p (entry), r (return) or u (USDT)`},
		{`r:malloc`, `trace:1:1: ERROR: ambiguous spec "r:malloc": "r" is read as the library; write r::malloc for the process given with -p, or r:LIB:malloc`},
		{`p:c:`, `trace:1:4: ERROR: missing function name; a trace spec is [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FMT"[, ARGS...]]`},
		{`u:lib:`, `trace:1:6: ERROR: missing function name; a trace spec is [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FMT"[, ARGS...]]`},
		{`u:a:b:c:d`, `trace:1:8: ERROR: too many ':' in USDT spec; write u:LIB:[PROVIDER:]NAME`},
		{`r:c:malloc+4`, `trace:1:5: ERROR: a return probe cannot attach at a function offset; use p: to probe inside the function, or drop the offset`},
		{`p:c:malloc+x`, `trace:1:12: ERROR: invalid offset "x"; write the offset as a number, like +0x10 or +16`},
		{`p:c:+4`, `trace:1:5: ERROR: missing function name before '+'; write FUNC+OFFSET`},
		{`p:c:0xzz`, `trace:1:5: ERROR: invalid address "0xzz"; write an address as 0x401000 or a function name`},
		{`u:/bin/x:probe(int x)`, `trace:1:15: ERROR: a USDT probe takes no signature; use arg1, arg2, ... instead`},
		{`p:c:f(int) "%d", arg1`, `trace:1:10: ERROR: unexpected ')'; expected a parameter name, like (char *path, int flags)`},
		{`p:c:f(int a, int a)`, `trace:1:18: ERROR: parameter "a" declared twice; give each parameter its own name`},
		{`p:c:f(int a; int b)`, `trace:1:12: ERROR: unexpected ';'; expected ',' or ')' in the signature`},
		{`p:c:open (arg0 == 1)`, `trace:1:11: ERROR: bcc numbers arguments from arg1; use arg1 for the first argument`},
		{`p:c:open (arg1 == 1`, `trace:1:20: ERROR: unexpected end of input; expected ')' to close the filter`},
		{`p:c:open "%s %s" arg1`, `trace:1:10: ERROR: format has 2 directives but 1 argument given; give one argument per % directive`},
		{`p:c:open "x" arg1`, `trace:1:10: ERROR: format has 0 directives but 1 argument given; give one argument per % directive`},
		{`p:c:open "%K" arg1`, `trace:1:10: ERROR: %K prints kernel symbols: uscope traces userspace; use %U for user addresses, or %x`},
		{`p:c:open "%q" arg1`, `trace:1:10: ERROR: unknown format directive "%q"; bcc's trace formats are %d %i %u %x %o %c %s %p %U, with h, l or ll`},
		{`p:c:open "%*d" arg1`, `trace:1:10: ERROR: '*' widths are not supported in "%*"; write the width as a number`},
		{`p:c:open "abc %" arg1`, `trace:1:10: ERROR: incomplete format directive "%"; bcc's trace formats are %d %i %u %x %o %c %s %p %U, with h, l or ll`},
		{`p:c:open $foo`, `trace:1:10: ERROR: unexpected variable $foo; a trace spec is [p|r|u]:[LIB]:FUNC[+OFF] [(FILTER)] ["FMT"[, ARGS...]]`},
		{`p:c:open ($foo == 1)`, `trace:1:11: ERROR: unknown variable $foo; bcc's trace knows $retval, $pid, $tgid, $uid, $gid, $cpu and $task`},
		{`p:c:open (STRCMP(arg1, "x"))`, `trace:1:11: ERROR: STRCMP takes a string literal and an expression; write STRCMP("literal", expr)`},
		{`p:c:open (STRCMP("x"))`, `trace:1:11: ERROR: STRCMP takes a string literal and an expression; write STRCMP("literal", expr)`},
		{`p:c:open "%d", arg1,`, `trace:1:21: ERROR: unexpected end of input; expected an expression`},
		{`p:c:open "%d", arg1 arg2`, `trace:1:21: ERROR: unexpected identifier "arg2"; expected ',' between arguments`},
		{`p:c:open "%d`, `trace:1:10: ERROR: unterminated string; close it with '"'`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseTraceSpec(tt.spec, TraceOptions{})
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			if got := e.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if e.Source != tt.spec || e.Len < 1 || e.Pos.Line != 1 || e.Pos.Offset > len(tt.spec) {
				t.Errorf("bad error fields: %+v", e)
			}
		})
	}
}

func TestParseTraceSpecs(t *testing.T) {
	specs := []string{
		`r:c:malloc (retval) "ret=%x" retval`,
		`p:c:free "%x", arg1`,
		`u:/usr/bin/python3:function__entry "%s" arg2`,
	}
	prog, err := ParseTraceSpecs(specs, TraceOptions{StrSize: 32})
	if err != nil {
		t.Fatal(detail(err))
	}
	if prog.File != "trace" || prog.Source != strings.Join(specs, "\n") || len(prog.Probes) != 3 {
		t.Fatalf("got %+v", prog)
	}
	for i, pr := range prog.Probes {
		if pr.Pos.Line != i+1 || pr.Pos.Col != 1 {
			t.Errorf("probe %d at %v, want line %d", i, pr.Pos, i+1)
		}
		if pr.Trace.Spec != specs[i] {
			t.Errorf("probe %d spec %q", i, pr.Trace.Spec)
		}
	}
	checkPositions(t, prog)
	checkRoundTrip(t, prog)
	if got := sexpr(prog.Probes[2].Body); got != `{(printf "%s" (str arg1 32))}` {
		t.Errorf("body %s", got)
	}
	// A compiler error on a translated node points into the right spec.
	e := prog.Errorf(prog.Probes[1].Body.Stmts[0].(*ExprStmt).X.(*Call).Args[1], 4, "", "bad")
	if want := "trace:2:16: ERROR: bad\np:c:free \"%x\", arg1\n               ^~~~"; e.Detail() != want {
		t.Errorf("Detail:\n%s\nwant:\n%s", e.Detail(), want)
	}

	_, err = ParseTraceSpecs([]string{`c:malloc`, `p:c:free "%d %d" arg1`}, TraceOptions{})
	if err == nil {
		t.Fatal("no error")
	}
	if want := "trace:2:10: ERROR: format has 2 directives but 1 argument given; give one argument per % directive\np:c:free \"%d %d\" arg1\n         ^~~~~~~"; detail(err) != want {
		t.Errorf("got:\n%s\nwant:\n%s", detail(err), want)
	}
	if _, err := ParseTraceSpecs(nil, TraceOptions{}); err == nil {
		t.Error("no error for no specs")
	}
}
