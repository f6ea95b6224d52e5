// Package export publishes a running session's maps to monitoring
// systems: Prometheus (OpenMetrics or text on /metrics, written by
// exposition.go without the Prometheus client library) and
// OpenTelemetry. It reads maps only through session.Reader, the
// session's snapshot seam, so that it never touches BPF objects itself.
package export

import (
	"strconv"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/lazy"
)

var labelRE = lazy.Regexp(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reserved are label names the exporter itself uses or Prometheus
// forbids.
var reserved = map[string]bool{"program": true, "container": true, "le": true, "quantile": true, "map": true}

// KeyNames returns, per map of prog (by name with its '@'), the label
// name of each key part: the key expression's name where it is simple (a
// builtin such as comm, func, pid, or a $variable, without the '$') and
// the same at every place the map is written, else keyN.
func KeyNames(prog *lang.Program) map[string][]string {
	names := map[string][]string{}
	conflict := map[string]bool{}
	for _, p := range prog.Probes {
		lang.Inspect(p, func(n lang.Node) bool {
			me, ok := n.(*lang.MapExpr)
			if !ok || len(me.Keys) == 0 {
				return true
			}
			name := "@" + me.Name
			cur := make([]string, len(me.Keys))
			for i, k := range me.Keys {
				cur[i] = simpleName(k)
			}
			prev, seen := names[name]
			switch {
			case !seen:
				names[name] = cur
			case len(prev) != len(cur):
				conflict[name] = true
			default:
				for i := range prev {
					if prev[i] != cur[i] {
						prev[i] = ""
					}
				}
			}
			return true
		})
	}
	for name, parts := range names {
		used := map[string]bool{}
		for i, p := range parts {
			if conflict[name] || p == "" || used[p] || reserved[p] || !labelRE().MatchString(p) || len(p) > 2 && p[:2] == "__" {
				p = "key" + strconv.Itoa(i)
			}
			used[p] = true
			parts[i] = p
		}
		// A generated keyN may clash with a name taken earlier; number
		// every part then.
		if len(used) != len(parts) {
			for i := range parts {
				parts[i] = "key" + strconv.Itoa(i)
			}
		}
	}
	return names
}

// simpleName returns the name of a key expression that has one, or "".
func simpleName(e lang.Expr) string {
	switch e := e.(type) {
	case *lang.Ident:
		return e.Name
	case *lang.Var:
		return e.Name
	case *lang.Call:
		if len(e.Args) == 0 {
			return e.Name // ustack(), kstack-less builtins written as calls
		}
	}
	return ""
}
