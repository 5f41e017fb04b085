package proxytest

import (
	"strings"
	"sync"
	"time"
)

// Rule programs how the fake misbehaves for the requests it matches. A rule
// applies only to authenticated requests that passed the endpoint's own
// checks; rules are tried in the order they were programmed and the first
// that matches and has uses left decides.
//
// Its effects apply in this order: Interim; Headers; HeaderDelay; then Reset, or else Status,
// or else Garbage, or else the normal answer. ChunkDelay, HoldAfterChunks
// and ResetAfterChunks pace and cut Garbage and normal answers.
//
// Chunks counted by ChunkDelay, HoldAfterChunks and ResetAfterChunks are the
// units a client reads one at a time: each Server-Sent Event of a stream
// (Anthropic's message_start and ping and OpenAI's "data: [DONE]" included),
// each element of Gemini's streamed JSON array. A non-streamed answer is one
// chunk.
type Rule struct {
	// Credential selects requests carrying this credential; "" selects all.
	Credential string
	// Path selects requests whose path contains it, e.g. "/v1/messages" or
	// ":streamGenerateContent"; "" selects all.
	Path string
	// Times is how many requests the rule applies to; 0 means every
	// matching request, for ever.
	Times int

	// Status, when not 0, answers with this status and an error body in the
	// provider's shape (or Body, if set).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header with Status.
	RetryAfter string
	// Message replaces the default message of the error body.
	Message string
	// Body replaces the whole error body sent with Status.
	Body string

	// Headers are added to the final answer, whatever it is (the normal
	// one, Status, Garbage), e.g. a provider's rate-limit headers:
	//
	//	Headers: map[string]string{
	//		"anthropic-ratelimit-requests-remaining": "0",
	//		"anthropic-ratelimit-requests-reset":     time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano),
	//	}
	Headers map[string]string

	// Interim lists informational responses (e.g. 100, 103) sent, in order,
	// before the final answer: a gateway must read past them.
	Interim []int

	// HeaderDelay is slept before the final answer, to trip a gateway's
	// first-byte timeout.
	HeaderDelay time.Duration
	// ChunkDelay is slept before every chunk but the first, to trip an idle
	// timeout or to observe chunk timing.
	ChunkDelay time.Duration

	// Reset closes the connection with a TCP reset before anything is sent.
	Reset bool
	// ResetAfterChunks, when above 0, resets the connection after that many
	// chunks were sent (or at the end, if the answer is shorter). A
	// non-streamed answer is cut in the middle of its body.
	ResetAfterChunks int

	// Garbage answers 200 with a body that is not what the client expects:
	// text that is not JSON, or for a stream, malformed Server-Sent Events
	// (or a broken JSON array) that end without their terminator.
	Garbage bool

	// Hold, when set, blocks the answer after HoldAfterChunks chunks until
	// the hold is released (the status line and headers are sent first, so
	// with 0 the client has its response but no body yet). Every request the
	// rule matches waits on the same hold. See [Upstream.Hold].
	Hold            *Hold
	HoldAfterChunks int
}

// programmed is a rule with its remaining uses.
type programmed struct {
	rule Rule
	left int // uses left when rule.Times > 0
}

// Program appends rules after those already programmed.
func (u *Upstream) Program(rules ...Rule) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range rules {
		u.rules = append(u.rules, &programmed{rule: r, left: r.Times})
	}
}

// ClearRules removes every rule. Requests already waiting on a hold keep
// waiting until it is released or the fake is closed.
func (u *Upstream) ClearRules() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rules = nil
}

// Hold programs r with a new [Hold] (unless r.Hold is already set) and
// returns the hold, so that a test can wait for the answer to block and then
// release it:
//
//	h := s.Hold(proxytest.Rule{Credential: "sk-a", HoldAfterChunks: 1})
//	// ... start the request, read the first event ...
//	<-h.Reached()
//	h.Release()
func (u *Upstream) Hold(r Rule) *Hold {
	if r.Hold == nil {
		r.Hold = NewHold()
	}
	u.Program(r)
	return r.Hold
}

// match returns the effects of the first rule that applies to a request with
// this credential and path, using one of its uses; the zero Rule if none.
func (u *Upstream) match(credential, path string) Rule {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.rules {
		if p.rule.Credential != "" && p.rule.Credential != credential {
			continue
		}
		if p.rule.Path != "" && !strings.Contains(path, p.rule.Path) {
			continue
		}
		if p.rule.Times > 0 {
			if p.left == 0 {
				continue
			}
			p.left--
		}
		return p.rule
	}
	return Rule{}
}

// Hold is a gate that held answers wait on; see [Rule.Hold].
type Hold struct {
	reachedOnce  sync.Once
	releasedOnce sync.Once
	reached      chan struct{}
	released     chan struct{}
}

// NewHold returns a hold that blocks answers until it is released.
func NewHold() *Hold {
	return &Hold{reached: make(chan struct{}), released: make(chan struct{})}
}

// Reached is closed once an answer has blocked on the hold, after sending
// its HoldAfterChunks chunks.
func (h *Hold) Reached() <-chan struct{} { return h.reached }

// Release lets every answer waiting on the hold, and every later one, go on.
// It may be called more than once.
func (h *Hold) Release() {
	h.releasedOnce.Do(func() { close(h.released) })
}

func (h *Hold) reach() {
	h.reachedOnce.Do(func() { close(h.reached) })
}
