package proxytest_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/proxytest"
)

func TestNewServerListensOnLoopback(t *testing.T) {
	s := start(t)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT", s.URL)
	}
	if ip := s.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Errorf("listening on %v", ip)
	}
}

func TestStartRefusesOtherInterfaces(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:80"} {
		s, err := proxytest.Start(addr)
		if err == nil {
			s.Close()
			t.Errorf("Start(%q) listened on %s", addr, s.URL)
			continue
		}
		if !errors.Is(err, proxytest.ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	if _, err := proxytest.Start("no-port"); err == nil || errors.Is(err, proxytest.ErrNotLoopback) {
		t.Errorf("Start without a port = %v, want an address error", err)
	}
}

func TestStartLocalhost(t *testing.T) {
	s, err := proxytest.Start("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL)
	}
	resp := post(t, s.URL+"/v1/chat/completions", `{"model":"m"}`)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// serveOn serves h on a loopback listener of the test's own, as
// `aigw serve --demo` does.
func serveOn(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: testTimeout}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestUpstreamAsHandler(t *testing.T) {
	u := proxytest.NewUpstream()
	t.Cleanup(u.Close)
	url := serveOn(t, u)
	var got chatCompletion
	decode(t, post(t, url+"/v1/chat/completions", `{"model":"demo"}`), http.StatusOK, &got)
	if got.Model != "demo" || u.Count() != 1 {
		t.Errorf("model %q, count %d", got.Model, u.Count())
	}

	// A running server's handler is the same fake: requests through a
	// second listener land in its record.
	s := start(t)
	post(t, serveOn(t, s.Handler())+"/v1/chat/completions", `{"model":"demo"}`)
	if s.Count() != 1 {
		t.Errorf("server count = %d after a request through its handler, want 1", s.Count())
	}
}

func TestUnknownPathIsA404InTheCallersShape(t *testing.T) {
	s := start(t)

	var oa struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	decode(t, post(t, s.URL+"/v1/nothing-here", `{}`), http.StatusNotFound, &oa)
	if oa.Error.Message == "" || oa.Error.Type == "" {
		t.Errorf("OpenAI 404 = %+v", oa)
	}

	var an anthropicErrorBody
	decode(t, post(t, s.URL+"/v1/messages/nope", `{}`, anthropicHeaders...), http.StatusNotFound, &an)
	if an.Type != "error" || an.Error.Type != "not_found_error" {
		t.Errorf("Anthropic 404 = %+v", an)
	}

	var ge geminiErrorBody
	decode(t, post(t, s.URL+"/v1beta/models/g:nope", `{}`, geminiHeaders...), http.StatusNotFound, &ge)
	if ge.Error.Code != 404 || ge.Error.Status != "NOT_FOUND" {
		t.Errorf("Gemini 404 = %+v", ge)
	}

	resp := mustCall(t, http.MethodGet, s.URL+"/v1/chat/completions", "", "Authorization", "Bearer sk-test")
	decode(t, resp, http.StatusMethodNotAllowed, &oa)
	if resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("405 Allow = %q, want POST", resp.Header.Get("Allow"))
	}
}

type openAIErrorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

type geminiErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func TestMissingCredentialIs401InEachShape(t *testing.T) {
	s := start(t)

	var oa openAIErrorBody
	decode(t, post(t, s.URL+"/v1/chat/completions", `{}`, "Content-Type", "application/json"), http.StatusUnauthorized, &oa)
	if oa.Error.Message == "" || oa.Error.Type == "" || oa.Error.Code == nil || *oa.Error.Code != "invalid_api_key" {
		t.Errorf("OpenAI 401 = %+v", oa)
	}

	var an anthropicErrorBody
	decode(t, post(t, s.URL+"/v1/messages", `{}`, "anthropic-version", "2023-06-01"), http.StatusUnauthorized, &an)
	if an.Type != "error" || an.Error.Type != "authentication_error" || an.Error.Message == "" {
		t.Errorf("Anthropic 401 = %+v", an)
	}

	var ge geminiErrorBody
	decode(t, post(t, s.URL+"/v1beta/models/g:generateContent", `{}`, "Content-Type", "application/json"), http.StatusUnauthorized, &ge)
	if ge.Error.Code != 401 || ge.Error.Status != "UNAUTHENTICATED" || ge.Error.Message == "" {
		t.Errorf("Gemini 401 = %+v", ge)
	}

	if s.Count() != 3 || s.CountBy("") != 3 {
		t.Errorf("count %d, without credential %d: rejected requests must be recorded too", s.Count(), s.CountBy(""))
	}
}

func TestCredentialIsFoundWhereEachSDKPutsIt(t *testing.T) {
	s := start(t)
	cases := []struct {
		name, path string
		headers    []string
		want       string
	}{
		{"bearer", "/v1/chat/completions", []string{"Authorization", "Bearer sk-bearer"}, "sk-bearer"},
		{"x-api-key", "/v1/messages", []string{"x-api-key", "sk-ant", "anthropic-version", "2023-06-01"}, "sk-ant"},
		{"x-goog-api-key", "/v1beta/models/g:generateContent", []string{"x-goog-api-key", "AIza-header"}, "AIza-header"},
		{"key query", "/v1beta/models/g:generateContent?key=AIza-query", []string{"Content-Type", "application/json"}, "AIza-query"},
	}
	for _, c := range cases {
		resp := post(t, s.URL+c.path, `{"model":"m"}`, c.headers...)
		readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", c.name, resp.StatusCode)
		}
		rec, _ := s.Last()
		if rec.Credential != c.want {
			t.Errorf("%s: recorded credential %q, want %q", c.name, rec.Credential, c.want)
		}
		if s.CountBy(c.want) != 1 {
			t.Errorf("%s: CountBy = %d, want 1", c.name, s.CountBy(c.want))
		}
	}
}

