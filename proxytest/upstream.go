package proxytest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBodyBytes bounds what the fake reads of a request body; a larger body is
// answered 413.
const maxBodyBytes = 64 << 20

// DefaultRecordLimit is how many requests a new fake keeps for
// [Upstream.Requests]; older ones are dropped, counters keep counting.
const DefaultRecordLimit = 10000

// Upstream is the fake provider itself: an [http.Handler] together with its
// settings, rules and record of requests. [NewServer] and [Start] serve one on
// a loopback listener; [NewUpstream] returns one to serve yourself. The zero
// value is not usable.
type Upstream struct {
	mu          sync.Mutex
	usage       Usage
	chunks      int
	accept      map[string]bool // nil: any credential is accepted
	rules       []*programmed
	records     []Recorded
	recordLimit int
	seq         int            // sequence number of the last request, never reset
	count       int            // requests since start or Reset
	byCred      map[string]int // requests per credential, never trimmed
	closed      bool
	cancelled   int           // requests whose client left, since start or Reset
	cancelledCh chan struct{} // closed and replaced whenever cancelled grows

	stored      map[string]storedResponse // Responses API: by id (responses.go)
	storedOrder []string                  // their ids, oldest first

	ids      atomic.Uint64
	prompts  atomic.Pointer[promptCache] // nil unless SimulatePromptCache(true)
	active   sync.WaitGroup
	done     chan struct{} // closed by stop
	stopOnce sync.Once
}

// NewUpstream returns a fake provider to serve on a listener of the caller's
// own, which must be a loopback one. It reports [DefaultUsage] in streams of
// [DefaultChunks] chunks, accepts any credential and has no rules. Call
// [Upstream.Close] before shutting the caller's server down, so that held and
// delayed responses end.
func NewUpstream() *Upstream {
	return &Upstream{
		usage:       DefaultUsage,
		chunks:      DefaultChunks,
		recordLimit: DefaultRecordLimit,
		byCred:      make(map[string]int),
		cancelledCh: make(chan struct{}),
		done:        make(chan struct{}),
	}
}

// SetUsage sets the usage every later response reports.
func (u *Upstream) SetUsage(usage Usage) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.usage = usage
}

// Usage is the usage responses currently report.
func (u *Upstream) Usage() Usage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.usage
}

// SetChunks sets how many content chunks later streams carry (at least 1).
func (u *Upstream) SetChunks(n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.chunks = max(n, 1)
}

// Chunks is the number of content chunks streams currently carry.
func (u *Upstream) Chunks() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.chunks
}

// AcceptOnly makes the fake answer 401 to any credential but these. Called
// with none, it accepts every credential again.
func (u *Upstream) AcceptOnly(credentials ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(credentials) == 0 {
		u.accept = nil
		return
	}
	u.accept = make(map[string]bool, len(credentials))
	for _, c := range credentials {
		u.accept[c] = true
	}
}

// Close ends every held, delayed or streaming response and waits for the
// handlers to return; later requests are answered 503. It does not close any
// listener: [Server.Close] does that as well.
func (u *Upstream) Close() {
	u.stop()
	u.active.Wait()
}

// stop marks the fake closed and wakes every waiting handler.
func (u *Upstream) stop() {
	u.stopOnce.Do(func() {
		u.mu.Lock()
		u.closed = true
		u.mu.Unlock()
		close(u.done)
	})
}

// enter counts a handler in, unless the fake is closed.
func (u *Upstream) enter() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.active.Add(1) // under mu, so never concurrent with the Wait in Close
	return true
}

func (u *Upstream) settings() (Usage, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.usage, u.chunks
}

func (u *Upstream) accepts(credential string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.accept == nil || u.accept[credential]
}

// newID returns a unique, readable id with the given prefix.
func (u *Upstream) newID(prefix string) string {
	return fmt.Sprintf("%sproxytest%06d", prefix, u.ids.Add(1))
}

// ServeHTTP answers one request: route it, record it, authenticate it,
// validate it, apply the first matching rule, then answer as the provider
// would.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !u.enter() {
		http.Error(w, "proxytest: upstream closed", http.StatusServiceUnavailable)
		return
	}
	defer u.active.Done()

	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	x := &exchange{
		u:    u,
		w:    w,
		rc:   http.NewResponseController(w),
		r:    r,
		body: body,
		cred: credentialOf(r),
	}
	x.ep, x.api, x.methodOK = route(r)
	x.requestID = u.newID("req_")
	switch x.api {
	case apiOpenAI:
		w.Header().Set("X-Request-Id", x.requestID)
	case apiAnthropic:
		w.Header().Set("Request-Id", x.requestID)
	}
	seq := u.record(r, body, x.cred, x.api)
	switch {
	case readErr != nil:
		x.fail(http.StatusBadRequest, "could not read the request body: "+readErr.Error())
	case len(body) > maxBodyBytes:
		x.fail(http.StatusRequestEntityTooLarge, "request body too large")
	default:
		x.serve()
	}
	if !x.complete && !x.reset {
		// Stopped early (the client left, or the fake is closing): cut the
		// connection so that no client mistakes what was sent for a whole
		// answer, as net/http would if the handler just returned.
		x.abort()
	}
	u.finish(seq, x.status, x.gone)
}

