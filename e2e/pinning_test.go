package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// A Codex-style Responses API conversation through a pool of four OpenAI
// accounts under round_robin: every turn names the previous response and
// reaches the account that holds it; once that account is disabled, the
// SDK gets aigw's 409 saying so instead of another account's "not found".
func TestResponsesConversationStaysOnItsAccount(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	s := serve(t, t.TempDir())
	s.cli(t, "", "provider", "add", "openai", "--type", "openai", "--base-url", fake.URL)
	credBySecret := map[string]string{}
	var ids []string
	for _, secret := range []string{"sk-acct-a", "sk-acct-b", "sk-acct-c", "sk-acct-d"} {
		var c struct{ ID string }
		if err := json.Unmarshal([]byte(s.cli(t, secret+"\n", "credential", "add", "--provider", "openai", "--secret-stdin", "-o", "json")), &c); err != nil {
			t.Fatal(err)
		}
		credBySecret[secret] = c.ID
		ids = append(ids, c.ID)
	}
	var key struct{ Secret string }
	s.cliJSON(t, &key, "key", "create", "--provider", "openai", "--credentials", strings.Join(ids, ","), "--strategy", "round_robin")
	c := openai.NewClient(option.WithBaseURL(s.proxyURL+"/openai/v1"), option.WithAPIKey(key.Secret), option.WithMaxRetries(0))

	turn := func(prev string, stream bool) (string, error) {
		p := responses.ResponseNewParams{Model: "gpt-4.1", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("next step")}}
		if prev != "" {
			p.PreviousResponseID = openai.String(prev)
		}
		if !stream {
			r, err := c.Responses.New(t.Context(), p)
			if err != nil {
				return "", err
			}
			return r.ID, nil
		}
		st := c.Responses.NewStreaming(t.Context(), p)
		id := ""
		for st.Next() {
			if ev := st.Current(); ev.Type == "response.completed" {
				id = ev.Response.ID
			}
		}
		return id, st.Err()
	}
	id, err := turn("", true)
	if err != nil || id == "" {
		t.Fatalf("first turn: %q %v", id, err)
	}
	owner, _ := fake.ResponseOwner(id)
	for i := range 8 {
		if id, err = turn(id, i%2 == 0); err != nil {
			t.Fatalf("turn %d: %v", i+2, err)
		}
		if o, _ := fake.ResponseOwner(id); o != owner {
			t.Fatalf("turn %d answered by %s, the conversation lives on %s", i+2, o, owner)
		}
	}
	if r, err := c.Responses.Get(t.Context(), id, responses.ResponseGetParams{}); err != nil || r.ID != id {
		t.Fatalf("GET the last response: %v", err)
	}

	s.cli(t, "", "credential", "disable", credBySecret[owner])
	before := fake.Count()
	_, err = turn(id, false)
	var apiErr *openai.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 409 || !strings.Contains(apiErr.Message, "disabled") {
		t.Fatalf("turn on a disabled account: %v", err)
	}
	if fake.Count() != before {
		t.Fatal("the refused turn reached the upstream")
	}
	type trace struct {
		Affinity string `json:"affinity"`
		Status   int    `json:"status"`
	}
	// Traces are written within traces.flush_interval.
	traces := pollUntil(5*time.Second, func() (tr []trace) {
		s.cliJSON(t, &tr, "traces", "--limit", "1")
		return tr
	}, func(tr []trace) bool { return len(tr) == 1 && tr[0].Status == 409 })
	if len(traces) != 1 || traces[0].Affinity != "pinned" || traces[0].Status != 409 {
		t.Fatalf("newest trace: %+v", traces)
	}
}
