package proxytest

import "strings"

// Usage is the token usage every response of the fake reports, each API in
// its own fields:
//
//   - OpenAI chat and legacy completions: prompt_tokens = Prompt,
//     completion_tokens = Completion, total_tokens = Prompt+Completion,
//     prompt_tokens_details.cached_tokens = CacheRead,
//     completion_tokens_details.reasoning_tokens = Reasoning.
//   - OpenAI responses: input_tokens = Prompt, output_tokens = Completion,
//     total_tokens = Prompt+Completion, input_tokens_details.cached_tokens =
//     CacheRead, output_tokens_details.reasoning_tokens = Reasoning.
//   - OpenAI embeddings: prompt_tokens = total_tokens = Prompt.
//   - Anthropic: input_tokens = Prompt, output_tokens = Completion,
//     cache_creation_input_tokens = CacheCreation, cache_read_input_tokens =
//     CacheRead, cache_creation.ephemeral_1h_input_tokens = CacheCreation1h,
//     cache_creation.ephemeral_5m_input_tokens = CacheCreation-CacheCreation1h;
//     count_tokens answers input_tokens = Prompt.
//   - Gemini: promptTokenCount = Prompt, candidatesTokenCount = Completion,
//     cachedContentTokenCount = CacheRead, thoughtsTokenCount = Reasoning,
//     totalTokenCount = Prompt+Completion+Reasoning; countTokens answers
//     totalTokens = Prompt.
//
// As in the real APIs, OpenAI's and Gemini's prompt counts include the cached
// tokens and OpenAI's completion counts include the reasoning tokens, while
// Anthropic's input_tokens excludes both cache counts and Gemini's
// candidatesTokenCount excludes the thoughts. OpenAI and Gemini have no
// cache-creation figure.
//
// With [Upstream.SimulatePromptCache] on, Prompt, CacheCreation and CacheRead
// of prompt-carrying answers are computed from the request instead.
type Usage struct {
	Prompt        int
	Completion    int
	CacheCreation int
	// CacheCreation1h is the part of CacheCreation written to Anthropic's
	// 1-hour cache; the rest went to the 5-minute cache.
	CacheCreation1h int
	CacheRead       int
	Reasoning       int
}

// DefaultUsage is the usage a new fake reports. The numbers are distinct
// primes so that a test can tell any sum or mix-up of them apart.
var DefaultUsage = Usage{Prompt: 37, Completion: 23, CacheCreation: 11, CacheCreation1h: 5, CacheRead: 13, Reasoning: 7}

// DefaultChunks is the number of content chunks a new fake streams.
const DefaultChunks = 5

// words are the content chunks, in order; chunk i is words[i%len(words)].
var words = []string{"Hello", " from", " the", " fake", " upstream", "."}

// chunkText is the text of content chunk i.
func chunkText(i int) string {
	return words[i%len(words)]
}

// Text is the whole text of a response with the given number of content
// chunks: what a client gets by joining the deltas of a stream, and the
// content of every non-streamed answer.
func Text(chunks int) string {
	var b strings.Builder
	for i := range chunks {
		b.WriteString(chunkText(i))
	}
	return b.String()
}
