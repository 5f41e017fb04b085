package proxytest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aigw/aigw/proxytest"
)

// A gateway test points a provider at the fake, programs a failure and
// checks which credential each request carried.
func Example() {
	s := proxytest.NewServer()
	defer s.Close()

	s.Program(proxytest.Rule{Credential: "sk-bad", Status: http.StatusUnauthorized})
	s.Program(proxytest.Rule{Status: http.StatusTooManyRequests, RetryAfter: "2", Times: 1})

	client := &http.Client{Timeout: 10 * time.Second}
	for _, key := range []string{"sk-bad", "sk-good", "sk-good"} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d retry-after=%q\n", key, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	fmt.Println("requests:", s.Count(), "with sk-good:", s.CountBy("sk-good"))
	fmt.Println("usage reported:", s.Usage() == proxytest.DefaultUsage)
	// Output:
	// sk-bad 401 retry-after=""
	// sk-good 429 retry-after="2"
	// sk-good 200 retry-after=""
	// requests: 3 with sk-good: 2
	// usage reported: true
}
