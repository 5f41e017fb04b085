// Package e2e drives the built aigw binary the way a user does: `aigw serve`
// in one process, the CLI in others, and the providers' official SDKs
// (openai-go, anthropic-sdk-go, google genai) pointed at the proxy.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigw/aigw/internal/testkit"
)

var aigwBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aigw-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	aigwBin = filepath.Join(dir, "aigw")
	build := exec.Command("go", "build", "-o", aigwBin, "../cmd/aigw")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building aigw:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `aigw serve` process.
type server struct {
	dir      string
	proxyURL string
	adminURL string
	cmd      *exec.Cmd
	stderr   *testkit.SyncBuffer // written while the process runs
	stdout   *testkit.SyncBuffer
	exited   chan error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `aigw serve` on loopback ports over dir and waits until the
// admin API answers.
func serve(t *testing.T, dir string, extra ...string) *server {
	t.Helper()
	return serveWith(t, dir, serveOptions{}, extra...)
}

// serveOptions start `aigw serve` differently: under a shell that first
// runs Shell (e.g. "ulimit -n 256"), with more environment variables, on
// given addresses (a restart on the ports of the last run).
type serveOptions struct {
	Shell                string
	Env                  []string
	ProxyAddr, AdminAddr string
}

func serveWith(t *testing.T, dir string, o serveOptions, extra ...string) *server {
	t.Helper()
	proxyAddr, adminAddr := o.ProxyAddr, o.AdminAddr
	if proxyAddr == "" || adminAddr == "" {
		proxyAddr, adminAddr = freePort(t), freePort(t)
	}
	s := &server{dir: dir, proxyURL: "http://" + proxyAddr, adminURL: "http://" + adminAddr,
		stderr: &testkit.SyncBuffer{}, stdout: &testkit.SyncBuffer{}, exited: make(chan error, 1)}
	args := append([]string{"serve", "--data-dir", dir, "--proxy-addr", proxyAddr, "--admin-addr", adminAddr}, extra...)
	if o.Shell != "" {
		args = append([]string{"-c", o.Shell + ` && exec "$0" "$@"`, aigwBin}, args...)
		s.cmd = exec.Command("sh", args...)
	} else {
		s.cmd = exec.Command(aigwBin, args...)
	}
	s.cmd.Env = append(append(os.Environ(), "AIGW_DATA_DIR="+dir), o.Env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.adminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-s.exited:
			t.Fatalf("aigw serve exited: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("aigw serve did not answer within 15s:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("aigw serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("aigw serve did not stop within 20s of SIGTERM")
	}
}

// cli runs the aigw CLI against the server and returns stdout; it fails
// the test on a non-zero exit.
func (s *server) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := s.run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("aigw %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (s *server) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aigwBin, args...)
	cmd.Env = append(os.Environ(), "AIGW_DATA_DIR="+s.dir, "AIGW_ADMIN_URL="+s.adminURL)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

func (s *server) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := s.cli(t, "", append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aigw %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// provision adds a provider of typ pointing at upstream, one credential and
// a key, and returns the key's secret.
func (s *server) provision(t *testing.T, name, typ, upstream, secret string) string {
	t.Helper()
	s.cli(t, "", "provider", "add", name, "--type", typ, "--base-url", upstream)
	var cred struct{ ID string }
	out := s.cli(t, secret+"\n", "credential", "add", "--provider", name, "--secret-stdin", "-o", "json")
	if err := json.Unmarshal([]byte(out), &cred); err != nil {
		t.Fatal(err)
	}
	var key struct{ Secret string }
	s.cliJSON(t, &key, "key", "create", "--provider", name, "--credentials", cred.ID)
	return key.Secret
}
