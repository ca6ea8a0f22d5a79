package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// client: mTLS requests to nginx with our X.509-SVID, one connection
// each.  With -n it prints "STATUS LINE" per request, LINE the first line
// of the body; with -duration it
// keeps requesting and prints a summary: how many, how many failed, and
// the serials of the server certificates seen (nginx's SVIDs).
func client(fs *flag.FlagSet, socket *string) func() error {
	url := fs.String("url", "", "https://... of nginx")
	serverID := fs.String("server-id", "", "nginx's SPIFFE ID")
	n := fs.Int("n", 1, "requests")
	duration := fs.Duration("duration", 0, "request for this long")
	interval := fs.Duration("interval", 100*time.Millisecond,
		"between requests with -duration")
	audience := fs.String("jwt", "", "send a JWT-SVID for this audience")

	return func() error {
		id, err := spiffeid.FromString(*serverID)
		if err != nil {
			return err
		}

		source, err := x509Source(*socket)
		if err != nil {
			return err
		}
		defer source.Close()

		hc := &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig: tlsconfig.MTLSClientConfig(source, source,
					tlsconfig.AuthorizeID(id)),
				DisableKeepAlives: true,
			},
		}

		token := ""
		if *audience != "" {
			token, err = fetchJWT(*socket, *audience)
			if err != nil {
				return err
			}
		}

		get := func() (int, string, string, error) {
			req, err := http.NewRequest("GET", *url, nil)
			if err != nil {
				return 0, "", "", err
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				return 0, "", "", err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			first, _, _ := strings.Cut(string(body), "\n")
			first = strings.TrimSpace(first)
			serial := resp.TLS.PeerCertificates[0].SerialNumber.Text(16)
			return resp.StatusCode, first, serial, err
		}

		if *duration == 0 {
			for i := 0; i < *n; i++ {
				status, body, _, err := get()
				if err != nil {
					fmt.Printf("ERROR %v\n", err)
					continue
				}
				fmt.Printf("%d %s\n", status, body)
			}
			return nil
		}

		requests, failed := 0, 0
		serials := map[string]bool{}
		ids := map[string]bool{}
		for end := time.Now().Add(*duration); time.Now().Before(end); {
			requests++
			status, body, serial, err := get()
			if err != nil || status != http.StatusOK {
				failed++
				fmt.Printf("FAILED %d %q %v\n", status, body, err)
			} else {
				serials[serial] = true
				ids[body] = true
			}
			time.Sleep(*interval)
		}

		fmt.Printf("requests=%d failed=%d server_serials=%d bodies=%s\n",
			requests, failed, len(serials), strings.Join(keys(ids), ","))
		return nil
	}
}

func fetchJWT(socket, audience string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	svid, err := workloadapi.FetchJWTSVID(ctx,
		jwtsvid.Params{Audience: audience}, clientOptions(socket))
	if err != nil {
		return "", err
	}
	return svid.Marshal(), nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
