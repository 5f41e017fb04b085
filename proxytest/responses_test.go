package proxytest_test

import (
	"net/http"
	"strings"
	"testing"
)

type openAIErrorReply struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// A stored response lives on the account that created it, as on OpenAI:
// the same credential can continue it and read it, any other gets the
// provider's "not found".
func TestStoredResponsesBelongToTheirCredential(t *testing.T) {
	s := start(t)
	owner := []string{"Authorization", "Bearer sk-owner"}
	other := []string{"Authorization", "Bearer sk-other"}

	var first responseObject
	decode(t, post(t, s.URL+"/v1/responses", `{"model":"gpt-4.1","input":"hi"}`, owner...), http.StatusOK, &first)
	var second responseObject
	decode(t, post(t, s.URL+"/v1/responses", `{"model":"gpt-4.1","input":"hi"}`, owner...), http.StatusOK, &second)
	if first.ID == second.ID || !strings.HasPrefix(first.ID, "resp_") {
		t.Fatalf("response ids %q and %q: want two distinct resp_ ids", first.ID, second.ID)
	}
	if c, ok := s.ResponseOwner(first.ID); !ok || c != "sk-owner" {
		t.Fatalf("ResponseOwner = %q %v", c, ok)
	}

	follow := `{"model":"gpt-4.1","input":"and then?","previous_response_id":"` + first.ID + `"}`
	var next responseObject
	decode(t, post(t, s.URL+"/v1/responses", follow, owner...), http.StatusOK, &next)

	var e openAIErrorReply
	decode(t, post(t, s.URL+"/v1/responses", follow, other...), http.StatusBadRequest, &e)
	if e.Error.Message != "Previous response with id '"+first.ID+"' not found." || e.Error.Type != "invalid_request_error" ||
		e.Error.Param == nil || *e.Error.Param != "previous_response_id" || e.Error.Code == nil || *e.Error.Code != "previous_response_not_found" {
		t.Fatalf("follow-up with another credential: %+v", e.Error)
	}
	// A streamed follow-up is refused the same way, before any event.
	decode(t, post(t, s.URL+"/v1/responses", strings.Replace(follow, `{`, `{"stream":true,`, 1), other...), http.StatusBadRequest, &e)

	var got responseObject
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/responses/"+first.ID, "", owner...), http.StatusOK, &got)
	if got.ID != first.ID || got.Status != "completed" {
		t.Fatalf("GET by the owner: %+v", got)
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/responses/" + first.ID},
		{http.MethodGet, "/v1/responses/" + first.ID + "/input_items"},
		{http.MethodPost, "/v1/responses/" + first.ID + "/cancel"},
		{http.MethodDelete, "/v1/responses/" + first.ID},
		{http.MethodGet, "/v1/responses/resp_never_made"},
	} {
		decode(t, mustCall(t, req.method, s.URL+req.path, "", other...), http.StatusNotFound, &e)
		if !strings.HasPrefix(e.Error.Message, "Response with id '") {
			t.Fatalf("%s %s with another credential: %+v", req.method, req.path, e.Error)
		}
	}
	var items struct {
		Object string `json:"object"`
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/responses/"+first.ID+"/input_items", "", owner...), http.StatusOK, &items)
	decode(t, mustCall(t, http.MethodPost, s.URL+"/v1/responses/"+first.ID+"/cancel", "", owner...), http.StatusOK, &got)

	var del struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}
	decode(t, mustCall(t, http.MethodDelete, s.URL+"/v1/responses/"+first.ID, "", owner...), http.StatusOK, &del)
	if del.ID != first.ID || !del.Deleted {
		t.Fatalf("DELETE: %+v", del)
	}
	decode(t, mustCall(t, http.MethodGet, s.URL+"/v1/responses/"+first.ID, "", owner...), http.StatusNotFound, &e)
	decode(t, post(t, s.URL+"/v1/responses", follow, owner...), http.StatusBadRequest, &e)
}
