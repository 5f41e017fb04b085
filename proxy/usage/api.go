package usage

import "bytes"

// API names the upstream API a response belongs to; it decides where usage is read from.
type API uint8

const (
	APIUnknown           API = iota
	OpenAIChat               // POST .../chat/completions
	OpenAICompletions        // POST .../completions (legacy)
	OpenAIEmbeddings         // POST .../embeddings
	OpenAIResponses          // POST .../responses
	AnthropicMessages        // POST .../v1/messages
	AnthropicCountTokens     // POST .../v1/messages/count_tokens (no usage, not billed)
	GeminiGenerate           // ...:generateContent and ...:streamGenerateContent
	GeminiCountTokens        // ...:countTokens (not billed)
	GeminiEmbed              // ...:embedContent / :batchEmbedContents
)

var apiNames = [...]string{
	APIUnknown:           "unknown",
	OpenAIChat:           "openai_chat",
	OpenAICompletions:    "openai_completions",
	OpenAIEmbeddings:     "openai_embeddings",
	OpenAIResponses:      "openai_responses",
	AnthropicMessages:    "anthropic_messages",
	AnthropicCountTokens: "anthropic_count_tokens",
	GeminiGenerate:       "gemini_generate",
	GeminiCountTokens:    "gemini_count_tokens",
	GeminiEmbed:          "gemini_embed",
}

// String returns a stable snake_case name, suitable for traces and JSON.
func (a API) String() string {
	if int(a) < len(apiNames) {
		return apiNames[a]
	}
	return "unknown"
}

// Billed reports whether the provider charges tokens for this API. Token counting endpoints
// are free and report no usage, so a trace without usage is expected for them; unknown paths
// (model lists, files, …) are not metered by the gateway either.
func (a API) Billed() bool {
	switch a {
	case APIUnknown, AnthropicCountTokens, GeminiCountTokens:
		return false
	}
	return int(a) < len(apiNames)
}

// Detect maps a provider type ("openai", "openai-compatible", "anthropic", "gemini") and the
// upstream path (without the query string) to an API. Paths are matched by their ending, since
// openai-compatible base URLs often already carry /v1 or another prefix. Anthropic and Gemini
// also serve OpenAI-compatible endpoints (…/chat/completions, Gemini's /v1beta/openai/…);
// those are recognised as the OpenAI shapes they return.
func Detect(providerType string, path []byte) API {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	switch providerType {
	case "openai", "openai-compatible":
		return detectOpenAI(path)
	case "anthropic":
		switch {
		case hasSegmentSuffix(path, "messages/count_tokens"):
			return AnthropicCountTokens
		case hasSegmentSuffix(path, "messages"):
			return AnthropicMessages
		}
		return detectOpenAI(path)
	case "gemini":
		if a := detectGemini(path); a != APIUnknown {
			return a
		}
		return detectOpenAI(path)
	}
	return APIUnknown
}

func detectOpenAI(path []byte) API {
	switch {
	case hasSegmentSuffix(path, "chat/completions"):
		return OpenAIChat
	case hasSegmentSuffix(path, "completions"):
		return OpenAICompletions
	case hasSegmentSuffix(path, "embeddings"):
		return OpenAIEmbeddings
	case hasSegmentSuffix(path, "responses"):
		return OpenAIResponses
	}
	return APIUnknown
}

// detectGemini looks at the custom method of the last path segment: models/{model}:{method}.
func detectGemini(path []byte) API {
	last := path[bytes.LastIndexByte(path, '/')+1:]
	i := bytes.LastIndexByte(last, ':')
	if i < 0 {
		return APIUnknown
	}
	switch string(last[i+1:]) {
	case "generateContent", "streamGenerateContent":
		return GeminiGenerate
	case "countTokens":
		return GeminiCountTokens
	case "embedContent", "batchEmbedContents":
		return GeminiEmbed
	}
	return APIUnknown
}

// hasSegmentSuffix reports whether path ends with suffix starting at a segment boundary, so
// that ".../chat/completions" matches "chat/completions" but ".../xchat/completions" does not.
func hasSegmentSuffix(path []byte, suffix string) bool {
	if len(path) < len(suffix) || string(path[len(path)-len(suffix):]) != suffix {
		return false
	}
	return len(path) == len(suffix) || path[len(path)-len(suffix)-1] == '/'
}

// Format is the framing of a response body.
type Format uint8

const (
	FormatJSON      Format = iota // one JSON document (or several, one after the other)
	FormatSSE                     // text/event-stream; each event's data is a JSON document
	FormatJSONArray               // a JSON array of documents (Gemini streaming without alt=sse)
)

// String returns "json", "sse" or "json_array".
func (f Format) String() string {
	switch f {
	case FormatSSE:
		return "sse"
	case FormatJSONArray:
		return "json_array"
	}
	return "json"
}

// FormatOf picks the format from the response Content-Type and the API: text/event-stream is
// SSE; Gemini generation with a JSON content type is FormatJSONArray, since
// :streamGenerateContent without alt=sse streams an array (the array scanner also accepts the
// single object that :generateContent returns, because the API alone does not tell the two
// apart); anything else is JSON.
func FormatOf(contentType []byte, api API) Format {
	mt := contentType
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = bytes.TrimSpace(mt)
	if bytes.EqualFold(mt, []byte("text/event-stream")) {
		return FormatSSE
	}
	if api == GeminiGenerate {
		return FormatJSONArray
	}
	return FormatJSON
}
