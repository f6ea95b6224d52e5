//go:build linux && (amd64 || arm64)

package stapsdt_test

import (
	"fmt"
	"log"

	"github.com/uscope/uscope/stapsdt"
	"github.com/uscope/uscope/usdt"
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
	fmt.Println("query built:", query.Enabled())
	// Output: query built: false
}

// A provider's probes are ordinary USDT probes: any USDT reader lists them
// from the provider's file, with the argument specs of the machine.
func ExampleProvider_Path() {
	p, err := stapsdt.NewProvider("shop")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := p.AddProbe("order", stapsdt.Int32, stapsdt.Uint64); err != nil {
		log.Fatal(err)
	}
	if err := p.Load(); err != nil {
		log.Fatal(err)
	}
	defer p.Unload()
	sites, err := usdt.ReadSites(p.Path())
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sites {
		fmt.Printf("%s:%s with %d arguments, semaphore: %v\n", s.Provider, s.Name, len(s.Args), s.Semaphore != 0)
	}
	// Output: shop:order with 2 arguments, semaphore: true
}
