package proxytest

import (
	"net/http"
	"time"
)

// Anthropic: the Messages API (plain and streamed), token counting and the
// model list, in the shapes of https://docs.anthropic.com/en/api.

const defaultAnthropicModel = "claude-sonnet-4-5"

func anthropicModelOf(x *exchange) string { return x.req.modelOr(defaultAnthropicModel) }

func anthropicStreaming(x *exchange) streamKind {
	if x.req.Stream {
		return sseStream
	}
	return notStreamed
}

var (
	anthropicMessages    = endpoint{http.MethodPost, (*exchange).anthropicMessages, anthropicModelOf, anthropicStreaming}
	anthropicCountTokens = endpoint{http.MethodPost, (*exchange).anthropicCountTokens, anthropicModelOf, notStreaming}
	anthropicModels      = endpoint{http.MethodGet, (*exchange).anthropicModels, anthropicModelOf, notStreaming}
	anthropicModel       = endpoint{http.MethodGet, (*exchange).anthropicModel, anthropicModelOf, notStreaming}
)

// anthropicModelIDs are the models GET /v1/models lists.
var anthropicModelIDs = []string{"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"}

type anthropicErrorBody struct {
	Type      string               `json:"type"`
	Error     anthropicErrorObject `json:"error"`
	RequestID string               `json:"request_id,omitempty"`
}

type anthropicErrorObject struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// anthropicErrorType maps a status to the error types Anthropic documents.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529, http.StatusServiceUnavailable:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func anthropicError(status int, msg string) anthropicErrorBody {
	return anthropicErrorBody{Type: "error", Error: anthropicErrorObject{Type: anthropicErrorType(status), Message: msg}}
}

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreation            struct {
		Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens int `json:"output_tokens"`
}

type anthropicMessage struct {
	ID           string             `json:"id"`
	Type         string             `json:"type"`
	Role         string             `json:"role"`
	Model        string             `json:"model"`
	Content      []anthropicContent `json:"content"`
	StopReason   *string            `json:"stop_reason"`
	StopSequence *string            `json:"stop_sequence"`
	Usage        anthropicUsage     `json:"usage"`
}

type anthropicContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// anthropicEvent is any event of a Messages stream; unused fields are
// omitted.
type anthropicEvent struct {
	Type         string            `json:"type"`
	Message      *anthropicMessage `json:"message,omitempty"`
	Index        *int              `json:"index,omitempty"`
	ContentBlock *anthropicContent `json:"content_block,omitempty"`
	Delta        any               `json:"delta,omitempty"`
	Usage        *struct {
		OutputTokens int `json:"output_tokens"`
	} `json:"usage,omitempty"`
}

type anthropicTextDelta struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthropicMessageDelta struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

func (x *exchange) anthropicMessages() {
	id := x.u.newID("msg_")
	usage := anthropicUsage{
		InputTokens:              x.usage.Prompt,
		CacheCreationInputTokens: x.usage.CacheCreation,
		CacheReadInputTokens:     x.usage.CacheRead,
		OutputTokens:             x.usage.Completion,
	}
	long := min(max(x.usage.CacheCreation1h, 0), x.usage.CacheCreation)
	usage.CacheCreation.Ephemeral5m, usage.CacheCreation.Ephemeral1h = x.usage.CacheCreation-long, long
	endTurn := "end_turn"
	if !x.req.Stream {
		x.reply(anthropicMessage{
			ID: id, Type: "message", Role: "assistant", Model: x.model,
			Content:    []anthropicContent{{Type: "text", Text: Text(x.chunks)}},
			StopReason: &endTurn, Usage: usage,
		})
		return
	}

	// message_start (input and cache usage, output_tokens 1),
	// content_block_start, ping, content_block_delta × N,
	// content_block_stop, message_delta (final output_tokens), message_stop.
	start := usage
	start.OutputTokens = min(1, usage.OutputTokens)
	x.w.Header().Set("Content-Type", "text/event-stream")
	s, ok := x.openStream()
	if !ok {
		return
	}
	zero := 0
	if !s.event("message_start", anthropicEvent{Type: "message_start", Message: &anthropicMessage{
		ID: id, Type: "message", Role: "assistant", Model: x.model,
		Content: []anthropicContent{}, Usage: start,
	}}) ||
		!s.event("content_block_start", anthropicEvent{Type: "content_block_start", Index: &zero, ContentBlock: &anthropicContent{Type: "text"}}) ||
		!s.event("ping", anthropicEvent{Type: "ping"}) {
		return
	}
	for i := range x.chunks {
		if !s.event("content_block_delta", anthropicEvent{Type: "content_block_delta", Index: &zero,
			Delta: anthropicTextDelta{Type: "text_delta", Text: chunkText(i)}}) {
			return
		}
	}
	final := anthropicEvent{Type: "message_delta", Delta: anthropicMessageDelta{StopReason: endTurn}}
	final.Usage = &struct {
		OutputTokens int `json:"output_tokens"`
	}{usage.OutputTokens}
	if !s.event("content_block_stop", anthropicEvent{Type: "content_block_stop", Index: &zero}) ||
		!s.event("message_delta", final) ||
		!s.event("message_stop", anthropicEvent{Type: "message_stop"}) {
		return
	}
	s.end(nil)
}

func (x *exchange) anthropicCountTokens() {
	x.reply(struct {
		InputTokens int `json:"input_tokens"`
	}{x.usage.Prompt})
}

type anthropicModelObject struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func newAnthropicModel(id string) anthropicModelObject {
	return anthropicModelObject{
		Type: "model", ID: id, DisplayName: id,
		CreatedAt: time.Unix(modelsCreated, 0).UTC().Format(time.RFC3339),
	}
}

func (x *exchange) anthropicModels() {
	list := struct {
		Data    []anthropicModelObject `json:"data"`
		HasMore bool                   `json:"has_more"`
		FirstID string                 `json:"first_id"`
		LastID  string                 `json:"last_id"`
	}{FirstID: anthropicModelIDs[0], LastID: anthropicModelIDs[len(anthropicModelIDs)-1]}
	for _, id := range anthropicModelIDs {
		list.Data = append(list.Data, newAnthropicModel(id))
	}
	x.reply(list)
}

func (x *exchange) anthropicModel() {
	_, rest := splitVersion(x.r.URL.Path)
	x.reply(newAnthropicModel(rest[len(rest)-1]))
}
