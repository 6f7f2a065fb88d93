package encompasstest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type webhookResource struct {
	Name   string   `json:"name"`
	Events []string `json:"events"`
}

// maxSubscriptions is Encompass's limit per lender and application.
const maxSubscriptions = 25

// webhookResources are the resources and events the simulator offers.
var webhookResources = []webhookResource{
	{"Loan", []string{"create", "update", "delete", "lock", "unlock", "milestone", "fieldchange"}},
	{"InternalUsers", []string{"create", "update", "delete"}},
	{"DocumentOrder", []string{"create", "update"}},
}

// Subscription is a webhook subscription as the simulator stores it.
type Subscription struct {
	ID         string   `json:"subscriptionId"`
	Endpoint   string   `json:"endpoint"`
	Resource   string   `json:"resource"`
	Events     []string `json:"events"`
	SigningKey string   `json:"-"` // never answered
	Created    time.Time
}

type subscription = Subscription

// subscriptionOut is the wire shape of a subscription (no signing key).
type subscriptionOut struct {
	SubscriptionID string   `json:"subscriptionId"`
	Endpoint       string   `json:"endpoint"`
	Resource       string   `json:"resource"`
	Events         []string `json:"events"`
	InstanceID     string   `json:"instanceId"`
}

// checkSigningKey applies the documented key rules: 32-64 characters with
// an upper-case letter, a lower-case letter, a digit and one of !@#$^&*.
func checkSigningKey(k string) error {
	if len(k) < 32 || len(k) > 64 {
		return errors.New("signingkey must be 32 to 64 characters long")
	}
	var upper, lower, digit, special bool
	for _, r := range k {
		switch {
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= '0' && r <= '9':
			digit = true
		case strings.ContainsRune("!@#$^&*", r):
			special = true
		default:
			return errors.New("signingkey may contain only letters, digits and !@#$^&*")
		}
	}
	if !upper || !lower || !digit || !special {
		return errors.New("signingkey needs an upper-case letter, a lower-case letter, a digit and one of !@#$^&*")
	}
	return nil
}

// decodeSubscription reads a subscription body. The key field is spelled
// `signingkey`; any other spelling (signingKey) is silently ignored, as on
// the live API.
func decodeSubscription(body []byte) (Subscription, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return Subscription{}, errors.New("the request body is not a JSON object")
	}
	var sub Subscription
	str := func(key string, dst *string) error {
		v, ok := raw[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s must be a string", key)
		}
		return nil
	}
	if err := str("endpoint", &sub.Endpoint); err != nil {
		return sub, err
	}
	if err := str("resource", &sub.Resource); err != nil {
		return sub, err
	}
	if err := str("signingkey", &sub.SigningKey); err != nil {
		return sub, err
	}
	if v, ok := raw["events"]; ok {
		if err := json.Unmarshal(v, &sub.Events); err != nil {
			return sub, errors.New("events must be an array of strings")
		}
	}
	u, err := url.Parse(sub.Endpoint)
	switch {
	case sub.Endpoint == "" || err != nil || u.Host == "":
		return sub, errors.New("endpoint must be an absolute URL")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		return sub, errors.New("endpoint must use https")
	}
	i := slices.IndexFunc(webhookResources, func(r webhookResource) bool { return strings.EqualFold(r.Name, sub.Resource) })
	if i < 0 {
		return sub, fmt.Errorf("resource %q is not supported", sub.Resource)
	}
	sub.Resource = webhookResources[i].Name
	if len(sub.Events) == 0 {
		return sub, errors.New("events must name at least one event")
	}
	for j, e := range sub.Events {
		sub.Events[j] = strings.ToLower(e)
		if !slices.Contains(webhookResources[i].Events, sub.Events[j]) {
			return sub, fmt.Errorf("event %q is not supported for %s", e, sub.Resource)
		}
	}
	if sub.SigningKey != "" {
		if err := checkSigningKey(sub.SigningKey); err != nil {
			return sub, err
		}
	}
	return sub, nil
}

// isLoopback allows plain http to local receivers (tests, the demo); the
// live API requires https.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (s *Server) subOut(sub *Subscription) subscriptionOut {
	return subscriptionOut{SubscriptionID: sub.ID, Endpoint: sub.Endpoint, Resource: sub.Resource,
		Events: slices.Clone(sub.Events), InstanceID: s.InstanceID}
}

func (s *Server) handleSubsList(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	out := make([]subscriptionOut, 0, len(s.st.hookIDs))
	for _, id := range s.st.hookIDs {
		out = append(out, s.subOut(s.st.hooks[id]))
	}
	s.st.mu.RUnlock()
	writeJSON(w, http.StatusOK, out)
}

