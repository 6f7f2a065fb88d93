package main

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilStopped(t *testing.T) {
	pr, pw := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-addr", "127.0.0.1:0", "-users", "3", "-status-style", "enabled", "-list-wrapper", "items", "-expires-in"}, pw, stop)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	env := map[string]string{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "ENCOMPASS_") {
			env[k] = v
		}
		if strings.HasPrefix(line, "Simulator credentials") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	form := url.Values{"grant_type": {"password"}, "scope": {"lp"},
		"username": {env["ENCOMPASS_USERNAME"] + "@encompass:" + env["ENCOMPASS_INSTANCE_ID"]}, "password": {env["ENCOMPASS_PASSWORD"]}}
	req, _ := http.NewRequest("POST", env["ENCOMPASS_API_URL"]+"/oauth2/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(env["ENCOMPASS_CLIENT_ID"], env["ENCOMPASS_CLIENT_SECRET"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "expires_in") {
		t.Fatalf("token with the printed credentials: %d %s", resp.StatusCode, body)
	}
	stop <- os.Interrupt
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	badSeed := filepath.Join(dir, "seed.json")
	_ = os.WriteFile(badSeed, []byte(`{"users": [{"loginId": "x", "organizationId": "nope"}]}`), 0o600)
	for _, args := range [][]string{
		{"-status-style", "loud"},
		{"-list-wrapper", "box"},
		{"-seed", filepath.Join(dir, "missing.json")},
		{"-seed", badSeed},
		{"-no-such-flag"},
		{"-addr", "256.0.0.1:99999"},
	} {
		if err := run(args, io.Discard, make(chan os.Signal)); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
