package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aigw/aigw/proxytest"
	"github.com/aigw/aigw/store"
)

// The keys section: a gateway holding N keys, driven as an operator and
// its clients would — the built binary over loopback.
//
//   - start-up: from exec to the first proxied answer;
//   - RSS once idle;
//   - CPU per proxied request (the gateway process's user+system time over
//     a run of requests, spread over many keys), as a ratio to the
//     smallest N of the same run;
//   - one admin change at a time through the API, p50 and p99: create,
//     update and revoke a key, update a credential, update a provider;
//   - the first page of GET /api/v1/keys.

func init() {
	register("keys", "gateway keys 1 → SCALE_KEYS (default 1,1000,10000), the built binary over loopback: start-up, idle RSS, CPU per request, one admin change at a time, a page of keys", func(cfg *config) error {
		if cfg.aigw == "" {
			return errors.New("the keys section runs the aigw binary: give -aigw PATH (make bench-scale does)")
		}
		sizes, err := keySizes()
		if err != nil {
			return err
		}
		if *fillOnly != "" {
			secrets, _, err := fillKeyDB(*fillOnly, *fillUpstream, sizes[0])
			if err == nil {
				err = os.WriteFile(filepath.Join(*fillOnly, "secrets.txt"), []byte(strings.Join(secrets, "\n")+"\n"), 0o600)
			}
			return err
		}
		return runKeys(context.Background(), cfg.out, keysConfig{bin: cfg.aigw, sizes: sizes, requests: *keyRequests, changes: *keyChanges})
	})
}

var (
	keyRequests  = flag.Int("key-requests", 20000, "keys section: proxied requests measured at each key count")
	keyChanges   = flag.Int("key-changes", 100, "keys section: admin changes of each kind at each key count")
	fillOnly     = flag.String("fill", "", "keys section: only fill this data directory with the first SCALE_KEYS count of keys (secrets of 1,000 of them in DIR/secrets.txt) for -fill-upstream, and exit")
	fillUpstream = flag.String("fill-upstream", "http://127.0.0.1:9", "with -fill: the provider's base URL")
)

// keySizes reads SCALE_KEYS: key counts, comma-separated.
func keySizes() ([]int, error) { return counts("SCALE_KEYS", "1,1000,10000", "keys", 1, 10_000_000) }

// keysRow is one line of the table.
type keysRow struct {
	keys      int
	dbBytes   int64
	startup   time.Duration
	rssIdle   int64
	rssFile   int64 // of rssIdle
	cpuPerReq time.Duration
	changes   []timing
	applied   map[string]float64 // kind → the p99's histogram bucket (s) of aigw_config_change_seconds
	list      timing
}

// keysConfig is what the keys section runs.
type keysConfig struct {
	bin      string // the aigw binary
	sizes    []int
	requests int           // proxied requests measured at each size
	changes  int           // changes of each kind at each size
	idle     time.Duration // the wait before the idle RSS is read (0: 35 s, past the gateway's 30 s memory tuning)
}

