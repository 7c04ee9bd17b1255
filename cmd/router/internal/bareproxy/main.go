// Command bareproxy is the router benchmark's reference: the standard library's reverse proxy
// alone, sending every request to one backend, so the benchmark can tell what one more hop costs
// on the machine from what the router adds to it. Usage: bareproxy LISTEN_ADDR BACKEND_ADDR.
package main

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bareproxy LISTEN_ADDR BACKEND_ADDR")
		os.Exit(2)
	}
	backend := &url.URL{Scheme: "http", Host: os.Args[2]}
	p := httputil.NewSingleHostReverseProxy(backend)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	if err := http.ListenAndServe(os.Args[1], p); err != nil {
		fmt.Fprintln(os.Stderr, "bareproxy:", err)
		os.Exit(1)
	}
}
