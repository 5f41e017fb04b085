package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Errors of an attempt, classified once with errors.As; never by their text.

// dialError: the connection to the upstream could not be opened.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to upstream: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// timeoutError: no response byte within the first-byte timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string {
	return "upstream sent no response within " + e.after.String()
}

// upstreamError: the connection broke or the upstream sent something that
// is not HTTP.
type upstreamError struct{ err error }

func (e *upstreamError) Error() string { return "upstream failed: " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// upstreamStatusError: the upstream answered with a status that is retried
// on another credential (401, 403, 408, 429, 5xx).
type upstreamStatusError struct {
	status     int
	retryAfter time.Duration
}

func (e *upstreamStatusError) Error() string { return "upstream answered " + strconv.Itoa(e.status) }

// limitedError: a key's limit refused the request.
type limitedError struct {
	what       string // "requests per minute", …
	retryAfter time.Duration
}

func (e *limitedError) Error() string { return "rate limit exceeded: " + e.what }

// classifyDo turns a fasthttp client error into one of the types above.
func classifyDo(err error, firstByte time.Duration) error {
	var de *dialError
	switch {
	case errors.As(err, &de):
		return de
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout), isTimeout(err):
		return &timeoutError{after: firstByte}
	}
	return &upstreamError{err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date,
// at most maxRetryAfter (seconds beyond it would overflow a Duration or
// the cooldown's end, which then lies in the past).
func retryAfter(v []byte, now time.Time) time.Duration {
	if len(v) == 0 {
		return 0
	}
	if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
		if n > int(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := fasthttp.ParseHTTPDate(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// maxRetryAfter bounds how long an upstream's Retry-After takes a
// credential out: a day covers a daily quota; then a trial request asks.
const maxRetryAfter = 24 * time.Hour

// shape is the error body format of a provider's own API, so that official
// SDKs surface aigw's errors like the provider's.
type shape uint8

const (
	shapeOpenAI shape = iota
	shapeAnthropic
	shapeGemini
)

func shapeOf(providerType string) shape {
	switch providerType {
	case "anthropic":
		return shapeAnthropic
	case "gemini":
		return shapeGemini
	}
	return shapeOpenAI
}

// writeError answers with status and msg in the provider's error shape.
func writeError(ctx *fasthttp.RequestCtx, sh shape, status int, msg string) {
	ctx.Response.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	buf := make([]byte, 0, 160+len(msg))
	switch sh {
	case shapeAnthropic:
		buf = append(buf, `{"type":"error","error":{"type":"`...)
		buf = append(buf, anthropicType(status)...)
		buf = append(buf, `","message":`...)
		buf = strconv.AppendQuote(buf, msg)
		buf = append(buf, "}}"...)
	case shapeGemini:
		buf = append(buf, `{"error":{"code":`...)
		buf = strconv.AppendInt(buf, int64(status), 10)
		buf = append(buf, `,"message":`...)
		buf = strconv.AppendQuote(buf, msg)
		buf = append(buf, `,"status":"`...)
		buf = append(buf, geminiStatus(status)...)
		buf = append(buf, `"}}`...)
	default:
		buf = append(buf, `{"error":{"message":`...)
		buf = strconv.AppendQuote(buf, msg)
		buf = append(buf, `,"type":"`...)
		buf = append(buf, openAIType(status)...)
		buf = append(buf, `","param":null,"code":"`...)
		buf = append(buf, openAICode(status)...)
		buf = append(buf, `"}}`...)
	}
	ctx.Response.SetBodyRaw(buf)
}

func openAIType(status int) string {
	switch status {
	case 401:
		return "invalid_request_error"
	case 429:
		return "rate_limit_exceeded"
	case 400, 403, 404, 405, 408, 409, 413, 431:
		return "invalid_request_error"
	}
	return "api_error"
}

func openAICode(status int) string {
	switch status {
	case 400:
		return "invalid_request"
	case 401:
		return "invalid_api_key"
	case 403: // a model the key may not use: OpenAI's own code for a project without access to a model
		return "model_not_found"
	case 404:
		return "not_found"
	case 405:
		return "method_not_allowed"
	case 408:
		return "request_timeout"
	case 409:
		return "conflict"
	case 431:
		return "request_header_fields_too_large"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_exceeded"
	case 503:
		return "no_credential_available"
	case 504:
		return "upstream_timeout"
	}
	return "upstream_error"
}

func anthropicType(status int) string {
	switch status {
	case 400, 405, 408, 409, 431:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 503:
		return "overloaded_error"
	}
	return "api_error"
}

func geminiStatus(status int) string {
	switch status {
	case 400, 405, 408, 413, 431:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}
