package proxytest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

type geminiUsage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	TotalTokenCount         int `json:"totalTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
}

func finalGeminiUsage(u proxytest.Usage) geminiUsage {
	return geminiUsage{
		PromptTokenCount:        u.Prompt,
		CandidatesTokenCount:    u.Completion,
		TotalTokenCount:         u.Prompt + u.Completion + u.Reasoning,
		CachedContentTokenCount: u.CacheRead,
		ThoughtsTokenCount:      u.Reasoning,
	}
}

type geminiResponse struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
			Role string `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *geminiUsage `json:"usageMetadata"`
	ModelVersion  string       `json:"modelVersion"`
}

func (r geminiResponse) text() string {
	var b strings.Builder
	for _, c := range r.Candidates {
		for _, p := range c.Content.Parts {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

var geminiHeaders = []string{"x-goog-api-key", "AIza-test"}

func TestGeminiGenerateContent(t *testing.T) {
	s := start(t)
	var got geminiResponse
	decode(t, post(t, s.URL+"/v1beta/models/gemini-test:generateContent", `{"contents":[{"parts":[{"text":"hi"}]}]}`, geminiHeaders...), http.StatusOK, &got)

	if got.ModelVersion != "gemini-test" {
		t.Errorf("modelVersion = %q, want the path's gemini-test", got.ModelVersion)
	}
	if len(got.Candidates) != 1 || got.Candidates[0].Content.Role != "model" || got.Candidates[0].FinishReason != "STOP" ||
		got.text() != proxytest.Text(proxytest.DefaultChunks) {
		t.Errorf("candidates = %+v", got.Candidates)
	}
	if got.UsageMetadata == nil || *got.UsageMetadata != finalGeminiUsage(proxytest.DefaultUsage) {
		t.Errorf("usageMetadata = %+v, want %+v", got.UsageMetadata, finalGeminiUsage(proxytest.DefaultUsage))
	}
}

func TestGeminiStreamSSE(t *testing.T) {
	s := start(t)
	resp := post(t, s.URL+"/v1beta/models/gemini-test:streamGenerateContent?alt=sse", `{"contents":[]}`, geminiHeaders...)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	raw := string(readBody(t, resp))

	// Gemini frames each event with CRLF CRLF.
	frames := strings.Split(strings.TrimSuffix(raw, "\r\n\r\n"), "\r\n\r\n")
	if !strings.HasSuffix(raw, "\r\n\r\n") || len(frames) != proxytest.DefaultChunks {
		t.Fatalf("%d CRLF-framed events, want %d:\n%q", len(frames), proxytest.DefaultChunks, raw)
	}
	var text strings.Builder
	prev := 0
	var last geminiResponse
	for i, f := range frames {
		data, ok := strings.CutPrefix(f, "data: ")
		if !ok {
			t.Fatalf("event %d is not a data event: %q", i, f)
		}
		var r geminiResponse
		unmarshal(t, data, &r)
		if r.UsageMetadata == nil || r.UsageMetadata.PromptTokenCount != proxytest.DefaultUsage.Prompt {
			t.Errorf("chunk %d usageMetadata = %+v, want the prompt count on every chunk", i, r.UsageMetadata)
		} else if r.UsageMetadata.CandidatesTokenCount < prev {
			t.Errorf("chunk %d candidatesTokenCount went down: %d after %d", i, r.UsageMetadata.CandidatesTokenCount, prev)
		} else {
			prev = r.UsageMetadata.CandidatesTokenCount
		}
		if fin := r.Candidates[0].FinishReason; (fin == "STOP") != (i == len(frames)-1) {
			t.Errorf("chunk %d finishReason = %q; only the last one says STOP", i, fin)
		}
		text.WriteString(r.text())
		last = r
	}
	if text.String() != proxytest.Text(proxytest.DefaultChunks) {
		t.Errorf("streamed text %q", text.String())
	}
	if *last.UsageMetadata != finalGeminiUsage(proxytest.DefaultUsage) {
		t.Errorf("last usageMetadata = %+v, want the totals %+v", *last.UsageMetadata, finalGeminiUsage(proxytest.DefaultUsage))
	}
}

func TestGeminiStreamJSONArray(t *testing.T) {
	s := start(t)
	s.SetChunks(3)
	resp := post(t, s.URL+"/v1beta/models/gemini-test:streamGenerateContent", `{"contents":[]}`, geminiHeaders...)
	raw := readBody(t, resp)
	if !bytes.HasPrefix(raw, []byte("[{")) || !bytes.HasSuffix(raw, []byte("}\n]")) || bytes.Count(raw, []byte("}\n,\r\n{")) != 2 {
		t.Errorf("body is not framed [{...}\\n,\\r\\n{...}\\n]: %q", raw)
	}
	var arr []geminiResponse
	if err := json.Unmarshal(raw, &arr); err != nil {
		t.Fatalf("body is not a JSON array: %v", err)
	}
	if len(arr) != 3 {
		t.Fatalf("%d elements, want 3", len(arr))
	}
	var text strings.Builder
	for _, r := range arr {
		text.WriteString(r.text())
	}
	if text.String() != proxytest.Text(3) || *arr[2].UsageMetadata != finalGeminiUsage(proxytest.DefaultUsage) {
		t.Errorf("text %q, final usage %+v", text.String(), arr[2].UsageMetadata)
	}
}

// Each element of the array reaches the client as it is written: the first
// one is readable while the fake holds the rest.
func TestGeminiStreamJSONArrayFlushesEachElement(t *testing.T) {
	s := start(t)
	h := s.Hold(proxytest.Rule{HoldAfterChunks: 1})
	resp := post(t, s.URL+"/v1beta/models/gemini-test:streamGenerateContent", `{"contents":[]}`, geminiHeaders...)

	br := bufio.NewReader(resp.Body)
	first, err := br.ReadBytes('}') // "[{" ... up to the first element's end
	for err == nil && !json.Valid(bytes.TrimPrefix(first, []byte("["))) {
		var more []byte
		more, err = br.ReadBytes('}')
		first = append(first, more...)
	}
	if err != nil {
		t.Fatalf("reading the first element: %v", err)
	}
	select {
	case <-h.Reached():
	case <-time.After(testTimeout):
		t.Fatal("the fake never held the stream")
	}
	var r geminiResponse
	unmarshal(t, string(bytes.TrimPrefix(first, []byte("["))), &r)
	if r.text() != proxytest.Text(1) {
		t.Errorf("first element text %q, want %q", r.text(), proxytest.Text(1))
	}
	h.Release()
	rest, err := io.ReadAll(br)
	if err != nil || !bytes.HasSuffix(rest, []byte("\n]")) {
		t.Fatalf("rest of the array after release: %q, %v", rest, err)
	}
}

func TestGeminiCountTokensAndEmbeddings(t *testing.T) {
	s := start(t)
	var count struct {
		TotalTokens int `json:"totalTokens"`
	}
	decode(t, post(t, s.URL+"/v1beta/models/gemini-test:countTokens", `{"contents":[]}`, geminiHeaders...), http.StatusOK, &count)
	if count.TotalTokens != proxytest.DefaultUsage.Prompt {
		t.Errorf("totalTokens = %d, want %d", count.TotalTokens, proxytest.DefaultUsage.Prompt)
	}

	var one struct {
		Embedding struct {
			Values []float32 `json:"values"`
		} `json:"embedding"`
	}
	decode(t, post(t, s.URL+"/v1beta/models/gemini-embedding-001:embedContent", `{"content":{"parts":[{"text":"a"}]}}`, geminiHeaders...), http.StatusOK, &one)
	if len(one.Embedding.Values) == 0 {
		t.Error("embedContent returned no values")
	}

	var batch struct {
		Embeddings []struct {
			Values []float32 `json:"values"`
		} `json:"embeddings"`
	}
	decode(t, post(t, s.URL+"/v1beta/models/gemini-embedding-001:batchEmbedContents", `{"requests":[{},{},{}]}`, geminiHeaders...), http.StatusOK, &batch)
	if len(batch.Embeddings) != 3 || len(batch.Embeddings[2].Values) == 0 {
		t.Errorf("batchEmbedContents gave %d embeddings, want 3", len(batch.Embeddings))
	}
}

// The key may come as ?key=, and Gemini's v1 paths work as v1beta's do.
func TestGeminiQueryKeyAndV1(t *testing.T) {
	s := start(t)
	var got geminiResponse
	decode(t, mustCall(t, http.MethodPost, s.URL+"/v1/models/gemini-pro:generateContent?key=AIza-query", `{"contents":[]}`), http.StatusOK, &got)
	if got.ModelVersion != "gemini-pro" {
		t.Errorf("modelVersion = %q", got.ModelVersion)
	}
	rec, ok := s.Last()
	if !ok || rec.Credential != "AIza-query" || rec.API != "gemini" || rec.RawQuery != "key=AIza-query" {
		t.Errorf("recorded %+v, want credential AIza-query from the query", rec)
	}

	var models struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1beta/models?key=AIza-query", ""), http.StatusOK, &models)
	if len(models.Models) == 0 || !strings.HasPrefix(models.Models[0].Name, "models/") {
		t.Errorf("models = %+v", models)
	}
}
