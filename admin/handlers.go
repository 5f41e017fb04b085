package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aigw/aigw/internal/units"
	"github.com/aigw/aigw/scheduler"
	"github.com/aigw/aigw/store"
)

func withToken(ctx context.Context, t store.AdminToken) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

func tokenFrom(ctx context.Context) store.AdminToken {
	t, _ := ctx.Value(ctxKey{}).(store.AdminToken)
	return t
}

// --- providers ------------------------------------------------------------

// providerOut is how the server sends a Provider: the record and, when its
// configuration could not be loaded (a ca_file gone), why it is out of
// service.
type providerOut struct {
	store.Provider
	Broken    string      `json:"broken,omitempty"`
	BudgetUse []BudgetUse `json:"budget_use"`
}

// providerViews adds the live state to stored providers.
func (s *Server) providerViews(ps ...store.Provider) []providerOut {
	var states map[string]string
	if s.provs != nil {
		states = s.provs()
	}
	budgets := budgetUseOf(s, "provider:", ps, func(p *store.Provider) string { return p.Name })
	out := make([]providerOut, len(ps))
	for i, p := range ps {
		out[i] = providerOut{Provider: p, Broken: states[p.Name], BudgetUse: budgets.of("provider:" + p.Name)}
	}
	return out
}

func (s *Server) listProviders(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.store.Providers()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.providerViews(ps...))
	return nil
}

func (s *Server) createProvider(w http.ResponseWriter, r *http.Request) error {
	var in store.Provider
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.store.CreateProvider(in)
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeProvider, ID: p.Name})
	writeJSON(w, http.StatusCreated, s.providerViews(p)[0])
	return nil
}

func (s *Server) getProvider(w http.ResponseWriter, r *http.Request) error {
	p, err := s.store.Provider(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.providerViews(p)[0])
	return nil
}

func (s *Server) updateProvider(w http.ResponseWriter, r *http.Request) error {
	var patch store.ProviderPatch
	if err := decode(r, &patch); err != nil {
		return err
	}
	// A provider's base_url, auth and extra headers and ca_file decide where
	// its credentials go: changing them is a credentials:write matter once
	// it has credentials.
	caller := tokenFrom(r.Context())
	update := s.store.UpdateProviderSameRoute
	if hasScope(caller.Scopes, ScopeCredentialsWrite) {
		update = s.store.UpdateProvider
	}
	p, err := update(r.PathValue("name"), patch)
	var rc *store.RouteChangeError
	if errors.As(err, &rc) {
		return &httpError{status: http.StatusForbidden, field: rc.Field,
			msg: fmt.Sprintf("admin token %s lacks the %s scope needed to change %s of provider %q, which has credentials",
				caller.ID, ScopeCredentialsWrite, rc.Field, rc.Provider)}
	}
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeProvider, ID: p.Name})
	writeJSON(w, http.StatusOK, s.providerViews(p)[0])
	return nil
}

func (s *Server) deleteProvider(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteProvider(r.PathValue("name")); err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeProvider, ID: r.PathValue("name"), Removed: true})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- credentials ------------------------------------------------------------

// credentialOut is how the server sends a Credential: the record with its
// live health. Broken says why a credential whose record could not be
// loaded (a secret that does not unseal) is in no pool.
type credentialOut struct {
	store.Credential
	Health    *scheduler.Status `json:"health,omitempty"`
	Broken    string            `json:"broken,omitempty"`
	BudgetUse []BudgetUse       `json:"budget_use"`
}

func (s *Server) credentialView(c store.Credential) credentialOut {
	return s.credentialWith(c, s.budgetUse([]string{"credential:" + c.ID}))
}

// credentialWith is c with its health and its budget's use (from budgets,
// read once for a whole list).
func (s *Server) credentialWith(c store.Credential, budgets budgetUses) credentialOut {
	v := credentialOut{Credential: c, BudgetUse: budgets.of("credential:" + c.ID)}
	if s.health != nil {
		st := s.health.Status(c.ID)
		v.Health = &st
		if st.State == scheduler.Broken.String() {
			v.Broken = st.LastError
		}
	}
	return v
}

func (s *Server) createCredential(w http.ResponseWriter, r *http.Request) error {
	var in store.CredentialInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.store.CreateCredential(in)
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeCredential, ID: c.ID})
	c.Secret, c.RefreshToken = "", ""
	writeJSON(w, http.StatusCreated, s.credentialView(c))
	return nil
}

