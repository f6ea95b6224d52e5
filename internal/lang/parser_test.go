package lang

import (
	"strings"
	"testing"
)

func TestAttachPoints(t *testing.T) {
	tests := []struct {
		src  string
		want AttachPoint // Pos and Raw are checked apart
	}{
		{"BEGIN", AttachPoint{Kind: KindBegin}},
		{"END", AttachPoint{Kind: KindEnd}},
		{"uprobe:/bin/bash:readline", AttachPoint{Kind: KindUprobe, Target: "/bin/bash", Func: "readline"}},
		{"u:libc:malloc", AttachPoint{Kind: KindUprobe, Target: "libc", Func: "malloc"}},
		{"uprobe:c:malloc", AttachPoint{Kind: KindUprobe, Target: "c", Func: "malloc"}},
		{"uprobe:libssl.so.3:SSL_write", AttachPoint{Kind: KindUprobe, Target: "libssl.so.3", Func: "SSL_write"}},
		{"uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:malloc", AttachPoint{Kind: KindUprobe, Target: "/usr/lib/x86_64-linux-gnu/libc.so.6", Func: "malloc"}},
		{"uprobe:/usr/bin/g++:main", AttachPoint{Kind: KindUprobe, Target: "/usr/bin/g++", Func: "main"}},
		{"uprobe:./a.out:main", AttachPoint{Kind: KindUprobe, Target: "./a.out", Func: "main"}},
		{"uprobe:/bin/x:main+16", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "main", Offset: 16, HasOffset: true}},
		{"uprobe:/bin/x:main+0x1f", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "main", Offset: 0x1f, HasOffset: true}},
		{"uprobe:/bin/x:0x401000", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Addr: 0x401000, HasAddr: true}},
		{"uprobe:/bin/x:4198400", AttachPoint{Kind: KindUprobe, Target: "/bin/x", Addr: 4198400, HasAddr: true}},
		{"uretprobe:/bin/bash:readline", AttachPoint{Kind: KindUretprobe, Target: "/bin/bash", Func: "readline"}},
		{"ur:/bin/bash:readline", AttachPoint{Kind: KindUretprobe, Target: "/bin/bash", Func: "readline"}},
		{"usdt:/usr/bin/python3:python:function__entry", AttachPoint{Kind: KindUSDT, Target: "/usr/bin/python3", Provider: "python", Func: "function__entry"}},
		{"U:/usr/bin/python3:function__entry", AttachPoint{Kind: KindUSDT, Target: "/usr/bin/python3", Func: "function__entry"}},
		{"usdt::python:gc__start", AttachPoint{Kind: KindUSDT, Provider: "python", Func: "gc__start"}},
		{"usdt::gc__start", AttachPoint{Kind: KindUSDT, Func: "gc__start"}},
		{"usdt:gc__start", AttachPoint{Kind: KindUSDT, Func: "gc__start"}},
		{"uprobe::main", AttachPoint{Kind: KindUprobe, Func: "main"}},
		{"uprobe:main", AttachPoint{Kind: KindUprobe, Func: "main"}},
		{"uprobe:/bin/*:SSL_*", AttachPoint{Kind: KindUprobe, Target: "/bin/*", Func: "SSL_*"}},
		{"usdt:*:ruby:method__*", AttachPoint{Kind: KindUSDT, Target: "*", Provider: "ruby", Func: "method__*"}},
		{"uprobe:*:*", AttachPoint{Kind: KindUprobe, Target: "*", Func: "*"}},
		{`uprobe:"/path with space/app":f`, AttachPoint{Kind: KindUprobe, Target: "/path with space/app", Func: "f"}},
		{`uprobe:/bin/x:"ns::Class::method(int)"`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "ns::Class::method(int)"}},
		{`uprobe:/bin/x:"operator+"`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "operator+"}},
		{`uprobe:/bin/x:"f"+8`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Func: "f", Offset: 8, HasOffset: true}},
		{`uprobe:/bin/app:"net/http.(*Client).Do"`, AttachPoint{Kind: KindUprobe, Target: "/bin/app", Func: "net/http.(*Client).Do"}},
		{`uprobe:/bin/app:main.(*T).Run`, AttachPoint{Kind: KindUprobe, Target: "/bin/app", Func: "main.(*T).Run"}},
		{`uprobe:/bin/x:cpp:"ns::f"`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Lang: "cpp", Func: "ns::f"}},
		{`uprobe:/bin/x:c++:"ns::*"`, AttachPoint{Kind: KindUprobe, Target: "/bin/x", Lang: "cpp", Func: "ns::*"}},
		{`uprobe:"a\"b":"c\\d"`, AttachPoint{Kind: KindUprobe, Target: `a"b`, Func: `c\d`}},
		{"interval:s:1", AttachPoint{Kind: KindInterval, IntervalNanos: 1e9}},
		{"interval:ms:100", AttachPoint{Kind: KindInterval, IntervalNanos: 100e6}},
		{"interval:us:250", AttachPoint{Kind: KindInterval, IntervalNanos: 250e3}},
		{"interval:ns:5000", AttachPoint{Kind: KindInterval, IntervalNanos: 5000}},
		{"interval:hz:4", AttachPoint{Kind: KindInterval, IntervalNanos: 250e6}},
		{"i:s:5", AttachPoint{Kind: KindInterval, IntervalNanos: 5e9}},
		{"interval:2s", AttachPoint{Kind: KindInterval, IntervalNanos: 2e9}},
		{"interval:500ms", AttachPoint{Kind: KindInterval, IntervalNanos: 500e6}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			src := "\n  " + tt.src + " { }"
			p := mustParse(t, src)
			if len(p.Probes) != 1 || len(p.Probes[0].Points) != 1 {
				t.Fatalf("got %d probes", len(p.Probes))
			}
			got := p.Probes[0].Points[0]
			if got.Raw != tt.src {
				t.Errorf("Raw = %q, want %q", got.Raw, tt.src)
			}
			if want := (Pos{Line: 2, Col: 3, Offset: 3}); got.Pos != want {
				t.Errorf("Pos = %+v, want %+v", got.Pos, want)
			}
			g := *got
			g.Pos, g.Raw = Pos{}, ""
			if g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
			checkRoundTrip(t, p)
		})
	}
}

