package output

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/testutil"
)

func TestStrftime(t *testing.T) {
	ts := time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)
	tests := []struct{ format, want string }{
		{"%H:%M:%S\n", "14:07:09\n"},
		{"%Y-%m-%d %a %b %j %y %p", "2024-03-05 Tue Mar 065 24 PM"},
		{"%I %l %k %e", "02  2 14  5"},
		{"%Z %z %s", "UTC +0000 1709647629"},
		{"%-d %_m %^a %05e", "5  3 TUE 00005"},
		{"100%% %Q %", "100% %Q %"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Strftime(tt.format, ts); got != tt.want {
			t.Errorf("Strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
	// bpftrace's %f: the microseconds, as its suite checks with
	// strftime("%s.%f", 123000).
	if got := Strftime("%s.%f", ts.Add(1000123000)); got != "1709647630.000123" {
		t.Errorf("Strftime(%%s.%%f) = %q", got)
	}
}

// TestStrftimeMatchesC compares Strftime with glibc's strftime for many
// formats, times and zones.
func TestStrftimeMatchesC(t *testing.T) {
	formats := []string{
		"%a", "%A", "%b", "%B", "%c", "%C", "%d", "%D", "%e", "%F", "%g", "%G", "%h", "%H",
		"%I", "%j", "%k", "%l", "%m", "%M", "%n", "%p", "%P", "%r", "%R", "%s", "%S", "%t",
		"%T", "%u", "%U", "%V", "%w", "%W", "%x", "%X", "%y", "%Y", "%z", "%Z", "%%",
		"%-d", "%_d", "%0e", "%-H", "%_m", "%^a", "%^B", "%#a", "%#A", "%#b", "%#p", "%#Z",
		"%^p", "%-j", "%_j", "%10Y", "%3d", "%_5H", "%05e", "%-5d", "%^10a", "%10B", "%010a",
		"%Ey", "%OH", "%Ec", "%-l", "%_I", "%-y", "%4y",
		"%Q", "%q", "abc%", "[%H:%M:%S]", "time is %T on %A, %B %e, %Y (%Z)\n",
	}
	times := []int64{
		0, 1709647629, 1609459200, 1735560000, 1720051200, 1720096200, 946684799,
		1710054000, 1730613600, 951782400, 1078012800, 4102444800, -86400 * 365,
	}
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}

	var src strings.Builder
	src.WriteString(`#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <locale.h>
int main(void) {
	setlocale(LC_ALL, "C");
	char buf[512];
	struct tm tm;
	time_t t;
`)
	type cse struct {
		zone, format string
		unix         int64
	}
	var cases []cse
	for _, z := range zones {
		fmt.Fprintf(&src, "\tsetenv(\"TZ\", %s, 1); tzset();\n", cQuote(z))
		for _, u := range times {
			fmt.Fprintf(&src, "\tt = (time_t)%dLL; localtime_r(&t, &tm);\n", u)
			for _, f := range formats {
				fmt.Fprintf(&src, "\tstrftime(buf, sizeof buf, %s, &tm); fputs(buf, stdout); putchar(30);\n", cQuote(f))
				cases = append(cases, cse{z, f, u})
			}
		}
	}
	src.WriteString("\treturn 0;\n}\n")
	bin := testutil.BuildC(t, "strftime", src.String(), "-w")
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(string(out), "\x1e")
	if len(got) != len(cases)+1 {
		t.Fatalf("C printed %d records, want %d", len(got)-1, len(cases))
	}
	failures := 0
	for i, c := range cases {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Skipf("no zone data: %v", err)
		}
		tm := time.Unix(c.unix, 0).In(loc)
		if s := Strftime(c.format, tm); s != got[i] {
			t.Errorf("Strftime(%q, %v) = %q, glibc prints %q", c.format, tm, s, got[i])
			if failures++; failures > 30 {
				t.Fatal("too many failures")
			}
		}
	}
	t.Logf("%d strftime cases match glibc", len(cases))
}

func FuzzStrftime(f *testing.F) {
	for _, s := range []string{"%H:%M:%S\n", "%-5d %_j %^10a %#Z", "%", "%5", "%E", "%Q%%", "%99999Y"} {
		f.Add(s, int64(1709647629))
	}
	f.Fuzz(func(t *testing.T, format string, unix int64) {
		tm := time.Unix(unix%(1<<40), 0).UTC()
		out := Strftime(format, tm)
		// Each byte of the format yields at most one conversion, and a
		// conversion at most MaxWidth bytes plus its longest expansion.
		if len(out) > len(format)*(MaxWidth+64)+64 {
			t.Fatalf("output of %d bytes for %q", len(out), format)
		}
	})
}
