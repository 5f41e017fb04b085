package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// Budgets with the built binary, as a new user meets them: a config file
// sets budgets.timezone, `aigw key update --monthly-cost` caps a key, the
// next request past it is refused by an OpenAI SDK-shaped 429 whose
// Retry-After runs to the end of the month in that zone, and a SIGTERM
// restart keeps the month's spend.
func TestBudgetWithTheBinary(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[budgets]\ntimezone = \"Asia/Tokyo\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, dir, "--config", cfg)
	secret := s.provision(t, "openai", "openai", fake.URL, "sk-budget-credential-0001")
	var keys []struct{ ID string }
	s.cliJSON(t, &keys, "key", "list")
	s.cli(t, "", "key", "update", keys[0].ID, "--monthly-cost", "0.00001")

	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	send := func(s *server) (int, http.Header, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.proxyURL+"/openai/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if code, _, b := send(s); code != 200 {
		t.Fatalf("first request: %d %s", code, b)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	l := time.Now().In(tokyo)
	reset := time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, tokyo)
	check := func(when string, s *server) {
		t.Helper()
		code, h, b := send(s)
		var e struct {
			Error struct{ Message, Code string }
		}
		_ = json.Unmarshal([]byte(b), &e)
		secs, _ := strconv.ParseFloat(h.Get("Retry-After"), 64)
		if code != 429 || !strings.HasPrefix(e.Error.Message, "aigw: key budget monthly_cost $0.00001 reached (spent $0.0000") ||
			!strings.HasSuffix(e.Error.Message, "resets "+reset.Format("2006-01-02T15:04Z07:00")) {
			t.Fatalf("%s: %d %s", when, code, b)
		}
		if want := time.Until(reset).Seconds(); secs < want-10 || secs > want+10 {
			t.Errorf("%s: Retry-After %v, want about %.0f (until %s)", when, secs, want, reset)
		}
	}
	check("over the budget", s)
	s.stop(t)
	s = serve(t, dir, "--config", cfg)
	check("after a restart", s)
}
