package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/store"
)

type idOnly struct {
	ID string `json:"id"`
}

// The flow, as a new user types it, then a restart.
func TestConfigureFlowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, dir)

	for _, name := range []string{gateway.DBFile, "master.key", "admin.token"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("data directory lacks %s: %v", name, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}

	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	const secretA, secretB = "sk-proj-WORKsecretAAAA1111", "sk-proj-HOMEsecretBBBB2222"
	var credA, credB idOnly
	r := g.cli(t, secretA+"\n", nil, "credential", "add", "--provider", "openai", "--secret-stdin", "--name", "work", "-o", "json")
	if r.code != 0 {
		t.Fatalf("credential add: %s", r.stderr)
	}
	mustJSON(t, r.stdout, &credA)
	g.okJSON(t, &credB, "credential", "add", "--provider", "openai", "--secret", secretB, "--weight", "3")

	var key struct {
		ID          string   `json:"id"`
		Secret      string   `json:"secret"`
		Strategy    string   `json:"strategy"`
		RPM         int64    `json:"rpm"`
		Credentials []string `json:"credentials"`
	}
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", credA.ID+","+credB.ID,
		"--strategy", "weighted", "--rpm", "60")
	if !strings.HasPrefix(key.Secret, "aigw_") || len(key.Secret) < len("aigw_")+43 {
		t.Fatalf("key secret %q is not aigw_ + ≥43 base62 characters", key.Secret)
	}
	if key.Strategy != "weighted" || key.RPM != 60 || len(key.Credentials) != 2 {
		t.Fatalf("key create stored %+v", key)
	}

	listOut := g.ok(t, "key", "list", "-o", "json")
	var keys []map[string]any
	mustJSON(t, listOut, &keys)
	if len(keys) != 1 || keys[0]["id"] != key.ID || keys[0]["status"] != "active" {
		t.Fatalf("key list: %s", listOut)
	}
	if strings.Contains(listOut, key.Secret) {
		t.Fatal("key list prints the key secret")
	}
	if _, ok := keys[0]["secret"]; ok {
		t.Fatal("key list has a secret field")
	}
	credOut := g.ok(t, "credential", "list", "-o", "json") + g.ok(t, "credential", "list") + g.ok(t, "credential", "show", credA.ID)
	for _, s := range []string{secretA, secretB} {
		if strings.Contains(credOut, s) {
			t.Fatalf("credential list/show prints a secret: %s", credOut)
		}
	}
	if !strings.Contains(credOut, "sk-…AAAA1111"[:len("sk-…")]) {
		t.Errorf("credential list shows no preview: %s", credOut)
	}

	// The database holds neither secret in plaintext, nor the key's.
	g.stop(t)
	raw, err := os.ReadFile(filepath.Join(dir, gateway.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secretA, secretB, key.Secret, key.Secret[len("aigw_"):]} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("aigw.db contains a secret in plaintext (%q…)", s[:8])
		}
	}
	hash := store.HashKey([]byte(key.Secret))
	if !bytes.Contains(raw, []byte(hex.EncodeToString(hash[:]))) {
		t.Error("aigw.db does not hold the key's SHA-256 (is it stored some other way?)")
	}

	// Restart on the same directory: everything is still there.
	g2 := startGateway(t, dir)
	var after []map[string]any
	g2.okJSON(t, &after, "key", "list")
	if len(after) != 1 || after[0]["id"] != key.ID {
		t.Fatalf("after restart, key list = %v", after)
	}
	var creds []map[string]any
	g2.okJSON(t, &creds, "credential", "list", "--provider", "openai")
	if len(creds) != 2 {
		t.Fatalf("after restart, %d credentials", len(creds))
	}
	var p map[string]any
	g2.okJSON(t, &p, "provider", "show", "openai")
	if p["base_url"] != "https://api.openai.com" || p["type"] != "openai" {
		t.Fatalf("after restart, provider = %v", p)
	}

	// The set-up script run again after the restart: adding the provider it
	// already added succeeds and changes nothing.
	var again map[string]any
	g2.okJSON(t, &again, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com/")
	if !reflect.DeepEqual(again, p) {
		t.Fatalf("provider add of an existing identical provider printed %v, want the stored %v", again, p)
	}
	var providers []map[string]any
	if g2.okJSON(t, &providers, "provider", "list"); len(providers) != 1 {
		t.Fatalf("after adding it again, %d providers", len(providers))
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("bad JSON output: %v\n%s", err, s)
	}
}

