// Command peer is a SPIFFE workload written with go-spiffe, the library
// most Go workloads use: the other side of nginx in t/100-spire.t.  Each
// subcommand takes its identity from the Workload API (-socket); the suite
// runs it under a name of its own so that a SPIRE agent tells the peers
// apart by binary path.
//
//	peer client  -url URL -server-id ID [-n N | -duration D] [-jwt AUD]
//	peer server  -listen ADDR -client-id ID [-tcp]
//	peer jwt     -audience AUD
//	peer backend -listen ADDR -audience AUD
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

var commands = map[string]func(fs *flag.FlagSet, socket *string) func() error{
	"client":  client,
	"server":  server,
	"jwt":     jwt,
	"backend": backend,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: peer client|server|jwt|backend "+
			"-socket unix:///PATH [options]")
		os.Exit(2)
	}

	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	socket := fs.String("socket", os.Getenv("SPIFFE_ENDPOINT_SOCKET"),
		"Workload API address")
	run := commands[os.Args[1]](fs, socket)
	fs.Parse(os.Args[2:])

	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "peer %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// the first SVID may take a few seconds: SPIRE's agent syncs entries
const startTimeout = 60 * time.Second

func clientOptions(socket string) workloadapi.ClientOption {
	return workloadapi.WithAddr(socket)
}

func x509Source(socket string) (*workloadapi.X509Source, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	return workloadapi.NewX509Source(ctx,
		workloadapi.WithClientOptions(clientOptions(socket)))
}