func (s *Server) getCredential(w http.ResponseWriter, r *http.Request) error {
	c, err := s.store.Credential(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.credentialView(c))
	return nil
}

func (s *Server) updateCredential(w http.ResponseWriter, r *http.Request) error {
	var patch store.CredentialPatch
	if err := decode(r, &patch); err != nil {
		return err
	}
	c, err := s.store.UpdateCredential(r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeCredential, ID: c.ID})
	writeJSON(w, http.StatusOK, s.credentialView(c))
	return nil
}

func (s *Server) deleteCredential(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteCredential(r.PathValue("id")); err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeCredential, ID: r.PathValue("id"), Removed: true})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- keys -------------------------------------------------------------------

// createdKeyOut is how the server sends a CreatedKey.
type createdKeyOut struct {
	keyOut
	Secret string `json:"secret"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in store.KeyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	k, secret, err := s.store.CreateKey(in)
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeKey, ID: k.ID})
	writeJSON(w, http.StatusCreated, createdKeyOut{keyOut: keyOut{Key: k}, Secret: secret})
	return nil
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.store.Key(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.withLastUsed(k)[0])
	return nil
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) error {
	var patch store.KeyPatch
	if err := decode(r, &patch); err != nil {
		return err
	}
	k, err := s.store.UpdateKey(r.PathValue("id"), patch)
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeKey, ID: k.ID})
	writeJSON(w, http.StatusOK, s.withLastUsed(k)[0])
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.store.RevokeKey(r.PathValue("id"))
	if err != nil {
		return err
	}
	s.changed(Change{Kind: ChangeKey, ID: k.ID})
	writeJSON(w, http.StatusOK, s.withLastUsed(k)[0])
	return nil
}

// --- admin tokens -------------------------------------------------------------

// TokenRequest asks for a new admin token.
type TokenRequest struct {
	Name   string         `json:"name"`
	Scopes []string       `json:"scopes"`
	TTL    units.Duration `json:"ttl"` // default DefaultTokenTTL
}

// createdTokenOut is how the server sends a CreatedToken.
type createdTokenOut struct {
	store.AdminToken
	Token string `json:"token"`
}

// DefaultTokenTTL is the lifetime of a token created without --ttl.
const DefaultTokenTTL = 30 * 24 * time.Hour

const maxTokenTTL = 10 * 366 * 24 * time.Hour

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.store.Tokens()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in TokenRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	ttl := in.TTL.D()
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Second || ttl > maxTokenTTL {
		return &httpError{status: http.StatusBadRequest, field: "ttl", msg: "invalid ttl: " + in.TTL.String() + " must be between 1s and 10 years"}
	}
	if err := validScopes(in.Scopes); err != nil {
		return err
	}
	// A token can only hand out what it holds itself.
	caller := tokenFrom(r.Context())
	for _, sc := range in.Scopes {
		if !hasScope(caller.Scopes, sc) {
			return &httpError{status: http.StatusForbidden, field: "scopes",
				msg: "cannot grant scope " + strconv.Quote(sc) + ": the calling token does not hold it"}
		}
	}
	// The new token records its creator: it expires no later than a creator
	// that is not a root, and is revoked with it.
	rec, signed, err := s.tokens.issue(caller.ID, in.Name, slices.Compact(slices.Sorted(slices.Values(in.Scopes))), ttl)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdTokenOut{AdminToken: rec, Token: signed})
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.store.Token(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	target, err := s.store.Token(r.PathValue("id"))
	if err != nil {
		return err
	}
	// Like creation: a token cannot take down one that holds more than it does.
	caller := tokenFrom(r.Context())
	for _, sc := range target.Scopes {
		if !hasScope(caller.Scopes, sc) {
			return &httpError{status: http.StatusForbidden,
				msg: "cannot revoke token " + target.ID + ": it holds scope " + strconv.Quote(sc) + ", which the calling token does not"}
		}
	}
	t, err := s.store.RevokeToken(target.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// --- backup -------------------------------------------------------------------

func (s *Server) backup(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="aigw-backup.db"`)
	wrote := false
	err := s.store.Backup(w, func(n int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		wrote = true
	})
	if err != nil && wrote {
		// The status is out; the short body tells the client (Content-Length mismatch).
		s.log.Error("backup interrupted", "err", err)
		return nil
	}
	return err
}
