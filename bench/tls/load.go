// Command load is the Go side of bench/tls: an HTTPS server and client in
// one process on loopback; the client makes N requests on one kept-alive
// connection and prints the mean time per request in µs.
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "usage: load N")
		os.Exit(2)
	}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer ts.Close()
	c := ts.Client()
	do := func() {
		resp, err := c.Post(ts.URL+"/echo", "text/plain", strings.NewReader("ping"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do() // the handshake, outside the timing
	start := time.Now()
	for i := 0; i < n; i++ {
		do()
	}
	fmt.Printf("%.2f\n", float64(time.Since(start).Microseconds())/float64(n))
}
