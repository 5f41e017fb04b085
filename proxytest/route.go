package proxytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// api is the provider whose shape an answer takes.
type api int

const (
	apiOpenAI api = iota
	apiAnthropic
	apiGemini
)

func (a api) String() string {
	switch a {
	case apiAnthropic:
		return "anthropic"
	case apiGemini:
		return "gemini"
	default:
		return "openai"
	}
}

// endpoint is one route of the fake.
type endpoint struct {
	method    string
	handle    func(*exchange)
	model     func(*exchange) string     // the model answered for
	streaming func(*exchange) streamKind // how the request is to be streamed
}

func notStreaming(*exchange) streamKind { return notStreamed }

// route finds the endpoint for a request, the API whose shape the answer
// takes, and whether the method is the endpoint's. Routing starts at the
// first path segment "v1", "v1beta" or "v1alpha", so a base URL may carry a
// prefix. An unknown path gives a nil endpoint; its API is then guessed from
// the path and the headers, so that even a 404 has the caller's shape.
func route(r *http.Request) (*endpoint, api, bool) {
	version, rest := splitVersion(r.URL.Path)
	ep, a := lookup(version, rest, r.Header.Get("Anthropic-Version") != "")
	if ep == nil && version == "v1" {
		ep = responsesEndpoint(rest, r.Method)
	}
	if ep == nil {
		return nil, guessAPI(version, r), false
	}
	return ep, a, r.Method == ep.method
}

func splitVersion(path string) (version string, rest []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		if s == "v1" || s == "v1beta" || s == "v1alpha" {
			return s, segs[i+1:]
		}
	}
	return "", nil
}

func lookup(version string, rest []string, anthropicVersion bool) (*endpoint, api) {
	p := strings.Join(rest, "/")
	if version == "v1" {
		switch p {
		case "chat/completions":
			return &openAIChat, apiOpenAI
		case "completions":
			return &openAICompletions, apiOpenAI
		case "embeddings":
			return &openAIEmbeddings, apiOpenAI
		case "responses":
			return &openAIResponses, apiOpenAI
		case "messages":
			return &anthropicMessages, apiAnthropic
		case "messages/count_tokens":
			return &anthropicCountTokens, apiAnthropic
		case "models":
			if anthropicVersion {
				return &anthropicModels, apiAnthropic
			}
			return &openAIModels, apiOpenAI
		}
		if len(rest) == 2 && rest[0] == "models" && !strings.Contains(rest[1], ":") {
			if anthropicVersion {
				return &anthropicModel, apiAnthropic
			}
			return &openAIModel, apiOpenAI
		}
	}
	if version == "v1beta" || version == "v1alpha" {
		switch {
		case p == "models":
			return &geminiModels, apiGemini
		case len(rest) == 2 && rest[0] == "models" && !strings.Contains(rest[1], ":"):
			return &geminiModel, apiGemini
		}
	}
	if version != "" && len(rest) == 2 && rest[0] == "models" {
		if _, method, ok := strings.Cut(rest[1], ":"); ok {
			if ep := geminiMethods[method]; ep != nil {
				return ep, apiGemini
			}
		}
	}
	return nil, apiOpenAI
}

func guessAPI(version string, r *http.Request) api {
	switch {
	case version == "v1beta" || version == "v1alpha" || strings.Contains(r.URL.Path, ":"):
		return apiGemini
	case strings.Contains(r.URL.Path, "/messages") || r.Header.Get("Anthropic-Version") != "":
		return apiAnthropic
	case r.Header.Get("X-Goog-Api-Key") != "" || r.URL.Query().Has("key"):
		return apiGemini
	default:
		return apiOpenAI
	}
}

// request is what the fake reads of a request body; everything else in the
// body is ignored.
type request struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Input              json.RawMessage   `json:"input"`                // OpenAI embeddings and responses
	PreviousResponseID string            `json:"previous_response_id"` // OpenAI responses
	EncodingFormat     string            `json:"encoding_format"`      // OpenAI embeddings
	Dimensions         int               `json:"dimensions"`           // OpenAI embeddings
	Requests           []json.RawMessage `json:"requests"`             // Gemini batchEmbedContents
}

func (q *request) decode(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	return json.Unmarshal(body, q)
}

func (q *request) includeUsage() bool {
	return q.StreamOptions != nil && q.StreamOptions.IncludeUsage
}

// modelOr is the request's model, or def when it names none.
func (q *request) modelOr(def string) string {
	if q.Model != "" {
		return q.Model
	}
	return def
}

// errorBody is an error in the shape of the given API.
func errorBody(a api, status int, msg string) any {
	switch a {
	case apiAnthropic:
		return anthropicError(status, msg)
	case apiGemini:
		return geminiError(status, msg)
	default:
		return openAIError(status, msg)
	}
}

func missingCredentialMessage(a api) string {
	switch a {
	case apiAnthropic:
		return "x-api-key header is required"
	case apiGemini:
		return "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
	default:
		return "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
	}
}

func invalidCredentialMessage(a api) string {
	switch a {
	case apiAnthropic:
		return "invalid x-api-key"
	case apiGemini:
		return "API key not valid. Please pass a valid API key."
	default:
		return "Incorrect API key provided."
	}
}
