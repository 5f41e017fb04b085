package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genai"
)

// The official SDKs work against aigw with only the base URL and the API
// key changed: plain and streamed calls, for all three providers.
func TestOfficialSDKs(t *testing.T) {
	fake := proxytest.NewServer()
	defer fake.Close()
	s := serve(t, t.TempDir())
	openaiKey := s.provision(t, "openai", "openai", fake.URL, "sk-openai-operator-credential")
	claudeKey := s.provision(t, "claude", "anthropic", fake.URL, "sk-ant-operator-credential")
	geminiKey := s.provision(t, "gemini", "gemini", fake.URL, "AIza-operator-credential-0000")
	want := proxytest.Text(proxytest.DefaultChunks)

	t.Run("openai-go", func(t *testing.T) {
		c := openai.NewClient(option.WithBaseURL(s.proxyURL+"/openai/v1"), option.WithAPIKey(openaiKey), option.WithMaxRetries(0))
		params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
		resp, err := c.Chat.Completions.New(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != want || resp.Usage.PromptTokens != int64(proxytest.DefaultUsage.Prompt) {
			t.Fatalf("chat: %q, usage %+v", got, resp.Usage)
		}
		stream := c.Chat.Completions.NewStreaming(t.Context(), params)
		var text strings.Builder
		for stream.Next() {
			if ch := stream.Current(); len(ch.Choices) > 0 {
				text.WriteString(ch.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil || text.String() != want {
			t.Fatalf("stream: %q, %v", text.String(), err)
		}
		emb, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
		if err != nil || len(emb.Data) == 0 {
			t.Fatalf("embeddings: %v", err)
		}
		models, err := c.Models.List(t.Context())
		if err != nil || len(models.Data) == 0 {
			t.Fatalf("models: %v", err)
		}
		// aigw's own errors come out as the SDK's typed errors.
		bad := openai.NewClient(option.WithBaseURL(s.proxyURL+"/openai/v1"), option.WithAPIKey("aigw_wrong"), option.WithMaxRetries(0))
		_, err = bad.Chat.Completions.New(t.Context(), params)
		var apiErr *openai.Error
		if !asError(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.Message, "invalid gateway key") {
			t.Fatalf("bad key through openai-go: %v", err)
		}
	})

	t.Run("anthropic-sdk-go", func(t *testing.T) {
		c := anthropic.NewClient(anthropicoption.WithBaseURL(s.proxyURL+"/claude"), anthropicoption.WithAPIKey(claudeKey), anthropicoption.WithMaxRetries(0))
		params := anthropic.MessageNewParams{Model: anthropic.ModelClaudeSonnet4_5, MaxTokens: 64,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
		msg, err := c.Messages.New(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) == 0 || msg.Content[0].Text != want || msg.Usage.CacheReadInputTokens != int64(proxytest.DefaultUsage.CacheRead) {
			t.Fatalf("message: %+v", msg)
		}
		stream := c.Messages.NewStreaming(t.Context(), params)
		acc := anthropic.Message{}
		for stream.Next() {
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil || len(acc.Content) == 0 || acc.Content[0].Text != want ||
			acc.Usage.OutputTokens != int64(proxytest.DefaultUsage.Completion) {
			t.Fatalf("stream: %+v, %v", acc, err)
		}
		n, err := c.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: anthropic.ModelClaudeSonnet4_5,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		if err != nil || n.InputTokens == 0 {
			t.Fatalf("count_tokens: %v", err)
		}
		bad := anthropic.NewClient(anthropicoption.WithBaseURL(s.proxyURL+"/claude"), anthropicoption.WithAPIKey("aigw_wrong"), anthropicoption.WithMaxRetries(0))
		_, err = bad.Messages.New(t.Context(), params)
		var apiErr *anthropic.Error
		if !asError(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Fatalf("bad key through anthropic-sdk-go: %v", err)
		}
	})

	t.Run("google genai", func(t *testing.T) {
		c, err := genai.NewClient(t.Context(), &genai.ClientConfig{APIKey: geminiKey, Backend: genai.BackendGeminiAPI,
			HTTPOptions: genai.HTTPOptions{BaseURL: s.proxyURL + "/gemini/"}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Text() != want || res.UsageMetadata == nil || res.UsageMetadata.PromptTokenCount != int32(proxytest.DefaultUsage.Prompt) {
			t.Fatalf("generate: %q %+v", res.Text(), res.UsageMetadata)
		}
		var text strings.Builder
		for chunk, err := range c.Models.GenerateContentStream(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil) {
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(chunk.Text())
		}
		if text.String() != want {
			t.Fatalf("stream: %q", text.String())
		}
	})

	// What a new user checks next: every call is in `aigw traces` with the
	// exact usage the provider reported, and `aigw usage` sums it.
	u := proxytest.DefaultUsage
	type tokens struct{ prompt, completion, cacheW, cacheR int64 }
	wantTok := map[string]tokens{ // per plain or streamed generation call, normalised
		"openai": {int64(u.Prompt), int64(u.Completion), 0, int64(u.CacheRead)},
		"claude": {int64(u.Prompt + u.CacheCreation + u.CacheRead), int64(u.Completion), int64(u.CacheCreation), int64(u.CacheRead)},
		"gemini": {int64(u.Prompt), int64(u.Completion + u.Reasoning), 0, int64(u.CacheRead)},
	}
	var traces []struct {
		Provider, Model, Path string
		Status                int
		Stream                bool
		P                     int64 `json:"prompt_tokens"`
		C                     int64 `json:"completion_tokens"`
		CW                    int64 `json:"cache_creation_tokens"`
		CR                    int64 `json:"cache_read_tokens"`
		CostKnown             bool  `json:"cost_known"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		traces = traces[:0]
		s.cliJSON(t, &traces, "traces", "--limit", "100")
		// 9 answered calls: openai 4 (chat, stream, embeddings, models),
		// claude 3, gemini 2; the bad-key calls are refused at
		// authentication (traced as 401s, not counted here).
		answered := 0
		for _, tr := range traces {
			if tr.Status != 401 {
				answered++
			}
		}
		if answered >= 9 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	generations := map[string]int{}
	for _, tr := range traces {
		if tr.Status == 401 {
			continue // the bad-key calls
		}
		isGeneration := strings.HasSuffix(tr.Path, "/chat/completions") || strings.HasSuffix(tr.Path, "/v1/messages") ||
			strings.Contains(tr.Path, "enerateContent")
		if !isGeneration {
			continue
		}
		generations[tr.Provider]++
		got := tokens{tr.P, tr.C, tr.CW, tr.CR}
		if got != wantTok[tr.Provider] || !tr.CostKnown {
			t.Errorf("%s %s (stream %v): tokens %+v cost_known %v, want %+v", tr.Provider, tr.Path, tr.Stream, got, tr.CostKnown, wantTok[tr.Provider])
		}
	}
	for _, p := range []string{"openai", "claude", "gemini"} {
		if generations[p] != 2 {
			t.Errorf("%s: %d plain+streamed generation traces, want 2", p, generations[p])
		}
	}
	var rows []struct {
		Group        string  `json:"group"`
		Requests     int64   `json:"requests"`
		PromptTokens int64   `json:"prompt_tokens"`
		CostUSD      float64 `json:"cost_usd"`
	}
	s.cliJSON(t, &rows, "usage", "--by", "provider")
	sums := map[string]int64{}
	for _, r := range rows {
		sums[r.Group] = r.PromptTokens
		if r.Requests == 0 || r.CostUSD <= 0 {
			t.Errorf("usage row %+v", r)
		}
	}
	for p, w := range wantTok {
		want := 2 * w.prompt // count_tokens and model lists are not billed
		if p == "openai" {
			want += int64(u.Prompt) // the embeddings call
		}
		if sums[p] != want {
			t.Errorf("usage --by provider: %s prompt tokens %d, want %d", p, sums[p], want)
		}
	}

	// Every request used the operator's credentials, never the gateway keys.
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r.Credential, "aigw_") {
			t.Fatalf("a gateway key reached the upstream: %s %s", r.Method, r.Path)
		}
	}
}
