package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aigw/aigw/store"
)

// refreshCredential refreshes an OAuth credential's access token now and
// answers with the credential once the refresh is over: its new expiry, or
// 502 with why the token endpoint would not give a new token.
func (s *Server) refreshCredential(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	c, err := s.store.Credential(id)
	if err != nil {
		return err
	}
	if c.Kind != store.KindOAuth {
		return &httpError{status: http.StatusBadRequest, field: "kind",
			msg: fmt.Sprintf("credential %s is an API key: only OAuth credentials have a token to refresh", id)}
	}
	if s.refresh == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "this server does not refresh OAuth credentials"}
	}
	if err := s.refresh(r.Context(), id); err != nil {
		var ve *store.ValidationError
		if errors.Is(err, store.ErrNotFound) || errors.As(err, &ve) {
			return err
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("no outcome before the request ended")
		}
		return &httpError{status: http.StatusBadGateway, msg: fmt.Sprintf("refreshing credential %s failed: %v", id, err)}
	}
	if c, err = s.store.Credential(id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.credentialView(c))
	return nil
}

// RefreshCredential refreshes an OAuth credential's access token and
// returns the credential once the refresh is over.
func (c *Client) RefreshCredential(ctx context.Context, id string) (Credential, error) {
	var out Credential
	return out, c.do(ctx, http.MethodPost, "/api/v1/credentials/"+esc(id)+"/refresh", nil, &out)
}
