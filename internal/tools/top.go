package tools

import (
	"fmt"
	"strings"

	"github.com/uscope/uscope/internal/output"
)

// The live view of --top on a terminal: each interval clears the screen
// and draws the largest rows first, with the time and how many rows there
// were, as top does. Piped, --top prints plain intervals of the top rows.

const clearScreen = "\x1b[H\x1b[2J"

// topView draws one interval of rows (ascending, as countRows sorts them).
func (o *Options) topView(rows []output.Count) string {
	var sb strings.Builder
	sb.WriteString(clearScreen)
	n := len(rows)
	shown := rows
	if o.Top > 0 && len(shown) > o.Top {
		shown = shown[len(shown)-o.Top:]
	}
	fmt.Fprintf(&sb, "%s  top %d of %d, every %s  (Ctrl-C to end)\n\n", o.now().Format("15:04:05"), len(shown), n, o.Interval)
	fmt.Fprintf(&sb, "%-36s %12s\n", "FUNC", "COUNT")
	for i := len(shown) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%-36s %12d\n", shown[i].Name, shown[i].Count)
	}
	return sb.String()
}