// handleSubsCreate answers 201 with the new id only in the Location header.
func (s *Server) handleSubsCreate(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	sub, err := decodeSubscription(body)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if len(s.st.hookIDs) >= maxSubscriptions {
		badRequest(w, fmt.Sprintf("At most %d subscriptions are allowed.", maxSubscriptions))
		return
	}
	sub.ID = newGUID()
	sub.Created = time.Now().UTC()
	s.st.hooks[sub.ID] = &sub
	s.st.hookIDs = append(s.st.hookIDs, sub.ID)
	w.Header().Set("Location", baseURL(r)+"/webhook/v1/subscriptions/"+sub.ID)
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) handleSubGet(w http.ResponseWriter, r *http.Request) {
	s.st.mu.RLock()
	sub, ok := s.st.hooks[r.PathValue("id")]
	var out subscriptionOut
	if ok {
		out = s.subOut(sub)
	}
	s.st.mu.RUnlock()
	if !ok {
		notFound(w, fmt.Sprintf("Subscription %q was not found.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSubPut replaces a subscription. A body without `signingkey` keeps
// the current key.
func (s *Server) handleSubPut(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	sub, err := decodeSubscription(body)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	cur, ok := s.st.hooks[r.PathValue("id")]
	if !ok {
		notFound(w, fmt.Sprintf("Subscription %q was not found.", r.PathValue("id")))
		return
	}
	sub.ID, sub.Created = cur.ID, cur.Created
	if sub.SigningKey == "" {
		sub.SigningKey = cur.SigningKey
	}
	*cur = sub
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSubDelete(w http.ResponseWriter, r *http.Request) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	id := r.PathValue("id")
	if _, ok := s.st.hooks[id]; !ok {
		notFound(w, fmt.Sprintf("Subscription %q was not found.", id))
		return
	}
	delete(s.st.hooks, id)
	s.st.hookIDs = slices.DeleteFunc(s.st.hookIDs, func(x string) bool { return x == id })
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleWebhookResources(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, webhookResources)
}

// Subscriptions returns the webhook subscriptions, signing keys included
// (for tests that verify deliveries).
func (s *Server) Subscriptions() []Subscription {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	out := make([]Subscription, 0, len(s.st.hookIDs))
	for _, id := range s.st.hookIDs {
		c := *s.st.hooks[id]
		c.Events = slices.Clone(c.Events)
		out = append(out, c)
	}
	return out
}

// WebhookEvent is a webhook delivery body as Encompass sends it.
type WebhookEvent struct {
	EventID   string      `json:"eventId"`
	EventTime string      `json:"eventTime"`
	EventType string      `json:"eventType"`
	Meta      WebhookMeta `json:"meta"`
}

// WebhookMeta is the meta object of a delivery.
type WebhookMeta struct {
	UserID       string          `json:"userId"`
	ResourceType string          `json:"resourceType"`
	ResourceID   string          `json:"resourceId"`
	InstanceID   string          `json:"instanceId"`
	ResourceRef  string          `json:"resourceRef"`
	Payload      json.RawMessage `json:"payload,omitempty"`
}

// NewWebhookEvent builds a delivery with a fresh eventId and the current
// time, e.g. NewWebhookEvent("Loan", "update", loanGUID).
func (s *Server) NewWebhookEvent(resourceType, eventType, resourceID string) WebhookEvent {
	return WebhookEvent{
		EventID:   newGUID(),
		EventTime: time.Now().UTC().Format(time.RFC3339),
		EventType: strings.ToLower(eventType),
		Meta: WebhookMeta{
			UserID: s.Username, ResourceType: resourceType, ResourceID: resourceID, InstanceID: s.InstanceID,
			ResourceRef: "/encompass/v3/loans/" + resourceID,
		},
	}
}

// SignWebhook returns the Elli-Signature of a body: standard padded base64
// of HMAC-SHA256 keyed with the signing key, over the raw bytes.
func SignWebhook(signingKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// DeliverWebhook POSTs a signed delivery of body to endpoint, with the
// headers Encompass sends, and returns the receiver's status code. An empty
// signingKey sends no signature (a subscription without key).
func DeliverWebhook(ctx context.Context, client *http.Client, endpoint, subscriptionID, signingKey string, body []byte) (int, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Elli-SubscriptionId", subscriptionID)
	req.Header.Set("Elli-Environment", "prod")
	if signingKey != "" {
		req.Header.Set("Elli-Signature", SignWebhook(signingKey, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Deliver sends ev to the endpoint of a subscription, signed with its key,
// and returns the receiver's status code.
func (s *Server) Deliver(ctx context.Context, subscriptionID string, ev WebhookEvent) (int, error) {
	s.st.mu.RLock()
	sub, ok := s.st.hooks[subscriptionID]
	var endpoint, key string
	if ok {
		endpoint, key = sub.Endpoint, sub.SigningKey
	}
	s.st.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("deliver: no subscription %q", subscriptionID)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	return DeliverWebhook(ctx, nil, endpoint, subscriptionID, key, body)
}
