package compile

import (
	"os"
	"testing"

	"github.com/uscope/uscope/internal/lang"
)

func TestZZDump(t *testing.T) {
	out := os.Getenv("DUMP")
	if out == "" {
		t.Skip()
	}
	prog, err := lang.Parse("t", `uprobe:/bin/true:f { print(ustack); @st[ustack] = count(); } profile:hz:99 { @p[ustack] = count(); }`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(prog, Options{Resolver: fakeResolver{}, TriggerArgOffset: 80})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(out, []byte(plan.Listing()), 0o644)
}
