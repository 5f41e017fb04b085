package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// floodConns opens n connections to addr (fewer if the dial fails) and
// sends each the start of a request that never ends.
func floodConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		_, _ = io.WriteString(c, "POST /nowhere/v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

func adminGet(t *testing.T, s *server, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.adminURL+path, nil)
	tok, err := os.ReadFile(filepath.Join(s.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metric(t *testing.T, s *server, name string) float64 {
	t.Helper()
	code, body := adminGet(t, s, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// proxyAnswers reports whether the proxy answers a request (any aigw answer:
// here 404 for an unknown provider).
func proxyAnswers(s *server) bool {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(s.proxyURL + "/nowhere/v1/models")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 404
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With the open-file limit at 256 and the connection cap lifted above it,
// a flood of 400 connections runs the process out of descriptors: aigw
// waits and keeps serving (fasthttp alone took EMFILE for a permanent error
// and `aigw serve` exited, admin API included).
func TestConnectionFloodAtTheFDLimitDoesNotStopTheGateway(t *testing.T) {
	s := serveWith(t, t.TempDir(), serveOptions{Shell: "ulimit -n 256", Env: []string{"AIGW_PROXY_MAX_CONNS=100000"}})
	addr := strings.TrimPrefix(s.proxyURL, "http://")
	conns := floodConns(t, addr, 400)
	waitFor(t, "accept to run out of descriptors", func() bool {
		// The admin API needs a descriptor too: ask once the flood is gone.
		select {
		case err := <-s.exited:
			t.Fatalf("aigw serve exited under the flood: %v\n%s", err, s.stderr.String())
		default:
		}
		return strings.Contains(s.stderr.String(), "out of file descriptors")
	})
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "the proxy to answer after the flood", func() bool { return proxyAnswers(s) })
	if code, _ := adminGet(t, s, "/healthz"); code != 200 {
		t.Fatalf("admin /healthz after the flood: %d", code)
	}
	if n := metric(t, s, "aigw_proxy_accept_fd_waits_total"); n < 1 {
		t.Fatalf("aigw_proxy_accept_fd_waits_total = %v", n)
	}
}

// With the default cap (derived from the same limit of 256), the flood is
// held to max_conns: the admin API keeps answering during it, and the proxy
// serves again once the flood is gone.
func TestConnectionCapKeepsTheAdminAPIServing(t *testing.T) {
	s := serveWith(t, t.TempDir(), serveOptions{Shell: "ulimit -n 256"})
	addr := strings.TrimPrefix(s.proxyURL, "http://")
	max := metric(t, s, "aigw_proxy_connections_max")
	if max < 16 || max > 128 {
		t.Fatalf("aigw_proxy_connections_max = %v with ulimit -n 256, want it well below the limit", max)
	}
	floodConns(t, addr, 400)
	waitFor(t, "the cap to be reached", func() bool { return metric(t, s, "aigw_proxy_connections_open") >= max })
	for range 5 {
		if code, body := adminGet(t, s, "/healthz"); code != 200 {
			t.Fatalf("admin /healthz while the proxy is saturated: %d %s", code, body)
		}
	}
	if open := metric(t, s, "aigw_proxy_connections_open"); open > max {
		t.Fatalf("%v connections open, over the cap of %v", open, max)
	}
	if strings.Contains(s.stderr.String(), "out of file descriptors") {
		t.Fatalf("the process ran out of descriptors under its own cap:\n%s", s.stderr.String())
	}
	select {
	case err := <-s.exited:
		t.Fatalf("aigw serve exited: %v", err)
	default:
	}
}
