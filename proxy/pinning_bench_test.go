package proxy_test

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aigw/aigw/proxy"
	"github.com/aigw/aigw/store"
	"github.com/valyala/fasthttp"
)

// A minimal Responses API upstream for benchmarks: every answer carries a
// new response id, as OpenAI's do, JSON or a short SSE stream.
var (
	benchRespHead   = []byte(`{"id":"resp_`)
	benchRespTail   = []byte(`","object":"response","created_at":1741476777,"status":"completed","model":"gpt-4.1","output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Sure! An API gateway sits between clients and model providers.","annotations":[]}]}],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}`)
	benchRespDelta  = []byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"word \"}\n\n")
	benchResponses  = []byte(`{"model":"gpt-4.1","input":"Give me a concise overview of what an API gateway does."}`)
	benchRespStream = []byte(`{"model":"gpt-4.1","stream":true,"input":"Give me a concise overview of what an API gateway does."}`)
)

func startBenchResponsesUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Uint64
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		id := strconv.AppendUint(make([]byte, 0, 24), seq.Add(1), 16)
		if bytes.Contains(ctx.Request.Body(), []byte(`"stream":true`)) {
			ctx.SetContentType("text/event-stream")
			ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
				_, _ = w.WriteString(`event: response.created` + "\n" + `data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_`)
				_, _ = w.Write(id)
				_, _ = w.WriteString(`","object":"response","status":"in_progress","model":"gpt-4.1","output":[],"usage":null}}` + "\n\n")
				_ = w.Flush()
				for range 20 {
					_, _ = w.Write(benchRespDelta)
					_ = w.Flush()
				}
				_, _ = w.WriteString("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":")
				_, _ = w.Write(benchRespHead)
				_, _ = w.Write(id)
				_, _ = w.Write(benchRespTail)
				_, _ = w.WriteString("}\n\n")
				_ = w.Flush()
			})
			return
		}
		ctx.SetContentType("application/json")
		ctx.Response.AppendBody(benchRespHead)
		ctx.Response.AppendBody(id)
		ctx.Response.AppendBody(benchRespTail)
	}}
	go func() { _ = s.Serve(ln) }()
	b.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkProxyResponses measures OpenAI Responses requests through aigw:
// new responses (their ids remembered: JSON, and read from a stream's
// first event), follow-ups naming a remembered id (pinned), and the same
// new responses with pinning off.
func BenchmarkProxyResponses(b *testing.B) {
	up := startBenchResponsesUpstream(b)
	on, keyOn := benchResponsesGateway(b, up, 0)
	off, keyOff := benchResponsesGateway(b, up, -1)

	// A response to follow up on, created through the gateway.
	c := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + on + "/bench/v1/responses")
	req.Header.SetMethod("POST")
	req.Header.Set("Authorization", "Bearer "+keyOn)
	req.SetBody(benchResponses)
	if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
		b.Fatalf("create: %v %d", err, resp.StatusCode())
	}
	id := resp.Body()[len(`{"id":"`) : bytes.IndexByte(resp.Body()[len(`{"id":"`):], '"')+len(`{"id":"`)]
	followUp := []byte(`{"model":"gpt-4.1","previous_response_id":"` + string(id) + `","input":"And what does it cost?"}`)

	b.Run("direct/responses", func(b *testing.B) { benchLoad(b, up, "/v1/responses", "sk-bench", benchResponses) })
	b.Run("aigw/responses", func(b *testing.B) { benchLoad(b, on, "/bench/v1/responses", keyOn, benchResponses) })
	b.Run("aigw/responses_followup", func(b *testing.B) { benchLoad(b, on, "/bench/v1/responses", keyOn, followUp) })
	b.Run("aigw_no_pins/responses", func(b *testing.B) { benchLoad(b, off, "/bench/v1/responses", keyOff, benchResponses) })
	b.Run("direct/responses_stream", func(b *testing.B) { benchLoad(b, up, "/v1/responses", "sk-bench", benchRespStream) })
	b.Run("aigw/responses_stream", func(b *testing.B) { benchLoad(b, on, "/bench/v1/responses", keyOn, benchRespStream) })
	b.Run("aigw_no_pins/responses_stream", func(b *testing.B) { benchLoad(b, off, "/bench/v1/responses", keyOff, benchRespStream) })
}

// benchResponsesGateway is benchGateway with one key and the given
// Config.ResponsePins.
func benchResponsesGateway(b *testing.B, upstream string, pins int) (addr, key string) {
	e := newEnv(b, func(c *proxy.Config) { c.Recorder, c.ResponsePins = discard{}, pins })
	if _, err := e.st.CreateProvider(store.Provider{Name: "bench", Type: "openai", BaseURL: "http://" + upstream}); err != nil {
		b.Fatal(err)
	}
	c, err := e.st.CreateCredential(store.CredentialInput{Provider: "bench", Secret: "sk-bench-credential"})
	if err != nil {
		b.Fatal(err)
	}
	_, key, err = e.st.CreateKey(store.KeyInput{Provider: "bench", Credentials: []string{c.ID}, Strategy: store.StrategyRoundRobin})
	if err != nil {
		b.Fatal(err)
	}
	e.reload()
	return e.addr, key
}