func TestProbeStructure(t *testing.T) {
	p := mustParse(t, `uprobe:libc:malloc, uprobe:libc:calloc,
		uretprobe:libc:realloc /pid == 42/ { @n = count(); }
		BEGIN{} END { print(@n) }`)
	if len(p.Probes) != 3 {
		t.Fatalf("got %d probes, want 3", len(p.Probes))
	}
	first := p.Probes[0]
	if len(first.Points) != 3 {
		t.Fatalf("got %d attach points, want 3", len(first.Points))
	}
	if got := sexpr(first.Pred); got != "(== pid 42)" {
		t.Errorf("predicate = %s", got)
	}
	if got := sexpr(first.Body); got != "{(= @n (count))}" {
		t.Errorf("body = %s", got)
	}
	if first.Pos != first.Points[0].Pos {
		t.Errorf("probe Pos %v, want the first attach point's %v", first.Pos, first.Points[0].Pos)
	}
	if p.Probes[1].Pred != nil || len(p.Probes[1].Body.Stmts) != 0 {
		t.Errorf("BEGIN{} parsed as %s", sexpr(p.Probes[1].Body))
	}
	if p.File != "test.bt" || !strings.HasPrefix(p.Source, "uprobe:libc:malloc") {
		t.Errorf("File %q, Source %q", p.File, p.Source)
	}
	checkPositions(t, p)
}

