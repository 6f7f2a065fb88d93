package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/encompass"
)

// maxKeyFileBytes bounds the key file read by rotate -apply: one {"id": "key"}
// entry is well under 1 KiB.
const maxKeyFileBytes = 4 << 10

// probeBody is what rotate -apply sends, signed with the new key, to the
// receiver before the PUT. The receiver checks the signature before the
// payload (CONTRACTS section 4), so a receiver that knows the key answers 400
// (not a webhook event: nothing is published) and one that does not answers 401.
var probeBody = []byte(`{"webhookctl":"rotation probe"}`)

// probeClient is the HTTP client of the probe; tests replace it.
var probeClient = &http.Client{Timeout: 15 * time.Second}

// rotate changes the signing key of a subscription in two steps, so that no
// delivery is ever signed with a key the receiver does not hold (Encompass
// takes a 401 as final and drops the event):
//
//  1. without -apply: generate a compliant key, write it to -key-file (or print
//     it) and tell the operator to add it to the secret next to the old key.
//     Nothing is sent to Encompass.
//  2. with -apply: read the key back from -key-file, check that the deployed
//     receiver accepts a probe signed with it, and PUT it to the subscription.
func rotate(ctx context.Context, args []string, stdout, stderr io.Writer, connect func(context.Context) (subscriptionAPI, error)) error {
	fs := newFlags("rotate", stderr)
	id := fs.String("id", "", "subscription id (see list)")
	keyFile := fs.String("key-file", "", "without -apply: write the new key to this new file (mode 0600); with -apply: the file written by the first step")
	printKey := fs.Bool("print-key", false, "print the new key once to stdout (first step only)")
	apply := fs.Bool("apply", false, "PUT the key of -key-file to the subscription (after it was added to the receiver's secret)")
	probe := fs.Bool("probe", true, "with -apply: first check that the receiver accepts a probe signed with the new key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*id) == "" {
		return fmt.Errorf("%w: -id is required", errUsage)
	}
	if *apply {
		if *printKey || *keyFile == "" {
			return fmt.Errorf("%w: -apply sends the key written by the first step: pass its -key-file (a key printed with -print-key: save the printed entry to a file)", errUsage)
		}
		return applyRotation(ctx, *id, *keyFile, *probe, stdout, connect)
	}
	if *keyFile == "" && !*printKey {
		return fmt.Errorf("%w: say where the new signing key goes: -key-file PATH or -print-key", errUsage)
	}
	// Create the file before any call, so that a file that cannot be written
	// fails before anything happened.
	var f *os.File
	if *keyFile != "" {
		var err error
		if f, err = os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("key file: %w", err)
		}
		defer f.Close()
	}
	fail := func(err error) error {
		if f != nil {
			_ = os.Remove(*keyFile)
		}
		return err
	}
	api, err := connect(ctx)
	if err != nil {
		return fail(err)
	}
	// The subscription must exist: a key for a mistyped id would be useless.
	sub, err := api.GetSubscription(ctx, *id)
	if err != nil {
		return fail(err)
	}
	key, err := encompass.GenerateSigningKey()
	if err != nil {
		return fail(err)
	}
	entry := secretEntry(sub.ID, key)
	if f != nil {
		if _, err := f.Write(append(entry, '\n')); err != nil {
			return fail(fmt.Errorf("key file: %w", err))
		}
		fmt.Fprintf(stdout, "new signing key entry for subscription %s written to %s\n", sub.ID, *keyFile)
	}
	if *printKey {
		fmt.Fprintf(stdout, "new signing key entry (shown once): %s\n", entry)
	}
	fmt.Fprintf(stdout, "subscription %s is unchanged; Encompass still signs with the old key.\n"+
		"next:\n"+
		"  1. add the new key next to the old one in the WEBHOOK_SECRET_ARN secret: {%q: [<old key>, <new key>]}\n"+
		"  2. nothing to redeploy: the receiver reads the secret again within 5 minutes, or at once on a delivery signed with the new key\n"+
		"  3. webhookctl rotate -id %s -key-file <file with the new entry> -apply\n"+
		"  4. about 8 hours later (Encompass may still retry deliveries signed with the old key), remove the old key from the secret\n", sub.ID, sub.ID, sub.ID)
	return nil
}

// applyRotation PUTs the key of keyFile to subscription id, keeping its
// endpoint, resource and events.
func applyRotation(ctx context.Context, id, keyFile string, probe bool, stdout io.Writer, connect func(context.Context) (subscriptionAPI, error)) error {
	key, err := readKeyEntry(keyFile, id)
	if err != nil {
		return err
	}
	api, err := connect(ctx)
	if err != nil {
		return err
	}
	sub, err := api.GetSubscription(ctx, id)
	if err != nil {
		return err
	}
	if probe {
		if err := probeReceiver(ctx, sub.Endpoint, id, key); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the receiver at %s accepts the new key\n", sub.Endpoint)
	}
	sub.SigningKey = key
	if err := api.UpdateSubscription(ctx, id, *sub); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "subscription %s now signs with the new key; in about 8 hours (when no retry signed with the old key can still come), remove the old key from the WEBHOOK_SECRET_ARN secret\n", id)
	return nil
}

// readKeyEntry reads the {"<id>": "<key>"} entry the first step wrote. The
// errors never quote the file's content.
func readKeyEntry(path, id string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	if len(b) > maxKeyFileBytes {
		return "", fmt.Errorf("key file %s: larger than %d bytes, not an entry written by rotate", path, maxKeyFileBytes)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("key file %s: not a {\"<subscription id>\": \"<key>\"} entry", path)
	}
	key, ok := m[id]
	if !ok || len(m) != 1 {
		return "", fmt.Errorf("key file %s: holds no single entry for subscription %s", path, id)
	}
	if !encompass.ValidSigningKey(key) {
		return "", fmt.Errorf("key file %s: the key does not meet Encompass's key policy", path)
	}
	return key, nil
}

// errReceiverLacksKey: the probe was answered 401, the receiver does not hold
// the new key yet.
var errReceiverLacksKey = errors.New("the receiver does not accept the new key yet")

// probeReceiver sends probeBody signed with key to endpoint. 400 means the
// signature verified (and the body, not being an event, was refused without
// publishing anything).
func probeReceiver(ctx context.Context, endpoint, id, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(probeBody))
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(encompass.HeaderSubscriptionID, id)
	req.Header.Set(encompass.HeaderSignature, encompass.Sign(key, probeBody))
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w (skip the check with -probe=false)", endpoint, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusBadRequest:
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("probe %s answered 401: %w; add it to the WEBHOOK_SECRET_ARN secret next to the old key, then run -apply again (the receiver reads the secret again at most every 30 s)", endpoint, errReceiverLacksKey)
	default:
		return fmt.Errorf("probe %s answered %d, want 400 (signature verified, probe not an event); nothing was changed (skip the check with -probe=false)", endpoint, resp.StatusCode)
	}
}
