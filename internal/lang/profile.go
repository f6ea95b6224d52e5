package lang

import "fmt"

const profileHint = "write profile:hz:99, profile:s:N, profile:ms:N or profile:us:N"

// profileParts parses profile:hz:N (a sampling frequency, ProfileHz) and
// profile:s|ms|us:N (a period, IntervalNanos): bpftrace's CPU-clock
// sampling probe.
func (p *parser) profileParts(ap *AttachPoint, fields []apField) {
	if len(fields) != 3 {
		p.errAt(ap.Pos, len(ap.Raw), profileHint, "malformed profile probe")
		return
	}
	unit, at := fields[1], fields[2]
	if _, ok := intervalUnits[unit.text]; (!ok || unit.text == "ns") && unit.text != "hz" {
		p.errAt(unit.pos, unit.length(), profileHint, "unknown profile unit %q", unit.text)
		return
	}
	n, msg := parseInt(at.text)
	if msg != "" || at.text == "" {
		p.errAt(at.pos, at.length(), profileHint, "invalid profile rate %q", at.text)
		return
	}
	if n == 0 {
		p.errAt(at.pos, at.length(), "the rate must be positive", "profile rate of zero")
		return
	}
	if unit.text == "hz" {
		ap.ProfileHz = n
		return
	}
	mul := intervalUnits[unit.text]
	if n > (1<<63)/mul {
		p.errAt(at.pos, at.length(), "use a shorter period", "profile period is too long")
		return
	}
	ap.IntervalNanos = n * mul
}

// profileString is the canonical text of a profile probe.
func profileString(a *AttachPoint) string {
	if a.ProfileHz != 0 {
		return fmt.Sprintf("profile:hz:%d", a.ProfileHz)
	}
	n := a.IntervalNanos
	switch {
	case n != 0 && n%1e9 == 0:
		return fmt.Sprintf("profile:s:%d", n/1e9)
	case n != 0 && n%1e6 == 0:
		return fmt.Sprintf("profile:ms:%d", n/1e6)
	}
	return fmt.Sprintf("profile:us:%d", n/1e3)
}
