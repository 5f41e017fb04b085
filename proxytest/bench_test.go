package proxytest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aigw/aigw/proxytest"
)

// These measure the fake itself over loopback, so that an end-to-end
// benchmark of the gateway can tell how much of its time the fake takes.

func benchmarkFake(b *testing.B, path, body string) {
	s := proxytest.NewServer()
	defer s.Close()
	s.SetRecordLimit(0)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: testTimeout}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer sk-bench")
			req.Header.Set("anthropic-version", "2023-06-01")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkChatCompletion(b *testing.B) {
	benchmarkFake(b, "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
}

func BenchmarkChatStream(b *testing.B) {
	benchmarkFake(b, "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
}

func BenchmarkAnthropicStream(b *testing.B) {
	benchmarkFake(b, "/v1/messages", `{"model":"claude-sonnet-4-5","stream":true,"max_tokens":64,"messages":[]}`)
}
