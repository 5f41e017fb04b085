package proxy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aigw/aigw/proxy/usage"
	"github.com/aigw/aigw/store"
)

// A client's model and path reach the trace (and so the database, the
// request log, the roll-ups and /metrics) cut to usage.MaxModel and
// usage.MaxPath bytes and marked as cut — answered requests, refused ones
// (rpm) and Gemini's model taken from the path alike.
func TestTraceKeepsModelAndPathBounded(t *testing.T) {
	e := newEnv(t)
	key, _ := e.setup("openai", 1, "round_robin", func(in *store.KeyInput) { in.RPM = 2 })
	e.provider("g", "gemini")
	gkey := e.key(store.KeyInput{Provider: "g", Credentials: []string{e.cred("g", "sk-g", 1)}})

	huge := strings.Repeat("é", 256<<10) // 512 KiB, two bytes a rune
	body := `{"model":"` + huge + `","messages":[{"role":"user","content":"hi"}]}`
	longPath := "/p/v1/chat/completions/" + strings.Repeat("x", 3000)
	gemModel := strings.Repeat("g", 1500)
	reqs := []struct {
		name, path, key, body string
		status                int
	}{
		{"answered", "/p/v1/chat/completions", key, body, 200},
		{"long path", longPath, key, chatBody, 0},
		{"refused by rpm", "/p/v1/chat/completions", key, body, 429},
		{"gemini path", "/g/v1beta/models/" + gemModel + ":generateContent", gkey, `{"contents":[{"parts":[{"text":"hi"}]}]}`, 0},
	}
	for _, r := range reqs {
		got := e.do("POST", r.path, bearer(r.key), r.body)
		if r.status != 0 && got.status != r.status {
			t.Fatalf("%s: status %d %s", r.name, got.status, got.body)
		}
	}
	traces := e.rec.wait(t, len(reqs))
	for i, tr := range traces {
		if len(tr.Model) > usage.MaxModel || len(tr.Path) > usage.MaxPath || !utf8.ValidString(tr.Model) {
			t.Errorf("%s: trace keeps a %d-byte model and a %d-byte path", reqs[i].name, len(tr.Model), len(tr.Path))
		}
	}
	cutModel := strings.Repeat("é", (usage.MaxModel-len(usage.CutMark))/2) + usage.CutMark
	for _, i := range []int{0, 2} {
		if traces[i].Model != cutModel {
			t.Errorf("%s: model %.30q… (%d bytes), want %d bytes of é then %q", reqs[i].name, traces[i].Model, len(traces[i].Model), len(cutModel), usage.CutMark)
		}
	}
	if p := traces[1].Path; !strings.HasPrefix(p, "/v1/chat/completions/xxx") || !strings.HasSuffix(p, usage.CutMark) || len(p) != usage.MaxPath {
		t.Errorf("long path kept as %d bytes ending %q", len(p), p[max(len(p)-8, 0):])
	}
	if m := traces[3].Model; m != strings.Repeat("g", usage.MaxModel-len(usage.CutMark))+usage.CutMark {
		t.Errorf("gemini model from the path kept as %d bytes", len(m))
	}
	if !strings.HasPrefix(traces[3].Path, "/v1beta/models/ggg") || len(traces[3].Path) > usage.MaxPath {
		t.Errorf("gemini path %d bytes", len(traces[3].Path))
	}
}
