// Command aigw is a single-binary AI API gateway: `aigw serve` runs the
// proxy and the admin API; every other command is a client of the admin API.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], newSystemIO()))
}
