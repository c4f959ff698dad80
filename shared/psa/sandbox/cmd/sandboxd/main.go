// Command sandboxd serves the PSA sandboxes in a process of their own, so a
// benchmark can measure its own process's CPU without the sandbox's share
// (sandboxtest.Start builds and runs it). It listens on a loopback address,
// prints "listening on http://ADDR" on stdout once it accepts connections,
// serves sandbox.Server.Remote (the dialects, the /_sandbox/ admin routes
// and the caller's clock) and exits when its stdin closes, so it never
// outlives the process that started it.
//
//	sandboxd [-listen 127.0.0.1:0] [-seed seed.json]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/psabridge/psabridge/shared/psa/sandbox"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	seed := flag.String("seed", "", "JSON seed file (sandbox.Seed) to load first")
	flag.Parse()
	sb := sandbox.New()
	if *seed != "" {
		if err := sb.LoadFile(*seed); err != nil {
			log.Fatalf("sandboxd: seed: %v", err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("sandboxd: %v", err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Fatalf("sandboxd: %s is not a loopback address", ln.Addr())
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, sb.Remote()))
}
