package tui

import (
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/aigw/aigw/internal/testkit"
)

// The real program (Run) against a real gateway: c on the Keys page puts
// the key's id on the clipboard with an OSC 52 sequence written to the
// program's own output, between its frames.
func TestCopyThroughTheProgramsOutput(t *testing.T) {
	g := startGateway(t, t.TempDir(), "127.0.0.1:0")
	client := g.client(t)
	if _, err := client.CreateProvider(t.Context(), admin.Provider{Name: "openai", Type: admin.TypeOpenAI, BaseURL: "http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	cr, err := client.CreateCredential(t.Context(), admin.CredentialInput{Provider: "openai", Secret: "sk-clipboard-0001"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := client.CreateKey(t.Context(), admin.KeyInput{Provider: "openai", Credentials: []string{cr.ID}, Name: "clip"})
	if err != nil {
		t.Fatal(err)
	}

	in, typed := io.Pipe()
	out := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), Options{Client: client, Input: in, Output: out, NoColor: true})
	}()
	waitOutput := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(out.String(), want) {
				return
			}
		}
		t.Fatalf("the program never wrote %q", want)
	}
	_, _ = io.WriteString(typed, "3")
	waitOutput(k.ID)
	_, _ = io.WriteString(typed, "c")
	waitOutput("\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(k.ID)) + "\a")
	waitOutput("Copied key id")
	_, _ = io.WriteString(typed, "q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the program")
	}
	_ = typed.Close()
}
