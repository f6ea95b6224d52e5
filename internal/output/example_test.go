package output_test

import (
	"fmt"
	"os"
	"time"

	"github.com/uscope/uscope/internal/output"
)

func ExampleFormat_Sprintf() {
	f, err := output.ParseFormat("%-6s pid=%5d ret=%x flags=%#o ptr=%p\n")
	if err != nil {
		panic(err)
	}
	fmt.Print(f.Sprintf([]output.Value{
		output.StringValue("read", false),
		output.IntValue(4242, 4),
		output.IntValue(-1, 4),
		output.UintValue(8, 4),
		output.PointerValue(0),
	}))
	// Output:
	// read   pid= 4242 ret=ffffffff flags=010 ptr=(nil)
}

func ExampleParseFormat_error() {
	_, err := output.ParseFormat("size %zu of %q")
	fmt.Println(err)
	// Output:
	// invalid printf format at byte 12: unknown conversion 'q' in "%q"; valid conversions are %d %i %u %x %X %o %c %s %p %r %rx %rh and %%
}

func ExamplePrintMap() {
	m := &output.Map{Name: "@calls", Kind: output.AggCount, Entries: []output.Entry{
		{Key: []output.Value{output.StringValue("write", false)}, Value: output.UintValue(7, 8)},
		{Key: []output.Value{output.StringValue("read", false)}, Value: output.UintValue(12, 8)},
	}}
	output.PrintMap(os.Stdout, m, output.PrintOptions{})
	output.PrintMapJSON(os.Stdout, m, output.PrintOptions{})
	// Output:
	// @calls[write]: 7
	// @calls[read]: 12
	// {"type": "map", "data": {"@calls": {"write": 7, "read": 12}}}
}

func ExampleHistText() {
	buckets := make([]uint64, output.Log2Buckets)
	for _, v := range []int64{5, 6, 1000} {
		buckets[output.Log2Bucket(v)]++
	}
	fmt.Print(output.HistText(buckets, 1))
	// Output:
	// [4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
	// [8, 16)                0 |                                                    |
	// [16, 32)               0 |                                                    |
	// [32, 64)               0 |                                                    |
	// [64, 128)              0 |                                                    |
	// [128, 256)             0 |                                                    |
	// [256, 512)             0 |                                                    |
	// [512, 1K)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
}

func ExampleTraceRow() {
	opts := output.TraceOptions{Time: true}
	output.TraceHeader(os.Stdout, opts)
	output.TraceRow(os.Stdout, opts, &output.TraceEvent{
		Time: time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC),
		PID:  4242, TID: 4243, Comm: "app", Func: "malloc", Msg: "size=16",
	})
	// Output:
	// TIME     PID     TID     COMM            FUNC             -
	// 14:07:09 4242    4243    app             malloc           size=16
}

func ExampleFolded() {
	fmt.Print(output.FoldedLine("app", []string{"malloc", "parse", "main"}, 42))
	// Output:
	// app;main;parse;malloc 42
}

func ExampleStrftime() {
	t := time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)
	fmt.Print(output.Strftime("%Y-%m-%d %H:%M:%S %a %Z\n", t))
	// Output:
	// 2024-03-05 14:07:09 Tue UTC
}
