package main

import (
	"bytes"
	"strings"
	"testing"
)

// `aigw tui` needs a terminal: in a pipe or a script it refuses with one
// line (and does not even look for the gateway).
func TestTUIRefusesWithoutATerminal(t *testing.T) {
	var out, errb bytes.Buffer
	streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb, getenv: func(string) string { return "" }}
	code := run([]string{"tui"}, streams)
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	msg := errb.String()
	if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "aigw: the TUI needs a terminal") {
		t.Errorf("stderr %q, want one line saying a terminal is needed", msg)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing", out.String())
	}
}

func TestTUIIsListedWithServe(t *testing.T) {
	var out bytes.Buffer
	streams := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &out, getenv: func(string) string { return "" }}
	if code := run([]string{"--help"}, streams); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	help := out.String()
	run, manage := strings.Index(help, "Run:"), strings.Index(help, "Manage")
	tui := strings.Index(help, "  tui ")
	if tui < run || tui > manage {
		t.Errorf("tui is not listed under Run:\n%s", help)
	}
}
