package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// server: an mTLS server with our X.509-SVID that lets in nginx's ID only
// and answers with both IDs: HTTP, or with -tcp one line per connection.
func server(fs *flag.FlagSet, socket *string) func() error {
	listen := fs.String("listen", "127.0.0.1:0", "address")
	clientID := fs.String("client-id", "", "the SPIFFE ID allowed in")
	tcp := fs.Bool("tcp", false, "TLS over TCP, one line, no HTTP")

	return func() error {
		id, err := spiffeid.FromString(*clientID)
		if err != nil {
			return err
		}

		source, err := x509Source(*socket)
		if err != nil {
			return err
		}
		defer source.Close()

		config := tlsconfig.MTLSServerConfig(source, source,
			tlsconfig.AuthorizeID(id))

		ln, err := tls.Listen("tcp", *listen, config)
		if err != nil {
			return err
		}
		fmt.Printf("LISTEN %s\n", ln.Addr())

		me := func() string {
			svid, err := source.GetX509SVID()
			if err != nil {
				return "none"
			}
			return svid.ID.String()
		}

		if !*tcp {
			return http.Serve(ln, http.HandlerFunc(
				func(w http.ResponseWriter, r *http.Request) {
					peer, _ := x509svid.IDFromCert(r.TLS.PeerCertificates[0])
					fmt.Fprintf(w, "server me=%s peer=%s\n", me(), peer)
				}))
		}

		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			go serveLine(c.(*tls.Conn), me())
		}
	}
}

func serveLine(c *tls.Conn, me string) {
	defer c.Close()

	if err := c.Handshake(); err != nil {
		return
	}
	peer, _ := x509svid.IDFromCert(c.ConnectionState().PeerCertificates[0])
	fmt.Fprintf(c, "tcp me=%s peer=%s\n", me, peer)
}