func TestExpressions(t *testing.T) {
	tests := []struct{ src, want string }{
		// literals and names
		{"42", "42"},
		{"0x2a", "42"},
		{"052", "42"},
		{"0b101010", "42"},
		{"1_000_000", "1000000"},
		{"1e6", "1000000"},
		{"25e1", "250"},
		{"0xe", "14"},
		{"0x1e6", "486"},
		{"0", "0"},
		{"18446744073709551615", "18446744073709551615"},
		{"'a'", "97"},
		{`'\n'`, "10"},
		{`'\''`, "39"},
		{`'\x41'`, "65"},
		{`'\0'`, "0"},
		{`"hi"`, `"hi"`},
		{`"a\tb\nc\\d\"e"`, `"a\tb\nc\\d\"e"`},
		{`"\x41\x4a\0z"`, `"AJ\x00z"`},
		{`"\101\60"`, `"A0"`},
		{`"\r\a\b\f\v\e\?\'"`, `"\r\a\b\f\v\x1b?'"`},
		{`""`, `""`},
		{"$x", "$x"},
		{"$1", "$1"},
		{"$12", "$12"},
		{"@", "@"},
		{"@name", "@name"},
		{"@m[tid]", "(@m tid)"},
		{"@[comm, pid]", "(@ comm pid)"},
		{"@m[(1, 2)]", "(@m (tuple 1 2))"},
		{"pid", "pid"},
		{"arg0", "arg0"},
		{"retval", "retval"},
		{"args", "args"},
		// calls
		{"count()", "(count)"},
		{`printf("%s %d\n", str(arg0), arg1)`, `(printf "%s %d\n" (str arg0) arg1)`},
		{"str(arg0, 32)", "(str arg0 32)"},
		{"hist(retval - @start[tid])", "(hist (- retval (@start tid)))"},
		{"lhist(arg0, 0, 100, 10)", "(lhist arg0 0 100 10)"},
		{"ustack()", "(ustack)"},
		{"ustack", "ustack"},
		{"ustack(perf, 5)", "(ustack perf 5)"},
		{"delete(@m[tid])", "(delete (@m tid))"},
		// precedence and associativity
		{"1 + 2 * 3", "(+ 1 (* 2 3))"},
		{"1 * 2 + 3", "(+ (* 1 2) 3)"},
		{"1 - 2 - 3", "(- (- 1 2) 3)"},
		{"8 / 4 / 2", "(/ (/ 8 4) 2)"},
		{"7 % 4 * 2", "(* (% 7 4) 2)"},
		{"1 << 2 + 3", "(<< 1 (+ 2 3))"},
		{"1 < 2 == 3 > 4", "(== (< 1 2) (> 3 4))"},
		{"a <= b != c >= d", "(!= (<= a b) (>= c d))"},
		{"a & b ^ c | d", "(| (^ (& a b) c) d)"},
		{"a == b & c", "(& (== a b) c)"},
		{"a || b && c", "(|| a (&& b c))"},
		{"a && b || c && d", "(|| (&& a b) (&& c d))"},
		{"a >> 1 << 2", "(<< (>> a 1) 2)"},
		{"(1 + 2) * 3", "(* (+ 1 2) 3)"},
		{"a ? b : c", "(? a b c)"},
		{"a ? b : c ? d : e", "(? a b (? c d e))"},
		{"a ? b ? c : d : e", "(? a (? b c d) e)"},
		{"a || b ? 1 : 2", "(? (|| a b) 1 2)"},
		// unary
		{"-1", "(- 1)"},
		{"-x * 2", "(* (- x) 2)"},
		{"!a && b", "(&& (! a) b)"},
		{"~0", "(~ 0)"},
		{"- -x", "(- (- x))"},
		{"!!x", "(! (! x))"},
		{"*arg0", "(* arg0)"},
		{"**arg0", "(* (* arg0))"},
		{"&$x", "(& $x)"},
		{"*(arg0 + 8)", "(* (+ arg0 8))"},
		{"a * *b", "(* a (* b))"},
		{"a - -1", "(- a (- 1))"},
		// casts
		{"(int32)x", `(cast "int32" x)`},
		{"(uint8*)p", `(cast "uint8 *" p)`},
		{"(uint8 **)p", `(cast "uint8 **" p)`},
		{"(struct foo *)p", `(cast "struct foo *" p)`},
		{"(const char *)p", `(cast "char *" p)`},
		{"(unsigned long)x", `(cast "ulong" x)`},
		{"(unsigned long long)x", `(cast "ulong" x)`},
		{"(long long)x", `(cast "long" x)`},
		{"(unsigned)x", `(cast "uint" x)`},
		{"(unsigned char)x", `(cast "uchar" x)`},
		{"(short int)x", `(cast "short" x)`},
		{"(u32)x", `(cast "uint32" x)`},
		{"(uint64_t)x", `(cast "uint64" x)`},
		{"(size_t)x", `(cast "size_t" x)`},
		{"(pid_t)x", `(cast "pid_t" x)`},
		{"(mytype *)x", `(cast "mytype *" x)`},
		{"(mytype)x", `(cast "mytype" x)`},
		{"(mytype)(-x)", `(cast "mytype" (- x))`},
		{"(mytype)!x", `(cast "mytype" (! x))`},
		{"(x) - 1", "(- x 1)"},
		{"(x) * y", "(* x y)"},
		{"(int)retval < 0", `(< (cast "int" retval) 0)`},
		{"*(int32*)arg1", `(* (cast "int32 *" arg1))`},
		{"(int8)-1", `(cast "int8" (- 1))`},
		{"(uint8)(int8)x", `(cast "uint8" (cast "int8" x))`},
		{"(struct foo *)arg0->bar", `(cast "struct foo *" (-> arg0 bar))`},
		{"((struct foo *)arg0)->bar", `(-> (cast "struct foo *" arg0) bar)`},
		{"(x)", "x"},
		{"(pid) - 1", "(- pid 1)"},
		// postfix
		{"args.path", "(. args path)"},
		{"args->path", "(-> args path)"},
		{"$s.a.b", "(. (. $s a) b)"},
		{"$p->next->val", "(-> (-> $p next) val)"},
		{"p[3]", "(index p 3)"},
		{"$a[1][2]", "(index (index $a 1) 2)"},
		{"@m[1][2]", "(index (@m 1) 2)"},
		{"$t.0", "(. $t 0)"},
		{"args.buf[0]", "(index (. args buf) 0)"},
		{"-args.x", "(- (. args x))"},
		{"*$p.f", "(* (. $p f))"},
		// tuples
		{"(1, 2)", "(tuple 1 2)"},
		{`(1, "a", $x)`, `(tuple 1 "a" $x)`},
		{"((1, 2), 3)", "(tuple (tuple 1 2) 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p := mustParse(t, "BEGIN { "+tt.src+"; }")
			stmts := p.Probes[0].Body.Stmts
			if len(stmts) != 1 {
				t.Fatalf("got %d statements", len(stmts))
			}
			es, ok := stmts[0].(*ExprStmt)
			if !ok {
				t.Fatalf("got %T, want *ExprStmt", stmts[0])
			}
			if got := sexpr(es.X); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			checkPositions(t, p)
			checkRoundTrip(t, p)
		})
	}
}

