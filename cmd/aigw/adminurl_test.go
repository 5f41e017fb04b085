package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigw/aigw/admin"
)

// The CLI finds the admin API the way it finds the token: `aigw serve`
// writes its URL beside admin.token. An address without a scheme works,
// and the proxy's port is named for what it is.
func TestCLIFindsTheAdminAPI(t *testing.T) {
	g := startGateway(t, t.TempDir())
	raw, err := os.ReadFile(filepath.Join(g.dir, admin.LocalURLFile))
	if err != nil || strings.TrimSpace(string(raw)) != g.adminURL {
		t.Fatalf("%s holds %q (%v), want %q", admin.LocalURLFile, raw, err, g.adminURL)
	}
	if fi, _ := os.Stat(filepath.Join(g.dir, admin.LocalURLFile)); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", admin.LocalURLFile, fi.Mode())
	}
	// No --admin, no AIGW_ADMIN_URL: the data directory's admin.url.
	if r := g.cli(t, "", map[string]string{"AIGW_ADMIN_URL": ""}, "provider", "list", "-o", "json"); r.code != 0 {
		t.Fatalf("without an admin URL: exit %d %s", r.code, r.stderr)
	}
	// An address without a scheme.
	bare := strings.TrimPrefix(g.adminURL, "http://")
	if r := g.cli(t, "", map[string]string{"AIGW_ADMIN_URL": bare}, "provider", "list"); r.code != 0 {
		t.Fatalf("AIGW_ADMIN_URL=%s: exit %d %s", bare, r.code, r.stderr)
	}
	// The proxy's port.
	r := g.cli(t, "", nil, "--admin", "http://"+g.proxyAddr, "provider", "list")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "is aigw's proxy port, not its admin API") {
		t.Fatalf("pointed at the proxy: exit %d %q", r.code, r.stderr)
	}
}
