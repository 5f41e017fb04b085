package usage

// Source tells where the figures of a Usage come from.
type Source uint8

const (
	SourceNone     Source = iota // nothing read: no usage in the response, or it could not be parsed
	SourceResponse               // read from the response body or stream
)

// String returns "none" or "response", the values of a trace's usage_source.
func (s Source) String() string {
	if s == SourceResponse {
		return "response"
	}
	return "none"
}

// Usage is the token usage of one request, normalised across providers so that it can be
// priced the same way whatever the API.
type Usage struct {
	Model               string // as reported by the response ("" when it carries none)
	PromptTokens        int64  // all input tokens incl. cache reads and writes (Anthropic: input+cache_creation+cache_read)
	CompletionTokens    int64  // all output tokens incl. reasoning / thoughts (Gemini: candidates+thoughts)
	CacheCreationTokens int64  // prompt tokens written to the cache (Anthropic)
	// The part of CacheCreationTokens written to Anthropic's 5-minute and 1-hour caches
	// (usage.cache_creation); when both are 0 the split is unknown and all of it is priced
	// as 5-minute writes, the default lifetime.
	CacheWrite5mTokens int64
	CacheWrite1hTokens int64
	CacheReadTokens    int64  // prompt tokens read from the cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens, Gemini cachedContentTokenCount)
	ReasoningTokens    int64  // informational: the part of CompletionTokens spent on reasoning
	Source             Source // SourceNone when no usage figures were read
}

// TotalTokens is PromptTokens + CompletionTokens, what token limits are charged with.
func (u Usage) TotalTokens() int64 { return u.PromptTokens + u.CompletionTokens }