func TestEmptyListsAreEmptyJSONArrays(t *testing.T) {
	g := startGateway(t, t.TempDir())
	for _, cmd := range [][]string{{"provider", "list"}, {"credential", "list"}, {"key", "list"}} {
		out := strings.TrimSpace(g.ok(t, append(cmd, "-o", "json")...))
		if out != "[]" {
			t.Errorf("aigw %s -o json on an empty gateway = %q, want []", strings.Join(cmd, " "), out)
		}
	}
}

// Every bad input fails with a one-line message naming the flag or field,
// a non-zero exit code, and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	g.ok(t, "provider", "add", "claude", "--type", "anthropic", "--base-url", "https://api.anthropic.com")
	var cred, other idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001")
	g.okJSON(t, &other, "credential", "add", "--provider", "claude", "--secret", "sk-ant-00000000000002")
	var key idOnly
	g.okJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", cred.ID)

	state := func() string {
		return g.ok(t, "provider", "list", "-o", "json") + g.ok(t, "credential", "list", "-o", "json") +
			g.ok(t, "key", "list", "-o", "json") + g.ok(t, "token", "list", "-o", "json")
	}
	before := state()

	cases := []struct {
		name string
		args []string
		want string // in the message
		code int
	}{
		{"unknown provider type", []string{"provider", "add", "x", "--type", "azure", "--base-url", "https://x.example"}, "--type", exitUsage},
		{"base URL not http", []string{"provider", "add", "x", "--type", "openai", "--base-url", "ftp://x.example"}, "--base-url", exitError},
		{"base URL without scheme", []string{"provider", "add", "x", "--type", "openai", "--base-url", "api.openai.com"}, "--base-url", exitError},
		{"duplicate provider", []string{"provider", "add", "openai", "--type", "openai", "--base-url", "https://a.example"}, "already exists with base_url https://api.openai.com", exitError},
		{"auth header without {key}", []string{"provider", "add", "x", "--type", "openai", "--base-url", "https://x.example", "--auth-header", "Authorization: Bearer"}, "--auth-header", exitError},
		{"malformed provider timeout", []string{"provider", "add", "x", "--type", "openai", "--base-url", "https://x.example", "--timeout", "soon"}, "--timeout", exitUsage},
		{"missing --type", []string{"provider", "add", "x", "--base-url", "https://x.example"}, "type", exitUsage},
		{"credential of unknown provider", []string{"credential", "add", "--provider", "nope", "--secret", "sk-1234567890"}, `"nope"`, exitError},
		{"weight zero", []string{"credential", "add", "--provider", "openai", "--secret", "sk-1234567890", "--weight", "0"}, "--weight", exitError},
		{"weight negative", []string{"credential", "add", "--provider", "openai", "--secret", "sk-1234567890", "--weight", "-2"}, "--weight", exitError},
		{"no secret", []string{"credential", "add", "--provider", "openai"}, "--secret", exitUsage},
		{"key over another provider's credential", []string{"key", "create", "--provider", "openai", "--credentials", other.ID}, "--credentials", exitError},
		{"key over unknown credential", []string{"key", "create", "--provider", "openai", "--credentials", "cred_nope"}, "cred_nope", exitError},
		{"key of unknown provider", []string{"key", "create", "--provider", "nope", "--credentials", cred.ID}, `"nope"`, exitError},
		{"key with unknown strategy", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--strategy", "random"}, "--strategy", exitUsage},
		{"key with negative rpm", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--rpm", "-1"}, "--rpm", exitError},
		{"key with negative daily cost", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--daily-cost", "-5"}, "--daily-cost", exitUsage},
		{"key with NaN daily cost", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--daily-cost", "NaN"}, "--daily-cost", exitUsage},
		{"key with infinite daily cost", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--daily-cost", "Inf"}, "--daily-cost", exitUsage},
		{"key with -Inf daily cost", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--daily-cost=-Inf"}, "--daily-cost", exitUsage},
		{"key update with NaN daily cost", []string{"key", "update", key.ID, "--daily-cost", "nan"}, "--daily-cost", exitUsage},
		{"key update with +Inf daily cost", []string{"key", "update", key.ID, "--daily-cost", "+Inf"}, "--daily-cost", exitUsage},
		{"key update with negative daily cost", []string{"key", "update", key.ID, "--daily-cost", "-0.01"}, "--daily-cost", exitUsage},
		{"key with daily cost not a number", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--daily-cost", "5$"}, "--daily-cost", exitUsage},
		{"key with malformed timeout", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--timeout", "10 minutes"}, "--timeout", exitUsage},
		{"key already expired", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--expires-at", "2020-01-01T00:00:00Z"}, "--expires-at", exitError},
		{"key with malformed expiry", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--expires-at", "tomorrow"}, "--expires-at", exitUsage},
		{"key with too many retries", []string{"key", "create", "--provider", "openai", "--credentials", cred.ID, "--max-retries", "50"}, "--max-retries", exitError},
		{"remove provider in use", []string{"provider", "remove", "openai"}, key.ID, exitError},
		{"remove credential in use", []string{"credential", "remove", cred.ID}, key.ID, exitError},
		{"show unknown key", []string{"key", "show", "key_nope"}, "not found", exitError},
		{"update with nothing to change", []string{"key", "update", key.ID}, "nothing to change", exitUsage},
		{"token with unknown scope", []string{"token", "create", "--scope", "everything"}, "--scope", exitError},
		{"token with malformed ttl", []string{"token", "create", "--scope", "keys:read", "--ttl", "forever"}, "--ttl", exitUsage},
		{"extra argument", []string{"provider", "list", "extra"}, "provider list", exitUsage},
		{"unknown output format", []string{"key", "list", "-o", "yaml"}, "--output", exitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.cli(t, "", nil, c.args...)
			if r.code != c.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			msg := strings.TrimRight(r.stderr, "\n")
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "aigw: ") {
				t.Errorf("stderr is not one 'aigw: …' line: %q", r.stderr)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not name %q", msg, c.want)
			}
			if r.stdout != "" {
				t.Errorf("a failed command printed data: %q", r.stdout)
			}
		})
	}
	if after := state(); after != before {
		t.Fatalf("refused commands changed the configuration:\nbefore %s\nafter  %s", before, after)
	}
}

func TestTokenDiscoveryAndScopes(t *testing.T) {
	g := startGateway(t, t.TempDir())
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	g.okJSON(t, &tok, "token", "create", "--scope", "keys:read", "--ttl", "1h", "--name", "reader")

	// A read-only token from the environment may list keys but not add providers.
	env := map[string]string{"AIGW_ADMIN_TOKEN": tok.Token, "AIGW_DATA_DIR": t.TempDir()}
	if r := g.cli(t, "", env, "key", "list", "-o", "json"); r.code != 0 {
		t.Fatalf("reader token cannot list keys: %s", r.stderr)
	}
	r := g.cli(t, "", env, "provider", "add", "x", "--type", "openai", "--base-url", "https://x.example")
	if r.code != exitAuth || !strings.Contains(r.stderr, "providers:write") {
		t.Fatalf("reader token adding a provider: exit %d, %q; want exit %d naming providers:write", r.code, r.stderr, exitAuth)
	}
	// --token wins over the environment.
	r = g.cli(t, "", env, "--token", "not-a-token", "key", "list")
	if r.code != exitAuth {
		t.Fatalf("--token garbage: exit %d (%s), want %d", r.code, r.stderr, exitAuth)
	}
	// No token anywhere: a clear message.
	r = g.cli(t, "", map[string]string{"AIGW_DATA_DIR": t.TempDir()}, "key", "list")
	if r.code == 0 || !strings.Contains(r.stderr, "admin token") {
		t.Fatalf("without a token: exit %d, %q", r.code, r.stderr)
	}
	// Revoked tokens stop working at once.
	g.ok(t, "token", "revoke", tok.ID)
	if r := g.cli(t, "", env, "key", "list"); r.code != exitAuth || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("revoked token: exit %d, %q", r.code, r.stderr)
	}
	// Nothing listening: exit code 3.
	if r := g.cli(t, "", nil, "--admin", "http://127.0.0.1:1", "key", "list"); r.code != exitUnreachable {
		t.Fatalf("unreachable admin: exit %d, %q", r.code, r.stderr)
	}
}

// A providers:write token cannot move a provider that has credentials
// (base_url, auth headers, extra headers, ca_file): refused like any token
// lacking a scope, exit 4, one line naming credentials:write.
func TestProviderRouteChangeNeedsCredentialsWrite(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
	g.ok(t, "provider", "add", "bare", "--type", "openai", "--base-url", "https://bare.example.com")
	g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-test-000000000001")
	var tok struct {
		Token string `json:"token"`
	}
	g.okJSON(t, &tok, "token", "create", "--scope", "providers:write,providers:read", "--ttl", "1h")
	env := map[string]string{"AIGW_ADMIN_TOKEN": tok.Token}
	before := g.ok(t, "provider", "list", "-o", "json")
	for _, flags := range [][]string{
		{"--base-url", "http://127.0.0.1:9/steal"},
		{"--auth-header", "X-Copy: {key}"},
		{"--header", "X-Route: other"},
		{"--no-headers", "--base-url", "https://api.openai.com/v2"},
	} {
		r := g.cli(t, "", env, append([]string{"provider", "update", "openai"}, flags...)...)
		msg := strings.TrimRight(r.stderr, "\n")
		if r.code != exitAuth || !strings.Contains(msg, "credentials:write") || strings.Contains(msg, "\n") {
			t.Errorf("provider update %v: exit %d, %q; want exit %d, one line naming credentials:write", flags, r.code, r.stderr, exitAuth)
		}
	}
	if after := g.ok(t, "provider", "list", "-o", "json"); after != before {
		t.Fatalf("refused updates changed the providers:\nbefore %s\nafter  %s", before, after)
	}
	if r := g.cli(t, "", env, "provider", "update", "openai", "--timeout", "90s"); r.code != 0 {
		t.Errorf("a timeout change with providers:write: exit %d, %q", r.code, r.stderr)
	}
	if r := g.cli(t, "", env, "provider", "update", "bare", "--base-url", "https://other.example.com"); r.code != 0 {
		t.Errorf("moving a provider without credentials with providers:write: exit %d, %q", r.code, r.stderr)
	}
}

func TestSecondServeOnSameDataDirExits(t *testing.T) {
	dir := t.TempDir()
	startGateway(t, dir)
	start := time.Now()
	_, err := tryStartGateway(t, dir, false)
	if err == nil {
		t.Fatal("a second aigw serve on the same data directory started")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q does not say the directory is in use", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second serve took %v to give up", d)
	}
}

func TestForeignDatabaseIsRefusedAndUntouched(t *testing.T) {
	dir := t.TempDir()
	junk := bytes.Repeat([]byte("SQLite format 3\x00 not ours "), 500)
	path := filepath.Join(dir, gateway.DBFile)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := tryStartGateway(t, dir, false)
	if err == nil || !strings.Contains(err.Error(), "not an aigw database") {
		t.Fatalf("foreign database: err = %v", err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, junk) {
		t.Fatal("the foreign file was modified")
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Error("a master.key was created beside a foreign database")
	}
}

func TestBackupWritesUsableCopy(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "gemini", "--type", "gemini", "--base-url", "https://generativelanguage.googleapis.com")
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "gemini", "--secret", "AIzaSyBACKUPTEST0000000")
	dest := filepath.Join(t.TempDir(), "copy.db")
	var res struct {
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	g.okJSON(t, &res, "backup", dest)
	fi, err := os.Stat(dest)
	if err != nil || fi.Size() != res.Bytes || res.Bytes == 0 {
		t.Fatalf("backup file: %v, size %v, reported %d", err, fi, res.Bytes)
	}
	master := readMasterKey(t, g.dir)
	st, err := store.Open(dest, master, store.Options{})
	if err != nil {
		t.Fatalf("backup does not open: %v", err)
	}
	defer st.Close()
	d, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Providers) != 1 || d.Providers[0].Name != "gemini" || len(d.Credentials) != 1 || d.Credentials[0].Secret != "AIzaSyBACKUPTEST0000000" {
		t.Fatalf("backup content: %+v", d)
	}
	if r := g.cli(t, "", nil, "backup", t.TempDir()); r.code != exitUsage {
		t.Errorf("backup to a directory: exit %d %q", r.code, r.stderr)
	}
	// Onto the gateway's own database: refused, the file untouched.
	live := filepath.Join(g.dir, gateway.DBFile)
	before, err := os.Stat(live)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"backup", live}, {"backup", "--compact", live}} {
		r := g.cli(t, "", nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "own database") {
			t.Errorf("%v: exit %d %q; want a usage error naming the gateway's own database", args, r.code, r.stderr)
		}
	}
	if after, err := os.Stat(live); err != nil || !os.SameFile(before, after) {
		t.Errorf("the gateway's database file was replaced (%v)", err)
	}
}

// backup --compact writes a copy in 16 KiB pages that opens with the same
// content, and leaves no temporary file beside it.
func TestBackupCompactWritesACompactedCopy(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "gemini", "--type", "gemini", "--base-url", "https://generativelanguage.googleapis.com")
	var cred idOnly
	g.okJSON(t, &cred, "credential", "add", "--provider", "gemini", "--secret", "AIzaSyCOMPACTTEST000000")
	dir := t.TempDir()
	dest := filepath.Join(dir, "compact.db")
	var res struct {
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	g.okJSON(t, &res, "backup", "--compact", dest)
	fi, err := os.Stat(dest)
	if err != nil || fi.Size() != res.Bytes || res.Bytes == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("compacted backup: %v, %v, reported %d bytes", err, fi, res.Bytes)
	}
	hdr := make([]byte, 32)
	f, err := os.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, hdr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// bbolt's first meta page: page header (16 bytes), magic, version, page size.
	if ps := binary.LittleEndian.Uint32(hdr[24:28]); ps != 16<<10 {
		t.Errorf("page size of the compacted copy: %d, want 16384", ps)
	}
	st, err := store.Open(dest, readMasterKey(t, g.dir), store.Options{})
	if err != nil {
		t.Fatalf("compacted backup does not open: %v", err)
	}
	defer st.Close()
	d, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Credentials) != 1 || d.Credentials[0].Secret != "AIzaSyCOMPACTTEST000000" {
		t.Fatalf("compacted backup content: %+v", d)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files beside the copy: %v", ents)
	}
}

