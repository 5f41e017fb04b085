package proxytest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"time"
)

// OpenAI: chat completions, legacy completions, embeddings, the Responses
// API and the model list, in the shapes of https://platform.openai.com/docs/api-reference.

const defaultOpenAIModel = "gpt-4o-mini"

func openAIModelOf(x *exchange) string { return x.req.modelOr(defaultOpenAIModel) }

func openAIStreaming(x *exchange) streamKind {
	if x.req.Stream {
		return sseStream
	}
	return notStreamed
}

var (
	openAIChat        = endpoint{http.MethodPost, (*exchange).openAIChat, openAIModelOf, openAIStreaming}
	openAICompletions = endpoint{http.MethodPost, (*exchange).openAICompletions, openAIModelOf, openAIStreaming}
	openAIEmbeddings  = endpoint{http.MethodPost, (*exchange).openAIEmbeddings, openAIModelOf, notStreaming}
	openAIResponses   = endpoint{http.MethodPost, (*exchange).openAIResponses, openAIModelOf, openAIStreaming}
	openAIModels      = endpoint{http.MethodGet, (*exchange).openAIModels, openAIModelOf, notStreaming}
	openAIModel       = endpoint{http.MethodGet, (*exchange).openAIModel, openAIModelOf, notStreaming}
)

// openAIModelIDs are the models GET /v1/models lists.
var openAIModelIDs = []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1", "o4-mini", "text-embedding-3-small"}

type openAIErrorBody struct {
	Error openAIErrorObject `json:"error"`
}

type openAIErrorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func openAIError(status int, msg string) openAIErrorBody {
	typ, code := "invalid_request_error", ""
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case status == http.StatusForbidden:
		typ, code = "permission_error", "permission_denied"
	case status == http.StatusNotFound:
		code = "unknown_url"
	case status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
	case status >= 500:
		typ, code = "server_error", "server_error"
	}
	e := openAIErrorObject{Message: msg, Type: typ}
	if code != "" {
		e.Code = &code
	}
	return openAIErrorBody{Error: e}
}

// openAIUsage is the usage object of chat and legacy completions.
type openAIUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func newOpenAIUsage(u Usage) *openAIUsage {
	o := &openAIUsage{
		PromptTokens:     u.Prompt,
		CompletionTokens: u.Completion,
		TotalTokens:      u.Prompt + u.Completion,
	}
	o.PromptTokensDetails.CachedTokens = u.CacheRead
	o.CompletionTokensDetails.ReasoningTokens = u.Reasoning
	return o
}

// jsonNull is an explicit null, for fields the API sends as null.
var jsonNull = json.RawMessage("null")

// --- chat completions ---

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             *openAIUsage `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatMessage     `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content string          `json:"content"`
	Refusal json.RawMessage `json:"refusal"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	ServiceTier       string            `json:"service_tier"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             any               `json:"usage,omitempty"` // absent, null, or *openAIUsage
}

