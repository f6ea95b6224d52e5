package lang

import (
	"strings"
	"testing"
)

func TestParseArgdistSpec(t *testing.T) {
	cases := []struct {
		spec  string
		point string
		entry string // "" when no entry probe
		saves string // "map=expr; ..."
		exprs string // "text => expr; ..."
		filt  string
		label string
	}{
		{spec: "p:c:malloc(size_t size):size_t:size", point: "uprobe:c:malloc", exprs: "size => (size_t)arg0"},
		{spec: "p:c:malloc(size_t size):size_t:size:size==16", point: "uprobe:c:malloc", exprs: "size => (size_t)arg0", filt: "(size_t)arg0 == 16"},
		{spec: "r:c:malloc():u64:$retval", point: "uretprobe:c:malloc", exprs: "$retval => (uint64)retval"},
		{spec: "r:c:malloc()", point: "uretprobe:c:malloc", exprs: "retval => (int)retval"},
		{spec: "p:c:fork()#fork calls", point: "uprobe:c:fork", exprs: " => 1", label: "fork calls"},
		{spec: "r:c:gets():char*:(char*)$retval#snooped strings", point: "uretprobe:c:gets", exprs: "(char*)$retval => str((char *)retval, 80)", label: "snooped strings"},
		{spec: "p:c:write(int fd, char* buf, size_t len):char*:buf:fd==1", point: "uprobe:c:write",
			exprs: "buf => str((char *)arg1, 80)", filt: "(int)arg0 == 1"},
		{spec: "p:c:write(int fd):int:fd", point: "uprobe:c:write", exprs: "fd => (int)arg0"},
		{spec: "r:/usr/bin/app:read(int fd, void *buf, size_t count):size_t:$entry(count):$latency > 1000000",
			point: "uretprobe:/usr/bin/app:read", entry: "uprobe:/usr/bin/app:read",
			saves: "__entry3_count=(size_t)arg2; __lat3=nsecs",
			exprs: "$entry(count) => (size_t)@__entry3_count[tid]", filt: "nsecs - @__lat3[tid] > 1000000"},
		{spec: "r::work():u32,u64:$PID,$latency/1000", point: "uretprobe::work", entry: "uprobe::work", saves: "__lat3=nsecs",
			exprs: "$PID => (uint32)pid; $latency/1000 => (uint64)((nsecs - @__lat3[tid]) / 1000)"},
		{spec: "u:pthread:pthread_start():u64:arg2", point: "usdt:pthread:pthread_start", exprs: "arg2 => (uint64)arg1"},
		{spec: "p:c:f(int a, int b):int,int:a+b,STRCMP(\"x\", a):b > 0", point: "uprobe:c:f",
			exprs: `a+b => (int)((int)arg0 + (int)arg1); STRCMP("x", a) => (int)(str((int)arg0) == "x")`, filt: "(int)arg1 > 0"},
	}
	for _, c := range cases {
		s, err := ParseArgdistSpec(c.spec, 3, 80)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if got := s.Point.String(); got != c.point {
			t.Errorf("%s: point %q, want %q", c.spec, got, c.point)
		}
		entry := ""
		if s.Entry != nil {
			entry = s.Entry.String()
		}
		if entry != c.entry {
			t.Errorf("%s: entry %q, want %q", c.spec, entry, c.entry)
		}
		var saves, exprs []string
		for _, sv := range s.Saves {
			saves = append(saves, sv.Map+"="+FormatExpr(sv.X))
		}
		for _, e := range s.Exprs {
			exprs = append(exprs, e.Text+" => "+FormatExpr(e.X))
		}
		if got := strings.Join(saves, "; "); got != c.saves {
			t.Errorf("%s: saves %q, want %q", c.spec, got, c.saves)
		}
		if got := strings.Join(exprs, "; "); got != c.exprs {
			t.Errorf("%s: exprs %q, want %q", c.spec, got, c.exprs)
		}
		filt := ""
		if s.Filter != nil {
			filt = FormatExpr(s.Filter)
		}
		if filt != c.filt {
			t.Errorf("%s: filter %q, want %q", c.spec, filt, c.filt)
		}
		if s.Label != c.label {
			t.Errorf("%s: label %q, want %q", c.spec, s.Label, c.label)
		}
		if s.Raw != c.spec {
			t.Errorf("%s: raw %q", c.spec, s.Raw)
		}
	}
}

func TestParseArgdistSpecErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{"p:c", "at least the probe type"},
		{"p:c:malloc", "invalid format"},
		{"p:c:malloc(size_t size):size_t", "give the expressions after their types"},
		{"p:c:malloc(size_t size):size_t,int:size", "2 types but 1 expressions"},
		{"t:sched:sched_switch()", "tracepoints are kernel probes"},
		{"k:c:malloc()", "probe type must be p, r or u"},
		{"p:c:malloc(size_t size):u64:$retval", "$retval is only known in return probes"},
		{"p:c:malloc(size_t size):u64:$latency", "$latency is only known in return probes"},
		{"p:c:malloc(size_t size):u64:$entry(size)", "$entry(size) outside a return probe"},
		{"r:c:malloc(size_t size):u64:$entry(nope)", "$entry(nope): no such parameter"},
		{"r:c:malloc(size_t size):u64:size", "parameter \"size\" is not known at the return"},
		{"r:c:malloc(size_t size):u64:$entry()", "$entry() takes a parameter name"},
		{"p:c:malloc(size_t size):u64:$foo", "unknown variable $foo"},
		{"p:c:malloc(size_t size):u64:size +", "expected"},
		{"p:c:malloc(size_t size):u64:", "missing expression"},
		{"p:c:malloc(size_t size)::size", "missing type"},
		{"u:lib:probe(int x):int:x", "a USDT probe takes no signature"},
		{"p:c:f(int):int:a", "expected a parameter name"},
		{"p:a:b:c:d:e:f:g", "too many"},
	}
	for _, c := range cases {
		_, err := ParseArgdistSpec(c.spec, 0, 0)
		if err == nil {
			t.Errorf("%s: no error, want %q", c.spec, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want %q", c.spec, err, c.want)
		}
		le, ok := err.(*Error)
		if !ok || le.Source != c.spec || le.Pos.Line != 1 {
			t.Errorf("%s: error %#v does not point into the spec", c.spec, err)
		}
	}
}
