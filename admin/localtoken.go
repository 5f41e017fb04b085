package admin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LocalTokenFile is the admin token file in the data directory; the CLI and
// the TUI on the same machine read it when given no token.
const LocalTokenFile = "admin.token"

const localTokenTTL = 10 * 365 * 24 * time.Hour

// EnsureLocalToken keeps a valid admin-scope token in dir/admin.token: an
// existing one that still verifies is kept, otherwise (first start, revoked,
// expired, or signed with another master key) a new one replaces it.
func EnsureLocalToken(t *Tokens, dir string) error {
	path := filepath.Join(dir, LocalTokenFile)
	raw, err := os.ReadFile(path)
	if err == nil {
		if rec, err := t.Verify(strings.TrimSpace(string(raw))); err == nil && slices.Contains(rec.Scopes, ScopeAdmin) {
			return os.Chmod(path, 0o600) // whatever happened to it, only the owner reads it
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	_, signed, err := t.Issue("local admin (admin.token)", []string{ScopeAdmin}, localTokenTTL)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, []byte(signed+"\n"), 0o600)
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// over path, so readers see the old or the new content, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
