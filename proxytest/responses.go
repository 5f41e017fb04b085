package proxytest

import (
	"fmt"
	"net/http"
)

// Stored responses of the OpenAI Responses API. Like the real API, the
// fake keeps every response it creates under the account (credential) that
// created it: a follow-up naming it in previous_response_id, and the
// stored-response endpoints, find it only with that credential. With any
// other, a follow-up gets 400 previous_response_not_found and a
// stored-response request 404, as from OpenAI.

// maxStoredResponses bounds the responses the fake keeps; the oldest go first.
const maxStoredResponses = 10000

var (
	openAIResponseGet    = endpoint{http.MethodGet, (*exchange).openAIResponseGet, openAIModelOf, notStreaming}
	openAIResponseDelete = endpoint{http.MethodDelete, (*exchange).openAIResponseDelete, openAIModelOf, notStreaming}
	openAIInputItems     = endpoint{http.MethodGet, (*exchange).openAIInputItems, openAIModelOf, notStreaming}
	openAIResponseCancel = endpoint{http.MethodPost, (*exchange).openAIResponseCancel, openAIModelOf, notStreaming}
)

// responsesEndpoint routes /v1/responses/{id}[/input_items|/cancel]; nil
// for any other path.
func responsesEndpoint(rest []string, method string) *endpoint {
	if len(rest) < 2 || rest[0] != "responses" || rest[1] == "" {
		return nil
	}
	switch {
	case len(rest) == 2 && method == http.MethodDelete:
		return &openAIResponseDelete
	case len(rest) == 2:
		return &openAIResponseGet
	case len(rest) == 3 && rest[2] == "input_items":
		return &openAIInputItems
	case len(rest) == 3 && rest[2] == "cancel":
		return &openAIResponseCancel
	}
	return nil
}

type storedResponse struct {
	credential string
	response   response
}

// storeResponse keeps r as created with credential.
func (u *Upstream) storeResponse(credential string, r response) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stored == nil {
		u.stored = make(map[string]storedResponse)
	}
	if _, ok := u.stored[r.ID]; !ok {
		u.storedOrder = append(u.storedOrder, r.ID)
	}
	u.stored[r.ID] = storedResponse{credential: credential, response: r}
	for len(u.storedOrder) > maxStoredResponses {
		delete(u.stored, u.storedOrder[0])
		u.storedOrder = u.storedOrder[1:]
	}
}

// storedFor returns the response id created with credential.
func (u *Upstream) storedFor(id, credential string) (response, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.stored[id]
	if !ok || s.credential != credential {
		return response{}, false
	}
	return s.response, true
}

// ResponseOwner returns the credential that created the stored response
// id, false when the fake holds no such response.
func (u *Upstream) ResponseOwner(id string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.stored[id]
	return s.credential, ok
}

// previousResponseMissing answers a follow-up whose previous_response_id
// this credential's account does not hold; it reports whether it did.
func (x *exchange) previousResponseMissing() bool {
	id := x.req.PreviousResponseID
	if id == "" {
		return false
	}
	if _, ok := x.u.storedFor(id, x.cred); ok {
		return false
	}
	param, code := "previous_response_id", "previous_response_not_found"
	x.writeJSONStatus(http.StatusBadRequest, openAIErrorBody{Error: openAIErrorObject{
		Message: fmt.Sprintf("Previous response with id '%s' not found.", id),
		Type:    "invalid_request_error", Param: &param, Code: &code,
	}})
	return true
}

// storedResponse finds the response the path names, or answers 404.
func (x *exchange) storedResponse() (response, bool) {
	_, rest := splitVersion(x.r.URL.Path)
	id := rest[1]
	r, ok := x.u.storedFor(id, x.cred)
	if !ok {
		x.writeJSONStatus(http.StatusNotFound, openAIErrorBody{Error: openAIErrorObject{
			Message: fmt.Sprintf("Response with id '%s' not found.", id), Type: "invalid_request_error",
		}})
	}
	return r, ok
}

func (x *exchange) openAIResponseGet() {
	if r, ok := x.storedResponse(); ok {
		x.reply(r)
	}
}

func (x *exchange) openAIResponseCancel() {
	if r, ok := x.storedResponse(); ok {
		x.reply(r) // every response of the fake is complete already: nothing to cancel
	}
}

func (x *exchange) openAIResponseDelete() {
	r, ok := x.storedResponse()
	if !ok {
		return
	}
	x.u.mu.Lock()
	delete(x.u.stored, r.ID) // its id stays in storedOrder until it ages out
	x.u.mu.Unlock()
	x.reply(struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Deleted bool   `json:"deleted"`
	}{r.ID, "response", true})
}

func (x *exchange) openAIInputItems() {
	if _, ok := x.storedResponse(); ok {
		x.reply(struct {
			Object  string  `json:"object"`
			Data    []any   `json:"data"`
			FirstID *string `json:"first_id"`
			LastID  *string `json:"last_id"`
			HasMore bool    `json:"has_more"`
		}{Object: "list", Data: []any{}})
	}
}
