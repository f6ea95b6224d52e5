package resolve

import "testing"

// TestSiteNameLazy: a site resolved with its name still mangled prints the
// demangled name (once computed, shared by copies), and SameName compares
// without demangling when the fields already decide.
func TestSiteNameLazy(t *testing.T) {
	const mangled, want = "_ZNK6shapes6Circle4areaEd", "shapes::Circle::area(double) const"
	a := Site{Func: mangled, demangled: &lazyName{}}
	b := a // a copy, as plans hold sites
	if got := b.Name(); got != want {
		t.Fatalf("Name() = %q, want %q", got, want)
	}
	if a.demangled.name != want || a.Display != "" {
		t.Errorf("copies do not share the name: %q, Display %q", a.demangled.name, a.Display)
	}
	eager := Site{Func: mangled, Display: want}
	other := Site{Func: "_ZNK6shapes6Circle4areaEi", demangled: &lazyName{}}
	plain := Site{Func: "main"}
	for _, tt := range []struct {
		x, y *Site
		same bool
	}{
		{&a, &b, true}, {&a, &eager, true}, {&eager, &a, true}, {&a, &other, false}, {&plain, &Site{Func: "main"}, true}, {&plain, &a, false},
	} {
		if got := tt.x.SameName(tt.y); got != tt.same {
			t.Errorf("SameName(%q, %q) = %v, want %v", tt.x.Name(), tt.y.Name(), got, tt.same)
		}
	}
}

// TestProbeNamePrefix: funcSites' prefix + quoted function is ProbeName.
func TestProbeNamePrefix(t *testing.T) {
	for _, fn := range []string{"main", "_ZN2ns1C1fEi", "a:b", "with space", "x+1", "a/b", `q"uote`, ""} {
		for _, path := range []string{"/usr/lib/libjvm.so", "/a b/c:d"} {
			if got, want := ProbeName("uprobe", path)+":"+quoteField(fn, false), ProbeName("uprobe", path, fn); got != want {
				t.Errorf("%q %q: %q, want %q", path, fn, got, want)
			}
		}
	}
}
