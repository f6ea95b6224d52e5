package compile

import (
	"testing"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/resolve"
	"github.com/uscope/uscope/usdt"
)

func TestFramelessSite(t *testing.T) {
	for _, c := range []struct {
		name string
		kind string
		site resolve.Site
		want bool
	}{
		{"C entry", lang.KindUprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1000}, true},
		{"moved entry", lang.KindUprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1004, Moved: 4}, true},
		{"FUNC+OFF", lang.KindUprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1010}, false},
		{"raw address", lang.KindUprobe, resolve.Site{Addr: 0x1010}, false},
		{"Go entry", lang.KindUprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x100a, GoEntry: true, GoFunc: "main.f"}, true},
		{"Go assembly", lang.KindUprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1000, GoAsm: true, GoFunc: "runtime.x"}, false},
		{"Go RET", lang.KindUretprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1040, AtReturn: true}, true},
		{"kernel uretprobe", lang.KindUretprobe, resolve.Site{FuncAddr: 0x1000, Addr: 0x1000}, false},
		{"USDT", lang.KindUSDT, resolve.Site{FuncAddr: 0x1000, Addr: 0x1000, USDT: &usdt.Site{}}, false},
	} {
		if got := framelessSite(c.kind, &c.site); got != c.want {
			t.Errorf("%s: framelessSite = %v, want %v", c.name, got, c.want)
		}
	}
}