func readMasterKey(t *testing.T, dir string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestTableFitsTerminalWidth(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "local", "--type", "openai-compatible",
		"--base-url", "http://127.0.0.1:11434/v1/a/very/long/path/that/would/not/fit/in/a/narrow/terminal")
	var out, errb bytes.Buffer
	streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, outWidth: 60,
		getenv: func(k string) string {
			return map[string]string{"AIGW_DATA_DIR": g.dir, "AIGW_ADMIN_URL": g.adminURL}[k]
		}}
	if code := run([]string{"provider", "list"}, streams); code != 0 {
		t.Fatalf("provider list: %s", errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want header + 1 row, got %q", out.String())
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("line of %d columns on a 60-column terminal: %q", n, l)
		}
	}
	if !strings.Contains(lines[1], "…") || !strings.HasPrefix(lines[1], "local") {
		t.Errorf("long cell not shortened with an ellipsis: %q", lines[1])
	}
}

func TestUpdateCommandsChangeOnlyWhatIsGiven(t *testing.T) {
	g := startGateway(t, t.TempDir())
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com", "--timeout", "45s")
	var c1, c2 idOnly
	g.okJSON(t, &c1, "credential", "add", "--provider", "openai", "--secret", "sk-update-000000001")
	g.okJSON(t, &c2, "credential", "add", "--provider", "openai", "--secret", "sk-update-000000002")
	var k idOnly
	g.okJSON(t, &k, "key", "create", "--provider", "openai", "--credentials", c1.ID, "--rpm", "10", "--tpm", "1000")

	var p map[string]any
	g.okJSON(t, &p, "provider", "update", "openai", "--base-url", "https://eu.api.openai.com")
	if p["base_url"] != "https://eu.api.openai.com" || p["timeout"] != "45s" {
		t.Fatalf("provider update: %v", p)
	}
	var key map[string]any
	g.okJSON(t, &key, "key", "update", k.ID, "--rpm", "20", "--credentials", c1.ID+","+c2.ID, "--strategy", "health_best")
	if key["rpm"] != 20.0 || key["tpm"] != 1000.0 || key["strategy"] != "health_best" || len(key["credentials"].([]any)) != 2 {
		t.Fatalf("key update: %v", key)
	}
	var cred map[string]any
	g.okJSON(t, &cred, "credential", "disable", c2.ID)
	if cred["enabled"] != false {
		t.Fatalf("credential disable: %v", cred)
	}
	g.okJSON(t, &cred, "credential", "update", c2.ID, "--weight", "7")
	if cred["weight"] != 7.0 || cred["enabled"] != false {
		t.Fatalf("credential update: %v", cred)
	}
	g.okJSON(t, &key, "key", "revoke", k.ID)
	if key["status"] != "revoked" {
		t.Fatalf("key revoke: %v", key)
	}
	// A revoked key no longer blocks removing its credentials and provider.
	g.ok(t, "credential", "remove", c1.ID)
	g.ok(t, "credential", "remove", c2.ID)
	g.ok(t, "provider", "remove", "openai")
	if out := strings.TrimSpace(g.ok(t, "provider", "list", "-o", "json")); out != "[]" {
		t.Fatalf("provider list after removal: %s", out)
	}
}

func TestVersionJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"version", "-o", "json"}, &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, getenv: func(string) string { return "" }})
	var v versionInfo
	if code != 0 || json.Unmarshal(out.Bytes(), &v) != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Fatalf("version -o json: exit %d, %q", code, out.String())
	}
}
