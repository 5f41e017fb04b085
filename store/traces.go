package store

import "time"

// Trace is the record of one proxied request. JSON field names are part of
// the CLI contract (`aigw traces -o json`).
//
// CacheWrite5mTokens and CacheWrite1hTokens are the parts of
// CacheCreationTokens written to Anthropic's 5-minute and 1-hour caches,
// priced apart (both 0: not reported; priced as 5-minute writes). They are
// int32 (capped) and sit in the padding after Stream and CostKnown: the proxy
// allocates a trace per request, and this keeps it in its size class.
type Trace struct {
	RequestID    string    `json:"request_id"`
	Time         time.Time `json:"time"`
	KeyID        string    `json:"key_id"`
	KeyName      string    `json:"key_name"`
	KeyPreview   string    `json:"key_preview"`
	Provider     string    `json:"provider"`
	CredentialID string    `json:"credential_id"`
	Strategy     string    `json:"strategy"`
	// Affinity is where a cache_affinity request's conversation key came
	// from (header, metadata.user_id, prompt_cache_key,
	// previous_response_id, prefix), or "none: why"; "pinned" (any
	// strategy) when the request named an OpenAI response id remembered
	// with the credential that created it.
	Affinity            string    `json:"affinity,omitempty"`
	Method              string    `json:"method"`
	Path                string    `json:"path"`
	Model               string    `json:"model"`
	Stream              bool      `json:"stream"`
	CacheWrite5mTokens  int32     `json:"cache_creation_5m_tokens"` // see above
	Status              int       `json:"status"`
	LatencyMS           float64   `json:"latency_ms"`
	TTFBMS              float64   `json:"ttfb_ms"`
	OverheadMS          float64   `json:"overhead_ms"`
	Retries             int       `json:"retries"`
	Attempts            []Attempt `json:"attempts"`
	PromptTokens        int64     `json:"prompt_tokens"`
	CompletionTokens    int64     `json:"completion_tokens"`
	CacheCreationTokens int64     `json:"cache_creation_tokens"`
	CacheReadTokens     int64     `json:"cache_read_tokens"`
	ReasoningTokens     int64     `json:"reasoning_tokens"`
	CostUSD             float64   `json:"cost_usd"`
	CostKnown           bool      `json:"cost_known"`
	CacheWrite1hTokens  int32     `json:"cache_creation_1h_tokens"` // see above
	UsageSource         string    `json:"usage_source"`
	BytesOut            int64     `json:"bytes_out"`
	Error               string    `json:"error"`
}

// Attempt is one try of a request on one credential.
type Attempt struct {
	CredentialID string  `json:"credential_id"`
	Status       int     `json:"status"` // 0: no HTTP answer (connect error, timeout)
	Error        string  `json:"error,omitempty"`
	LatencyMS    float64 `json:"latency_ms"`
}