type chatChunkChoice struct {
	Index        int             `json:"index"`
	Delta        chatDelta       `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

func (x *exchange) openAIChat() {
	id, created := x.u.newID("chatcmpl-"), time.Now().Unix()
	if !x.req.Stream {
		x.reply(chatCompletion{
			ID: id, Object: "chat.completion", Created: created, Model: x.model,
			Choices: []chatChoice{{
				Message:      chatMessage{Role: "assistant", Content: Text(x.chunks), Refusal: jsonNull},
				Logprobs:     jsonNull,
				FinishReason: "stop",
			}},
			Usage:             newOpenAIUsage(x.usage),
			ServiceTier:       "default",
			SystemFingerprint: "fp_proxytest",
		})
		return
	}

	// Role chunk, content chunks, finish chunk, usage chunk when asked
	// (every other chunk then carries "usage": null), [DONE].
	includeUsage := x.req.includeUsage()
	chunk := func(d chatDelta, finish *string) chatChunk {
		c := chatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: x.model,
			ServiceTier: "default", SystemFingerprint: "fp_proxytest",
			Choices: []chatChunkChoice{{Delta: d, Logprobs: jsonNull, FinishReason: finish}},
		}
		if includeUsage {
			c.Usage = jsonNull
		}
		return c
	}
	x.w.Header().Set("Content-Type", "text/event-stream")
	s, ok := x.openStream()
	if !ok {
		return
	}
	empty := ""
	if !s.data(chunk(chatDelta{Role: "assistant", Content: &empty}, nil)) {
		return
	}
	for i := range x.chunks {
		text := chunkText(i)
		if !s.data(chunk(chatDelta{Content: &text}, nil)) {
			return
		}
	}
	stop := "stop"
	if !s.data(chunk(chatDelta{}, &stop)) {
		return
	}
	if includeUsage {
		last := chunk(chatDelta{}, nil)
		last.Choices = []chatChunkChoice{}
		last.Usage = newOpenAIUsage(x.usage)
		if !s.data(last) {
			return
		}
	}
	if s.send([]byte("data: [DONE]\n\n")) {
		s.end(nil)
	}
}

// --- legacy completions ---

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []textChoice `json:"choices"`
	Usage             any          `json:"usage,omitempty"`
}

type textChoice struct {
	Text         string          `json:"text"`
	Index        int             `json:"index"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

func (x *exchange) openAICompletions() {
	id, created := x.u.newID("cmpl-"), time.Now().Unix()
	stop := "stop"
	completion := func(text string, finish *string) textCompletion {
		return textCompletion{
			ID: id, Object: "text_completion", Created: created, Model: x.model,
			SystemFingerprint: "fp_proxytest",
			Choices:           []textChoice{{Text: text, Logprobs: jsonNull, FinishReason: finish}},
		}
	}
	if !x.req.Stream {
		c := completion(Text(x.chunks), &stop)
		c.Usage = newOpenAIUsage(x.usage)
		x.reply(c)
		return
	}

	includeUsage := x.req.includeUsage()
	chunk := func(text string, finish *string) textCompletion {
		c := completion(text, finish)
		if includeUsage {
			c.Usage = jsonNull
		}
		return c
	}
	x.w.Header().Set("Content-Type", "text/event-stream")
	s, ok := x.openStream()
	if !ok {
		return
	}
	for i := range x.chunks {
		if !s.data(chunk(chunkText(i), nil)) {
			return
		}
	}
	if !s.data(chunk("", &stop)) {
		return
	}
	if includeUsage {
		last := chunk("", nil)
		last.Choices = []textChoice{}
		last.Usage = newOpenAIUsage(x.usage)
		if !s.data(last) {
			return
		}
	}
	if s.send([]byte("data: [DONE]\n\n")) {
		s.end(nil)
	}
}

// --- embeddings ---

type embeddingList struct {
	Object string          `json:"object"`
	Data   []embeddingItem `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embeddingItem struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string of little-endian float32s
}

// embeddingDims is the length of every embedding, unless a request asks for
// "dimensions" (up to maxEmbeddingDims).
const (
	embeddingDims    = 8
	maxEmbeddingDims = 4096
)

// embedding is a deterministic vector for input i.
func embedding(i, dims int) []float32 {
	v := make([]float32, dims)
	for j := range v {
		v[j] = float32(i+1)/10 + float32(j)/100
	}
	return v
}

// inputCount is how many inputs an OpenAI embeddings "input" holds: a string
// or a token array is one, an array of strings or of token arrays is many.
func inputCount(raw json.RawMessage) int {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return 1
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return 1
	}
	if first := bytes.TrimSpace(items[0]); len(first) > 0 && (first[0] == '"' || first[0] == '[') {
		return len(items)
	}
	return 1 // an array of token numbers
}

func (x *exchange) openAIEmbeddings() {
	dims := embeddingDims
	if d := x.req.Dimensions; d > 0 && d <= maxEmbeddingDims {
		dims = d
	}
	out := embeddingList{Object: "list", Model: x.model}
	for i := range inputCount(x.req.Input) {
		var e any = embedding(i, dims)
		if x.req.EncodingFormat == "base64" {
			e = base64Floats(embedding(i, dims))
		}
		out.Data = append(out.Data, embeddingItem{Object: "embedding", Index: i, Embedding: e})
	}
	out.Usage.PromptTokens = x.usage.Prompt
	out.Usage.TotalTokens = x.usage.Prompt
	x.reply(out)
}

// base64Floats encodes floats as OpenAI does for encoding_format "base64".
func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// --- Responses API ---

type response struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	CreatedAt         int64           `json:"created_at"`
	Status            string          `json:"status"`
	Error             json.RawMessage `json:"error"`
	IncompleteDetails json.RawMessage `json:"incomplete_details"`
	Model             string          `json:"model"`
	Output            []responseItem  `json:"output"`
	Usage             *responseUsage  `json:"usage"`
}

type responseItem struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Role    string         `json:"role"`
	Content []responsePart `json:"content"`
}

type responsePart struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

type responseUsage struct {
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

func newResponseUsage(u Usage) *responseUsage {
	r := &responseUsage{InputTokens: u.Prompt, OutputTokens: u.Completion, TotalTokens: u.Prompt + u.Completion}
	r.InputTokensDetails.CachedTokens = u.CacheRead
	r.OutputTokensDetails.ReasoningTokens = u.Reasoning
	return r
}

// responseEvent is any event of a Responses stream; unused fields are omitted.
type responseEvent struct {
	Type           string        `json:"type"`
	SequenceNumber int           `json:"sequence_number"`
	Response       *response     `json:"response,omitempty"`
	OutputIndex    *int          `json:"output_index,omitempty"`
	ItemID         string        `json:"item_id,omitempty"`
	ContentIndex   *int          `json:"content_index,omitempty"`
	Item           *responseItem `json:"item,omitempty"`
	Part           *responsePart `json:"part,omitempty"`
	Delta          *string       `json:"delta,omitempty"`
	Text           *string       `json:"text,omitempty"`
}

func (x *exchange) openAIResponses() {
	if x.previousResponseMissing() {
		return
	}
	id, itemID, created := x.u.newID("resp_"), x.u.newID("msg_"), time.Now().Unix()
	text := Text(x.chunks)
	done := responseItem{
		ID: itemID, Type: "message", Status: "completed", Role: "assistant",
		Content: []responsePart{{Type: "output_text", Text: text, Annotations: []any{}}},
	}
	final := response{
		ID: id, Object: "response", CreatedAt: created, Status: "completed",
		Error: jsonNull, IncompleteDetails: jsonNull, Model: x.model,
		Output: []responseItem{done}, Usage: newResponseUsage(x.usage),
	}
	x.u.storeResponse(x.cred, final) // under this account only (responses.go)
	if !x.req.Stream {
		x.reply(final)
		return
	}

	// response.created, response.in_progress, output_item.added,
	// content_part.added, output_text.delta × N, output_text.done,
	// content_part.done, output_item.done, response.completed.
	x.w.Header().Set("Content-Type", "text/event-stream")
	s, ok := x.openStream()
	if !ok {
		return
	}
	seq := 0
	send := func(e responseEvent) bool {
		e.SequenceNumber = seq
		seq++
		return s.event(e.Type, e)
	}
	zero := 0
	started := final
	started.Status, started.Output, started.Usage = "in_progress", []responseItem{}, nil
	added := responseItem{ID: itemID, Type: "message", Status: "in_progress", Role: "assistant", Content: []responsePart{}}
	emptyPart := responsePart{Type: "output_text", Annotations: []any{}}
	if !send(responseEvent{Type: "response.created", Response: &started}) ||
		!send(responseEvent{Type: "response.in_progress", Response: &started}) ||
		!send(responseEvent{Type: "response.output_item.added", OutputIndex: &zero, Item: &added}) ||
		!send(responseEvent{Type: "response.content_part.added", ItemID: itemID, OutputIndex: &zero, ContentIndex: &zero, Part: &emptyPart}) {
		return
	}
	for i := range x.chunks {
		delta := chunkText(i)
		if !send(responseEvent{Type: "response.output_text.delta", ItemID: itemID, OutputIndex: &zero, ContentIndex: &zero, Delta: &delta}) {
			return
		}
	}
	part := done.Content[0]
	if !send(responseEvent{Type: "response.output_text.done", ItemID: itemID, OutputIndex: &zero, ContentIndex: &zero, Text: &text}) ||
		!send(responseEvent{Type: "response.content_part.done", ItemID: itemID, OutputIndex: &zero, ContentIndex: &zero, Part: &part}) ||
		!send(responseEvent{Type: "response.output_item.done", OutputIndex: &zero, Item: &done}) ||
		!send(responseEvent{Type: "response.completed", Response: &final}) {
		return
	}
	s.end(nil)
}

// --- models ---

type openAIModelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type openAIModelList struct {
	Object string              `json:"object"`
	Data   []openAIModelObject `json:"data"`
}

// modelsCreated is a fixed creation time for listed models.
const modelsCreated = 1700000000

func (x *exchange) openAIModels() {
	list := openAIModelList{Object: "list", Data: []openAIModelObject{}}
	for _, id := range openAIModelIDs {
		list.Data = append(list.Data, openAIModelObject{ID: id, Object: "model", Created: modelsCreated, OwnedBy: "system"})
	}
	x.reply(list)
}

func (x *exchange) openAIModel() {
	_, rest := splitVersion(x.r.URL.Path)
	x.reply(openAIModelObject{ID: rest[len(rest)-1], Object: "model", Created: modelsCreated, OwnedBy: "system"})
}