func TestStatements(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "{}"},
		{";;", "{}"},
		{"$x = 1", "{(= $x 1)}"},
		{"$x = 1;", "{(= $x 1)}"},
		{"@ = count()", "{(= @ (count))}"},
		{"@m[tid] = nsecs", "{(= (@m tid) nsecs)}"},
		{"@m[pid, comm] = 1", "{(= (@m pid comm) 1)}"},
		{"$x += 1; $x -= 1; $x *= 2; $x /= 2; $x %= 3", "{(+= $x 1); (-= $x 1); (*= $x 2); (/= $x 2); (%= $x 3)}"},
		{"$x &= 1; $x |= 2; $x ^= 3; $x <<= 4; $x >>= 5", "{(&= $x 1); (|= $x 2); (^= $x 3); (<<= $x 4); (>>= $x 5)}"},
		{"@x++; @x--; ++@x; --$y", "{(post++ @x); (post-- @x); (++pre @x); (--pre $y)}"},
		{"@m[tid]++", "{(post++ (@m tid))}"},
		{"$x = $y++ + 1", "{(= $x (+ (post++ $y) 1))}"},
		{"return", "{return}"},
		{"return;", "{return}"},
		{"if (pid == 1) { exit(); }", "{(if (== pid 1) {(exit)})}"},
		{"if (1) { $a = 1 } else { $a = 2 }", "{(if 1 {(= $a 1)} else {(= $a 2)})}"},
		{"if (a) { } else if (b) { x() } else { y() }", "{(if a {} else (if b {(x)} else {(y)}))}"},
		{"if (a) {} $x = 1", "{(if a {}); (= $x 1)}"},
		{"if (a) {}; $x = 1", "{(if a {}); (= $x 1)}"},
		{"while ($i < 10) { $i++; }", "{(while (< $i 10) {(post++ $i)})}"},
		{"unroll(5) { @c++ }", "{(unroll 5 {(post++ @c)})}"},
		{"unroll (5) { }", "{(unroll 5 {})}"},
		{"{ $x = 1; { $y = 2 } }", "{{(= $x 1); {(= $y 2)}}}"},
		{"printf(\"x\\n\"); exit()", `{(printf "x\n"); (exit)}`},
		{"@start[tid] = nsecs; // stamp\n$x = 1 /* block */ ; /* multi\nline */", "{(= (@start tid) nsecs); (= $x 1)}"},
		{"$x = 1 ? 2 : 3", "{(= $x (? 1 2 3))}"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p := mustParse(t, "BEGIN { "+tt.src+" }")
			if got := sexpr(p.Probes[0].Body); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			checkPositions(t, p)
			checkRoundTrip(t, p)
		})
	}
}

