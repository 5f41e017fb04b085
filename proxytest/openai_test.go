package proxytest_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// openAIUsage is the usage object of chat and legacy completions, as a
// client reads it.
type openAIUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func checkOpenAIUsage(t *testing.T, got openAIUsage, want proxytest.Usage) {
	t.Helper()
	if got.PromptTokens != want.Prompt || got.CompletionTokens != want.Completion ||
		got.TotalTokens != want.Prompt+want.Completion ||
		got.PromptTokensDetails.CachedTokens != want.CacheRead ||
		got.CompletionTokensDetails.ReasoningTokens != want.Reasoning {
		t.Errorf("usage = %+v, want prompt %d, completion %d, total %d, cached %d, reasoning %d",
			got, want.Prompt, want.Completion, want.Prompt+want.Completion, want.CacheRead, want.Reasoning)
	}
}

type chatCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage openAIUsage `json:"usage"`
}

func TestOpenAIChatCompletion(t *testing.T) {
	s := start(t)
	resp := post(t, s.URL+"/v1/chat/completions", `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`)
	var got chatCompletion
	decode(t, resp, http.StatusOK, &got)

	if !strings.HasPrefix(got.ID, "chatcmpl-") || got.Object != "chat.completion" || got.Created == 0 {
		t.Errorf("id %q, object %q, created %d: not a chat.completion", got.ID, got.Object, got.Created)
	}
	if got.Model != "gpt-test" {
		t.Errorf("model = %q, want the request's gpt-test", got.Model)
	}
	if len(got.Choices) != 1 || got.Choices[0].Message.Role != "assistant" ||
		got.Choices[0].Message.Content != proxytest.Text(proxytest.DefaultChunks) || got.Choices[0].FinishReason != "stop" {
		t.Errorf("choices = %+v", got.Choices)
	}
	checkOpenAIUsage(t, got.Usage, proxytest.DefaultUsage)
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no x-request-id header")
	}
}

type chatChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

func TestOpenAIChatStream(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		t.Run(map[bool]string{false: "without usage", true: "include_usage"}[includeUsage], func(t *testing.T) {
			s := start(t)
			usage := proxytest.Usage{Prompt: 101, Completion: 57, CacheRead: 19, Reasoning: 5}
			s.SetUsage(usage)
			s.SetChunks(3)
			body := `{"model":"gpt-test","stream":true,"messages":[]}`
			if includeUsage {
				body = `{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[]}`
			}
			evs := readSSE(t, post(t, s.URL+"/v1/chat/completions", body))

			// role chunk + 3 content chunks + finish chunk (+ usage chunk) + [DONE]
			want := 1 + 3 + 1 + 1
			if includeUsage {
				want++
			}
			if len(evs) != want {
				t.Fatalf("%d events, want %d: %+v", len(evs), want, evs)
			}
			if evs[len(evs)-1].Data != "[DONE]" {
				t.Fatalf("last event %q, want [DONE]", evs[len(evs)-1].Data)
			}
			var text strings.Builder
			var chunks []chatChunk
			for _, ev := range evs[:len(evs)-1] {
				var c chatChunk
				unmarshal(t, ev.Data, &c)
				if c.Object != "chat.completion.chunk" || c.Model != "gpt-test" || !strings.HasPrefix(c.ID, "chatcmpl-") {
					t.Errorf("chunk %+v: wrong object, model or id", c)
				}
				if len(chunks) > 0 && c.ID != chunks[0].ID {
					t.Errorf("chunk id %q differs from the first chunk's %q", c.ID, chunks[0].ID)
				}
				if has := hasJSONKey(t, ev.Data, "usage"); has != includeUsage {
					t.Errorf("chunk has usage key = %v, want %v (only with include_usage): %s", has, includeUsage, ev.Data)
				}
				for _, ch := range c.Choices {
					if ch.Delta.Content != nil {
						text.WriteString(*ch.Delta.Content)
					}
				}
				chunks = append(chunks, c)
			}
			if chunks[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chunk delta %+v, want role assistant", chunks[0].Choices[0].Delta)
			}
			if text.String() != proxytest.Text(3) {
				t.Errorf("streamed text %q, want %q", text.String(), proxytest.Text(3))
			}
			finish := chunks[4]
			if len(finish.Choices) != 1 || finish.Choices[0].FinishReason == nil || *finish.Choices[0].FinishReason != "stop" {
				t.Errorf("chunk 5 = %+v, want finish_reason stop", finish)
			}
			if !includeUsage {
				return
			}
			for _, c := range chunks[:5] {
				if !isJSONNull(c.Usage) {
					t.Errorf("chunk before the usage chunk has usage %s, want null", c.Usage)
				}
			}
			last := chunks[5]
			if last.Choices == nil || len(last.Choices) != 0 {
				t.Errorf("usage chunk choices = %v, want []", last.Choices)
			}
			var u openAIUsage
			unmarshal(t, string(last.Usage), &u)
			checkOpenAIUsage(t, u, usage)
		})
	}
}

