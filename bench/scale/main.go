// Command scale fills aigw databases of growing size and prints how the
// gateway's costs change with them (make bench-scale).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	bin := flag.String("bin", "bin/aigw", "the aigw binary to run")
	keys := flag.String("keys", envOr("SCALE_KEYS", "1,1000,10000"), "gateway key counts, comma-separated")
	requests := flag.Int("requests", 20000, "proxied requests measured at each key count")
	changes := flag.Int("changes", 100, "admin changes of each kind at each key count")
	fill := flag.String("fill", "", "only fill this data directory with the first -keys count of keys (secrets of 1,000 of them in DIR/secrets.txt) against -upstream, then exit")
	upstream := flag.String("upstream", "http://127.0.0.1:9", "with -fill: the provider's base URL")
	flag.Parse()
	sizes, err := parseSizes(*keys)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale: -keys:", err)
		os.Exit(2)
	}
	if *fill != "" {
		secrets, _, err := fillKeys(*fill, *upstream, sizes[0])
		if err == nil {
			err = os.WriteFile(filepath.Join(*fill, "secrets.txt"), []byte(strings.Join(secrets, "\n")+"\n"), 0o600)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := runKeys(ctx, os.Stdout, keysConfig{bin: *bin, sizes: sizes, requests: *requests, changes: *changes}); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
