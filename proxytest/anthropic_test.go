package proxytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

type anthropicMessage struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Role    string `json:"role"`
	Model   string `json:"model"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StopReason *string        `json:"stop_reason"`
	Usage      anthropicUsage `json:"usage"`
}

type anthropicErrorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestAnthropicMessage(t *testing.T) {
	s := start(t)
	resp := post(t, s.URL+"/v1/messages", `{"model":"claude-test","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`, anthropicHeaders...)
	var got anthropicMessage
	decode(t, resp, http.StatusOK, &got)

	if !strings.HasPrefix(got.ID, "msg_") || got.Type != "message" || got.Role != "assistant" || got.Model != "claude-test" {
		t.Errorf("message = %+v", got)
	}
	if len(got.Content) != 1 || got.Content[0].Type != "text" || got.Content[0].Text != proxytest.Text(proxytest.DefaultChunks) {
		t.Errorf("content = %+v", got.Content)
	}
	if got.StopReason == nil || *got.StopReason != "end_turn" {
		t.Errorf("stop_reason = %v, want end_turn", got.StopReason)
	}
	u := proxytest.DefaultUsage
	want := anthropicUsage{InputTokens: u.Prompt, OutputTokens: u.Completion, CacheCreationInputTokens: u.CacheCreation, CacheReadInputTokens: u.CacheRead}
	if got.Usage != want {
		t.Errorf("usage = %+v, want %+v", got.Usage, want)
	}
	if resp.Header.Get("Request-Id") == "" {
		t.Error("no request-id header")
	}
}

func TestAnthropicStream(t *testing.T) {
	s := start(t)
	usage := proxytest.Usage{Prompt: 1009, Completion: 311, CacheCreation: 97, CacheRead: 503}
	s.SetUsage(usage)
	s.SetChunks(4)
	evs := readSSE(t, post(t, s.URL+"/v1/messages", `{"model":"claude-test","max_tokens":64,"stream":true,"messages":[]}`, anthropicHeaders...))

	want := append([]string{"message_start", "content_block_start", "ping"}, repeat("content_block_delta", 4)...)
	want = append(want, "content_block_stop", "message_delta", "message_stop")
	if got := eventNames(evs); !equalStrings(got, want) {
		t.Fatalf("events = %v\nwant %v", got, want)
	}

	type event struct {
		Type    string            `json:"type"`
		Index   *int              `json:"index"`
		Message *anthropicMessage `json:"message"`
		Delta   struct {
			Type       string `json:"type"`
			Text       string `json:"text"`
			StopReason string `json:"stop_reason"`
		} `json:"delta"`
		Usage *anthropicUsage `json:"usage"`
	}
	var text strings.Builder
	for i, ev := range evs {
		var e event
		unmarshal(t, ev.Data, &e)
		if e.Type != ev.Event {
			t.Errorf("event %d: data type %q under event: %q", i, e.Type, ev.Event)
		}
		switch e.Type {
		case "message_start":
			m := e.Message
			if m == nil || m.Model != "claude-test" || m.Role != "assistant" || len(m.Content) != 0 {
				t.Fatalf("message_start message = %+v", m)
			}
			wantStart := anthropicUsage{InputTokens: usage.Prompt, OutputTokens: 1, CacheCreationInputTokens: usage.CacheCreation, CacheReadInputTokens: usage.CacheRead}
			if m.Usage != wantStart {
				t.Errorf("message_start usage = %+v, want %+v", m.Usage, wantStart)
			}
		case "content_block_delta":
			if e.Index == nil || *e.Index != 0 || e.Delta.Type != "text_delta" {
				t.Errorf("content_block_delta = %s", ev.Data)
			}
			text.WriteString(e.Delta.Text)
		case "message_delta":
			if e.Delta.StopReason != "end_turn" {
				t.Errorf("message_delta stop_reason = %q, want end_turn", e.Delta.StopReason)
			}
			if e.Usage == nil || e.Usage.OutputTokens != usage.Completion {
				t.Errorf("message_delta usage = %+v, want output_tokens %d", e.Usage, usage.Completion)
			}
		}
	}
	if text.String() != proxytest.Text(4) {
		t.Errorf("streamed text %q, want %q", text.String(), proxytest.Text(4))
	}
}

func TestAnthropicRequiresVersion(t *testing.T) {
	s := start(t)
	resp := post(t, s.URL+"/v1/messages", `{"model":"claude-test","max_tokens":1,"messages":[]}`, "x-api-key", "sk-ant-test")
	var got anthropicErrorBody
	decode(t, resp, http.StatusBadRequest, &got)
	if got.Type != "error" || got.Error.Type != "invalid_request_error" || !strings.Contains(got.Error.Message, "anthropic-version") {
		t.Errorf("error = %+v, want an invalid_request_error about anthropic-version", got)
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	s := start(t)
	var got struct {
		InputTokens int `json:"input_tokens"`
	}
	decode(t, post(t, s.URL+"/v1/messages/count_tokens", `{"model":"claude-test","messages":[]}`, anthropicHeaders...), http.StatusOK, &got)
	if got.InputTokens != proxytest.DefaultUsage.Prompt {
		t.Errorf("input_tokens = %d, want %d", got.InputTokens, proxytest.DefaultUsage.Prompt)
	}
}

// GET /v1/models is both OpenAI's and Anthropic's; anthropic-version decides.
func TestAnthropicModels(t *testing.T) {
	s := start(t)
	var list struct {
		Data []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"data"`
		HasMore *bool `json:"has_more"`
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/models", "", anthropicHeaders...), http.StatusOK, &list)
	if len(list.Data) == 0 || list.Data[0].Type != "model" || !strings.HasPrefix(list.Data[0].ID, "claude") || list.HasMore == nil {
		t.Errorf("models = %+v, want Anthropic's list shape", list)
	}
}