func TestPredicates(t *testing.T) {
	tests := []struct{ src, want string }{
		{"BEGIN /1/ {}", "1"},
		{"uprobe:a:b /pid == 1/ {}", "(== pid 1)"},
		{"uprobe:a:b/pid == 1/{}", "(== pid 1)"},
		{"uprobe:/bin/x:f /$1 / 2 > 1/ {}", "(> (/ $1 2) 1)"},
		{"uprobe:a:b /arg0 / 2/ {}", "(/ arg0 2)"},
		{"uprobe:a:b /(arg0 / 2) > 1/ {}", "(> (/ arg0 2) 1)"},
		{"uprobe:a:b /@start[tid]/ {}", "(@start tid)"},
		{"uprobe:a:b / comm == \"bash\" / {}", `(== comm "bash")`},
		{"uprobe:a:b /*(uint8*)arg0 == 1/ {}", "<comment>"},
		{"uprobe:a:b / *(uint8*)arg0 == 1/ {}", `(== (* (cast "uint8 *" arg0)) 1)`},
		{"uprobe:a:b /str(arg0) == \"a/b\"/ {}", `(== (str arg0) "a/b")`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Parse("t", tt.src)
			if tt.want == "<comment>" {
				if err == nil {
					t.Fatalf("want an error: '/*' starts a comment")
				}
				return
			}
			if err != nil {
				t.Fatal(detail(err))
			}
			if got := sexpr(p.Probes[0].Pred); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			checkRoundTrip(t, p)
		})
	}
}

func TestShebangAndComments(t *testing.T) {
	src := "#!/usr/bin/env bpftrace\n/* header\n comment */\n// line\nBEGIN { }\n// trailing"
	p := mustParse(t, src)
	if len(p.Probes) != 1 || p.Probes[0].Pos.Line != 5 {
		t.Fatalf("got %d probes at %v", len(p.Probes), p.Probes[0].Pos)
	}
}

