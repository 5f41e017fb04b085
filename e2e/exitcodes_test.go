package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The built binary's exit codes, as a script sees them (the whole table is
// cmd/aigw's TestExitCodeContract; this proves main hands the code to the
// shell).
func TestBinaryExitCodes(t *testing.T) {
	s := serve(t, t.TempDir())
	empty := t.TempDir()
	cases := []struct {
		args    []string
		dataDir string // AIGW_DATA_DIR, where admin.token is found
		code    int
		stderr  string
	}{
		{[]string{"provider", "list"}, s.dir, 0, ""},
		{[]string{"provider", "lst"}, s.dir, 2, "aigw: unknown command \"lst\" for \"aigw provider\" (see aigw provider --help)\ndid you mean list?\n"},
		{[]string{"usage", "--by", "color"}, empty, 2, "aigw: invalid argument \"color\" for \"--by\" flag: use one of key, model, provider, day, credential\n"},
		{[]string{"traces", "--limit", "0"}, empty, 2, "aigw: invalid argument \"0\" for \"--limit\" flag: use a whole number from 1 to 10000\n"},
		{[]string{"key", "list"}, empty, 4, "aigw: no admin token: "},
		{[]string{"--token", "not-a-token", "key", "list"}, s.dir, 4, "aigw: invalid admin token\n"},
		{[]string{"--admin", "http://127.0.0.1:1", "key", "list"}, s.dir, 3, "aigw: cannot reach the aigw admin API"},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, aigwBin, c.args...)
		cmd.Env = append(os.Environ(), "AIGW_DATA_DIR="+c.dataDir, "AIGW_ADMIN_URL="+s.adminURL, "AIGW_ADMIN_TOKEN=")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.HasPrefix(errb.String(), c.stderr) {
			t.Errorf("aigw %s: exit %d, stderr %q; want exit %d, stderr starting %q", strings.Join(c.args, " "), code, errb.String(), c.code, c.stderr)
		}
	}
}
