package admin

import (
	"errors"
	"fmt"
	"net"
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

// LocalURLFile is where `aigw serve` writes its admin API's URL in the data
// directory, beside admin.token, so that the CLI and the TUI on the same
// machine find an admin API on another address without being told.
const LocalURLFile = "admin.url"

// WriteLocalURL records the admin listener's address in dir/admin.url; an
// unspecified IP (0.0.0.0, ::) is written as loopback, where this machine's
// CLI reaches it.
func WriteLocalURL(dir string, addr net.Addr) error {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return WriteFileAtomic(filepath.Join(dir, LocalURLFile), []byte("http://"+net.JoinHostPort(host, port)+"\n"), 0o600)
}

// AdminURL makes an admin address typed without a scheme
// ("127.0.0.1:9090") a URL.
func AdminURL(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return s
}

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
