package admin_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/store"
)

func TestBackupThroughClient(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()

	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.client.Backup(t.Context(), out)
	if cerr := out.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || fi.Size() != n {
		t.Fatalf("Backup reported %d bytes, file has %d", n, fi.Size())
	}

	// The raw answer announces its length and sends exactly that much.
	raw := e.do(http.MethodGet, "/api/v1/backup", e.adminToken, "")
	if raw.status != http.StatusOK {
		t.Fatalf("GET /api/v1/backup = %d", raw.status)
	}
	cl, err := strconv.Atoi(raw.header.Get("Content-Length"))
	if err != nil || cl != len(raw.body) {
		t.Errorf("Content-Length %q, body %d bytes", raw.header.Get("Content-Length"), len(raw.body))
	}
	if ct := raw.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q, want application/octet-stream", ct)
	}

	// A write after the backup is not in it.
	if _, err := e.client.CreateProvider(t.Context(), admin.Provider{Name: "later", Type: admin.TypeGemini, BaseURL: "https://g.example"}); err != nil {
		t.Fatal(err)
	}

	// The copy opens as an aigw database with the same master key and holds the data.
	bk, err := store.Open(path, e.master, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer bk.Close()
	d, err := bk.Load()
	if err != nil {
		t.Fatalf("Load the backup: %v", err)
	}
	if len(d.Providers) != 1 || d.Providers[0].Name != f.provider.Name {
		t.Errorf("backup providers = %+v, want only %s", d.Providers, f.provider.Name)
	}
	secrets := map[string]string{}
	for _, c := range d.Credentials {
		secrets[c.ID] = c.Secret
	}
	if secrets[f.cred.ID] != credSecret || secrets[f.spare.ID] != spareSecret {
		t.Errorf("backup credential secrets = %v, want both to unseal", secrets)
	}
	if len(d.Keys) != 1 || d.Keys[0].ID != f.key.ID || d.Keys[0].Hash != store.HashKey([]byte(f.secret)) {
		t.Errorf("backup keys = %+v, want the fixture key with its hash", d.Keys)
	}
}

func TestBackupRefusesWrongScopeBeforeSendingBytes(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	n, err := e.clientWith(e.token("keys:read")).Backup(t.Context(), &buf)
	wantAPIError(t, err, http.StatusForbidden, "")
	if n != 0 || buf.Len() != 0 {
		t.Errorf("a refused backup wrote %d bytes (%d reported)", buf.Len(), n)
	}
}