func runKeys(ctx context.Context, w io.Writer, cfg keysConfig) error {
	up := proxytest.NewServer()
	defer up.Close()
	var rows []keysRow
	for _, n := range cfg.sizes {
		fmt.Fprintf(os.Stderr, "keys: %d …\n", n)
		row, err := measureKeys(ctx, cfg, up.URL, n)
		if err != nil {
			return fmt.Errorf("%d keys: %w", n, err)
		}
		rows = append(rows, row)
		fmt.Fprintf(os.Stderr, "keys: %+v\n", row)
	}
	fmt.Fprintf(w, "\n### Gateway keys (%d proxied requests and %d changes of each kind per size)\n\n", cfg.requests, cfg.changes)
	fmt.Fprintln(w, "| keys | DB size | start-up | RSS idle (of it file-backed) | CPU/request (× first row) | key create p50/p99 | key update | key revoke | credential update | provider update | `GET /api/v1/keys` |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	base := rows[0].cpuPerReq
	for _, r := range rows {
		fmt.Fprintf(w, "| %d | %s | %s | %s (%s) | %.1f µs (%.2f×) |", r.keys, mib(r.dbBytes), r.startup.Round(time.Millisecond), mib(r.rssIdle), mib(r.rssFile),
			float64(r.cpuPerReq)/float64(time.Microsecond), float64(r.cpuPerReq)/float64(base))
		for _, c := range r.changes {
			fmt.Fprintf(w, " %s / %s |", msec(c.median), msec(c.p99))
		}
		fmt.Fprintf(w, " %s / %s |\n", msec(r.list.median), msec(r.list.p99))
	}
	fmt.Fprintln(w, "\nThe proxy's part of a change (applying it, after the database's write), p99 by kind, from aigw_config_change_seconds (the upper bound of its bucket):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| keys | key | credential | provider | everything (start-up) |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %d |", r.keys)
		for _, kind := range []string{"key", "credential", "provider", "all"} {
			if v, ok := r.applied[kind]; ok {
				fmt.Fprintf(w, " ≤ %s |", msec(time.Duration(v*float64(time.Second))))
			} else {
				fmt.Fprint(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func msec(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// measureKeys fills a data directory with n keys (straight into the
// store, unsynced: filling is not what is measured), then runs the gateway
// over it.
func measureKeys(ctx context.Context, cfg keysConfig, upstream string, n int) (keysRow, error) {
	row := keysRow{keys: n}
	dir, err := os.MkdirTemp("", "aigw-scale-keys-")
	if err != nil {
		return row, err
	}
	defer os.RemoveAll(dir)
	secrets, credIDs, err := fillKeyDB(dir, upstream, n)
	if err != nil {
		return row, err
	}
	if fi, err := os.Stat(filepath.Join(dir, "aigw.db")); err == nil {
		row.dbBytes = fi.Size()
	}
	proxyAddr, adminAddr := freeAddr(), freeAddr()
	started := time.Now()
	cmd := exec.CommandContext(ctx, cfg.bin, "serve", "--data-dir", dir, "--proxy-addr", proxyAddr, "--admin-addr", adminAddr)
	cmd.Env = append(os.Environ(), "AIGW_LOG_LEVEL=error")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return row, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	proxyURL := "http://" + proxyAddr + "/openai/v1/chat/completions"
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	chat := func(secret string) error {
		req, _ := http.NewRequest(http.MethodPost, proxyURL, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("proxied request: status %d", resp.StatusCode)
		}
		return nil
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if err := chat(secrets[0]); err == nil {
			break
		} else if time.Now().After(deadline) || cmd.ProcessState != nil {
			return row, fmt.Errorf("the gateway did not answer: %v; its log: %s", err, lastLines(stderr.String(), 5))
		}
		time.Sleep(5 * time.Millisecond)
	}
	row.startup = time.Since(started)
	pid := cmd.Process.Pid

	// CPU per request, the keys taken in turn.
	for i := range min(cfg.requests/10, 2000) { // warm
		if err := chat(secrets[i%len(secrets)]); err != nil {
			return row, err
		}
	}
	before, err := procCPU(pid)
	if err != nil {
		return row, err
	}
	for i := range cfg.requests {
		if err := chat(secrets[i%len(secrets)]); err != nil {
			return row, err
		}
	}
	after, err := procCPU(pid)
	if err != nil {
		return row, err
	}
	row.cpuPerReq = (after - before) / time.Duration(cfg.requests)

	token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		return row, err
	}
	api := &adminClient{base: "http://" + adminAddr, token: strings.TrimSpace(string(token))}
	// A change first has the trace writer store what it holds (a budget set
	// now counts every request before it): let the requests' traces be
	// written, so that the changes are timed alone.
	time.Sleep(time.Second)
	row.changes, err = measureChanges(api, cfg.changes, credIDs)
	if err != nil {
		return row, err
	}
	row.applied, err = appliedP99(api)
	if err != nil {
		return row, err
	}
	row.list, err = timeOp("list", min(cfg.changes, 10), func(int) error { return api.do(http.MethodGet, "/api/v1/keys", nil, nil) })
	if err != nil {
		return row, err
	}
	time.Sleep(cmp.Or(cfg.idle, 35*time.Second)) // idle: the gateway gives back what it does not use every 30 s
	row.rssIdle, row.rssFile, err = rss(pid)
	return row, err
}

// measureChanges times each kind of change, one at a time.
func measureChanges(api *adminClient, n int, credIDs []string) ([]timing, error) {
	var ids []string
	create, err := timeOp("key create", n, func(i int) error {
		var k struct {
			ID string `json:"id"`
		}
		err := api.do(http.MethodPost, "/api/v1/keys", map[string]any{"provider": "openai", "credentials": credIDs, "name": "bench-" + strconv.Itoa(i)}, &k)
		ids = append(ids, k.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	update, err := timeOp("key update", n, func(i int) error {
		return api.do(http.MethodPatch, "/api/v1/keys/"+ids[i], map[string]any{"name": "renamed-" + strconv.Itoa(i)}, nil)
	})
	if err != nil {
		return nil, err
	}
	revoke, err := timeOp("key revoke", n, func(i int) error {
		return api.do(http.MethodPost, "/api/v1/keys/"+ids[i]+"/revoke", nil, nil)
	})
	if err != nil {
		return nil, err
	}
	cred, err := timeOp("credential update", n, func(i int) error {
		return api.do(http.MethodPatch, "/api/v1/credentials/"+credIDs[i%len(credIDs)], map[string]any{"weight": 1 + i%3}, nil)
	})
	if err != nil {
		return nil, err
	}
	prov, err := timeOp("provider update", n, func(i int) error {
		return api.do(http.MethodPatch, "/api/v1/providers/openai", map[string]any{"timeout": strconv.Itoa(60+i%2) + "s"}, nil)
	})
	if err != nil {
		return nil, err
	}
	return []timing{create, update, revoke, cred, prov}, nil
}

// appliedP99 reads, from the gateway's /metrics, the bucket that holds the
// 99th percentile of the time to apply a change to the proxy, by kind:
// the proxy's own part of a change, without the database's write.
func appliedP99(api *adminClient) (map[string]float64, error) {
	raw, err := adminCall(http.MethodGet, api.base+"/metrics", api.token, nil)
	if err != nil {
		return nil, err
	}
	type bucket struct {
		le    float64
		count float64
	}
	buckets := map[string][]bucket{}
	for _, line := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(line, `aigw_config_change_seconds_bucket{kind="`)
		if !ok {
			continue
		}
		kind, rest, _ := strings.Cut(rest, `",le="`)
		le, rest, _ := strings.Cut(rest, `"} `)
		l, err1 := strconv.ParseFloat(le, 64)
		n, err2 := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err1 != nil || err2 != nil {
			continue // +Inf
		}
		buckets[kind] = append(buckets[kind], bucket{l, n})
	}
	out := map[string]float64{}
	for kind, bs := range buckets {
		total := bs[len(bs)-1].count
		for _, b := range bs {
			if b.count >= 0.99*total {
				out[kind] = b.le
				break
			}
		}
	}
	return out, nil
}

// timeOp times op n times, one after the other (op gets its turn's number).
func timeOp(name string, n int, op func(i int) error) (timing, error) {
	i := 0
	t, err := timeCalls(n, nil, func() error {
		err := op(i)
		i++
		return err
	})
	if err != nil {
		return timing{}, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// adminClient is the gateway's admin API with its token.
type adminClient struct{ base, token string }

func (a *adminClient) do(method, path string, in, out any) error {
	raw, err := adminCall(method, a.base+path, a.token, in)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// fillKeyDB creates the data directory's master key and database with one
// provider, two credentials and n keys, all on both credentials; it
// returns the secrets of up to 1,000 keys, spread over all of them.
func fillKeyDB(dir, upstream string, n int) (secrets, credIDs []string, err error) {
	mk := make([]byte, store.MasterKeySize)
	rand.Read(mk)
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(hex.EncodeToString(mk)+"\n"), 0o600); err != nil {
		return nil, nil, err
	}
	st, err := store.Open(filepath.Join(dir, "aigw.db"), mk, store.Options{NoSync: true})
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	if _, err := st.CreateProvider(store.Provider{Name: "openai", Type: store.TypeOpenAI, BaseURL: upstream}); err != nil {
		return nil, nil, err
	}
	for i := range 2 {
		c, err := st.CreateCredential(store.CredentialInput{Provider: "openai", Name: "acct-" + strconv.Itoa(i), Secret: "sk-bench-" + strconv.Itoa(i) + "-0123456789abcdef"})
		if err != nil {
			return nil, nil, err
		}
		credIDs = append(credIDs, c.ID)
	}
	every := max(1, n/1000)
	for i := range n {
		_, secret, err := st.CreateKey(store.KeyInput{Provider: "openai", Credentials: credIDs, Name: "user-" + strconv.Itoa(i)})
		if err != nil {
			return nil, nil, err
		}
		if i%every == 0 {
			secrets = append(secrets, secret)
		}
	}
	return secrets, credIDs, nil
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// procCPU is a process's user plus system time (/proc/PID/stat).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// the fields after the command name, which is in parentheses
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz, nil
}

// rss is a process's resident set size (/proc/PID/status VmRSS), and of
// it the file-backed part (RssFile: the binary's code, the database pages
// mapped).
func rss(pid int) (total, file int64, err error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	kib := func(v string) int64 {
		kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		return kb << 10
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			total = kib(v)
		}
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			file = kib(v)
		}
	}
	if total == 0 {
		return 0, 0, errors.New("no VmRSS")
	}
	return total, file, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
