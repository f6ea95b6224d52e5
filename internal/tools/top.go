package tools

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uscope/uscope/internal/output"
)

// The live view of --top on a terminal: each interval clears the screen
// and draws the largest rows first, with the time and how many rows there
// were, as top does. Piped, --top prints plain intervals of the top rows.

const clearScreen = "\x1b[H\x1b[2J"

// topHeader is the first line of a live view: the time, how many rows it
// shows of how many, and the interval.
func topHeader(now time.Time, shown, total int, every time.Duration) string {
	return fmt.Sprintf("%s%s  top %d of %d, every %s  (Ctrl-C to end)\n\n", clearScreen, now.Format("15:04:05"), shown, total, every)
}

// topView draws one interval of rows (ascending, as countRows sorts them).
func (o *Options) topView(rows []output.Count) string {
	var sb strings.Builder
	n := len(rows)
	shown := rows
	if o.Top > 0 && len(shown) > o.Top {
		shown = shown[len(shown)-o.Top:]
	}
	sb.WriteString(topHeader(o.now(), len(shown), n, o.Interval))
	fmt.Fprintf(&sb, "%-36s %12s\n", "FUNC", "COUNT")
	for i := len(shown) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%-36s %12d\n", shown[i].Name, shown[i].Count)
	}
	return sb.String()
}

// statsRow is one key of a stats() map: its key as text, how many samples
// and their total.
type statsRow struct {
	key        []string
	count, sum int64
}

// statsRows returns the entries of a stats() map by descending total (then
// count, then key), at most top of them (0: all), and how many there were.
func statsRows(m *output.Map, top int) ([]statsRow, int) {
	rows := make([]statsRow, 0, len(m.Entries))
	for _, e := range m.Entries {
		key := make([]string, len(e.Key))
		for i, k := range e.Key {
			key[i] = keyText(k)
		}
		rows = append(rows, statsRow{key: key, count: e.Count, sum: e.Sum})
	}
	slices.SortFunc(rows, func(a, b statsRow) int {
		if c := cmp.Compare(b.sum, a.sum); c != 0 {
			return c
		}
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return slices.Compare(a.key, b.key)
	})
	n := len(rows)
	if top > 0 && len(rows) > top {
		rows = rows[:top]
	}
	return rows, n
}

// topReport is the Report of a --top summary kept in the stats() map
// name: each interval (and at the end, when something came in since the
// last one) the largest rows, laid out by table (header line, then one
// line per row), redrawn in place when Live, else after an empty line
// (and the time with -T), as the tools print intervals.
func (o *Options) topReport(name string, table func(rows []statsRow) string, final func()) func([]*output.Map, bool) {
	return func(maps []*output.Map, last bool) {
		m := find(maps, name)
		if m != nil && (!last || o.Interval == 0 || len(m.Entries) > 0) {
			rows, n := statsRows(m, o.Top)
			switch {
			case o.Live && !last:
				o.printf("%s%s", topHeader(o.now(), len(rows), n, o.Interval), table(rows))
			default:
				o.printf("\n")
				if o.Timestamp {
					o.printf("%s", output.BCCTimestamp(o.now().Format("15:04:05")))
				}
				o.printf("%s", table(rows))
			}
		}
		if last && final != nil {
			final()
		}
	}
}
