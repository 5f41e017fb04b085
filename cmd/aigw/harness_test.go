package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/gateway"
)

// gw is a real `aigw serve` running in-process over a data directory in
// t.TempDir(), listening on loopback ephemeral ports.
type gw struct {
	demo      gateway.DemoInfo
	out       *bytes.Buffer // what serve printed (the demo banner)
	dir       string
	adminURL  string
	proxyAddr string
	cancel    context.CancelFunc
	done      chan error
}

func startGateway(t *testing.T, dir string) *gw {
	t.Helper()
	g, err := tryStartGateway(t, dir, false)
	if err != nil {
		t.Fatalf("aigw serve: %v", err)
	}
	return g
}

// tryStartGateway starts the gateway; mods may change its options.
func tryStartGateway(t *testing.T, dir string, demo bool, mods ...func(*gateway.Options)) (*gw, error) {
	t.Helper()
	return tryStartGatewayLogged(t, dir, demo, nil, mods...)
}

// tryStartGatewayLogged is tryStartGateway with the gateway's log (text
// lines) written to logOut.
func tryStartGatewayLogged(t *testing.T, dir string, demo bool, logOut io.Writer, mods ...func(*gateway.Options)) (*gw, error) {
	t.Helper()
	var logger *slog.Logger
	if logOut != nil {
		logger = slog.New(slog.NewTextHandler(logOut, nil))
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Proxy.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	g := &gw{dir: dir, cancel: cancel, done: make(chan error, 1), out: &bytes.Buffer{}}
	ready := make(chan struct{})
	o := gateway.Options{Config: cfg, Demo: demo, Out: g.out, Logger: logger,
		DemoReady: func(d gateway.DemoInfo) { g.demo = d },
		Ready: func(p, a net.Addr) {
			g.proxyAddr, g.adminURL = p.String(), "http://"+a.String()
			close(ready)
		}}
	for _, m := range mods {
		m(&o)
	}
	go func() { g.done <- gateway.Run(ctx, o) }()
	select {
	case <-ready:
	case err := <-g.done:
		cancel()
		return nil, err
	case <-time.After(10 * time.Second):
		cancel()
		return nil, errors.New("gateway did not start within 10s")
	}
	t.Cleanup(func() { g.stop(t) })
	return g, nil
}

// stop shuts the gateway down and waits for it (idempotent).
func (g *gw) stop(t *testing.T) {
	t.Helper()
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("aigw serve returned: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("aigw serve did not stop within 15s")
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the real cobra command tree against the gateway. env holds
// extra environment variables (AIGW_DATA_DIR and AIGW_ADMIN_URL are set).
func (g *gw) cli(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	vars := map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}
	for k, v := range env {
		vars[k] = v
	}
	streams := &ioStreams{In: strings.NewReader(stdin), Out: &out, Err: &errb, getenv: func(k string) string { return vars[k] }}
	code := run(args, streams)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs a command that must succeed and returns its stdout.
func (g *gw) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := g.cli(t, "", nil, args...)
	if r.code != 0 {
		t.Fatalf("aigw %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// okJSON runs a command with -o json and decodes its output into v.
func (g *gw) okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := g.ok(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aigw %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}
