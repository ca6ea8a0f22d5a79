package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// backend: plain HTTP behind nginx; it validates the JWT-SVID that nginx
// sends (Authorization: Bearer) with go-spiffe's jwtsvid.ParseAndValidate
// against the JWT bundles of the Workload API.
func backend(fs *flag.FlagSet, socket *string) func() error {
	listen := fs.String("listen", "127.0.0.1:0", "address")
	audience := fs.String("audience", "", "the audience we accept")

	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(),
			startTimeout)
		source, err := workloadapi.NewJWTSource(ctx,
			workloadapi.WithClientOptions(clientOptions(*socket)))
		cancel()
		if err != nil {
			return err
		}
		defer source.Close()

		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		fmt.Printf("LISTEN %s\n", ln.Addr())

		return http.Serve(ln, http.HandlerFunc(
			func(w http.ResponseWriter, r *http.Request) {
				token, ok := strings.CutPrefix(
					r.Header.Get("Authorization"), "Bearer ")
				if !ok {
					http.Error(w, "no token", http.StatusUnauthorized)
					return
				}
				svid, err := jwtsvid.ParseAndValidate(token, source,
					[]string{*audience})
				if err != nil {
					http.Error(w, "invalid: "+err.Error(),
						http.StatusUnauthorized)
					return
				}
				fmt.Fprintf(w, "valid sub=%s aud=%s\n", svid.ID,
					strings.Join(svid.Audience, ","))
			}))
	}
}
