package tools

import (
	"strings"
	"testing"
	"time"

	"github.com/uscope/uscope/internal/output"
)

func statsMap(name string, rows map[string][2]int64) *output.Map {
	m := &output.Map{Name: name, Kind: output.AggStats}
	for k, v := range rows {
		m.Entries = append(m.Entries, output.Entry{Key: []output.Value{output.StringValue(k, false)}, Count: v[0], Sum: v[1]})
	}
	return m
}

// TestTopReport: a --top summary shows the Top rows with the most total,
// most first; live, each interval clears the screen and says when and how
// many rows of how many; piped, plain tables after an empty line (-T: the
// time first), and at the end only what came in after the last interval.
func TestTopReport(t *testing.T) {
	m := statsMap("@q", map[string][2]int64{"a": {1, 10}, "b": {5, 500}, "c": {2, 40}})
	table := func(rows []statsRow) string {
		var sb strings.Builder
		sb.WriteString("KEY N SUM\n")
		for _, r := range rows {
			sb.WriteString(strings.Join(r.key, ",") + " " + itoa(r.count) + " " + itoa(r.sum) + "\n")
		}
		return sb.String()
	}
	var sb strings.Builder
	o := Options{Out: &sb, Now: fixedClock, Top: 2, Live: true, Timing: Timing{Interval: time.Second}}
	o.topReport("@q", table, nil)([]*output.Map{m}, false)
	want := clearScreen + "15:04:05  top 2 of 3, every 1s  (Ctrl-C to end)\n\nKEY N SUM\nb 5 500\nc 2 40\n"
	if sb.String() != want {
		t.Errorf("live:\n%q\nwant\n%q", sb.String(), want)
	}

	sb.Reset()
	o.Live, o.Timestamp = false, true
	ended := false
	report := o.topReport("@q", table, func() { ended = true })
	report([]*output.Map{m}, false)
	report([]*output.Map{{Name: "@q", Kind: output.AggStats}}, true)
	if want := "\n15:04:05\nKEY N SUM\nb 5 500\nc 2 40\n"; sb.String() != want || !ended {
		t.Errorf("piped:\n%q\nwant\n%q (and the end hook called)", sb.String(), want)
	}
}

func itoa(n int64) string { return output.IntValue(n, 8).Text() }