// credentialOf extracts the credential the way the providers' SDKs send it.
func credentialOf(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > len("Bearer ") && strings.EqualFold(a[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(a[len("Bearer "):])
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	if k := r.Header.Get("X-Goog-Api-Key"); k != "" {
		return k
	}
	return r.URL.Query().Get("key")
}

// exchange is one request being answered.
type exchange struct {
	u         *Upstream
	w         http.ResponseWriter
	rc        *http.ResponseController
	r         *http.Request
	body      []byte
	cred      string
	requestID string
	ep        *endpoint
	api       api
	methodOK  bool
	req       request // the decoded body of a POST
	model     string  // the model answered for
	plan      Rule    // the effects of the matched rule, if any
	usage     Usage
	chunks    int

	status   int  // status sent, 0 until headers are written
	complete bool // the whole answer was written
	gone     bool // the client went away before the answer was complete
	reset    bool // the fake reset the connection itself
}

func (x *exchange) serve() {
	switch {
	case x.ep == nil:
		x.fail(http.StatusNotFound, fmt.Sprintf("Unknown request URL: %s %s", x.r.Method, x.r.URL.Path))
		return
	case !x.methodOK:
		x.w.Header().Set("Allow", x.ep.method)
		x.fail(http.StatusMethodNotAllowed, fmt.Sprintf("Method %s is not allowed for %s", x.r.Method, x.r.URL.Path))
		return
	case x.cred == "":
		x.fail(http.StatusUnauthorized, missingCredentialMessage(x.api))
		return
	case !x.u.accepts(x.cred):
		x.fail(http.StatusUnauthorized, invalidCredentialMessage(x.api))
		return
	}
	if msg := x.validate(); msg != "" {
		x.fail(http.StatusBadRequest, msg)
		return
	}
	x.plan = x.u.match(x.cred, x.r.URL.Path)
	x.usage, x.chunks = x.u.settings()

	for _, code := range x.plan.Interim {
		if code == http.StatusEarlyHints {
			x.w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		}
		x.w.WriteHeader(code)
		x.w.Header().Del("Link")
	}
	for k, v := range x.plan.Headers {
		x.w.Header().Set(k, v)
	}
	if d := x.plan.HeaderDelay; d > 0 && !x.sleep(d) {
		return
	}
	switch {
	case x.plan.Reset:
		x.resetConn()
	case x.plan.Status != 0:
		x.programmedError()
	case x.plan.Garbage:
		x.garbage()
	default:
		x.simulatePromptCache()
		x.ep.handle(x)
	}
}

// validate decodes the body of a POST and checks what the provider checks
// before answering; it returns the message of a 400, or "".
func (x *exchange) validate() string {
	if x.api == apiAnthropic && x.r.Header.Get("Anthropic-Version") == "" {
		return "anthropic-version: header is required"
	}
	if x.r.Method == http.MethodPost && !(x.ep == &openAIResponseCancel && len(x.body) == 0) {
		if err := x.req.decode(x.body); err != nil {
			return "We could not parse the JSON body of your request: " + err.Error()
		}
	}
	x.model = x.ep.model(x)
	return ""
}

// programmedError answers with the status of the matched rule.
func (x *exchange) programmedError() {
	if x.plan.RetryAfter != "" {
		x.w.Header().Set("Retry-After", x.plan.RetryAfter)
	}
	if x.plan.Body != "" {
		x.writeRaw(x.plan.Status, x.plan.Body)
		return
	}
	msg := x.plan.Message
	if msg == "" {
		msg = fmt.Sprintf("proxytest: programmed %d %s", x.plan.Status, http.StatusText(x.plan.Status))
	}
	x.fail(x.plan.Status, msg)
}

// fail answers with an error in the shape of the request's API.
func (x *exchange) fail(status int, msg string) {
	body := errorBody(x.api, status, msg)
	if b, ok := body.(anthropicErrorBody); ok {
		b.RequestID = x.requestID
		body = b
	}
	x.writeJSONStatus(status, body)
}

// sleep waits for d; it returns false if the client went away (marking the
// exchange gone) or the fake was closed first.
func (x *exchange) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
		x.gone = true
		return false
	case <-x.u.done:
		return false
	}
}

// wait blocks on a hold until it is released; it returns false if the client
// went away (marking the exchange gone) or the fake was closed first.
func (x *exchange) wait(h *Hold) bool {
	h.reach()
	select {
	case <-h.released:
		return true
	case <-x.r.Context().Done():
		x.gone = true
		return false
	case <-x.u.done:
		return false
	}
}
