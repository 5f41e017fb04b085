package gateway

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// exeRSS is how many KiB of the running executable's code and read-only
// data are mapped into the process (the Rss of those mappings in
// /proc/self/smaps).
func exeRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	total, inExe := 0, false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 6 && strings.Contains(f[0], "-"):
			inExe = strings.Join(f[5:], " ") == exe && (f[1] == "r-xp" || f[1] == "r--p")
		case len(f) == 3 && f[0] == "Rss:" && inExe:
			n, _ := strconv.Atoi(f[1])
			total += n
		}
	}
	return total
}

// dropCode gives back the executable's pages that start-up mapped, and the
// process runs on: the code it uses faults back in (this test reads smaps
// after it).
func TestDropCodeGivesBackTheBinarysPages(t *testing.T) {
	before := exeRSS(t)
	if before < 2048 {
		t.Fatalf("only %d KiB of the test binary's code mapped after start-up; the test expects its packages' init to have touched more", before)
	}
	dropCode()
	after := exeRSS(t)
	// Reading /proc/self/smaps again faults some code back in (64 KiB
	// around each page touched): at least a MiB must have gone.
	if after > before-1024 {
		t.Errorf("executable pages mapped: %d KiB before dropCode, %d KiB after; want a MiB or more given back", before, after)
	}
}
