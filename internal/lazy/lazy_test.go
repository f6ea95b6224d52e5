package lazy

import "testing"

func TestRegexp(t *testing.T) {
	re := Regexp(`^a(\d+)$`)
	if re() != re() {
		t.Error("compiled twice")
	}
	if m := re().FindStringSubmatch("a42"); len(m) != 2 || m[1] != "42" {
		t.Errorf("got %q", m)
	}
	defer func() {
		if recover() == nil {
			t.Error("an invalid expression did not panic on first use")
		}
	}()
	bad := Regexp(`(`) // no panic yet
	bad()
}