func TestPositions(t *testing.T) {
	src := "uprobe:libc:malloc\n{\n\t@s[tid] = arg0 + 1;\n}\n"
	p := mustParse(t, src)
	checkPositions(t, p)
	as := p.Probes[0].Body.Stmts[0].(*AssignStmt)
	if want := (Pos{Line: 3, Col: 2, Offset: 22}); as.Pos != want {
		t.Errorf("assignment at %+v, want %+v", as.Pos, want)
	}
	bin := as.RHS.(*Binary)
	if want := (Pos{Line: 3, Col: 17, Offset: 37}); bin.Pos != want {
		t.Errorf("'+' at %+v, want %+v", bin.Pos, want)
	}
	if m := as.LHS.(*MapExpr); m.Keys[0].Position().Col != 5 {
		t.Errorf("key at %v", m.Keys[0].Position())
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string // Error()
	}{
		{"kprobe:do_sys_open { }", `t:1:1: ERROR: unknown probe type "kprobe": uscope traces userspace; use uprobe, uretprobe, usdt, BEGIN, END, interval, profile or self:signal:SIGUSR1`},
		{"tracepoint:syscalls:sys_enter_open { }", `t:1:1: ERROR: unknown probe type "tracepoint": uscope traces userspace; use uprobe, uretprobe, usdt, BEGIN, END, interval, profile or self:signal:SIGUSR1`},
		{"BEGIN { }\nt:syscalls:x { }", `t:2:1: ERROR: unknown probe type "t": uscope traces userspace; use uprobe, uretprobe, usdt, BEGIN, END, interval, profile or self:signal:SIGUSR1`},
		{"uprobe:libc:malloc printf(\"x\") }", `t:1:20: ERROR: missing '{' after attach point; expected '{', ',' or a /predicate/, found identifier "printf"`},
		{"uprobe:libc:malloc", `t:1:19: ERROR: missing '{' after attach point; expected '{', ',' or a /predicate/, found end of input`},
		{"uprobe:libc:malloc /pid/ printf()", `t:1:34: ERROR: unexpected end of input; expected '/' to end the predicate`},
		{"uprobe:libc:malloc /pid/ ;", `t:1:26: ERROR: missing '{' after predicate; expected '{' after the predicate`},
		{"uprobe:libc:malloc, { }", `t:1:19: ERROR: expected an attach point after ','; remove the ',' or add another attach point`},
		{"BEGIN { $x = 1 $y = 2 }", `t:1:16: ERROR: unexpected variable $y; expected ';' or '}' after statement`},
		{"BEGIN { printf(\"hello) }", `t:1:16: ERROR: unterminated string; close it with '"'`},
		{"BEGIN { printf(\"a\\qb\") }", `t:1:18: ERROR: unknown escape sequence \q; valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`},
		{"BEGIN { /* open", `t:1:9: ERROR: unterminated comment; close it with '*/'`},
		{"BEGIN { $x = 1;", `t:1:16: ERROR: unexpected end of input; expected '}' to close the block opened at 1:7`},
		{"BEGIN { $x = ; }", `t:1:14: ERROR: unexpected ';'; expected an expression`},
		{"BEGIN { $x = (1 + 2; }", `t:1:20: ERROR: unexpected ';'; expected ')' to close the '(' at 1:14`},
		{"BEGIN { f(1, 2; }", `t:1:15: ERROR: unexpected ';'; expected ',' or ')' in the arguments of f()`},
		{"BEGIN { @m[1 = 2 }", `t:1:14: ERROR: unexpected '='; expected ',' or ']' in map keys`},
		{"BEGIN { @m[] = 2 }", `t:1:11: ERROR: empty map key; write @name[key] or @name`},
		{"BEGIN { 1 = 2 }", `t:1:9: ERROR: cannot assign to 1; assign to a $variable or an @map element`},
		{"BEGIN { args.x = 2 }", `t:1:9: ERROR: cannot assign to args.x; assign to a $variable or an @map element`},
		{"BEGIN { 1++ }", `t:1:10: ERROR: cannot apply ++ to 1; apply ++ to a $variable or an @map element`},
		{"BEGIN { ++f() }", `t:1:11: ERROR: cannot apply ++ to f(); apply ++ to a $variable or an @map element`},
		{"BEGIN { if (1) $x = 1 }", `t:1:16: ERROR: unexpected variable $x; expected '{' after if (...)`},
		{"BEGIN { if (1) { } else $x = 1 }", `t:1:25: ERROR: unexpected variable $x; expected '{' or 'if' after else`},
		{"BEGIN {\n\t$x = 1;\n\n", `t:2:9: ERROR: unexpected end of input; expected '}' to close the block opened at 1:7`},
		{"BEGIN { $x = \n", `t:1:13: ERROR: unexpected end of input; expected an expression`},
		{"BEGIN { else { } }", `t:1:9: ERROR: 'else' without 'if'; else must follow the block of an if`},
		{"BEGIN { $x = a ? b }", `t:1:20: ERROR: unexpected '}'; expected ':' in cond ? a : b`},
		{"BEGIN { $x = 09 }", `t:1:14: ERROR: invalid digit '9' in octal number "09"; write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3`},
		{"BEGIN { $x = 0x }", `t:1:14: ERROR: invalid number "0x"; write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3`},
		{"BEGIN { $x = 1e20 }", `t:1:14: ERROR: number "1e20" does not fit in 64 bits; write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3`},
		{"BEGIN { $x = 1e }", `t:1:14: ERROR: invalid number "1e"; write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3`},
		{"BEGIN { $x = 99999999999999999999 }", `t:1:14: ERROR: number "99999999999999999999" does not fit in 64 bits; write integers as 123, 0x7b, 0173, 0b1111011, 1_000 or 1e3`},
		{`BEGIN { $x = "\400" }`, `t:1:15: ERROR: octal escape is larger than 255; valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`},
		{`BEGIN { $x = "\xg" }`, `t:1:15: ERROR: \x must be followed by hex digits; valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`},
		{"BEGIN { $x = \"ab\\", `t:1:17: ERROR: incomplete escape sequence; valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`},
		{"BEGIN { $x = 'a", `t:1:14: ERROR: unterminated character literal; close it with "'"`},
		{"BEGIN { $x = 'abc\n' }", `t:1:14: ERROR: unterminated character literal; close it with "'"`},
		{"BEGIN { $x = '", `t:1:14: ERROR: unterminated character literal; close it with "'"`},
		{"BEGIN { $x = \x01 }", `t:1:14: ERROR: unexpected character '\x01'`},
		{"BEGIN { $x = \"\\\x01\" }", `t:1:15: ERROR: unknown escape sequence \ followed by byte 0x01; valid escapes are \n \t \r \\ \" \' \0, \xHH and \NNN (octal)`},
		{"BEGIN { $x = 'ab' }", `t:1:14: ERROR: character literal is longer than one byte; write one byte between quotes, like 'a', or use a "string"`},
		{"BEGIN { $x = '' }", `t:1:14: ERROR: empty character literal; write one character between quotes, like 'a'`},
		{"BEGIN { $ = 1 }", `t:1:9: ERROR: '$' must be followed by a name or a number; write a variable as $name or a positional parameter as $1`},
		{"BEGIN { $x = 1 # 2 }", `t:1:16: ERROR: unexpected character '#'`},
		{"BEGIN { $x = (int32 1 }", `t:1:21: ERROR: unexpected number 1; expected ')' after the type of a cast`},
		{"BEGIN { $x = (unsigned char short)1 }", `t:1:15: ERROR: invalid type "unsigned char short"; use a C type such as unsigned long, or int8..int64 and uint8..uint64`},
		{"BEGIN { $x = (struct)1 }", `t:1:21: ERROR: unexpected ')'; expected a name after struct`},
		{"BEGIN { $x = a. }", `t:1:17: ERROR: unexpected '}'; expected a field name after '.'`},
		{"BEGIN { $x = a->1 }", `t:1:17: ERROR: unexpected number 1; expected a field name after '->'`},
		{"BEGIN { $x = while }", `t:1:14: ERROR: unexpected keyword "while"; expected an expression`},
		{"BEGIN:x { }", `t:1:1: ERROR: BEGIN takes no arguments; write BEGIN alone`},
		{"uprobe { }", `t:1:1: ERROR: missing target and function; write uprobe:TARGET:FUNC, or uprobe::FUNC for the process given with -p`},
		{"uprobe:/bin/bash { }", `t:1:8: ERROR: missing function name after target "/bin/bash"; write uprobe:/bin/bash:FUNC`},
		{"uprobe:/bin/bash: { }", `t:1:17: ERROR: missing function name; write uprobe:TARGET:FUNC`},
		{"uprobe:/bin/x:a:b { }", `t:1:16: ERROR: too many ':' in attach point; quote names that contain ':', like uprobe:/bin/app:"ns::Class::method"`},
		{"uprobe:/bin/x:ns::f { }", `t:1:17: ERROR: too many ':' in attach point; quote names that contain ':', like uprobe:/bin/app:"ns::Class::method"`},
		{"uprobe:/bin/x:f+zz { }", `t:1:17: ERROR: invalid offset "zz"; write the offset as a number, like +0x10 or +16; quote function names that contain '+': "operator+"`},
		{"uprobe:/bin/x:f+ { }", `t:1:17: ERROR: invalid offset ""; write the offset as a number, like +0x10 or +16; quote function names that contain '+': "operator+"`},
		{"uprobe:/bin/x:+8 { }", `t:1:15: ERROR: missing function name before '+'; write FUNC+OFFSET`},
		{"uprobe:/bin/x:0xzz { }", `t:1:15: ERROR: invalid address "0xzz"; write an address as 0x401000 or a function name`},
		{"uretprobe:/bin/x:f+8 { }", `t:1:18: ERROR: uretprobe cannot attach at a function offset; use uprobe:/bin/x:f+8 to probe inside the function, or drop the offset`},
		{"uprobe:/bin/x:f*+8 { }", `t:1:15: ERROR: an offset cannot be combined with a wildcard; name one function, or drop the offset`},
		{"usdt { }", `t:1:1: ERROR: missing target and probe name; write usdt:TARGET:[PROVIDER:]NAME, or usdt::NAME for the process given with -p`},
		{"usdt:/bin/x: { }", `t:1:12: ERROR: missing probe name; write usdt:TARGET:[PROVIDER:]NAME`},
		{"usdt:/bin/x:a:b:c { }", `t:1:16: ERROR: too many ':' in attach point; write usdt:TARGET:[PROVIDER:]NAME; quote a target that contains ':'`},
		{"usdt:/bin/x { }", `t:1:6: ERROR: missing probe name after target "/bin/x"; write usdt:/bin/x:[PROVIDER:]NAME`},
		{`uprobe:"/bin/x:f { }`, `t:1:8: ERROR: unterminated string; close it with '"' on the same line`},
		{"interval:m:1 { }", `t:1:10: ERROR: unknown interval unit "m"; write interval:s:N, interval:ms:N, interval:us:N, interval:ns:N or interval:hz:N`},
		{"interval:s:0 { }", `t:1:12: ERROR: interval of zero; the period must be positive`},
		{"interval:s:x { }", `t:1:12: ERROR: invalid interval "x"; write interval:s:N, interval:ms:N, interval:us:N, interval:ns:N or interval:hz:N`},
		{"interval:s:99999999999999 { }", `t:1:12: ERROR: interval is too long; use a shorter period`},
		{"interval { }", `t:1:1: ERROR: malformed interval probe; write interval:s:N, interval:ms:N, interval:us:N, interval:ns:N or interval:hz:N`},
		{"interval:5 { }", `t:1:10: ERROR: malformed interval probe; write interval:s:N, interval:ms:N, interval:us:N, interval:ns:N or interval:hz:N`},
		{"{ }", `t:1:1: ERROR: expected an attach point; a probe starts with an attach point such as uprobe:TARGET:FUNC, uretprobe:TARGET:FUNC, usdt:TARGET:NAME, BEGIN, END or interval:s:1`},
		{"123 { }", `t:1:1: ERROR: expected an attach point; a probe starts with an attach point such as uprobe:TARGET:FUNC, uretprobe:TARGET:FUNC, usdt:TARGET:NAME, BEGIN, END or interval:s:1`},
		{"#pragma once\nBEGIN { }", `t:1:1: ERROR: preprocessor lines such as #include are not supported; uscope needs no C headers; remove the line`},
		{"", `t:1:1: ERROR: program has no probes; write a probe such as: uprobe:libc:malloc { @bytes = hist(arg0); }`},
		{"// only a comment\n", `t:2:1: ERROR: program has no probes; write a probe such as: uprobe:libc:malloc { @bytes = hist(arg0); }`},
		{"BEGIN { } }", `t:1:11: ERROR: expected an attach point; a probe starts with an attach point such as uprobe:TARGET:FUNC, uretprobe:TARGET:FUNC, usdt:TARGET:NAME, BEGIN, END or interval:s:1`},
		{"uprobe:/bin/x:net/http.Get { }", `t:1:28: ERROR: unexpected '{'; expected '/' to end the predicate; if the function name contains '/', quote it: uprobe:/bin/app:"net/http.Get"`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Parse("t", tt.src)
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
			if e.Source != tt.src || e.File != "t" || e.Len < 1 {
				t.Errorf("Source/File/Len not filled: %+v", e)
			}
			if want := posOf(tt.src, e.Pos.Offset); e.Pos != want {
				t.Errorf("Pos %+v disagrees with its offset (%+v)", e.Pos, want)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	for _, src := range []string{
		"BEGIN { $x = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + " }",
		"BEGIN { $x = " + strings.Repeat("-", 5000) + "1 }",
		"BEGIN " + strings.Repeat("{", 5000) + strings.Repeat("}", 5000),
		"BEGIN { $x = " + strings.Repeat("a ? ", 5000) + "1" + strings.Repeat(" : 2", 5000) + " }",
	} {
		_, err := Parse("t", src)
		if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
			t.Errorf("got %v, want a nesting error", err)
		}
	}
	// Moderate nesting is fine.
	mustParse(t, "BEGIN { $x = "+strings.Repeat("(", 100)+"1"+strings.Repeat(")", 100)+" }")
}

// TestPositionalAttachPoints: $N in an attach point is expanded from the
// parameters; a '$' without a digit is parsed as written, and a parameter
// that itself holds $N is not expanded again.
func TestPositionalAttachPoints(t *testing.T) {
	for _, tt := range []struct {
		src    string
		params []string
		want   string // the first attach point, or the error's start
	}{
		{"i:ms:$1 { }", []string{"5"}, "interval:ms:5"},
		{"BEG$1 { }", []string{"IN"}, "BEGIN"},
		{"$1 { }", []string{"uprobe:/bin/x:f"}, "uprobe:/bin/x:f"},
		{"uprobe:/b$x:f { }", nil, `uprobe:"/b$x":f`},
		{`uprobe:/bin/x:"f$1" { }`, []string{"5"}, `uprobe:/bin/x:"f$1"`},
		{"$1 { }", nil, "t:1:1: ERROR: positional parameter $1 in an attach point was not given"},
		{"$1 { }", []string{"$1"}, "t:1:1: ERROR: positional parameter $1 in an attach point was not given"},
	} {
		p, err := ParseParams("t", tt.src, tt.params)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = p.Probes[0].Points[0].String()
		}
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("ParseParams(%q, %q) = %q, want %q", tt.src, tt.params, got, tt.want)
		}
	}
}
