package proxytest

import (
	"net/http"
	"strings"
)

// Gemini: /v1beta/models/{model}:{method} (and the same under /v1), in the
// shapes of https://ai.google.dev/api.

const defaultGeminiModel = "gemini-2.5-flash"

// geminiModelOf takes the model from the path: ".../models/{model}:{method}"
// or ".../models/{model}".
func geminiModelOf(x *exchange) string {
	_, rest := splitVersion(x.r.URL.Path)
	if len(rest) == 2 && rest[0] == "models" {
		model, _, _ := strings.Cut(rest[1], ":")
		if model != "" {
			return model
		}
	}
	return defaultGeminiModel
}

func geminiStreaming(x *exchange) streamKind {
	if x.r.URL.Query().Get("alt") == "sse" {
		return sseStream
	}
	return jsonArrayStream
}

var (
	geminiGenerate = endpoint{http.MethodPost, (*exchange).geminiGenerate, geminiModelOf, notStreaming}
	geminiStream   = endpoint{http.MethodPost, (*exchange).geminiStream, geminiModelOf, geminiStreaming}
	geminiCount    = endpoint{http.MethodPost, (*exchange).geminiCountTokens, geminiModelOf, notStreaming}
	geminiEmbed    = endpoint{http.MethodPost, (*exchange).geminiEmbed, geminiModelOf, notStreaming}
	geminiBatch    = endpoint{http.MethodPost, (*exchange).geminiBatchEmbed, geminiModelOf, notStreaming}
	geminiModels   = endpoint{http.MethodGet, (*exchange).geminiModels, geminiModelOf, notStreaming}
	geminiModel    = endpoint{http.MethodGet, (*exchange).geminiModel, geminiModelOf, notStreaming}

	// geminiMethods are the endpoints of ".../models/{model}:{method}".
	geminiMethods = map[string]*endpoint{
		"generateContent":       &geminiGenerate,
		"streamGenerateContent": &geminiStream,
		"countTokens":           &geminiCount,
		"embedContent":          &geminiEmbed,
		"batchEmbedContents":    &geminiBatch,
	}
)

// geminiModelIDs are the models GET /v1beta/models lists.
var geminiModelIDs = []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"}

type geminiErrorBody struct {
	Error geminiErrorObject `json:"error"`
}

type geminiErrorObject struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// geminiStatus maps an HTTP status to Google's canonical error code.
func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "UNIMPLEMENTED"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

func geminiError(status int, msg string) geminiErrorBody {
	return geminiErrorBody{Error: geminiErrorObject{Code: status, Message: msg, Status: geminiStatus(status)}}
}

type geminiResponse struct {
	Candidates    []geminiCandidate `json:"candidates"`
	UsageMetadata geminiUsage       `json:"usageMetadata"`
	ModelVersion  string            `json:"modelVersion"`
	ResponseID    string            `json:"responseId"`
}

type geminiCandidate struct {
	Content      geminiContent `json:"content"`
	FinishReason string        `json:"finishReason,omitempty"`
	Index        int           `json:"index"`
}

type geminiContent struct {
	Parts []geminiPart `json:"parts"`
	Role  string       `json:"role"`
}

type geminiPart struct {
	Text string `json:"text"`
}

// geminiUsage omits zero counts, as Gemini's JSON does.
type geminiUsage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int `json:"totalTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount,omitempty"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount,omitempty"`
}

// geminiUsageAfter is the usage reported with `candidates` output tokens
// generated so far.
func geminiUsageAfter(u Usage, candidates int) geminiUsage {
	return geminiUsage{
		PromptTokenCount:        u.Prompt,
		CandidatesTokenCount:    candidates,
		TotalTokenCount:         u.Prompt + candidates + u.Reasoning,
		CachedContentTokenCount: u.CacheRead,
		ThoughtsTokenCount:      u.Reasoning,
	}
}

func (x *exchange) geminiResponse(id, text, finish string, candidates int) geminiResponse {
	return geminiResponse{
		Candidates: []geminiCandidate{{
			Content:      geminiContent{Parts: []geminiPart{{Text: text}}, Role: "model"},
			FinishReason: finish,
		}},
		UsageMetadata: geminiUsageAfter(x.usage, candidates),
		ModelVersion:  x.model,
		ResponseID:    id,
	}
}

func (x *exchange) geminiGenerate() {
	x.reply(x.geminiResponse(x.u.newID(""), Text(x.chunks), "STOP", x.usage.Completion))
}

// geminiStream sends one GenerateContentResponse per content chunk, each with
// the usage so far (candidatesTokenCount grows); the last one carries
// finishReason and the final totals. With ?alt=sse each is a "data:" event
// ended by CRLF CRLF, otherwise an element of a JSON array written as
// `[{...}` `\n,\r\n{...}` ... `\n]`.
func (x *exchange) geminiStream() {
	kind := geminiStreaming(x)
	if kind == sseStream {
		x.w.Header().Set("Content-Type", "text/event-stream")
	} else {
		x.w.Header().Set("Content-Type", "application/json")
	}
	s, ok := x.openStream()
	if !ok {
		return
	}
	id := x.u.newID("")
	for i := range x.chunks {
		finish := ""
		if i == x.chunks-1 {
			finish = "STOP"
		}
		resp := x.geminiResponse(id, chunkText(i), finish, x.usage.Completion*(i+1)/x.chunks)
		var sent bool
		switch {
		case kind == sseStream:
			sent = s.frame("", resp, "\r\n\r\n")
		case i == 0:
			sent = s.send(appendJSON([]byte("["), resp))
		default:
			sent = s.send(appendJSON([]byte("\n,\r\n"), resp))
		}
		if !sent {
			return
		}
	}
	if kind == sseStream {
		s.end(nil)
	} else {
		s.end([]byte("\n]"))
	}
}

func (x *exchange) geminiCountTokens() {
	x.reply(struct {
		TotalTokens int `json:"totalTokens"`
	}{x.usage.Prompt})
}

type geminiEmbedding struct {
	Values []float32 `json:"values"`
}

func (x *exchange) geminiEmbed() {
	x.reply(struct {
		Embedding geminiEmbedding `json:"embedding"`
	}{geminiEmbedding{embedding(0, embeddingDims)}})
}

func (x *exchange) geminiBatchEmbed() {
	out := struct {
		Embeddings []geminiEmbedding `json:"embeddings"`
	}{}
	for i := range max(len(x.req.Requests), 1) {
		out.Embeddings = append(out.Embeddings, geminiEmbedding{embedding(i, embeddingDims)})
	}
	x.reply(out)
}

type geminiModelObject struct {
	Name                       string   `json:"name"`
	DisplayName                string   `json:"displayName"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
}

func newGeminiModel(id string) geminiModelObject {
	methods := []string{"generateContent", "streamGenerateContent", "countTokens"}
	if strings.Contains(id, "embedding") {
		methods = []string{"embedContent", "batchEmbedContents", "countTokens"}
	}
	return geminiModelObject{Name: "models/" + id, DisplayName: id, SupportedGenerationMethods: methods}
}

func (x *exchange) geminiModels() {
	out := struct {
		Models []geminiModelObject `json:"models"`
	}{}
	for _, id := range geminiModelIDs {
		out.Models = append(out.Models, newGeminiModel(id))
	}
	x.reply(out)
}

func (x *exchange) geminiModel() {
	x.reply(newGeminiModel(x.model))
}
