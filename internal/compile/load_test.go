package compile

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/testutil"
	"github.com/uscope/uscope/usdt"
)

// fakeResolver gives every attach point one site, without reading files.
type fakeResolver struct{}

func (fakeResolver) Resolve(ap *lang.AttachPoint) ([]Site, error) {
	s := Site{Kind: ap.Kind, Probe: ap.Raw, Target: ap.Target, AttachPath: "/bin/true", Func: ap.Func, Offset: 0x1000}
	if ap.Kind == lang.KindUSDT {
		s.USDT = &usdt.Site{Provider: "p", Name: ap.Func, ArgsRaw: "-4@%edi 8@-8(%rbp) 8@(%rax,%rbx,8) -2@$5",
			Args: usdt.ParseArgs("-4@%edi 8@-8(%rbp) 8@(%rax,%rbx,8) -2@$5", 62)}
	}
	if ap.Target == "/bin/app" {
		s = goSite(s, ap)
	}
	return []Site{s}, nil
}

// programs that every generated program must pass the verifier with.
var loadCases = []string{
	`uprobe:/bin/true:f { printf("%d %s %x\n", arg0, str(arg1), arg2); }`,
	`uprobe:/bin/true:f /pid == 1 && comm == "bash"/ { @[comm] = count(); @bytes = hist(arg0); @l = lhist(arg1, 0, 100, 10); }`,
	`uretprobe:/bin/true:f { @s = stats(retval); @a = avg(retval); @mn = min(retval); @mx = max(retval); @sum[tid] = sum(retval); }`,
	`uprobe:/bin/true:f { @start[tid] = nsecs; } uretprobe:/bin/true:f /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }`,
	`uprobe:/bin/true:f { $x = arg0; if ($x > 5) { $y = $x * 2; } else { $y = -1; } printf("%d %d\n", $x, $y); }`,
	`uprobe:/bin/true:f { printf("%s %s %d\n", func, probe, *(int32*)(arg0 + 8)); print(ustack); @st[ustack] = count(); }`,
	`uprobe:/bin/true:f { printf("%s\n", str(arg0, arg1)); printf("%r\n", buf(arg0, 16)); $s = str(arg0); if (strncmp($s, "abc", 3) == 0) { exit(); } }`,
	`uprobe:/bin/true:f { printf("%d %d %d\n", arg6, arg7, reg("rsp")); @x++; @y[pid, comm] += 5; @t[1, "a"] = 3; }`,
	`uprobe:/bin/true:f /strcontains(str(arg0), "needle")/ { printf("%s %d\n", comm, elapsed); }`,
	`usdt:/bin/true:p:n { printf("%d %d %d %d\n", arg0, arg1, arg2, arg3); }`,
	`uprobe:/bin/app:main.f { printf("%d %s %d %d %s %d\n", args.a, args.s, len(args.sl), args.sl[arg0 & 3], args.p.Next.B, args.arr[1]); print(args); print(*args.p); @g[goid] = count(); }`,
	`uretprobe:/bin/app:main.f { printf("%d %s %d %d\n", args.n, str(args.msg), retval, goarg(1)); @m[args.msg] = count(); }`,
	`BEGIN { printf("hello\n"); } interval:ms:100 { print(@c); clear(@c); } uprobe:/bin/true:f { @c[tid] = count(); } END { time(); }`,
	`uprobe:/bin/true:f { $x = ustack(3); printf("%d %d\n", len($x), len(ustack)); @m[1] = 1; if (len(@m) > 0) { exit(); } }`,
	`uprobe:/bin/true:f /strcontains(probe, "f") || func == "f"/ { printf("%d\n", strncmp(probe, "uprobe", 6)); } BEGIN { if (probe != "begin") { exit(); } }`,
}

func TestGeneratedProgramsLoad(t *testing.T) {
	testutil.RequireRoot(t)
	for _, src := range loadCases {
		t.Run(src, func(t *testing.T) {
			prog, err := lang.Parse("test", src)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(prog, Options{Resolver: fakeResolver{}, TriggerArgOffset: 80})
			if err != nil {
				t.Fatal(err)
			}
			coll, err := ebpf.NewCollection(plan.Spec)
			if err != nil {
				var ve *ebpf.VerifierError
				if errors.As(err, &ve) {
					t.Fatalf("%+v\n%s", ve, plan.Listing())
				}
				t.Fatal(err)
			}
			coll.Close()
		})
	}
}
