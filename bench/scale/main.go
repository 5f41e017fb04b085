// Command scale measures how aigw's costs grow with its data: it fills a
// fresh database in a temporary directory with direct store writes, serves
// it through the real admin API on 127.0.0.1 and times what an operator
// would run, printing a markdown table per section. `make bench-scale`
// runs it; README's Performance section shows its figures.
//
// Sections register themselves (traces.go; keys and credentials are
// another's): -only picks one, "all" runs each in name order.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

// A section is one table of the benchmark.
type section struct {
	about string
	run   func(cfg *config) error
}

var sections = map[string]section{}

// register adds a section; called from the sections' init functions.
func register(name, about string, run func(cfg *config) error) {
	sections[name] = section{about: about, run: run}
}

// config is what every section gets.
type config struct {
	calls   int    // timed calls per figure
	queries bool   // time the queries (else only fill)
	aigw    string // the aigw binary for the CLI timings ("": API only)
	keep    bool   // leave the temporary directory
	out     io.Writer
	tmpDir  string // a fresh directory per section, under the run's
}

func main() {
	var (
		only = flag.String("only", "all", "the section to run: all, or one of "+strings.Join(sectionNames(), ", "))
		cfg  config
	)
	flag.IntVar(&cfg.calls, "calls", 20, "timed calls per query (median and max are reported)")
	flag.StringVar(&cfg.aigw, "aigw", "", "path of the aigw binary: also time the CLI commands (wall time, process start included)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary databases")
	flag.BoolVar(&cfg.queries, "queries", true, "time the queries; -queries=false only fills (write rate and file size)")
	flag.Parse()
	cfg.out = os.Stdout
	if cfg.calls < 1 || cfg.calls > 1000 {
		fail(fmt.Errorf("-calls %d: must be 1 to 1000", cfg.calls))
	}
	names := []string{*only}
	if *only == "all" {
		names = sectionNames()
	} else if _, ok := sections[*only]; !ok {
		fail(fmt.Errorf("-only %q: not one of all, %s", *only, strings.Join(sectionNames(), ", ")))
	}
	dir, err := os.MkdirTemp("", "aigw-bench-scale-")
	if err != nil {
		fail(err)
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	for _, name := range names {
		cfg.tmpDir = filepath.Join(dir, name)
		if err := os.MkdirAll(cfg.tmpDir, 0o700); err != nil {
			fail(err)
		}
		fmt.Fprintf(cfg.out, "\n## %s: %s\n\n", name, sections[name].about)
		if err := sections[name].run(&cfg); err != nil {
			if !cfg.keep {
				os.RemoveAll(dir)
			}
			fail(fmt.Errorf("%s: %w", name, err))
		}
		if !cfg.keep {
			os.RemoveAll(cfg.tmpDir)
		}
	}
}

func sectionNames() []string {
	var out []string
	for n := range sections {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-scale:", err)
	os.Exit(1)
}

// progress is a line on stderr, so the table on stdout stays clean.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// env is a store served by the real admin API on 127.0.0.1.
type env struct {
	Path  string
	Store *store.Store
	URL   string // the admin API's base URL
	Token string // an admin-scope token
	srv   *http.Server
	cfg   *config
	// Live, when set, runs before each timed call of a "live" figure: the
	// section writes a trace as the gateway's writer would (every batch
	// releases the file's mapped pages, so the call reads them back in).
	Live func() error
}

// openEnv opens (creating) the database at path and serves it.
func openEnv(cfg *config, path string, opts store.Options) (*env, error) {
	master := make([]byte, store.MasterKeySize)
	if _, err := rand.Read(master); err != nil {
		return nil, err
	}
	st, err := store.Open(path, master, opts)
	if err != nil {
		return nil, err
	}
	tokens := admin.NewTokens(st, master)
	_, token, err := tokens.Issue("bench-scale", []string{admin.ScopeAdmin}, 24*time.Hour)
	if err != nil {
		st.Close()
		return nil, err
	}
	srv := admin.New(admin.Options{Store: st, Tokens: tokens, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	return &env{Path: path, Store: st, URL: "http://" + ln.Addr().String(), Token: token, srv: hs, cfg: cfg}, nil
}

func (e *env) Close() error {
	e.srv.Close()
	return e.Store.Close()
}

// fileSize is the database file's size in bytes.
func (e *env) fileSize() int64 {
	fi, err := os.Stat(e.Path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// timing is the median, the 99th percentile and the max of some calls.
type timing struct{ median, p99, max time.Duration }

func (t timing) String() string {
	if t.max == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s", ms(t.median), ms(t.max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func timeCalls(n int, before, call func() error) (timing, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		if before != nil {
			if err := before(); err != nil {
				return timing{}, err
			}
		}
		start := time.Now()
		if err := call(); err != nil {
			return timing{}, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return timing{median: ds[len(ds)/2], p99: ds[min(len(ds)-1, len(ds)*99/100)], max: ds[len(ds)-1]}, nil
}

var httpClient = &http.Client{Timeout: time.Minute}

// adminCall sends one admin API request (in, when not nil, as its JSON
// body) and returns the answer's body; a status of 300 or more is an
// error naming the request.
func adminCall(method, url, token string, in any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %.200s", method, url, resp.Status, raw)
	}
	return raw, nil
}

// api times GET path?query on the admin API (the whole answer read);
// live: with e.Live before each call.
func (e *env) api(pathQuery string, live bool) (timing, error) {
	call := func() error {
		_, err := adminCall(http.MethodGet, e.URL+pathQuery, e.Token, nil)
		return err
	}
	if err := call(); err != nil { // the first call maps the pages
		return timing{}, err
	}
	var before func() error
	if live {
		before = e.Live
	}
	return timeCalls(e.cfg.calls, before, call)
}

// cli times `aigw args…` against the admin API (wall time of the process),
// live (e.Live before each run) or not; zero without -aigw.
func (e *env) cli(live bool, args ...string) (timing, error) {
	if e.cfg.aigw == "" {
		return timing{}, nil
	}
	args = append([]string{"--admin", e.URL, "--token", e.Token}, args...)
	call := func() error {
		cmd := exec.Command(e.cfg.aigw, args...)
		cmd.Env = append(os.Environ(), "AIGW_DATA_DIR="+e.cfg.tmpDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("aigw %s: %v: %.300s", strings.Join(args[4:], " "), err, out)
		}
		return nil
	}
	if err := call(); err != nil {
		return timing{}, err
	}
	var before func() error
	if live {
		before = e.Live
	}
	return timeCalls(e.cfg.calls, before, call)
}
