package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aigw/aigw/config"
)

// FuzzLoad: any file either loads or is refused with a message; it never panics.
func FuzzLoad(f *testing.F) {
	if raw, err := os.ReadFile(exampleFile); err == nil {
		f.Add(string(raw))
	}
	for _, s := range []string{
		"[proxy]\naddr = \":1\"\nadress = 2\n",
		"[pricing.\"gpt-4.1\"]\ninput = 2.0\ninptu = 2\n",
		"[retry]\nmax_retries = \"two\"\n",
		"[proxy\n",
		"a.b.c = 1\n[a]\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused with an empty message")
			}
			return
		}
		if cfg.Proxy.Addr == "" || cfg.Admin.Addr == "" {
			t.Fatalf("accepted a configuration without listen addresses: %+v", cfg)
		}
	})
}