func TestAcceptOnly(t *testing.T) {
	s := start(t)
	s.AcceptOnly("sk-a", "sk-b")
	for cred, want := range map[string]int{"sk-a": 200, "sk-b": 200, "sk-x": 401} {
		resp := post(t, s.URL+"/v1/chat/completions", `{}`, "Authorization", "Bearer "+cred)
		readBody(t, resp)
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", cred, resp.StatusCode, want)
		}
	}
	s.AcceptOnly()
	if resp := post(t, s.URL+"/v1/chat/completions", `{}`, "Authorization", "Bearer sk-x"); resp.StatusCode != 200 {
		t.Errorf("after AcceptOnly(): status %d, want 200", resp.StatusCode)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	s := start(t)
	before := time.Now()
	body := `{"model":"m","messages":[]}`
	resp := post(t, s.URL+"/team-a/v1/chat/completions?trace=1", body,
		"Authorization", "Bearer sk-rec", "X-Forwarded-For", "203.0.113.9", "User-Agent", "proxytest-test")
	readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("a prefixed path was not served: %d", resp.StatusCode)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d recorded, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/team-a/v1/chat/completions" || r.RawQuery != "trace=1" || string(r.Body) != body {
		t.Errorf("recorded %s %s ? %s body %q", r.Method, r.Path, r.RawQuery, r.Body)
	}
	if r.Credential != "sk-rec" || r.API != "openai" || r.Status != 200 {
		t.Errorf("recorded credential %q, api %q, status %d", r.Credential, r.API, r.Status)
	}
	if r.Header.Get("X-Forwarded-For") != "203.0.113.9" || r.Header.Get("User-Agent") != "proxytest-test" {
		t.Errorf("recorded headers %v", r.Header)
	}
	if !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") || r.Time.Before(before) || r.Host == "" {
		t.Errorf("recorded remote %q, time %v, host %q", r.RemoteAddr, r.Time, r.Host)
	}

	// The copy is the caller's: changing it does not change the record.
	reqs[0].Header.Set("X-Forwarded-For", "changed")
	reqs[0].Body[0] = 'X'
	if again := s.Requests()[0]; again.Header.Get("X-Forwarded-For") != "203.0.113.9" || string(again.Body) != body {
		t.Error("Requests returned the fake's own record, not a copy")
	}

	s.Reset()
	if s.Count() != 0 || s.CountBy("sk-rec") != 0 || len(s.Requests()) != 0 {
		t.Errorf("after Reset: count %d, by credential %d, %d records", s.Count(), s.CountBy("sk-rec"), len(s.Requests()))
	}
	if _, ok := s.Last(); ok {
		t.Error("Last after Reset found a request")
	}
}

func TestRecordLimit(t *testing.T) {
	s := start(t)
	s.SetRecordLimit(2)
	for range 5 {
		readBody(t, post(t, s.URL+"/v1/chat/completions", `{}`))
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Seq != 4 || reqs[1].Seq != 5 {
		t.Errorf("kept %d records (%+v), want the newest 2", len(reqs), reqs)
	}
	if s.Count() != 5 || s.CountBy("sk-test") != 5 {
		t.Errorf("count %d, by credential %d, want 5 and 5", s.Count(), s.CountBy("sk-test"))
	}
	s.SetRecordLimit(0)
	readBody(t, post(t, s.URL+"/v1/chat/completions", `{}`))
	if len(s.Requests()) != 0 || s.Count() != 6 {
		t.Errorf("with limit 0: %d records, count %d", len(s.Requests()), s.Count())
	}
}

func TestInvalidJSONIs400(t *testing.T) {
	s := start(t)
	var got openAIErrorBody
	decode(t, post(t, s.URL+"/v1/chat/completions", `{"model":`), http.StatusBadRequest, &got)
	if got.Error.Type != "invalid_request_error" {
		t.Errorf("error = %+v", got)
	}
}

// Close ends a response the fake is holding instead of waiting for ever.
func TestCloseEndsHeldResponses(t *testing.T) {
	s := proxytest.NewServer()
	h := s.Hold(proxytest.Rule{HoldAfterChunks: 1})
	resp, err := call(t, testCtx(t), newClient(t), http.MethodPost, s.URL+"/v1/chat/completions",
		`{"stream":true}`, "Authorization", "Bearer sk-test")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-h.Reached()

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return while a response was held")
	}
	evs, err := readAllEvents(resp)
	if err == nil {
		t.Errorf("the held stream ended cleanly after Close (%d events); want it cut", len(evs))
	}
	if len(evs) != 1 {
		t.Errorf("%d events before the cut, want the 1 sent before the hold", len(evs))
	}
}