func TestOpenAICompletions(t *testing.T) {
	s := start(t)
	type completion struct {
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Text         string  `json:"text"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}

	var got completion
	decode(t, post(t, s.URL+"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"say"}`), http.StatusOK, &got)
	if got.Object != "text_completion" || got.Model != "gpt-3.5-turbo-instruct" || len(got.Choices) != 1 ||
		got.Choices[0].Text != proxytest.Text(proxytest.DefaultChunks) || *got.Choices[0].FinishReason != "stop" {
		t.Errorf("completion = %+v", got)
	}
	var u openAIUsage
	unmarshal(t, string(got.Usage), &u)
	checkOpenAIUsage(t, u, proxytest.DefaultUsage)

	evs := readSSE(t, post(t, s.URL+"/v1/completions", `{"model":"m","prompt":"say","stream":true,"stream_options":{"include_usage":true}}`))
	n := proxytest.DefaultChunks
	if len(evs) != n+3 || evs[len(evs)-1].Data != "[DONE]" {
		t.Fatalf("%d events ending %q, want %d ending [DONE]", len(evs), evs[len(evs)-1].Data, n+3)
	}
	var text strings.Builder
	for _, ev := range evs[:n] {
		var c completion
		unmarshal(t, ev.Data, &c)
		text.WriteString(c.Choices[0].Text)
	}
	if text.String() != proxytest.Text(n) {
		t.Errorf("streamed text %q, want %q", text.String(), proxytest.Text(n))
	}
	var fin, last completion
	unmarshal(t, evs[n].Data, &fin)
	unmarshal(t, evs[n+1].Data, &last)
	if fin.Choices[0].FinishReason == nil || *fin.Choices[0].FinishReason != "stop" {
		t.Errorf("finish chunk %s", evs[n].Data)
	}
	if len(last.Choices) != 0 {
		t.Errorf("usage chunk choices = %v, want []", last.Choices)
	}
	unmarshal(t, string(last.Usage), &u)
	checkOpenAIUsage(t, u, proxytest.DefaultUsage)
}

type embeddingList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func TestOpenAIEmbeddings(t *testing.T) {
	s := start(t)

	var floats embeddingList
	decode(t, post(t, s.URL+"/v1/embeddings", `{"model":"text-embedding-3-small","input":["a","b"],"dimensions":16}`), http.StatusOK, &floats)
	if floats.Object != "list" || floats.Model != "text-embedding-3-small" || len(floats.Data) != 2 {
		t.Fatalf("embeddings = %+v, want a list of 2", floats)
	}
	if floats.Usage.PromptTokens != proxytest.DefaultUsage.Prompt || floats.Usage.TotalTokens != proxytest.DefaultUsage.Prompt {
		t.Errorf("usage = %+v, want prompt and total %d", floats.Usage, proxytest.DefaultUsage.Prompt)
	}
	var vec []float32
	unmarshal(t, string(floats.Data[1].Embedding), &vec)
	if floats.Data[1].Object != "embedding" || floats.Data[1].Index != 1 || len(vec) != 16 {
		t.Errorf("second embedding: object %q index %d, %d dims; want embedding, 1, 16", floats.Data[1].Object, floats.Data[1].Index, len(vec))
	}

	// The OpenAI SDKs ask for base64: little-endian float32s.
	var b64 embeddingList
	decode(t, post(t, s.URL+"/v1/embeddings", `{"model":"m","input":["a","b"],"dimensions":16,"encoding_format":"base64"}`), http.StatusOK, &b64)
	var enc string
	unmarshal(t, string(b64.Data[1].Embedding), &enc)
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) != 4*16 {
		t.Fatalf("base64 embedding %q: %v, %d bytes", enc, err, len(raw))
	}
	for i := range vec {
		if f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); f != vec[i] {
			t.Fatalf("base64 value %d = %v, float value %v", i, f, vec[i])
		}
	}

	var single embeddingList
	decode(t, post(t, s.URL+"/v1/embeddings", `{"model":"m","input":"just one"}`), http.StatusOK, &single)
	if len(single.Data) != 1 {
		t.Errorf("a string input gave %d embeddings, want 1", len(single.Data))
	}
}

type responsesUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type responseObject struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Status string `json:"status"`
	Model  string `json:"model"`
	Output []struct {
		Type    string `json:"type"`
		Role    string `json:"role"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
	Usage *responsesUsage `json:"usage"`
}

func checkResponsesUsage(t *testing.T, got *responsesUsage, want proxytest.Usage) {
	t.Helper()
	if got == nil {
		t.Fatal("usage is null")
	}
	if got.InputTokens != want.Prompt || got.OutputTokens != want.Completion || got.TotalTokens != want.Prompt+want.Completion ||
		got.InputTokensDetails.CachedTokens != want.CacheRead || got.OutputTokensDetails.ReasoningTokens != want.Reasoning {
		t.Errorf("usage = %+v, want %+v in the Responses API's fields", *got, want)
	}
}

func TestOpenAIResponses(t *testing.T) {
	s := start(t)
	var got responseObject
	decode(t, post(t, s.URL+"/v1/responses", `{"model":"gpt-4.1","input":"hi"}`), http.StatusOK, &got)
	if !strings.HasPrefix(got.ID, "resp_") || got.Object != "response" || got.Status != "completed" || got.Model != "gpt-4.1" {
		t.Errorf("response = %+v", got)
	}
	if len(got.Output) != 1 || got.Output[0].Type != "message" || got.Output[0].Role != "assistant" ||
		len(got.Output[0].Content) != 1 || got.Output[0].Content[0].Type != "output_text" ||
		got.Output[0].Content[0].Text != proxytest.Text(proxytest.DefaultChunks) {
		t.Errorf("output = %+v", got.Output)
	}
	checkResponsesUsage(t, got.Usage, proxytest.DefaultUsage)
}

func TestOpenAIResponsesStream(t *testing.T) {
	s := start(t)
	evs := readSSE(t, post(t, s.URL+"/v1/responses", `{"model":"gpt-4.1","input":"hi","stream":true}`))

	n := proxytest.DefaultChunks
	want := append([]string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"},
		repeat("response.output_text.delta", n)...)
	want = append(want, "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed")
	if got := eventNames(evs); !equalStrings(got, want) {
		t.Fatalf("events = %v\nwant %v", got, want)
	}

	type event struct {
		Type           string          `json:"type"`
		SequenceNumber int             `json:"sequence_number"`
		Delta          string          `json:"delta"`
		Response       *responseObject `json:"response"`
	}
	var text strings.Builder
	var created, completed event
	for i, ev := range evs {
		var e event
		unmarshal(t, ev.Data, &e)
		if e.Type != ev.Event || e.SequenceNumber != i {
			t.Errorf("event %d: type %q sequence %d, want %q and %d", i, e.Type, e.SequenceNumber, ev.Event, i)
		}
		switch e.Type {
		case "response.output_text.delta":
			text.WriteString(e.Delta)
		case "response.created":
			created = e
		case "response.completed":
			completed = e
		}
	}
	if text.String() != proxytest.Text(n) {
		t.Errorf("streamed text %q, want %q", text.String(), proxytest.Text(n))
	}
	if created.Response == nil || created.Response.Status != "in_progress" || created.Response.Usage != nil {
		t.Errorf("response.created carries %+v, want an in_progress response without usage", created.Response)
	}
	if completed.Response == nil || completed.Response.Status != "completed" || completed.Response.Model != "gpt-4.1" {
		t.Fatalf("response.completed carries %+v", completed.Response)
	}
	checkResponsesUsage(t, completed.Response.Usage, proxytest.DefaultUsage)
}

func TestOpenAIModels(t *testing.T) {
	s := start(t)
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/models", "", "Authorization", "Bearer sk-test"), http.StatusOK, &list)
	if list.Object != "list" || len(list.Data) == 0 || list.Data[0].Object != "model" || list.Data[0].ID == "" {
		t.Errorf("models = %+v", list)
	}

	var one struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/models/gpt-4o", "", "Authorization", "Bearer sk-test"), http.StatusOK, &one)
	if one.ID != "gpt-4o" || one.Object != "model" {
		t.Errorf("model = %+v, want gpt-4o", one)
	}
}
