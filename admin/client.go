package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to the admin API; the CLI and the TUI use nothing else.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the admin API at baseURL (e.g.
// http://127.0.0.1:9090) presenting token.
func NewClient(baseURL, token string) *Client {
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  &http.Client{Timeout: 60 * time.Second},
	}
}

// BaseURL is where the client sends requests.
func (c *Client) BaseURL() string { return c.base }

// APIError is an error answered by the admin API.
type APIError struct {
	Status  int
	Message string
	Field   string // the request field that was refused, if any
}

func (e *APIError) Error() string { return e.Message }

// ErrUnreachable wraps connection failures to the admin API.
var ErrUnreachable = errors.New("cannot reach the aigw admin API")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("admin API %s %s: bad response: %w", method, path, err)
	}
	return nil
}

// rawBody is a request body sent as it is (already JSON).
type rawBody []byte

// send performs the request and turns error statuses into *APIError; the
// caller closes the body of a successful response.
func (c *Client) send(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if raw, ok := in.(rawBody); ok {
		body = bytes.NewReader(raw)
	} else if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin URL %q: %w", c.base, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &oe) || errors.As(err, &ne) {
			return nil, fmt.Errorf("%w at %s (is `aigw serve` running? set --admin or AIGW_ADMIN_URL): %v", ErrUnreachable, c.base, err)
		}
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.Header.Get("X-Aigw-Request-Id") != "" {
		// Only the proxy stamps its answers so: the address is aigw's
		// proxy, not its admin API.
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %s is aigw's proxy port, not its admin API; set --admin or AIGW_ADMIN_URL to the admin address (by default http://127.0.0.1:9090, or the one in the data directory's %s)",
			ErrUnreachable, c.base, LocalURLFile)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb errorBody
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Message == "" {
			eb.Error.Message = fmt.Sprintf("admin API %s %s: %s", method, path, resp.Status)
		}
		return nil, &APIError{Status: resp.StatusCode, Message: eb.Error.Message, Field: eb.Error.Field}
	}
	return resp, nil
}

func esc(s string) string { return url.PathEscape(s) }

// Health checks that the server answers.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// Providers lists providers.
func (c *Client) Providers(ctx context.Context) ([]Provider, error) {
	var out []Provider
	return out, c.do(ctx, http.MethodGet, "/api/v1/providers", nil, &out)
}

// Provider returns one provider.
func (c *Client) Provider(ctx context.Context, name string) (Provider, error) {
	var out Provider
	return out, c.do(ctx, http.MethodGet, "/api/v1/providers/"+esc(name), nil, &out)
}

// CreateProvider adds a provider.
func (c *Client) CreateProvider(ctx context.Context, p Provider) (Provider, error) {
	// Only the settings go: the server refuses the fields it derives.
	in := struct {
		Provider
		BudgetUse []BudgetUse `json:"budget_use,omitempty"`
	}{Provider: p}
	var out Provider
	return out, c.do(ctx, http.MethodPost, "/api/v1/providers", in, &out)
}

// UpdateProvider changes a provider.
func (c *Client) UpdateProvider(ctx context.Context, name string, p ProviderPatch) (Provider, error) {
	var out Provider
	return out, c.do(ctx, http.MethodPatch, "/api/v1/providers/"+esc(name), p, &out)
}

// DeleteProvider removes a provider.
func (c *Client) DeleteProvider(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/providers/"+esc(name), nil, nil)
}

// Credential returns one credential (never its secret).
func (c *Client) Credential(ctx context.Context, id string) (Credential, error) {
	var out Credential
	return out, c.do(ctx, http.MethodGet, "/api/v1/credentials/"+esc(id), nil, &out)
}

// CreateCredential adds a credential.
func (c *Client) CreateCredential(ctx context.Context, in CredentialInput) (Credential, error) {
	var out Credential
	return out, c.do(ctx, http.MethodPost, "/api/v1/credentials", in, &out)
}

// UpdateCredential changes a credential.
func (c *Client) UpdateCredential(ctx context.Context, id string, p CredentialPatch) (Credential, error) {
	var out Credential
	return out, c.do(ctx, http.MethodPatch, "/api/v1/credentials/"+esc(id), p, &out)
}

// DeleteCredential removes a credential.
func (c *Client) DeleteCredential(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/credentials/"+esc(id), nil, nil)
}

// Key returns one gateway key.
func (c *Client) Key(ctx context.Context, id string) (Key, error) {
	var out Key
	return out, c.do(ctx, http.MethodGet, "/api/v1/keys/"+esc(id), nil, &out)
}

// CreateKey creates a gateway key; the result holds its secret, shown once.
func (c *Client) CreateKey(ctx context.Context, in KeyInput) (CreatedKey, error) {
	var out CreatedKey
	return out, c.do(ctx, http.MethodPost, "/api/v1/keys", in, &out)
}

// UpdateKey changes a gateway key.
func (c *Client) UpdateKey(ctx context.Context, id string, p KeyPatch) (Key, error) {
	var out Key
	return out, c.do(ctx, http.MethodPatch, "/api/v1/keys/"+esc(id), p, &out)
}

// RevokeKey revokes a gateway key.
func (c *Client) RevokeKey(ctx context.Context, id string) (Key, error) {
	var out Key
	return out, c.do(ctx, http.MethodPost, "/api/v1/keys/"+esc(id)+"/revoke", nil, &out)
}

// Tokens lists admin tokens.
func (c *Client) Tokens(ctx context.Context) ([]AdminToken, error) {
	var out []AdminToken
	return out, c.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &out)
}

// CreateToken issues an admin token; the result holds the token, shown once.
func (c *Client) CreateToken(ctx context.Context, in TokenRequest) (CreatedToken, error) {
	var out CreatedToken
	return out, c.do(ctx, http.MethodPost, "/api/v1/tokens", in, &out)
}

// RevokeToken revokes an admin token.
func (c *Client) RevokeToken(ctx context.Context, id string) (AdminToken, error) {
	var out AdminToken
	return out, c.do(ctx, http.MethodDelete, "/api/v1/tokens/"+esc(id), nil, &out)
}

// Backup streams a consistent copy of the database to w and returns its size.
// It fails if the copy arrives shorter than announced.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("backup interrupted after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("backup incomplete: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}
