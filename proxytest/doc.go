// Package proxytest is a fake AI provider: a real HTTP server on a loopback
// port that answers like the OpenAI, Anthropic and Gemini APIs, records every
// request it receives, and fails on command. It is what aigw's end-to-end
// tests, its benchmarks and `aigw serve --demo` forward to, in the way
// net/http/httptest is used for ordinary handlers.
//
// # Starting it
//
//	s := proxytest.NewServer() // listening on 127.0.0.1:<ephemeral>
//	defer s.Close()
//	// point a provider's base URL at s.URL, e.g. "http://127.0.0.1:41234"
//
// [Start] listens on a given address and refuses any address that is not a
// loopback one. [NewUpstream] returns the same fake as a plain [http.Handler]
// for a caller that runs its own loopback listener; [Server.Handler] returns
// the handler of a running server.
//
// # Endpoints
//
// Paths are the providers' own. The gateway forwards {base_url}/{rest}, so a
// base URL may carry a prefix: routing starts at the first path segment
// "v1", "v1beta" or "v1alpha".
//
//	OpenAI     POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses,
//	                /v1/responses/{id}/cancel
//	           GET  /v1/models, /v1/models/{id}, /v1/responses/{id}, /v1/responses/{id}/input_items
//	           DELETE /v1/responses/{id}
//	Anthropic  POST /v1/messages, /v1/messages/count_tokens
//	           GET  /v1/models (when the request carries anthropic-version)
//	Gemini     POST /v1beta/models/{model}:generateContent, :streamGenerateContent
//	                (?alt=sse for Server-Sent Events, else a streamed JSON array),
//	                :countTokens, :embedContent, :batchEmbedContents
//	           GET  /v1beta/models, /v1beta/models/{model}
//	           (the same methods are served under /v1/models/{model}:{method})
//
// Streams are written one event at a time and flushed after each. Every
// response reports the token usage set with [Upstream.SetUsage]
// ([DefaultUsage] until then) in each API's own field names; see [Usage] for
// the mapping. Streams carry [Upstream.SetChunks] content chunks
// ([DefaultChunks] until then) whose text, joined, is [Text].
//
// Responses get unique ids ("resp_proxytest000001", …) and are kept (the
// newest 10,000) under the credential that created them, as OpenAI keeps
// them under an account: previous_response_id naming one created with
// another credential gets 400 previous_response_not_found, and the
// /v1/responses/{id} endpoints answer 404 to any other credential. See
// [Upstream.ResponseOwner].
//
// # Prompt cache
//
// [Upstream.SimulatePromptCache] makes the fake keep a prompt cache per
// credential, as the providers keep one per account: the usage of each
// Anthropic messages, OpenAI chat and responses and Gemini generate answer
// then reports the tokens of the longest prompt prefix the same credential
// sent before as cache reads, so that a test can measure how well a gateway
// keeps each conversation on one credential.
//
// # Authentication and recording
//
// A request is authenticated when it carries a credential in
// "Authorization: Bearer X", "x-api-key: X", "x-goog-api-key: X" or the "key"
// query parameter (looked for in that order). Without one, or with one that
// [Upstream.AcceptOnly] does not list, the answer is 401 in the provider's
// error shape. Anthropic endpoints also answer 400 when "anthropic-version"
// is missing, so a test can prove that the gateway adds it.
//
// Every request, answered or not, is recorded: see [Recorded],
// [Upstream.Requests], [Upstream.Count], [Upstream.CountBy] and
// [Upstream.Reset].
//
// # Programmed failures
//
// [Upstream.Program] installs [Rule]s. For each authenticated request the
// first rule that matches its credential and path and still has uses left
// decides how the request fails or is slowed down:
//
//	s.Program(proxytest.Rule{Credential: "sk-bad", Status: 401})          // always
//	s.Program(proxytest.Rule{Status: 503, Times: 2})                      // next 2 requests, any credential
//	s.Program(proxytest.Rule{Status: 429, RetryAfter: "2"})
//	s.Program(proxytest.Rule{Credential: "sk-a", ResetAfterChunks: 3})   // TCP reset after 3 events
//	s.Program(proxytest.Rule{HeaderDelay: 2 * time.Second})               // first-byte timeout
//	h := s.Hold(proxytest.Rule{HoldAfterChunks: 1})                       // 1 event, then wait
//	<-h.Reached(); ...; h.Release()
//	s.ClearRules()
//
// [Upstream.Cancelled] counts requests whose client went away while the fake
// was still answering (noticed at its next wait or write);
// [Upstream.WaitCancelled] waits for that count, so a test can prove that the
// gateway cancels its upstream request when its own client disconnects.
//
// All methods are safe for concurrent use. The fake never listens on
// anything but a loopback address.
package proxytest
