package main

import (
	"flag"
	"fmt"
)

// jwt: our JWT-SVID for an audience, on stdout.
func jwt(fs *flag.FlagSet, socket *string) func() error {
	audience := fs.String("audience", "", "audience")

	return func() error {
		token, err := fetchJWT(*socket, *audience)
		if err != nil {
			return err
		}
		fmt.Println(token)
		return nil
	}
}
