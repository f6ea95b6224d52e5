package output

import (
	"strconv"
	"strings"
	"time"
)

// DefaultTimeFormat is the format of time() without an argument, as in
// bpftrace.
const DefaultTimeFormat = "%H:%M:%S\n"

// Strftime formats t like C's strftime in the C locale, for bpftrace's
// time(fmt). It supports the conversions
//
//	%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %p %P
//	%r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%
//
// with glibc's flags '_' (pad with spaces), '-' (no padding), '0' (pad with
// zeros), '^' (upper case) and '#' (swap case), a field width, and the
// ignored E and O modifiers, and bpftrace's %f, the microseconds of the
// second in six digits. An unknown conversion is copied as written, as
// glibc does.
func Strftime(format string, t time.Time) string {
	var sb strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		start := i
		i++
		flagStart := i
		for i < len(format) && strings.IndexByte("_-0^#", format[i]) >= 0 {
			i++
		}
		flags := format[flagStart:i]
		width := -1
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			if width < 0 {
				width = 0
			}
			width = min(width*10+int(format[i]-'0'), MaxWidth)
			i++
		}
		for i < len(format) && (format[i] == 'E' || format[i] == 'O') {
			i++
		}
		if i >= len(format) {
			sb.WriteString(format[start:])
			break
		}
		spec := strftimeSpec{flags: flags, width: width}
		if !spec.conv(&sb, format[i], t) {
			sb.WriteString(format[start : i+1])
		}
	}
	return sb.String()
}

// strftimeSpec is one parsed conversion's flags and width.
type strftimeSpec struct {
	flags string
	width int
}

// padFlag returns the last padding flag ('_', '-', '0') or 0.
func (s strftimeSpec) padFlag() byte {
	var f byte
	for i := 0; i < len(s.flags); i++ {
		switch s.flags[i] {
		case '_', '-', '0':
			f = s.flags[i]
		}
	}
	return f
}

func (s strftimeSpec) has(f byte) bool { return strings.IndexByte(s.flags, f) >= 0 }

// num writes n padded to digits (or the width) with pad, honouring the
// padding flags.
func (s strftimeSpec) num(sb *strings.Builder, n int, digits int, pad byte) {
	switch s.padFlag() {
	case '-':
		// No padding, except to an explicit width, with spaces.
		digits, pad = 0, ' '
	case '_':
		pad = ' '
	case '0':
		pad = '0'
	}
	if s.width >= 0 {
		digits = s.width
	}
	neg := n < 0
	if neg {
		n = -n
	}
	d := strconv.Itoa(n)
	if neg {
		if pad == '0' {
			sb.WriteByte('-')
			digits--
		} else {
			d = "-" + d
		}
	}
	for k := len(d); k < digits; k++ {
		sb.WriteByte(pad)
	}
	sb.WriteString(d)
}

// str writes a name, honouring '^' (upper case), '#' (swap case: upper
// for names, lower for %p and %Z, given by swapLower) and the width.
func (s strftimeSpec) str(sb *strings.Builder, v string, swapLower bool) {
	if s.has('^') {
		v = strings.ToUpper(v)
	} else if s.has('#') {
		if swapLower {
			v = strings.ToLower(v)
		} else {
			v = strings.ToUpper(v)
		}
	}
	if s.width > len(v) {
		pad := byte(' ')
		if s.padFlag() == '0' {
			pad = '0'
		}
		for k := len(v); k < s.width; k++ {
			sb.WriteByte(pad)
		}
	}
	sb.WriteString(v)
}

// conv writes conversion c of t and reports whether c is known.
func (s strftimeSpec) conv(sb *strings.Builder, c byte, t time.Time) bool {
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	isoYear, isoWeek := t.ISOWeek()
	yday := t.YearDay() - 1
	wday := int(t.Weekday())
	switch c {
	case 'a':
		s.str(sb, t.Weekday().String()[:3], false)
	case 'A':
		s.str(sb, t.Weekday().String(), false)
	case 'b', 'h':
		s.str(sb, t.Month().String()[:3], false)
	case 'B':
		s.str(sb, t.Month().String(), false)
	case 'c':
		s.str(sb, Strftime("%a %b %e %H:%M:%S %Y", t), false)
	case 'C':
		s.num(sb, floorDiv(t.Year(), 100), 2, '0')
	case 'd':
		s.num(sb, t.Day(), 2, '0')
	case 'D', 'x':
		s.str(sb, Strftime("%m/%d/%y", t), false)
	case 'e':
		s.num(sb, t.Day(), 2, ' ')
	case 'F':
		s.str(sb, Strftime("%Y-%m-%d", t), false)
	case 'g':
		s.num(sb, floorMod(isoYear, 100), 2, '0')
	case 'G':
		s.num(sb, isoYear, 1, '0')
	case 'H':
		s.num(sb, t.Hour(), 2, '0')
	case 'I':
		s.num(sb, hour12, 2, '0')
	case 'j':
		s.num(sb, yday+1, 3, '0')
	case 'k':
		s.num(sb, t.Hour(), 2, ' ')
	case 'l':
		s.num(sb, hour12, 2, ' ')
	case 'm':
		s.num(sb, int(t.Month()), 2, '0')
	case 'M':
		s.num(sb, t.Minute(), 2, '0')
	case 'n':
		sb.WriteByte('\n')
	case 'p':
		if t.Hour() < 12 {
			s.str(sb, "AM", true)
		} else {
			s.str(sb, "PM", true)
		}
	case 'P':
		if t.Hour() < 12 {
			s.str(sb, "am", false)
		} else {
			s.str(sb, "pm", false)
		}
	case 'r':
		s.str(sb, Strftime("%I:%M:%S %p", t), false)
	case 'R':
		s.str(sb, Strftime("%H:%M", t), false)
	case 's':
		s.str(sb, strconv.FormatInt(t.Unix(), 10), false)
	case 'S':
		s.num(sb, t.Second(), 2, '0')
	case 'f':
		s.num(sb, t.Nanosecond()/1000, 6, '0')
	case 't':
		sb.WriteByte('\t')
	case 'T', 'X':
		s.str(sb, Strftime("%H:%M:%S", t), false)
	case 'u':
		s.num(sb, (wday+6)%7+1, 1, '0')
	case 'U':
		s.num(sb, (yday+7-wday)/7, 2, '0')
	case 'V':
		s.num(sb, isoWeek, 2, '0')
	case 'w':
		s.num(sb, wday, 1, '0')
	case 'W':
		s.num(sb, (yday+7-(wday+6)%7)/7, 2, '0')
	case 'y':
		s.num(sb, floorMod(t.Year(), 100), 2, '0')
	case 'Y':
		s.num(sb, t.Year(), 1, '0')
	case 'z':
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign = '-'
			off = -off
		}
		sb.WriteByte(sign)
		sb.WriteString(twoDigits(off / 3600))
		sb.WriteString(twoDigits(off % 3600 / 60))
	case 'Z':
		name, _ := t.Zone()
		s.str(sb, name, true)
	case '%':
		sb.WriteByte('%')
	default:
		return false
	}
	return true
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }
