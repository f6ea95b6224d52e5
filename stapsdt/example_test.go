//go:build linux && (amd64 || arm64)

package stapsdt_test

import (
	"fmt"
	"log"

	"github.com/uscope/uscope/stapsdt"
)

// A server declares its probes once, at start-up, and fires them on every
// request. Tracers see usdt:<Path()>:myapp:request__start with a string
// and an integer argument.
func Example() {
	p, err := stapsdt.NewProvider("myapp")
	if err != nil {
		log.Fatal(err)
	}
	start, err := p.AddProbe("request__start", stapsdt.String, stapsdt.Int64)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Load(); err != nil {
		log.Fatal(err)
	}
	defer p.Unload()

	for id := int64(1); id <= 3; id++ {
		// Cheap arguments can be passed directly: nothing is copied or
		// allocated while no tracer is attached.
		start.Fire("/api/items", id)
	}
	fmt.Println("traced:", start.Enabled())
	// Output: traced: false
}

// Enabled guards arguments that are expensive to build.
func ExampleProbe_Enabled() {
	p, err := stapsdt.NewProvider("myapp")
	if err != nil {
		log.Fatal(err)
	}
	query, err := p.AddProbe("query", stapsdt.String)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Load(); err != nil {
		log.Fatal(err)
	}
	defer p.Unload()

	if query.Enabled() {
		query.Fire(fmt.Sprintf("SELECT * FROM t WHERE id = %d", 42))
	}
}
