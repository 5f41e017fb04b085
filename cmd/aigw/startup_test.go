package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/gateway"
	"github.com/aigw/aigw/internal/testkit"
	"github.com/aigw/aigw/proxytest"
	bolt "go.etcd.io/bbolt"
)

// damageCredential flips a byte of a credential's sealed secret in the
// database file of a stopped gateway, as a disk error or a bad edit would.
func damageCredential(t *testing.T, dir, id string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, gateway.DBFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("credentials"))
		var rec map[string]any
		if err := json.Unmarshal(b.Get([]byte(id)), &rec); err != nil {
			return err
		}
		sealed := []byte(rec["sealed_secret"].(string)) // base64 text
		i := len(sealed) / 2
		if sealed[i] == 'A' { // another base64 letter: decodes, to other bytes
			sealed[i] = 'B'
		} else {
			sealed[i] = 'A'
		}
		rec["sealed_secret"] = string(sealed)
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// adminGet fetches an admin API path with the data directory's admin token.
func (g *gw) adminGet(t *testing.T, path string) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(g.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", g.adminURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// A provider whose ca_file was deleted and a credential whose sealed secret
// is damaged do not stop `aigw serve`: everything else serves, the two are
// shown broken with the reason (CLI JSON and tables, status, /metrics, the
// log), the provider's key gets a provider-shaped 503 without the file's
// path, and repairing both and reloading brings them back.
func TestOneBadRecordDoesNotStopTheGateway(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	private := proxytest.NewUpstream()
	defer private.Close()
	tlsSrv := httptest.NewUnstartedServer(private)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	caDir := t.TempDir()
	caFile := filepath.Join(caDir, "private-ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	g := startGateway(t, dir)
	g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	g.ok(t, "provider", "add", "private", "--type", "openai", "--base-url", tlsSrv.URL, "--ca-file", caFile)
	var good, bad, priv idOnly
	g.okJSON(t, &good, "credential", "add", "--provider", "openai", "--secret", "sk-good-upstream-key")
	g.okJSON(t, &bad, "credential", "add", "--provider", "openai", "--secret", "sk-damaged-upstream-key")
	g.okJSON(t, &priv, "credential", "add", "--provider", "private", "--secret", "sk-private-upstream-key")
	var key1, key2 struct{ Secret string }
	g.okJSON(t, &key1, "key", "create", "--provider", "openai", "--credentials", good.ID+","+bad.ID, "--strategy", "round_robin")
	g.okJSON(t, &key2, "key", "create", "--provider", "private", "--credentials", priv.ID)
	g.stop(t)

	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	damageCredential(t, dir, bad.ID)
	var logs testkit.SyncBuffer
	g, err := tryStartGatewayLogged(t, dir, false, &logs)
	if err != nil {
		t.Fatalf("aigw serve with one bad provider and one bad credential: %v", err)
	}

	// The rest serves, on the good credential only.
	for range 6 {
		if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key1.Secret, chatJSON); r.status != 200 {
			t.Fatalf("healthy provider: %d %s", r.status, r.body)
		}
	}
	if n := fake.CountBy("sk-good-upstream-key"); n != 6 {
		t.Errorf("good credential served %d of 6 requests", n)
	}
	if fake.Count() != 6 {
		t.Errorf("upstream saw %d requests; want 6, all with the good credential", fake.Count())
	}

	// The broken provider's key: 503 in OpenAI's shape, no path.
	r := post(t, "http://"+g.proxyAddr+"/private/v1/chat/completions", "Bearer "+key2.Secret, chatJSON)
	var body struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 503 ||
		!strings.Contains(body.Error.Message, "configuration") || !strings.Contains(body.Error.Message, "private") {
		t.Errorf("broken provider's key: %d %s; want 503 in OpenAI's shape naming a configuration problem", r.status, r.body)
	}
	if strings.Contains(r.body, caDir) || strings.Contains(r.body, "pem") {
		t.Errorf("the client's error reveals the CA file: %s", r.body)
	}
	if private.Count() != 0 {
		t.Error("a request reached the broken provider's upstream")
	}

	// The operator sees both, with the reason.
	var provs []struct {
		Name   string `json:"name"`
		Broken string `json:"broken"`
	}
	g.okJSON(t, &provs, "provider", "list")
	for _, p := range provs {
		switch {
		case p.Name == "private" && !strings.Contains(p.Broken, "ca_file"):
			t.Errorf("provider list: private broken = %q; want the ca_file reason", p.Broken)
		case p.Name == "openai" && p.Broken != "":
			t.Errorf("provider list: openai broken = %q", p.Broken)
		}
	}
	if table := g.ok(t, "provider", "show", "private"); !strings.Contains(table, "broken: ca_file") {
		t.Errorf("provider show does not show the broken state:\n%s", table)
	}
	var creds []struct {
		ID     string `json:"id"`
		Broken string `json:"broken"`
		Health struct {
			State string `json:"state"`
		} `json:"health"`
	}
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		wantBroken := c.ID == bad.ID
		if (c.Broken != "") != wantBroken || (c.Health.State == "broken") != wantBroken {
			t.Errorf("credential list: %s broken %q state %q (want broken: %v)", c.ID, c.Broken, c.Health.State, wantBroken)
		}
		if wantBroken && (!strings.Contains(c.Broken, "unseal") || strings.Contains(c.Broken, "sk-damaged")) {
			t.Errorf("credential list: broken reason %q", c.Broken)
		}
	}
	if table := g.ok(t, "credential", "list"); !strings.Contains(table, "broken") {
		t.Errorf("credential list table does not show the broken state:\n%s", table)
	}
	var status struct {
		Out []struct {
			ID, State string
		} `json:"out_of_rotation"`
		BrokenProviders []struct{ Name, Reason string } `json:"broken_providers"`
	}
	if err := json.Unmarshal([]byte(g.adminGet(t, "/api/v1/status")), &status); err != nil {
		t.Fatal(err)
	}
	if len(status.Out) != 1 || status.Out[0].ID != bad.ID || status.Out[0].State != "broken" ||
		len(status.BrokenProviders) != 1 || status.BrokenProviders[0].Name != "private" {
		t.Errorf("status: out of rotation %+v, broken providers %+v", status.Out, status.BrokenProviders)
	}
	metrics := g.adminGet(t, "/metrics")
	for _, want := range []string{
		`aigw_credential_state{credential="` + bad.ID + `",state="broken"} 1`,
		`aigw_credential_state{credential="` + good.ID + `",state="healthy"} 1`,
		`aigw_provider_state{provider="private",state="broken"} 1`,
		`aigw_provider_state{provider="openai",state="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	log := logs.String()
	if !strings.Contains(log, "provider=private") || !strings.Contains(log, "credential="+bad.ID) || strings.Contains(log, "sk-damaged") {
		t.Errorf("the start-up log does not name both broken records (or shows a secret):\n%s", log)
	}

	// A reload triggered by an admin write keeps serving too, the two still broken.
	var key3 struct{ Secret string }
	g.okJSON(t, &key3, "key", "create", "--provider", "openai", "--credentials", good.ID+","+bad.ID)
	if r := post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key3.Secret, chatJSON); r.status != 200 {
		t.Fatalf("key created while records are broken: %d %s", r.status, r.body)
	}
	if r := post(t, "http://"+g.proxyAddr+"/private/v1/chat/completions", "Bearer "+key2.Secret, chatJSON); r.status != 503 {
		t.Errorf("broken provider after a reload: %d %s", r.status, r.body)
	}
	if strings.Count(logs.String(), "provider=private") != 1 {
		t.Errorf("the broken provider is logged again on every reload:\n%s", logs.String())
	}

	// Repair both; the reloads that follow the writes bring them back.
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	g.ok(t, "provider", "update", "private", "--ca-file", caFile)
	if r := g.cli(t, "sk-repaired-upstream-key\n", nil, "credential", "update", bad.ID, "--secret-stdin"); r.code != 0 {
		t.Fatalf("credential update --secret-stdin on a damaged credential: exit %d %s", r.code, r.stderr)
	}
	provs = nil // json.Unmarshal would keep fields of the old elements
	g.okJSON(t, &provs, "provider", "list")
	for _, p := range provs {
		if p.Broken != "" {
			t.Errorf("after the repair, provider %s is still broken: %q", p.Name, p.Broken)
		}
	}
	creds = nil
	g.okJSON(t, &creds, "credential", "list")
	for _, c := range creds {
		if c.Broken != "" || c.Health.State != "healthy" {
			t.Errorf("after the repair, credential %s: broken %q state %q", c.ID, c.Broken, c.Health.State)
		}
	}
	if r := post(t, "http://"+g.proxyAddr+"/private/v1/chat/completions", "Bearer "+key2.Secret, chatJSON); r.status != 200 {
		t.Errorf("repaired provider: %d %s", r.status, r.body)
	}
	for range 4 {
		post(t, "http://"+g.proxyAddr+"/openai/v1/chat/completions", "Bearer "+key1.Secret, chatJSON)
	}
	if fake.CountBy("sk-repaired-upstream-key") == 0 {
		t.Error("the repaired credential is not back in its key's pool")
	}
}

// dirState is every file of a directory: content hash, size, mode, mtime.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[path] = string(b) + "|" + fi.Mode().String() + "|" + fi.ModTime().Format(time.RFC3339Nano)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A wrong master.key is refused before anything in the data directory is
// written: admin.token and the database keep their bytes and times.
func TestWrongMasterKeyFailsBeforeWritingAnything(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, g *gw)
	}{
		{"with credentials", func(t *testing.T, g *gw) {
			g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
			g.ok(t, "credential", "add", "--provider", "openai", "--secret", "sk-sealed-under-the-first-key")
		}},
		{"no credential yet", func(t *testing.T, g *gw) {
			g.ok(t, "provider", "add", "openai", "--type", "openai", "--base-url", "https://api.openai.com")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			g := startGateway(t, dir)
			tc.setup(t, g)
			g.stop(t)
			other := strings.Repeat("5a", 32) + "\n"
			if err := os.WriteFile(filepath.Join(dir, gateway.MasterKeyFile), []byte(other), 0o600); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, dir)
			time.Sleep(20 * time.Millisecond) // a rewrite would get another mtime

			_, err := tryStartGateway(t, dir, false)
			if err == nil {
				t.Fatal("aigw serve started with another master key")
			}
			if msg := err.Error(); !strings.Contains(msg, "master key") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line about the master key", msg)
			}
			after := dirState(t, dir)
			if len(after) != len(before) {
				t.Errorf("files before %d, after %d", len(before), len(after))
			}
			for path, st := range before {
				if after[path] != st {
					t.Errorf("%s changed by the refused start", filepath.Base(path))
				}
			}
		})
	}
}

// A database made with 4 KiB pages (before 2026-12-03) serves as before,
// the start-up log says how to move it to 16 KiB pages, and a compacted
// backup of it has them; a new database says nothing of it.
func TestSmallPagedDatabaseIsNamedAndCompacts(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, gateway.DBFile), 0o600, &bolt.Options{Timeout: time.Second, PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	key := strings.Repeat("5a", 32) + "\n" // a master key, as aigw writes it
	if err := os.WriteFile(filepath.Join(dir, gateway.MasterKeyFile), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	g, err := tryStartGatewayLogged(t, dir, false, &logs)
	if err != nil {
		t.Fatalf("aigw serve on a 4 KiB-page database: %v", err)
	}
	g.ok(t, "provider", "add", "demo", "--type", "openai", "--base-url", "https://api.example.com/v1")
	if !strings.Contains(logs.String(), "4 KiB pages") || !strings.Contains(logs.String(), "aigw backup --compact") {
		t.Fatalf("start-up log does not name the small pages:\n%s", logs.String())
	}
	dest := filepath.Join(t.TempDir(), "compact.db")
	g.ok(t, "backup", "--compact", dest)
	g.stop(t)
	out, err := bolt.Open(dest, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ps := out.Info().PageSize
	out.Close()
	if ps != 16<<10 {
		t.Fatalf("compacted backup page size %d, want 16384", ps)
	}
	// The compacted copy in place of the database: the gateway starts on
	// it, with its provider, and says nothing of small pages.
	if err := os.Rename(dest, filepath.Join(dir, gateway.DBFile)); err != nil {
		t.Fatal(err)
	}
	var logs2 testkit.SyncBuffer
	g2, err := tryStartGatewayLogged(t, dir, false, &logs2)
	if err != nil {
		t.Fatalf("aigw serve on the compacted copy: %v", err)
	}
	if r := g2.cli(t, "", nil, "provider", "list"); r.code != 0 || !strings.Contains(r.stdout, "demo") {
		t.Fatalf("provider list on the compacted copy: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(logs2.String(), "4 KiB pages") {
		t.Errorf("a 16 KiB-page database is named small:\n%s", logs2.String())
	}
}
